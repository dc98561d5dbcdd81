import Foundation
import QuantaAlgorithms
import QuantaModel
import QuantaPipeline
import QuantaRuntime
import QuantaTensor
import Testing

/// Rotations on SmolLM2 (first 2 windows of 2048, gptq protocol; `make report-rotation` runs
/// the recipes on 10): a randomized Hadamard R1/R2 with online R3/R4 leaves the FP
/// model's perplexity unchanged, and rescues W4A4KV4 round-to-nearest, which collapses
/// without it.
@Suite(.serialized) struct RotationRealModelTests {
    static let w4a4 = RecipeStage(
        algorithm: .rtn, scheme: QuantizationScheme(bits: 4, groupSize: nil, symmetric: true),
        activationAware: ActivationAwareKnobs(activations: ActivationScheme(bits: 4)))
    static let hadamard = RecipeStage(rotation: RotationKnobs(mode: .hadamard, seed: 0))

    /// The recipe applied to SmolLM2 with its run-time transforms installed (as the loaders do).
    func perplexity(_ recipe: Recipe) throws -> PerplexityResult {
        var model = try PerplexityRealModelTests.model.get()
        let plan = try LayerPlan(recipe: recipe, layerCount: model.layers.count, recipePath: recipe.name)
        let outcome = try SequentialQuantizer(recipe: recipe, plan: plan, context: .serial()).run(model: &model, windows: [])
        try model.install(outcome.runtime)
        return try PerplexityEvaluator(protocolName: .gptq, windowLimit: QuantizationRealModelTests.windows)
            .evaluate(model: model, tokens: try PerplexityRealModelTests.testTokens.get())
    }

    @Test func hadamardRotationKeepsTheFullPrecisionPerplexity() throws {
        let rotated = try perplexity(Recipe(name: "rotation", stages: [Self.hadamard]))
        let reference = try PerplexityEvaluator(protocolName: .gptq, windowLimit: QuantizationRealModelTests.windows)
            .evaluate(model: try PerplexityRealModelTests.model.get(), tokens: try PerplexityRealModelTests.testTokens.get())
        for (ours, theirs) in zip(rotated.windowMeanNLL, reference.windowMeanNLL) {
            #expect(abs(ours - theirs) < 1e-4, "rotated window NLL \(ours) vs FP \(theirs)")
        }
    }

    @Test func rotationRescuesW4A4KV4() throws {
        let cache = KeyValueCacheKnobs(bits: 4)
        let plain = try perplexity(Recipe(name: "w4a4kv4-rtn", stages: [Self.w4a4], kvCache: cache))
        let rotated = try perplexity(Recipe(name: "w4a4kv4-hadamard-rtn", stages: [Self.hadamard, Self.w4a4], kvCache: cache))
        #expect(plain.perplexity > 1000, "W4A4KV4 without rotation: \(plain.perplexity)")
        #expect(rotated.perplexity < 0.05 * plain.perplexity, "Hadamard \(rotated.perplexity) vs none \(plain.perplexity)")
    }
}
