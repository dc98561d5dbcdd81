import Foundation
import QuantaAlgorithms
import QuantaFormats
import QuantaModel
import QuantaPipeline
import QuantaRuntime
import QuantaTensor
import Testing

/// The `rotation` stage and `kv_cache` through the pipeline, the writers and the loaders, on
/// the tiny model (hidden 16, head dimension 4, MLP 24 = 12 · 2: every size has a Hadamard).
@Suite struct RotationStageTests {
    static let hadamard = RecipeStage(rotation: RotationKnobs(mode: .hadamard, seed: 5))
    static let w4a4 = RecipeStage(
        algorithm: .rtn, scheme: QuantizationScheme(bits: 4, groupSize: nil, symmetric: true),
        activationAware: ActivationAwareKnobs(activations: ActivationScheme(bits: 4)))
    static let cache = KeyValueCacheKnobs(bits: 4)

    func run(_ recipe: Recipe, windows: [[Int]] = []) throws -> (TransformerModel, QuantizationOutcome) {
        var model = try TransformerModel(checkpoint: tinyModelCheckpoint(outlierChannels: true))
        let plan = try LayerPlan(recipe: recipe, layerCount: 2, recipePath: "t")
        let outcome = try SequentialQuantizer(recipe: recipe, plan: plan, context: .serial()).run(model: &model, windows: windows)
        try model.install(outcome.runtime)
        return (model, outcome)
    }

    func logits(_ model: TransformerModel, _ tokens: [Int]) throws -> Matrix {
        var cache: KVCache? = nil
        return try model.logits(tokens: tokens, cache: &cache)
    }

    func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("quanta-rotation-\(UUID().uuidString)-\(name)").path
    }

    /// The written simulated directory loaded as `LoadedModel.load` does (minus the tokenizer).
    func reloaded(_ directory: String) throws -> TransformerModel {
        let written = try ModelFiles.loadCheckpoint(path: directory)
        let linears = try LoadedModel.simulatedActivationLinears(path: directory, checkpoint: written)
        var model = try TransformerModel(checkpoint: written, linears: linears)
        if let runtime = try LoadedModel.simulatedRuntimeTransforms(path: directory) { try model.install(runtime) }
        return model
    }

    @Test func rotatedModelWrittenAndReloadedKeepsTheFullPrecisionLogits() throws {
        let recipe = Recipe(name: "t", stages: [Self.hadamard])
        let (model, outcome) = try run(recipe)
        let directory = temporaryPath("fp")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try SimulatedModelWriter.write(
            checkpoint: try tinyModelCheckpoint(outlierChannels: true), outcome: outcome, recipe: recipe, calibration: nil,
            to: directory)
        let written = try ModelFiles.loadCheckpoint(path: directory)
        #expect(!written.config.tieWordEmbeddings && written.tensors.contains { $0.name == "lm_head.weight" })
        let loaded = try reloaded(directory)
        #expect(loaded.layers.allSatisfy { $0.feedForward.downProjection is HadamardInputLinear && $0.attention.rotatesQueriesAndKeys })
        let original = try TransformerModel(checkpoint: tinyModelCheckpoint(outlierChannels: true))
        for window in tinyWindows(count: 2, length: 12, seed: 4) {
            let expected = try logits(original, window)
            let scale = expected.values.map(abs).max()!
            #expect(try logits(loaded, window).maximumAbsoluteDifference(to: expected) < 1e-4 * scale)
            #expect(try logits(model, window).maximumAbsoluteDifference(to: expected) < 1e-4 * scale)
        }
    }

    @Test func learnerLossIsTheDeployedQuantizedModelsLoss() throws {
        let recipe = Recipe(name: "t", stages: [Self.hadamard, Self.w4a4], kvCache: Self.cache)
        let (deployed, outcome) = try run(recipe)
        #expect(outcome.runtime.keyValueCache?.groupSize == 4 && outcome.runtime.onlineDownProjection)
        var folded = try TransformerModel(checkpoint: tinyModelCheckpoint(outlierChannels: true))
        try ModelRotation.foldNorms(&folded)
        let learner = try RotationLearner(
            model: folded, quantizingAs: Self.w4a4, runtime: outcome.runtime, knobs: Self.hadamard.rotation!)
        let plan = try RotationPlan.randomizedHadamard(hiddenSize: 16, headDimension: 4, seed: 5, onlineDownProjection: true)
        for window in tinyWindows(count: 2, length: 12, seed: 8) {
            let loss = try learner.lossAndGradients(window: window, residual: plan.residual!, perHead: [plan.perHead[0], plan.perHead[0]]).loss
            let logits = try logits(deployed, window)
            let expected = meanNextTokenCrossEntropy(logits, window)
            #expect(abs(loss - expected) < 1e-3 * expected, "learner \(loss), deployed \(expected)")
        }
        // Quantization costs something: the FP model's loss differs.
        var fullPrecision = learner
        fullPrecision.weightQuantizer = nil
        fullPrecision.quantizer = nil
        let window = tinyWindows(count: 1, length: 12, seed: 8)[0]
        let residual = plan.residual!
        let perHead = [plan.perHead[0], plan.perHead[0]]
        #expect(try fullPrecision.lossAndGradients(window: window, residual: residual, perHead: perHead).loss
            != learner.lossAndGradients(window: window, residual: residual, perHead: perHead).loss)
    }

    @Test func w4a4kv4ContainerRunsItsSimulationWithTheOnlineTransforms() throws {
        let recipe = Recipe(name: "t", stages: [Self.hadamard, Self.w4a4], kvCache: Self.cache)
        let (model, outcome) = try run(recipe)
        let path = temporaryPath("w4a4kv4.quanta")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try ContainerExporter.write(
            checkpoint: try tinyModelCheckpoint(outlierChannels: true), outcome: outcome, recipe: recipe, calibration: nil,
            denseType: .float32, to: path)
        let packed = try LoadedModel.containerModel(path: path, computeContext: .serial())
        let simulated = try LoadedModel.simulatedContainer(path: path, computeContext: .serial())
        let cache = try KeyValueQuantizer(bits: 4, groupSize: 4)
        for candidate in [packed, simulated] {
            #expect(candidate.layers.allSatisfy {
                $0.feedForward.downProjection is HadamardInputLinear && $0.attention.rotatesQueriesAndKeys
                    && $0.attention.keyValueQuantizer == cache
            })
        }
        // Every W4A4 linear is symmetric per channel: it runs on the integer kernels
        // (`Int8Linear`) in the container and as `IntegerSimulatedLinear` in the simulation and
        // the pipeline, which compute the same integer sums and epilogue. So the three agree
        // exactly, even through the exact 4-bit rounding ties a 4-bit KV cache produces
        // (attention outputs on the KV grid: 4/8 · 7 = 3.5) — with float products of
        // dequantized values such ties once put an o_proj code at 3 instead of 4 and moved the
        // logits by 3.7 of 14.
        #expect(packed.layers[0].attention.outputProjection is Int8Linear)
        #expect(simulated.layers[0].attention.outputProjection is IntegerSimulatedLinear)
        #expect(model.layers[0].attention.outputProjection is IntegerSimulatedLinear)
        for window in tinyWindows(count: 4, length: 12, seed: 6) {
            let expected = try logits(simulated, window)
            #expect(try logits(packed, window) == expected)
            #expect(try logits(model, window) == expected)
        }
    }

    @Test func perTokenQuantizerPassesTheGradientThroughItsScale() throws {
        // x = [1, −3, 0.5], 4 bits: s = 3/7, codes 2, −7, 1; q − x/s = −1/3, 0, −1/6; the scale
        // is set by x₁ < 0, so ∂y/∂x₁ gains Σ g_i (q_i − x_i/s) · (−1) / 7 = (1/3 + 1/6) / 7.
        var matrix = try Matrix(rows: 1, columns: 3, values: [1, -3, 0.5])
        let adjustment = RotationLearner.quantizePerToken(&matrix, ActivationScheme(bits: 4))
        #expect(matrix.values.map { ($0 * 7 / 3).rounded() } == [2, -7, 1])
        var gradient = try Matrix(rows: 1, columns: 3, values: [1, 1, 1])
        adjustment(&gradient)
        #expect(abs(gradient[0, 0] - 1) < 1e-6 && abs(gradient[0, 2] - 1) < 1e-6)
        #expect(abs(gradient[0, 1] - (1 + 0.5 / 7)) < 1e-5)
    }

    @Test func learnedRotationsTrainInThePipeline() throws {
        let learned = RecipeStage(rotation: {
            var knobs = RotationKnobs(mode: .learned, seed: 5)
            knobs.steps = 4
            knobs.samples = 2
            knobs.sequenceLength = 8
            return knobs
        }())
        let recipe = Recipe(name: "t", stages: [learned, Self.w4a4], kvCache: Self.cache)
        let lines = LockedLines()
        var model = try TransformerModel(checkpoint: tinyModelCheckpoint(outlierChannels: true))
        let plan = try LayerPlan(recipe: recipe, layerCount: 2, recipePath: "t")
        #expect(plan.needsCalibration(recipe: recipe))
        _ = try SequentialQuantizer(recipe: recipe, plan: plan, context: .serial(), log: lines.append)
            .run(model: &model, windows: tinyWindows(count: 3, length: 12))
        #expect(lines.contents.filter { $0.hasPrefix("rotation step") }.count == 4)
        #expect(lines.contents.contains { $0.hasPrefix("learning rotations: 4 steps of 1 over 2 windows of 8 tokens") })
        let finite = model.embedding.values.allSatisfy(\.isFinite)
        #expect(finite)
    }
}
