import Foundation
import QuantaFormats
import Testing

/// Shared helpers of the GGUF tests: fixture paths, raw float files, a byte-level GGUF
/// builder for crafted (invalid) files, and an error-text expectation.
enum GGUFFixtures {
    /// The path of `name` in `Resources/gguf` (written by `Resources/make_gguf_fixtures.py`).
    static func path(_ name: String) -> String {
        // `.copy("Resources")` keeps the folder; depending on the platform, `resourceURL` is the
        // bundle or the bundle's own Resources folder, so look in both.
        let file = name as NSString
        let url =
            Bundle.module.url(
                forResource: file.deletingPathExtension, withExtension: file.pathExtension, subdirectory: "Resources/gguf")
            ?? Bundle.module.url(forResource: file.deletingPathExtension, withExtension: file.pathExtension, subdirectory: "gguf")
        return url?.path ?? "missing-fixture/\(name)"
    }

    /// A float32 little-endian file as floats.
    static func floats(_ name: String) throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path(name)))
        return data.withUnsafeBytes { raw in
            (0..<data.count / 4).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }

    /// Writes `bytes` to a fresh temporary file and returns its path.
    static func temporaryFile(_ bytes: [UInt8], name: String = "crafted.gguf") throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gguf-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }
}

/// Builds GGUF bytes field by field, so tests can craft exactly the defect they check.
struct GGUFBuilder {
    struct TensorEntry {
        var name: String
        var dimensions: [UInt64]
        var type: UInt32
        var offset: UInt64
    }

    var magic: [UInt8] = Array("GGUF".utf8)
    var version: UInt32 = 3
    var tensorCount: UInt64?
    var metadataCount: UInt64?
    /// Encoded metadata entries: key and the bytes of type tag + value.
    var metadata: [(key: String, encoded: [UInt8])] = [("general.architecture", Self.stringValue("llama"))]
    var tensors: [TensorEntry] = [TensorEntry(name: "weight", dimensions: [8, 2], type: 0, offset: 0)]
    var alignment = 32
    var dataByteCount = 64

    static func uint32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
    static func uint64(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
    static func string(_ value: String) -> [UInt8] { uint64(UInt64(value.utf8.count)) + Array(value.utf8) }
    /// Type tag 8 (string) + value.
    static func stringValue(_ value: String) -> [UInt8] { uint32(8) + string(value) }
    /// Type tag 4 (uint32) + value.
    static func uint32Value(_ value: UInt32) -> [UInt8] { uint32(4) + uint32(value) }

    func bytes() -> [UInt8] {
        var output = magic + Self.uint32(version)
        output += Self.uint64(tensorCount ?? UInt64(tensors.count))
        output += Self.uint64(metadataCount ?? UInt64(metadata.count))
        for (key, encoded) in metadata { output += Self.string(key) + encoded }
        for tensor in tensors {
            output += Self.string(tensor.name) + Self.uint32(UInt32(tensor.dimensions.count))
            for dimension in tensor.dimensions { output += Self.uint64(dimension) }
            output += Self.uint32(tensor.type) + Self.uint64(tensor.offset)
        }
        while output.count % alignment != 0 { output.append(0) }
        output += [UInt8](repeating: 0, count: dataByteCount)
        return output
    }

    func write() throws -> String { try GGUFFixtures.temporaryFile(bytes()) }
}
