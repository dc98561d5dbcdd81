import Foundation
import QuantaFormats
import QuantaTensor
import Testing

/// A tiny model for container tests: dense f32/f16/bf16 tensors, packed int4 (grouped),
/// int3 (act-order, narrow last group) and int2 (per-channel), plus a tokenizer.
struct TinyContainerModel {
    var tensors: [ContainerTensor] = []
    var files: [QuantaContainerWriter.File] = []
    var provenance: JSONValue
    /// The expected float values of every tensor, by name.
    var expected: [String: [Float]] = [:]

    init() throws {
        let embedding = (0..<(16 * 8)).map { Float($0 % 7) * 0.25 - 0.5 }
        tensors.append(ContainerTensor(name: "model.embed_tokens.weight", dense: try Tensor(shape: [16, 8], values: embedding)))
        expected["model.embed_tokens.weight"] = embedding
        let norm: [Float] = [1, 0.5, 2, -1, 0.25, 1.5, 3, 4]
        tensors.append(ContainerTensor(name: "model.norm.weight", dense: try Tensor(shape: [8], values: norm).converted(to: .float16)))
        expected["model.norm.weight"] = norm
        tensors.append(ContainerTensor(name: "model.layers.0.input_layernorm.weight", dense: try Tensor(shape: [8], values: norm).converted(to: .bfloat16)))
        expected["model.layers.0.input_layernorm.weight"] = norm
        let linears: [(String, PlainQuantized)] = [
            ("model.layers.0.self_attn.q_proj.weight", PlainQuantized(outputCount: 8, inputCount: 8, bits: 4, groupSize: 4, seed: 1)),
            ("model.layers.0.mlp.down_proj.weight",
             PlainQuantized(outputCount: 8, inputCount: 12, bits: 3, groupSize: 5, actOrder: true, seed: 2)),
            ("model.layers.0.mlp.up_proj.weight",
             PlainQuantized(outputCount: 12, inputCount: 8, bits: 2, groupSize: 8, symmetric: true, seed: 3)),
            ("model.layers.1.mlp.up_proj.weight", PlainQuantized(outputCount: 12, inputCount: 8, bits: 8, groupSize: 8, seed: 4)),
        ]
        for (name, plain) in linears {
            tensors.append(ContainerTensor(name: name, packed: try plain.pack(name: name)))
            expected[name] = plain.expected()
        }
        let tokenizer = #"{"version":"1.0","model":{"type":"BPE","vocab":{"#
            + (0..<200).map { "\"token\($0)\":\($0)" }.joined(separator: ",") + "}}}"
        files = [
            .init(name: "tokenizer.json", data: Data(tokenizer.utf8)),
            .init(name: "tokenizer_config.json", data: Data(#"{"bos_token":"<s>"}"#.utf8)),
        ]
        provenance = .object([
            ("recipe", .object([("name", .string("gptq-w4")), ("bits", .integer(4))])),
            ("calibration", .object([("samples", .integer(128)), ("seed", .integer(0))])),
        ])
    }

    func write(to path: String, zstdLevel: Int32? = nil) throws {
        try QuantaContainerWriter.write(
            to: path, config: tinyConfig(), files: files, provenance: provenance, tensors: tensors,
            options: .init(zstdLevel: zstdLevel))
    }

    /// The container's bytes.
    func bytes(zstdLevel: Int32? = nil) throws -> [UInt8] {
        let directory = try TemporaryDirectory()
        let path = directory.file("tiny.qnta")
        try write(to: path, zstdLevel: zstdLevel)
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

/// Builds container bytes from a header JSON text (padded) and a data section.
func containerBytes(header: String, data: [UInt8], version: UInt32 = 1) -> [UInt8] {
    var headerBytes = Array(header.utf8)
    while (16 + headerBytes.count) % 64 != 0 { headerBytes.append(0x20) }
    var bytes = Array("QNTA".utf8)
    bytes += withUnsafeBytes(of: version.littleEndian) { Array($0) }
    bytes += withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { Array($0) }
    return bytes + headerBytes + data
}

/// A header text with the tiny config and the given tensor table text.
func containerHeader(tensors: String, dataSize: Int) -> String {
    let config = String(decoding: tinyConfig().encodedJSON(), as: UTF8.self)
    return #"{"tool":{"name":"quanta","version":"0.1.0"},"config":"# + config + #","tensors":["# + tensors
        + #"],"data_size":"# + "\(dataSize)}"
}

/// An array entry text over `data[offset..<offset+count]` with the right checksum.
func arrayText(role: String, dtype: String, shape: [Int], offset: Int, count: Int, data: [UInt8]) -> String {
    let (sum, overflow) = offset.addingReportingOverflow(count)
    let end = overflow ? data.count : min(data.count, sum)
    let crc = CRC32C.checksum(offset <= end ? Array(data[offset..<end]) : [])
    let hex = String(crc, radix: 16)
    return #"{"role":"\#(role)","dtype":"\#(dtype)","shape":\#(shape),"offset":\#(offset),"byte_count":\#(count),"#
        + #""stored_byte_count":\#(count),"compression":"none","checksum":"crc32c:"#
        + String(repeating: "0", count: 8 - hex.count) + hex + "\"}"
}

/// The data section start and header of container `bytes`.
func containerLayout(_ bytes: [UInt8]) throws -> (dataStart: Int, container: QuantaContainer) {
    let length = bytes[8..<16].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    return (16 + length, try QuantaContainer(data: Data(bytes), verify: false))
}
