import Foundation
import QuantaFormats
import QuantaTensor

/// Seed files made by the project's own writers from tiny in-code models (the test fixtures
/// under Tests/*/Resources, recipes/ and calibration/ are added by fuzz.mk).
enum SeedModels {
    /// Tiny models covering the writers' branches: dense only, packed 4- and 8-bit (symmetric
    /// and not, grouped and per channel), Qwen2 with biases, act-order (GGUF refuses it).
    static func models() throws -> [(name: String, model: QuantizedModel)] {
        func config(_ modelType: String, hidden: Int = 32, heads: Int = 2, kvHeads: Int = 1, bias: Bool = false)
            -> ModelConfig
        {
            ModelConfig(
                modelType: modelType, hiddenSize: hidden, intermediateSize: 32, layerCount: 1, attentionHeads: heads,
                kvHeads: kvHeads,
                vocabularySize: 40, tieWordEmbeddings: modelType == "llama", attentionBias: bias, bosTokenId: 1,
                eosTokenIds: [2])
        }
        typealias Scheme = TinyModel.Scheme
        return [
            ("llama-dense", try TinyModel.model(config: config("llama"), scheme: nil, seed: 1)),
            (
                "llama-w4-g32-symmetric",
                try TinyModel.model(
                    config: config("llama"), scheme: Scheme(bits: 4, groupSize: 32, symmetric: true), seed: 2)
            ),
            (
                "llama-w4-g32",
                try TinyModel.model(
                    config: config("llama"), scheme: Scheme(bits: 4, groupSize: 32, symmetric: false), seed: 3)
            ),
            (
                "qwen2-bias-w8-channel",
                try TinyModel.model(
                    config: config("qwen2", bias: true), scheme: Scheme(bits: 8, groupSize: 1 << 20, symmetric: true),
                    seed: 4)
            ),
            (
                "mistral-w4-g64",
                try TinyModel.model(
                    config: config("mistral", hidden: 64, heads: 4, kvHeads: 2),
                    scheme: Scheme(bits: 4, groupSize: 64, symmetric: false), seed: 5)
            ),
            (
                "llama-w3-actorder",
                try TinyModel.model(
                    config: config("llama"), scheme: Scheme(bits: 3, groupSize: 32, symmetric: false, actOrder: true),
                    seed: 6)
            ),
        ]
    }

    /// Output of `write` at a scratch path, read back as bytes.
    static func written(_ name: String, _ write: (String) throws -> Void) throws -> Data {
        let path = FuzzScratch.directory + "/seed-" + name
        try? FileManager.default.removeItem(atPath: path)
        try write(path)
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    static func ggufFiles() throws -> [(name: String, data: Data)] {
        var seeds: [(name: String, data: Data)] = []
        for (name, model) in try models() {
            // An export may refuse a model (act-order); the others are the seeds.
            do { seeds.append((name, try written(name + ".gguf") { try GGUFExporter.write(model, to: $0) })) } catch {
                if ProcessInfo.processInfo.environment["QUANTA_FUZZ_VERBOSE"] != nil {
                    print("gguf seed \(name): \(error)")
                }
            }
        }
        return seeds
    }

    static func containerFiles() throws -> [(name: String, data: Data)] {
        var seeds: [(name: String, data: Data)] = []
        for (name, model) in try models() {
            for zstd in [false, true] {
                let files = [QuantaContainerWriter.File(name: "tokenizer.json", data: TinyModel.tokenizer)]
                let data = try written(name + ".quanta") {
                    try QuantaContainerWriter.write(
                        to: $0, config: model.config, files: files, tensors: model.tensors,
                        options: .init(zstdLevel: zstd ? 3 : nil))
                }
                seeds.append((name + (zstd ? "-zstd" : ""), data))
            }
        }
        return seeds
    }

    static func compressedTensorsInputs() throws -> [(name: String, data: Data)] {
        var seeds: [(name: String, data: Data)] = []
        for (name, model) in try models() {
            let directory = FuzzScratch.directory + "/seed-" + name + ".ct"
            try? FileManager.default.removeItem(atPath: directory)
            guard (try? CompressedTensorsExporter.write(model, to: directory)) != nil else { continue }
            let configuration = try Data(contentsOf: URL(fileURLWithPath: directory + "/config.json"))
            let weights = try Data(contentsOf: URL(fileURLWithPath: directory + "/model.safetensors"))
            seeds.append((name, CompressedTensorsInput.join(configuration: configuration, weights: weights)))
        }
        return seeds
    }

    static func safetensorsFiles() throws -> [(name: String, data: Data)] {
        let small = try Tensor(shape: [2, 3], values: [1, -2, 3.5, 0, 1e-3, -7])
        let sets: [(String, [NamedTensor])] = [
            ("f32", [NamedTensor(name: "a", tensor: small)]),
            (
                "mixed",
                [
                    NamedTensor(name: "half", tensor: try small.converted(to: .float16)),
                    NamedTensor(name: "brain", tensor: try small.converted(to: .bfloat16)),
                    NamedTensor(
                        name: "codes",
                        tensor: try Tensor(dtype: .uint8, shape: [4], storage: TensorStorage(array: [UInt8](1...4)))),
                    NamedTensor(
                        name: "shape",
                        tensor: try Tensor(dtype: .int64, shape: [2], storage: TensorStorage(array: [Int64(2), 3]))),
                ]
            ),
            ("scalar", [NamedTensor(name: "s", tensor: try Tensor(shape: [], values: [42]))]),
        ]
        return try sets.map { name, tensors in
            (name, try written(name + ".safetensors") { try SafetensorsWriter.write(tensors, to: $0) })
        }
    }

    static func configFiles() throws -> [(name: String, data: Data)] {
        var seeds = try models().map { ($0.name, $0.model.config.encodedJSON()) }
        var scaled = ModelConfig(
            hiddenSize: 64, intermediateSize: 96, layerCount: 2, attentionHeads: 4, kvHeads: 2, vocabularySize: 40)
        scaled.ropeScaling = try JSONDecoder().decode(
            RopeScaling.self, from: Data(#"{"rope_type": "linear", "factor": 2.0}"#.utf8))
        seeds.append(("rope-scaling", scaled.encodedJSON()))
        return seeds
    }

    static func tokenizerFiles() throws -> [(name: String, data: Data)] {
        var seeds: [(name: String, data: Data)] = [
            ("byte-level", TinyModel.tokenizer),
            ("byte-level-config", TinyModel.tokenizer + Data([0]) + TinyModel.tokenizerConfig),
        ]
        // The tokenizers that the GGUF fixtures' metadata build (run from the package root).
        let fixtures = "Tests/QuantaFormatsTests/Resources/gguf"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: fixtures))?.sorted() ?? []
        where name.hasSuffix(".gguf") {
            guard let file = try? GGUFFile(path: fixtures + "/" + name),
                let files = try? GGUFImporter.tokenizerFiles(from: file)
            else {
                continue
            }
            seeds.append((name + "-tokenizer", files.tokenizer + Data([0]) + files.tokenizerConfig))
        }
        for (name, data) in try ggufFiles() {
            guard let file = try? GGUFFile(file: MappedFile(data: data)),
                let files = try? GGUFImporter.tokenizerFiles(from: file)
            else { continue }
            seeds.append((name + "-gguf-tokenizer", files.tokenizer + Data([0]) + files.tokenizerConfig))
        }
        return seeds
    }

    /// Deterministic pseudo-random inputs for the structure-aware targets.
    static func randomInputs(count: Int, maximumLength: Int) -> [(name: String, data: Data)] {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        return (0..<count).map { index in
            let length = 8 + index * (maximumLength - 8) / max(count - 1, 1)
            let bytes = (0..<length).map { _ -> UInt8 in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return UInt8(truncatingIfNeeded: state >> 56)
            }
            return ("random-\(index)", Data(bytes))
        }
    }
}

/// Writes every target's seeds under `DIRECTORY/<target>/`.
enum SeedWriter {
    static func writeAll(to directory: String) -> Bool {
        var succeeded = true
        for target in FuzzTargets.all {
            let folder = directory + "/" + target.name
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                let seeds = try target.seeds()
                for seed in seeds { try seed.data.write(to: URL(fileURLWithPath: folder + "/" + seed.name)) }
                print("\(target.name): \(seeds.count) seeds")
            } catch {
                FileHandle.standardError.write(Data("QuantaFuzz: seeds for \(target.name) failed: \(error)\n".utf8))
                succeeded = false
            }
        }
        return succeeded
    }
}
