import QuantaTensor
import QuantaModel
import Testing

@Suite struct ModelErrorTests {
    @Test func contextErrorSaysWhatToDo() {
        let text = ModelError.contextTooLong(requested: 9000, maximum: 8192).errorDescription ?? ""
        #expect(text.contains("9000") && text.contains("8192") && text.contains("--context"))
    }
}

@Suite struct NonFiniteWeightTests {
    @Test(arguments: [Float.nan, .infinity, -.infinity])
    func nonFiniteWeightsAreReportedByName(poison: Float) throws {
        let config = TinyTransformer.config()
        var checkpoint = TinyTransformer.checkpoint(config: config)
        let index = try #require(checkpoint.tensors.firstIndex { $0.name == "model.layers.1.mlp.down_proj.weight" })
        var values = try checkpoint.tensors[index].tensor.floatValues()
        values[5] = poison
        checkpoint.tensors[index].tensor = try Tensor(shape: checkpoint.tensors[index].tensor.shape, values: values)
        let message: String
        do throws(ModelError) {
            _ = try TransformerModel(checkpoint: checkpoint)
            message = "accepted"
        } catch {
            message = error.errorDescription ?? ""
        }
        #expect(message.contains("model.layers.1.mlp.down_proj.weight") && message.contains("element 5"), "\(message)")
    }
}
