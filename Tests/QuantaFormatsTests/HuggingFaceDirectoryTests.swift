import Foundation
import QuantaFormats
import QuantaTensor
import Testing

@Suite struct HuggingFaceDirectoryTests {
    @Test func singleFileRoundTrip() throws {
        let directory = try TemporaryDirectory()
        let checkpoint = try tinyCheckpoint()
        try HuggingFaceDirectory.write(checkpoint, to: directory.file("model"))
        let loaded = try HuggingFaceDirectory.read(path: directory.file("model"))
        #expect(loaded.config == checkpoint.config)
        #expect(loaded.tensors.map(\.name) == checkpoint.tensors.map(\.name))
        for (left, right) in zip(loaded.tensors, checkpoint.tensors) {
            #expect(try left.tensor.floatValues() == right.tensor.floatValues())
        }
        #expect(loaded.tokenizer == checkpoint.tokenizer)
        #expect(loaded.tokenizerConfig == checkpoint.tokenizerConfig)
        #expect(loaded.generationConfig == nil)
        #expect(FileManager.default.fileExists(atPath: directory.file("model/model.safetensors")))
    }

    @Test func shardsAboveTheLimitAndReadsThemBack() throws {
        let directory = try TemporaryDirectory()
        let checkpoint = try tinyCheckpoint(config: tinyConfig(tied: false), dtype: .bfloat16)
        try HuggingFaceDirectory.write(checkpoint, to: directory.file("model"), maximumShardBytes: 600)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.file("model")).sorted()
        let shards = files.filter { $0.hasPrefix("model-") }
        #expect(shards.count > 2)
        #expect(shards.first == String(format: "model-00001-of-%05ld.safetensors", shards.count))
        #expect(files.contains("model.safetensors.index.json"))
        let loaded = try HuggingFaceDirectory.read(path: directory.file("model"))
        #expect(loaded.tensors.map(\.name) == checkpoint.tensors.map(\.name))
        #expect(loaded.tensors.allSatisfy { $0.tensor.dtype == .bfloat16 })
        #expect(try loaded.tensors.last!.tensor.floatValues() == checkpoint.tensors.last!.tensor.floatValues())
    }

    @Test func missingShardIsNamed() throws {
        let directory = try TemporaryDirectory()
        try HuggingFaceDirectory.write(try tinyCheckpoint(), to: directory.file("m"), maximumShardBytes: 600)
        let second = try FileManager.default.contentsOfDirectory(atPath: directory.file("m")).first { $0.hasPrefix("model-00002-of-") }!
        try FileManager.default.removeItem(atPath: directory.file("m/" + second))
        expectFormatError(["model.safetensors.index.json", second, "does not exist"]) {
            _ = try HuggingFaceDirectory.read(path: directory.file("m"))
        }
    }

    @Test func missingAndUnexpectedTensorsAreErrors() throws {
        let directory = try TemporaryDirectory()
        var checkpoint = try tinyCheckpoint()
        checkpoint.tensors.removeAll { $0.name == "model.layers.1.mlp.up_proj.weight" }
        // Write through the raw writers: the directory writer does not validate.
        try HuggingFaceDirectory.write(checkpoint, to: directory.file("missing"))
        expectFormatError(["model.safetensors", "model.layers.1.mlp.up_proj.weight", "missing"]) {
            _ = try HuggingFaceDirectory.read(path: directory.file("missing"))
        }
        checkpoint = try tinyCheckpoint()
        checkpoint.tensors.append(NamedTensor(name: "model.extra.weight", tensor: try Tensor(shape: [1], values: [0])))
        try HuggingFaceDirectory.write(checkpoint, to: directory.file("extra"))
        expectFormatError(["model.extra.weight", "unexpected"]) { _ = try HuggingFaceDirectory.read(path: directory.file("extra")) }
    }

    @Test func shapeDisagreeingWithConfigIsAnError() throws {
        let directory = try TemporaryDirectory()
        var checkpoint = try tinyCheckpoint()
        let index = checkpoint.tensors.firstIndex { $0.name == "model.norm.weight" }!
        checkpoint.tensors[index].tensor = try Tensor(shape: [7], values: [Float](repeating: 1, count: 7))
        try HuggingFaceDirectory.write(checkpoint, to: directory.file("m"))
        expectFormatError(["model.norm.weight", "[7]", "[8]"]) { _ = try HuggingFaceDirectory.read(path: directory.file("m")) }
    }

    @Test func missingConfigFieldIsNamed() throws {
        let directory = try TemporaryDirectory()
        try HuggingFaceDirectory.write(try tinyCheckpoint(), to: directory.file("m"))
        let config = #"{"model_type": "llama", "hidden_size": 8, "intermediate_size": 12, "num_attention_heads": 2, "vocab_size": 16}"#
        try Data(config.utf8).write(to: URL(fileURLWithPath: directory.file("m/config.json")))
        expectFormatError(["config.json", "num_hidden_layers", "missing"]) { _ = try HuggingFaceDirectory.read(path: directory.file("m")) }
    }

    @Test func invalidConfigValuesAreNamed() throws {
        let directory = try TemporaryDirectory()
        try HuggingFaceDirectory.write(try tinyCheckpoint(), to: directory.file("m"))
        let config = #"{"model_type": "llama", "hidden_size": 8, "intermediate_size": 12, "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 3, "vocab_size": 16}"#
        try Data(config.utf8).write(to: URL(fileURLWithPath: directory.file("m/config.json")))
        expectFormatError(["config.json", "num_key_value_heads", "must divide"]) { _ = try HuggingFaceDirectory.read(path: directory.file("m")) }
        try Data(#"{"model_type": "llama", "hidden_size": "8"}"#.utf8).write(to: URL(fileURLWithPath: directory.file("m/config.json")))
        expectFormatError(["config.json", "hidden_size"]) { _ = try HuggingFaceDirectory.read(path: directory.file("m")) }
        try Data(#"{"model_type": "#.utf8).write(to: URL(fileURLWithPath: directory.file("m/config.json")))
        expectFormatError(["config.json", "invalid JSON"]) { _ = try HuggingFaceDirectory.read(path: directory.file("m")) }
    }

    @Test func directoryWithoutWeightsIsAnError() throws {
        let directory = try TemporaryDirectory()
        try Data(tinyConfig().encodedJSON()).write(to: URL(fileURLWithPath: directory.file("config.json")))
        expectFormatError([directory.path, "model.safetensors"]) { _ = try HuggingFaceDirectory.read(path: directory.path) }
    }

    @Test func configRoundTripsThroughJSON() throws {
        var config = tinyConfig()
        config.ropeScaling = RopeScaling(
            ropeType: "llama3", factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalMaxPositionEmbeddings: 8192)
        config.eosTokenIds = [2, 5]
        let decoded = try ModelConfig.decode(config.encodedJSON(), path: "config.json")
        #expect(decoded == config)
    }

    @Test func qwen2DefaultsToAttentionBias() throws {
        let text = #"{"model_type": "qwen2", "hidden_size": 8, "intermediate_size": 12, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 16, "rope_scaling": {"type": "linear", "factor": 2.0}}"#
        let config = try ModelConfig.decode(Data(text.utf8), path: "config.json")
        #expect(config.attentionBias)
        #expect(config.ropeScaling?.ropeType == "linear")
        #expect(LlamaTensorLayout.expectedNames(for: config).contains("model.layers.0.self_attn.k_proj.bias"))
    }
}
