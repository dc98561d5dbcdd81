import QuantaAlgorithms
import QuantaModel
import QuantaPipeline
import QuantaTensor
import Testing

@Suite struct ModelRotationTests {
    /// Logits of every position of `window`.
    static func logits(_ model: TransformerModel, _ window: [Int]) throws -> Matrix {
        let hidden = try model.forward(tokens: window)
        return model.logits(hidden: hidden, rows: 0..<hidden.rows)
    }

    static func maximumRelativeDifference(_ model: TransformerModel, _ reference: TransformerModel) throws -> Float {
        var worst: Float = 0
        for window in tinyWindows(count: 3, length: 11) {
            let rotated = try logits(model, window)
            let original = try logits(reference, window)
            let scale = original.values.map(abs).max() ?? 1
            worst = max(worst, rotated.maximumAbsoluteDifference(to: original) / scale)
        }
        return worst
    }

    @Test func foldingNormsKeepsLogitsAndSetsGainsToOne() throws {
        let reference = try TransformerModel(checkpoint: tinyModelCheckpoint())
        var model = reference
        try ModelRotation.foldNorms(&model)
        #expect(model.layers.allSatisfy { $0.inputNorm.weight.allSatisfy { $0 == 1 } && $0.postAttentionNorm.weight.allSatisfy { $0 == 1 } })
        #expect(model.finalNorm.weight.allSatisfy { $0 == 1 })
        #expect(try Self.maximumRelativeDifference(model, reference) < 1e-5)
    }

    @Test(arguments: [false, true])
    func rotationsKeepLogits(online: Bool) throws {
        let reference = try TransformerModel(checkpoint: tinyModelCheckpoint())
        var model = reference
        try ModelRotation.foldNorms(&model)
        let plan = try RotationPlan.randomizedHadamard(
            hiddenSize: 16, headDimension: 4, seed: 3, onlineDownProjection: online)
        try ModelRotation.rotate(&model, plan: plan)
        // The rotation really changed the weights (tiny MLP width 24 = 12 · 2 exercises a Paley base).
        #expect(model.embedding.maximumAbsoluteDifference(to: reference.embedding) > 0.01)
        #expect((model.layers[0].feedForward.downProjection is HadamardInputLinear) == online)
        #expect(try Self.maximumRelativeDifference(model, reference) < 1e-4)
    }

    @Test func residualRotationNeedsFoldedNorms() throws {
        var model = try TransformerModel(checkpoint: tinyModelCheckpoint())
        let plan = try RotationPlan.randomizedHadamard(hiddenSize: 16, headDimension: 4, seed: 3, onlineDownProjection: false)
        #expect(throws: PipelineError.self) { try ModelRotation.rotate(&model, plan: plan) }
    }

    @Test func unsupportedHadamardSizesAreClearErrors() {
        #expect(throws: PipelineError.self) {
            try RotationPlan.randomizedHadamard(hiddenSize: 20, headDimension: 4, seed: 1, onlineDownProjection: false)
        }
    }
}

@Suite struct RotationTrainingGraphTests {
    @Test func differentiableLayerEqualsTheModelLayer() throws {
        let model = try TransformerModel(checkpoint: tinyModelCheckpoint())
        let window = tinyWindows(count: 1, length: 9)[0]
        let input = model.embed(window)
        for layer in model.layers {
            var expected = input
            var noCache: KVCache? = nil
            layer.forward(hidden: &expected, positions: 0..<window.count, cache: &noCache)
            let (output, _) = try DecoderBackward.forward(
                input, weights: try RotationTrainingGraph.weights(of: layer),
                geometry: RotationTrainingGraph.geometry(of: layer, tokens: window.count))
            #expect(output.maximumAbsoluteDifference(to: expected) < 1e-4)
        }
    }
}
