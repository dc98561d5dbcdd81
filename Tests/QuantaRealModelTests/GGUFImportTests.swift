import Foundation
import QuantaFormats
import QuantaTensor
import Testing

/// The SmolLM2 GGUF imported by Quanta must hold exactly the tensors that the Python `gguf`
/// package's dequantization gives once the Q/K permutation is undone
/// (fixture: shared/fixtures/smollm2-tensors.json, measured with gguf 0.19.0 + numpy).
@Suite(.serialized) struct GGUFImportTests {
    @Test func importReproducesEveryFixtureHash() throws {
        let checkpoint = try RealModelEnvironment.checkpoint.get()
        let fixture = try RealModelEnvironment.fixture("smollm2-tensors.json")
        #expect(checkpoint.tensors.count == Int(fixture["tensor_count"]?.integerValue ?? -1))
        guard case .object(let expected) = fixture["tensors"] else {
            Issue.record("fixture has no tensors")
            return
        }
        #expect(expected.count == 9)
        for (name, values) in expected {
            guard let tensor = checkpoint.tensors.first(where: { $0.name == name }) else {
                Issue.record("imported checkpoint lacks \(name)")
                continue
            }
            guard case .array(let shape) = values["shape"] else { continue }
            #expect(tensor.tensor.shape == shape.compactMap { $0.integerValue.map(Int.init) }, "\(name) shape")
            #expect(tensor.tensor.dtype == .float32)
            #expect(RealModelEnvironment.sha256(tensor) == values["sha256_f32le"]?.stringValue, "\(name) sha256")
        }
    }

    @Test func configMatchesTransformersConfig() throws {
        let config = try RealModelEnvironment.checkpoint.get().config
        let expected = try RealModelEnvironment.fixture("smollm2-reference.json")["model_config"]!
        #expect(config.modelType == expected["model_type"]?.stringValue)
        #expect(config.hiddenSize == Int(expected["hidden_size"]!.integerValue!))
        #expect(config.intermediateSize == Int(expected["intermediate_size"]!.integerValue!))
        #expect(config.layerCount == Int(expected["num_hidden_layers"]!.integerValue!))
        #expect(config.attentionHeads == Int(expected["num_attention_heads"]!.integerValue!))
        #expect(config.kvHeads == Int(expected["num_key_value_heads"]!.integerValue!))
        #expect(config.headDimension == Int(expected["head_dim"]!.integerValue!))
        #expect(config.vocabularySize == Int(expected["vocab_size"]!.integerValue!))
        #expect(config.maxPositionEmbeddings == Int(expected["max_position_embeddings"]!.integerValue!))
        #expect(config.ropeTheta == expected["rope_theta"]!.doubleValue!)
        #expect(abs(config.rmsNormEpsilon - expected["rms_norm_eps"]!.doubleValue!) < 1e-12)
        #expect(config.tieWordEmbeddings == (expected["tie_word_embeddings"] == .bool(true)))
        #expect(config.bosTokenId == expected["bos_token_id"]?.integerValue.map(Int.init))
    }

    @Test func inspectSummarisesTheGGUF() throws {
        let summary = try ModelFiles.summary(path: try RealModelEnvironment.ggufPath())
        #expect(summary.format == .gguf)
        #expect(summary.architecture == "llama")
        #expect(summary.tensorCount == 272)
        let counts = Dictionary(uniqueKeysWithValues: summary.dtypeCounts.map { ($0.dtype, $0.count) })
        #expect(counts == ["Q4_1": 210, "F32": 61, "Q8_0": 1])
        // params_total in shared/fixtures/llamacpp.json (llama.cpp's count)
        let llamacpp = try RealModelEnvironment.fixture("llamacpp.json")
        #expect(summary.parameterCount == Int(llamacpp["params_total"]!.integerValue!))
    }
}
