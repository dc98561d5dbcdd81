import Foundation
import QuantaAlgorithms
import QuantaModel
import QuantaPipeline
import QuantaRuntime
import QuantaTensor
import Testing

/// RTN and GPTQ on SmolLM2 against the official GPTQ code's figures
/// (shared/fixtures/smollm2-reference.json `peer_anchor_ppl_protocol_a_first10`, per-window
/// mean NLLs; same calibration: 32 random windows of 512 tokens of valid.txt, seed 0). CI
/// evaluates the first 2 windows of 2048; `make report-all` runs all 10.
@Suite(.serialized) struct QuantizationRealModelTests {
    static let windows = 2

    func anchor(_ key: String) throws -> [Double] {
        let anchors = try RealModelEnvironment.fixture("smollm2-reference.json")["peer_anchor_ppl_protocol_a_first10"]!
        guard case .array(let values) = anchors[key]!["window_mean_nll"] else { return [] }
        return values.prefix(Self.windows).compactMap(\.doubleValue)
    }

    func quantizedPerplexity(_ recipe: Recipe, windows calibration: [[Int]]) throws -> PerplexityResult {
        var model = try PerplexityRealModelTests.model.get()
        let plan = try LayerPlan(recipe: recipe, layerCount: model.layers.count, recipePath: recipe.name)
        _ = try SequentialQuantizer(recipe: recipe, plan: plan, context: .serial()).run(model: &model, windows: calibration)
        return try PerplexityEvaluator(protocolName: .gptq, windowLimit: Self.windows)
            .evaluate(model: model, tokens: try PerplexityRealModelTests.testTokens.get())
    }

    @Test func roundToNearestMatchesTheReferenceWithinHalfAPercent() throws {
        let recipe = Recipe(name: "rtn", stages: [RecipeStage(algorithm: .rtn, scheme: QuantizationScheme(bits: 4, groupSize: 128))])
        let result = try quantizedPerplexity(recipe, windows: [])
        for (ours, theirs) in zip(result.windowMeanNLL, try anchor("rtn_w4_g128")) {
            #expect(abs(exp(ours) - exp(theirs)) <= 0.005 * exp(theirs), "RTN window NLL \(ours) vs \(theirs)")
        }
    }

    @Test func gptqMatchesTheOfficialCodeWithinTwoPercent() throws {
        let checkpoint = try RealModelEnvironment.checkpoint.get()
        let tokenizer = try Tokenizer(checkpoint: checkpoint, path: "SmolLM2")
        let calibrationText = try TextFile.read(path: RealModelEnvironment.sharedPath + "/data/wikitext-2/valid.txt")
        let spec = CalibrationSpec(source: "valid.txt", samples: 32, sequenceLength: 512, seed: 0)
        let calibration = try spec.windows(from: tokenizer.encode(calibrationText), sourcePath: "valid.txt")
        // The official run's settings: true_sequential False, no act-order, damp 0.01, block 128.
        let recipe = Recipe(name: "gptq", stages: [
            RecipeStage(algorithm: .gptq, scheme: QuantizationScheme(bits: 4, groupSize: 128),
                        gptq: GPTQKnobs(trueSequential: false))
        ])
        let result = try quantizedPerplexity(recipe, windows: calibration)
        let expected = exp(try anchor("gptq_w4_g128").reduce(0, +) / Double(Self.windows))
        #expect(result.perplexity <= expected * 1.02, "GPTQ ppl \(result.perplexity) vs official \(expected)")
        let rtn = exp(try anchor("rtn_w4_g128").reduce(0, +) / Double(Self.windows))
        #expect(result.perplexity < rtn, "GPTQ \(result.perplexity) must beat RTN \(rtn)")
    }
}
