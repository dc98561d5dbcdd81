import Foundation
import QuantaAlgorithms
import QuantaPipeline
import QuantaTensor
import Testing

@Suite struct RotationRecipeTests {
    func expectError(_ text: String, _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        RecipeTests().expectError(text, fragments, sourceLocation: sourceLocation)
    }

    static let gptq = "  - algorithm: gptq\n    scheme: {bits: 4, group_size: null, symmetric: true}\n"

    @Test func shippedRotationRecipesDecodeAndRoundTrip() throws {
        let spin = try Recipe.load(path: RecipeTests.root + "/recipes/w4a4kv4-spinquant.yaml")
        #expect(spin.stages.map(\.algorithm) == [.rotation, .gptq])
        let knobs = try #require(spin.rotation)
        #expect(knobs.mode == .learned && knobs.onlineDownProjection && knobs.queryKeyRotation)
        #expect(knobs.steps == 32 && knobs.samples == 32 && knobs.sequenceLength == 256 && knobs.learningRate == 1.5)
        #expect(!knobs.learnsResidual)
        #expect(spin.kvCache == KeyValueCacheKnobs(bits: 4))
        #expect(spin.stages[1].activationAware.activations == ActivationScheme(bits: 4))
        let round = try Recipe.parse(String(decoding: spin.encodedJSON(), as: UTF8.self), path: "json")
        #expect(round == spin)
        let quarot = try Recipe.load(path: RecipeTests.root + "/recipes/w4a4kv4-quarot.yaml")
        #expect(quarot.rotation?.mode == .hadamard)
        let baseline = try Recipe.load(path: RecipeTests.root + "/recipes/w4a4kv4-rtn.yaml")
        #expect(baseline.rotation == nil && baseline.kvCache?.bits == 4)
    }

    @Test func learningKnobsBelongToLearnedMode() {
        expectError("name: x\nstages:\n  - algorithm: rotation\n    steps: 10\n" + Self.gptq, ["r.yaml:4", "steps"])
        expectError("name: x\nstages:\n  - algorithm: rotation\n    scheme: {bits: 4}\n" + Self.gptq, ["r.yaml:4", "scheme"])
        expectError("name: x\nstages:\n  - algorithm: rotation\n    mode: random\n" + Self.gptq, ["r.yaml", "mode"])
        expectError(
            "name: x\nstages:\n  - algorithm: rotation\n    mode: learned\n    learning_rate: 0\n" + Self.gptq, ["learning_rate", "positive"])
        expectError(
            "name: x\nstages:\n  - algorithm: rotation\n    mode: learned\n    sequence_length: 1\n" + Self.gptq, ["sequence_length"])
        // Counts that would run for days or allocate without bound are refused up front.
        expectError(
            "name: x\nstages:\n  - algorithm: rotation\n    mode: learned\n    steps: 1099511627776\n" + Self.gptq, ["steps", "100000"])
        expectError(
            "name: x\nstages:\n  - algorithm: rotation\n    mode: learned\n    samples: 1048576\n    batch_size: 1\n    sequence_length: 2048\n"
                + Self.gptq, ["samples", "exceed the limit"])
        expectError("name: x\nstages:\n  - algorithm: rotation\n    learn_residual: false\n" + Self.gptq, ["r.yaml:4", "learn_residual"])
    }

    @Test func rotationMustComeFirstAndAlone() {
        expectError("name: x\nstages:\n" + Self.gptq + "  - algorithm: rotation\n", ["stages[1]", "first stage"])
        expectError(
            "name: x\nstages:\n  - algorithm: rotation\n  - algorithm: awq\n    scheme: {bits: 4}\n", ["awq", "cannot follow a rotation"])
        expectError("name: x\nstages:\n  - algorithm: rotation\n    mode: learned\n", ["mode", "add a quantizing stage"])
        expectError("name: x\nstages:\n  - algorithm: rotation\n    targets: [q_proj]\n" + Self.gptq, ["r.yaml:4", "targets"])
    }

    @Test func activationClippingIsReadAndChecked() throws {
        let recipe = try Recipe.parse(
            "name: x\nstages:\n  - algorithm: rtn\n    scheme: {bits: 4}\n    activations: {bits: 4, clip_ratio: 0.9}\n", path: "r.yaml")
        #expect(recipe.stages[0].activationAware.activations == ActivationScheme(bits: 4, clipRatio: 0.9))
        expectError(
            "name: x\nstages:\n  - algorithm: rtn\n    scheme: {bits: 4}\n    activations: {bits: 4, clip_ratio: 0}\n",
            ["activations.clip_ratio", "(0, 1]"])
    }

    @Test func keyValueCacheIsChecked() {
        expectError("name: x\nkv_cache: {bits: 9}\nstages:\n" + Self.gptq, ["kv_cache.bits", "2 to 8"])
        expectError("name: x\nkv_cache: {bits: 4, clip_ratio: 1.5}\nstages:\n" + Self.gptq, ["kv_cache.clip_ratio"])
        expectError("name: x\nkv_cache: {bits: 4, grouping: 2}\nstages:\n" + Self.gptq, ["r.yaml:2", "grouping"])
    }
}
