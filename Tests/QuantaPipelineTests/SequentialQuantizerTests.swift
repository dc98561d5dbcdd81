import Foundation
import QuantaAlgorithms
import QuantaFormats
import QuantaModel
import QuantaPipeline
import QuantaTensor
import Testing

@Suite struct SequentialQuantizerTests {
    func recipe(_ algorithm: RecipeStage.Algorithm, bits: Int = 3, trueSequential: Bool = true) -> Recipe {
        Recipe(name: "t", stages: [
            RecipeStage(algorithm: algorithm, scheme: QuantizationScheme(bits: bits, groupSize: 8),
                        gptq: GPTQKnobs(blockSize: 8, trueSequential: trueSequential))
        ])
    }

    func quantized(_ recipe: Recipe, windows: [[Int]], log: @escaping (String) -> Void = { _ in }) throws
        -> (TransformerModel, QuantizationOutcome)
    {
        var model = try TransformerModel(checkpoint: tinyModelCheckpoint())
        let plan = try LayerPlan(recipe: recipe, layerCount: 2, recipePath: "t")
        let outcome = try SequentialQuantizer(recipe: recipe, plan: plan, context: .serial(), log: log)
            .run(model: &model, windows: windows)
        return (model, outcome)
    }

    @Test func rtnQuantizesEveryLinearWithoutData() throws {
        let reference = try TransformerModel(checkpoint: tinyModelCheckpoint())
        let (model, outcome) = try quantized(recipe(.rtn), windows: [])
        #expect(outcome.records.count == 14)
        let original = (reference.layers[1].feedForward.downProjection as! DenseLinear).weight
        let expected = try RoundToNearest.quantize(weight: original, scheme: QuantizationScheme(bits: 3, groupSize: 8))
            .withHalfPrecisionScales()
        #expect((model.layers[1].feedForward.downProjection as! DenseLinear).weight == expected.dequantized)
        #expect(abs(outcome.bitsPerWeight - (3 + 19.0 / 8)) < 1e-9)
    }

    @Test func gptqBeatsRoundToNearestOnTheCalibrationData() throws {
        let windows = tinyWindows(count: 6, length: 24)
        let reference = try TransformerModel(checkpoint: tinyModelCheckpoint())
        let (rtn, _) = try quantized(recipe(.rtn), windows: windows)
        let (gptq, outcome) = try quantized(recipe(.gptq), windows: windows)
        #expect(outcome.records.map(\.name).prefix(7) == [
            "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj", "model.layers.0.self_attn.v_proj",
            "model.layers.0.self_attn.o_proj", "model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj",
            "model.layers.0.mlp.down_proj",
        ])
        let rtnError = try outputError(rtn, reference, windows: windows)
        let gptqError = try outputError(gptq, reference, windows: windows)
        #expect(gptqError < rtnError, "GPTQ \(gptqError) vs RTN \(rtnError)")
    }

    @Test func fullPrecisionHessiansModeAlsoWorks() throws {
        let windows = tinyWindows(count: 4, length: 16)
        let (sequential, _) = try quantized(recipe(.gptq), windows: windows)
        let (parallel, outcome) = try quantized(recipe(.gptq, trueSequential: false), windows: windows)
        #expect(outcome.records.count == 14)
        // Layer 0's q/k/v see the same inputs either way; later linears differ.
        #expect((sequential.layers[0].attention.queryProjection as! DenseLinear).weight
            == (parallel.layers[0].attention.queryProjection as! DenseLinear).weight)
    }

    @Test func identicalInputsGiveIdenticalResults() throws {
        let windows = tinyWindows(count: 3, length: 16)
        let (first, _) = try quantized(recipe(.gptq), windows: windows)
        let (second, _) = try quantized(recipe(.gptq), windows: windows)
        for (a, b) in zip(first.layers, second.layers) {
            #expect((a.feedForward.downProjection as! DenseLinear).weight == (b.feedForward.downProjection as! DenseLinear).weight)
        }
    }

    @Test func zeroHessianIsHandledAndLogged() throws {
        var checkpoint = try tinyModelCheckpoint()
        let index = checkpoint.tensors.firstIndex { $0.name == "model.layers.0.input_layernorm.weight" }!
        checkpoint.tensors[index].tensor = try Tensor(shape: [16], values: [Float](repeating: 0, count: 16))
        var model = try TransformerModel(checkpoint: checkpoint)
        let plan = try LayerPlan(recipe: recipe(.gptq), layerCount: 2, recipePath: "t")
        let lines = LockedLines()
        _ = try SequentialQuantizer(recipe: recipe(.gptq), plan: plan, context: .serial(), log: lines.append)
            .run(model: &model, windows: tinyWindows(count: 2, length: 8))
        #expect(lines.contents.contains { $0.contains("model.layers.0.self_attn.q_proj: 16 of 16 inputs never active") })
        #expect((model.layers[0].attention.queryProjection as! DenseLinear).weight.values.allSatisfy { $0 == 0 })
    }

    @Test func gptqWithoutWindowsIsAnError() throws {
        #expect(throws: PipelineError.self) { try quantized(recipe(.gptq), windows: []) }
    }
}

final class LockedLines: @unchecked Sendable {
    private var lines: [String] = []
    private let lock = NSLock()
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var contents: [String] { lock.withLock { lines } }
}
