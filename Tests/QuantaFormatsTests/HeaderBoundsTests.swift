import Foundation
import QuantaFormats
import QuantaTensor
import Testing

/// Counts and sizes read from files are bounded before anything is allocated for them: each
/// hostile value gives an error naming the file and the field, never a trap or an abort.
@Suite struct HeaderBoundsTests {
    /// tiny-llama.gguf with `patch` applied to its bytes.
    static func patchedTinyLlama(_ patch: (inout [UInt8]) throws -> Void) throws -> String {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: GGUFFixtures.path("tiny-llama.gguf"))))
        try patch(&bytes)
        return try GGUFFixtures.temporaryFile(bytes)
    }

    /// The byte offset just after the GGUF string `text` (its 64-bit length and bytes).
    static func offset(after text: String, in bytes: [UInt8]) throws -> Int {
        let needle: [UInt8] = GGUFBuilder.string(text)
        let last = bytes.count - needle.count
        var start = 0
        while start <= last, !bytes[start..<(start + needle.count)].elementsEqual(needle) { start += 1 }
        try #require(start <= last, "\(text) not found")
        return start + needle.count
    }

    static func store(_ value: UInt64, at offset: Int, in bytes: inout [UInt8], width: Int) {
        for index in 0..<width { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(index))) }
    }

    @Test(arguments: [0, 1])
    func ggufTensorDimensionOfZeroIsAnError(axis: Int) throws {
        let path = try Self.patchedTinyLlama { bytes in
            // name, then n_dims (4 bytes), then the dimensions (8 bytes each).
            let dimensions = try Self.offset(after: "blk.0.attn_q.weight", in: bytes) + 4
            Self.store(0, at: dimensions + 8 * axis, in: &bytes, width: 8)
        }
        expectFormatError(["blk.0.attn_q.weight", "shape"]) { _ = try GGUFImporter.importCheckpoint(path: path) }
    }

    @Test(arguments: [
        ("llama.block_count", UInt64(UInt32.max)), ("llama.embedding_length", 1 << 31), ("llama.feed_forward_length", 1 << 31),
        ("llama.attention.head_count", 1 << 30), ("llama.rope.dimension_count", 1 << 31), ("llama.context_length", UInt64(UInt32.max)),
    ])
    func ggufHugeModelSizesAreErrorsNamingTheKey(key: String, value: UInt64) throws {
        let path = try Self.patchedTinyLlama { bytes in
            // key, then the type tag (4 bytes), then the uint32 value.
            Self.store(value, at: try Self.offset(after: key, in: bytes) + 4, in: &bytes, width: 4)
        }
        expectFormatError([key.split(separator: ".").dropFirst().first.map(String.init) ?? key, "must be between"]) {
            _ = try GGUFImporter.importCheckpoint(path: path)
        }
    }

    @Test func configValuesAreBoundedByModelLimits() throws {
        let cases: [(String, (inout ModelConfig) -> Void)] = [
            ("num_hidden_layers", { $0.layerCount = 1 << 40 }), ("num_hidden_layers", { $0.layerCount = 0 }),
            ("head_dim", { $0.headDimension = 1 << 31 }), ("hidden_size", { $0.hiddenSize = 1 << 40 }),
            ("intermediate_size", { $0.intermediateSize = -1 }), ("vocab_size", { $0.vocabularySize = 1 << 33 }),
            ("num_attention_heads", { $0.attentionHeads = 1 << 20 }),
            ("max_position_embeddings", { $0.maxPositionEmbeddings = 1 << 40 }),
            ("rms_norm_eps", { $0.rmsNormEpsilon = .infinity }), ("rope_theta", { $0.ropeTheta = .nan }),
            ("token_id", { $0.eosTokenIds = [1 << 40] }),
        ]
        for (field, change) in cases {
            var config = tinyConfig()
            change(&config)
            expectFormatError(["config.json", field]) { try config.validate(path: "config.json") }
            // The same through the JSON path every reader takes (JSON has no NaN or infinity).
            guard config.rmsNormEpsilon.isFinite, config.ropeTheta.isFinite else { continue }
            expectFormatError(["config.json", field]) { _ = try ModelConfig.decode(config.encodedJSON(), path: "config.json") }
        }
        try tinyConfig().validate(path: "config.json")
    }

    @Test func containerHeaderConfigIsBounded() throws {
        var config = tinyConfig()
        config.layerCount = 1 << 40
        let text = String(decoding: config.encodedJSON(), as: UTF8.self)
        let header = #"{"tool":{"name":"quanta","version":"0.1.0"},"config":"# + text + #","tensors":[],"data_size":0}"#
        expectFormatError(["header 'config'", "num_hidden_layers"]) {
            _ = try QuantaContainer(data: Data(containerBytes(header: header, data: [])), verify: false)
        }
    }

    /// A compressed array whose header claims far more bytes than its zstd frame holds is
    /// refused from the frame header, before the claimed size is allocated.
    @Test func zstdArrayClaimingMoreThanItsFrameIsRefusedBeforeAllocation() throws {
        let directory = try TemporaryDirectory()
        let embedding = try Tensor(shape: [64, 64], values: [Float](repeating: 0.5, count: 64 * 64))
        try QuantaContainerWriter.write(
            to: directory.file("a.quanta"), config: tinyConfig(),
            tensors: [ContainerTensor(name: "scratch.weight", dense: embedding)], options: .init(zstdLevel: 3))
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory.file("a.quanta"))))
        let (dataStart, _) = try containerLayout(bytes)
        var header = String(decoding: bytes[16..<dataStart], as: UTF8.self).trimmingCharacters(in: .whitespaces)
        #expect(header.contains(#""compression":"zstd""#))
        // 4096 floats → claim 64 × 4096 of them (1 MiB), within the zstd expansion limit.
        header = header.replacingOccurrences(of: "[64,64]", with: "[64,4096]")
            .replacingOccurrences(of: #""byte_count":16384"#, with: #""byte_count":1048576"#)
        let forged = containerBytes(header: header, data: Array(bytes[dataStart...]))
        let container = try QuantaContainer(data: Data(forged), verify: false)
        expectFormatError(["scratch.weight", "zstd frame declares 16384 bytes", "1048576"]) {
            _ = try container.tensor(named: "scratch.weight")
        }
    }

    /// A FIFO (or device) given as a model is refused at once instead of blocking in `open`.
    @Test func aFIFOIsNotAWeightFile() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("model.gguf")
        try #require(mkfifo(path, 0o600) == 0)
        expectFormatError(["model.gguf", "not a regular file"]) { _ = try ModelFormat.detect(path: path) }
        expectFormatError(["not a regular file"]) { _ = try MappedFile(path: "/dev/zero") }
    }

    /// Tensor shapes are checked against the header's config when the header is read.
    @Test func containerTensorShapesMustMatchTheConfig() throws {
        let directory = try TemporaryDirectory()
        let embedding = try Tensor(shape: [64, 8], values: [Float](repeating: 0.5, count: 64 * 8))
        try QuantaContainerWriter.write(
            to: directory.file("a.quanta"), config: tinyConfig(),
            tensors: [ContainerTensor(name: "model.embed_tokens.weight", dense: embedding)])
        expectFormatError(["model.embed_tokens.weight", "[64, 8]", "[16, 8]"]) {
            _ = try QuantaContainer(path: directory.file("a.quanta"))
        }
    }

    @Test func packedScalesMustBeFinite() throws {
        let plain = PlainQuantized(outputCount: 4, inputCount: 8, bits: 4, groupSize: 8, seed: 1)
        let packed = try plain.pack(name: "w")
        var scales = try packed.scales.floatValues()
        scales[2] = .infinity
        expectFormatError(["w", "scale 2", "infinite or NaN"]) {
            _ = try PackedWeights(
                name: "w", bits: 4, groupSize: 8, symmetric: false, outputCount: 4, inputCount: 8, codes: packed.codes,
                scales: try Tensor(shape: [4, 1], values: scales).converted(to: .float16), zeros: packed.zeros)
        }
    }
}
