import Foundation
import QuantaAlgorithms
import QuantaFormats
import QuantaModel
import QuantaPipeline
import QuantaRuntime
import QuantaTensor
import Testing

/// SmoothQuant / AWQ folding and the W8A8 simulation on tiny in-code models.
@Suite struct ActivationAwareTransformTests {
    /// A tiny LLaMA like `tinyModelCheckpoint`, with `kvHeads` KV heads (4 = no grouped-query
    /// attention, so `v_proj → o_proj` is foldable) and norm gains spread out so smoothing
    /// has work to do.
    func checkpoint(kvHeads: Int = 2, seed: UInt64 = 3) throws -> ModelCheckpoint {
        try tinyModelCheckpoint(seed: seed, kvHeads: kvHeads, outlierChannels: true)
    }

    func run(_ stages: [RecipeStage], checkpoint: ModelCheckpoint, windows: [[Int]]) throws
        -> (TransformerModel, QuantizationOutcome)
    {
        let recipe = Recipe(name: "t", stages: stages)
        var model = try TransformerModel(checkpoint: checkpoint)
        let plan = try LayerPlan(recipe: recipe, layerCount: 2, recipePath: "t")
        let outcome = try SequentialQuantizer(recipe: recipe, plan: plan, context: .serial()).run(model: &model, windows: windows)
        return (model, outcome)
    }

    func logits(_ model: TransformerModel, _ tokens: [Int]) throws -> Matrix {
        var cache: KVCache? = nil
        return try model.logits(tokens: tokens, cache: &cache)
    }

    static let smoothing = RecipeStage(
        algorithm: .smoothquant, scheme: QuantizationScheme(bits: 8, symmetric: true),
        activationAware: ActivationAwareKnobs(alpha: 0.5))
    static let awqScheme = QuantizationScheme(bits: 3, groupSize: 8)

    @Test(arguments: [2, 4]) func foldingLeavesTheLogitsUnchanged(kvHeads: Int) throws {
        let checkpoint = try checkpoint(kvHeads: kvHeads)
        let windows = tinyWindows(count: 4, length: 16)
        let reference = try TransformerModel(checkpoint: checkpoint)
        let awq = RecipeStage(
            algorithm: .awq, scheme: Self.awqScheme, activationAware: ActivationAwareKnobs(gridSize: 5, clip: false))
        for stages in [[Self.smoothing], [awq], [Self.smoothing, awq]] {
            let (model, outcome) = try run(stages, checkpoint: checkpoint, windows: windows)
            #expect(outcome.records.isEmpty)
            // The transforms did change the weights …
            #expect(model.layers[0].inputNorm.weight != reference.layers[0].inputNorm.weight)
            // … but not the function.
            for window in tinyWindows(count: 2, length: 12, seed: 9) {
                let difference = try logits(model, window).maximumAbsoluteDifference(to: logits(reference, window))
                #expect(difference < 1e-4, "\(stages.map(\.algorithm)) kvHeads \(kvHeads): \(difference)")
            }
        }
    }

    @Test func transformedTensorsReachTheWrittenModel() throws {
        let checkpoint = try checkpoint()
        let (model, outcome) = try run([Self.smoothing], checkpoint: checkpoint, windows: tinyWindows(count: 2, length: 8))
        let written = outcome.applied(to: checkpoint).tensors
        let norm = written.first { $0.name == "model.layers.1.post_attention_layernorm.weight" }!
        #expect(try norm.tensor.floatValues() == model.layers[1].postAttentionNorm.weight)
        let reloaded = try TransformerModel(checkpoint: ModelCheckpoint(config: checkpoint.config, tensors: written))
        let window = tinyWindows(count: 1, length: 10, seed: 5)[0]
        #expect(try logits(reloaded, window) == logits(model, window))
    }

    @Test func awqLowersTheQuantizedOutputError() throws {
        let checkpoint = try checkpoint()
        let windows = tinyWindows(count: 6, length: 24)
        let reference = try TransformerModel(checkpoint: checkpoint)
        let rtn = RecipeStage(algorithm: .rtn, scheme: Self.awqScheme)
        let awq = RecipeStage(algorithm: .awq, scheme: Self.awqScheme, activationAware: ActivationAwareKnobs(gridSize: 20))
        let (plain, _) = try run([rtn], checkpoint: checkpoint, windows: windows)
        let (aware, outcome) = try run([awq, rtn], checkpoint: checkpoint, windows: windows)
        #expect(outcome.records.count == 14 && outcome.records.allSatisfy { $0.algorithm == .rtn })
        let plainError = try outputError(plain, reference, windows: windows)
        let awareError = try outputError(aware, reference, windows: windows)
        #expect(awareError < plainError, "AWQ \(awareError) vs RTN \(plainError)")
    }

    @Test func awqClipsEveryLinearButQueryAndKey() throws {
        let checkpoint = try checkpoint(kvHeads: 2)
        let reference = try TransformerModel(checkpoint: checkpoint)
        let awq = RecipeStage(algorithm: .awq, scheme: QuantizationScheme(bits: 2, groupSize: 8))
        let (model, _) = try run([awq], checkpoint: checkpoint, windows: tinyWindows(count: 4, length: 16))
        func weight(_ model: TransformerModel, _ path: KeyPath<DecoderLayer, any LinearOperator>) -> Matrix {
            (model.layers[0][keyPath: path] as! DenseLinear).weight
        }
        // o_proj has no foldable predecessor here (grouped-query attention), yet is clipped.
        let original = weight(reference, \.attention.outputProjection)
        let clipped = weight(model, \.attention.outputProjection)
        #expect(clipped != original)
        #expect(zip(clipped.values, original.values).allSatisfy { abs($0) <= abs($1) })
    }

    @Test func w8a8SimulationQuantizesActivationsAndLoadsBack() throws {
        let checkpoint = try checkpoint()
        let windows = tinyWindows(count: 2, length: 8)
        let absmax = RecipeStage(
            algorithm: .absmax, scheme: QuantizationScheme(bits: 8, symmetric: true),
            activationAware: ActivationAwareKnobs(perTensor: true, activations: ActivationScheme()))
        let (model, outcome) = try run([Self.smoothing, absmax], checkpoint: checkpoint, windows: windows)
        #expect(outcome.records.count == 14)
        #expect(outcome.records.allSatisfy { $0.activation == ActivationScheme() && Set($0.weight.scales.values).count == 1 })
        // Symmetric per-channel (here per-tensor) int8 weights: simulated as the integer kernels compute.
        let linear = try #require(model.layers[0].feedForward.upProjection as? IntegerSimulatedLinear)
        #expect(linear.activation.granularity == .perToken)

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("quanta-w8a8-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try SimulatedModelWriter.write(
            checkpoint: checkpoint, outcome: outcome, recipe: Recipe(name: "t", stages: [Self.smoothing, absmax]),
            calibration: nil, to: directory)
        // What `LoadedModel.load` does for a simulated directory (minus the tokenizer).
        let written = try ModelFiles.loadCheckpoint(path: directory)
        let linears = try LoadedModel.simulatedActivationLinears(path: directory, checkpoint: written)
        #expect(linears.count == 14)
        let loaded = try TransformerModel(checkpoint: written, linears: linears)
        #expect(loaded.layers[1].attention.keyProjection is IntegerSimulatedLinear)
        let window = tinyWindows(count: 1, length: 10, seed: 5)[0]
        #expect(try logits(loaded, window) == logits(model, window))
    }

    @Test func staticActivationScalesComeFromCalibration() throws {
        let absmax = RecipeStage(
            algorithm: .absmax, scheme: QuantizationScheme(bits: 8, symmetric: true),
            activationAware: ActivationAwareKnobs(activations: ActivationScheme(granularity: .perTensor)))
        let (_, outcome) = try run([absmax], checkpoint: checkpoint(), windows: tinyWindows(count: 2, length: 8))
        #expect(outcome.records.allSatisfy { ($0.activation?.staticScale ?? 0) > 0 })
    }

    @Test func smoothingWithoutAFoldablePredecessorIsAClearError() throws {
        // Grouped-query attention: v_proj has 8 outputs, o_proj reads 16.
        let stage = RecipeStage(
            algorithm: .smoothquant, scheme: QuantizationScheme(bits: 8, symmetric: true), targets: ["o_proj"])
        do {
            _ = try run([stage], checkpoint: checkpoint(kvHeads: 2), windows: tinyWindows(count: 2, length: 8))
            Issue.record("expected an error")
        } catch let error as PipelineError {
            let message = error.errorDescription ?? ""
            #expect(message.contains("o_proj") && message.contains("no foldable predecessor"), "\(message)")
        }
        let partial = RecipeStage(
            algorithm: .smoothquant, scheme: QuantizationScheme(bits: 8, symmetric: true), targets: ["q_proj"])
        #expect(throws: PipelineError.self) {
            try run([partial], checkpoint: checkpoint(), windows: tinyWindows(count: 2, length: 8))
        }
    }
}
