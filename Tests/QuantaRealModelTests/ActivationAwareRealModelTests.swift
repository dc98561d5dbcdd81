import Foundation
import QuantaAlgorithms
import QuantaModel
import QuantaPipeline
import QuantaRuntime
import QuantaTensor
import Testing

/// W8A8 on SmolLM2 against the reference figures (shared/fixtures/smollm2-reference.json
/// `peer_anchor_ppl_protocol_a_first10` `w8a8`: per-tensor int8 weights absmax/127, per-token
/// int8 activations on the 7 decoder linears). First 2 windows of 2048; `make report-all`
/// runs all 10 and the SmoothQuant / AWQ recipes.
@Suite(.serialized) struct ActivationAwareRealModelTests {
    @Test func w8a8MatchesTheReferenceWithinOnePercent() throws {
        let quantization = QuantizationRealModelTests()
        let recipe = Recipe(name: "w8a8", stages: [
            RecipeStage(
                algorithm: .absmax, scheme: QuantizationScheme(bits: 8, symmetric: true),
                activationAware: ActivationAwareKnobs(perTensor: true, activations: ActivationScheme()))
        ])
        let result = try quantization.quantizedPerplexity(recipe, windows: [])
        for (ours, theirs) in zip(result.windowMeanNLL, try quantization.anchor("w8a8")) {
            #expect(abs(exp(ours) - exp(theirs)) <= 0.01 * exp(theirs), "W8A8 window NLL \(ours) vs \(theirs)")
        }
    }
}
