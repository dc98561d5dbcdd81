import Foundation
import QuantaAlgorithms
import QuantaPipeline
import QuantaTensor
import Testing

@Suite struct RecipeTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    @Test func everyShippedRecipeParses() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.root + "/recipes").filter { $0.hasSuffix(".yaml") }
        #expect(names.count >= 9)
        for name in names {
            let recipe = try Recipe.load(path: Self.root + "/recipes/" + name)
            #expect(recipe.name + ".yaml" == name)
        }
        let actOrder = try Recipe.load(path: Self.root + "/recipes/w4a16-gptq-g128-actorder.yaml")
        #expect(actOrder.stages[0].gptq == GPTQKnobs(actOrder: .dynamic))
        #expect(actOrder.stages[0].scheme == QuantizationScheme(bits: 4, groupSize: 128))
        let perChannel = try Recipe.load(path: Self.root + "/recipes/w4a16-rtn-perchannel.yaml")
        #expect(perChannel.stages[0].scheme.groupSize == nil && perChannel.stages[0].gptq == nil)
    }

    func expectError(_ text: String, _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try Recipe.parse(text, path: "r.yaml")
            Issue.record("expected an error containing \(fragments)", sourceLocation: sourceLocation)
        } catch {
            let message = error.errorDescription ?? ""
            for fragment in fragments where !message.contains(fragment) {
                Issue.record("'\(message)' lacks '\(fragment)'", sourceLocation: sourceLocation)
            }
        }
    }

    @Test func unknownKeysNameTheLine() {
        expectError("name: x\nstages:\n  - algorithm: gptq\n    scheme: {bits: 4}\n    dampning: 0.1\n", ["r.yaml:5", "dampning", "dampening"])
        expectError("name: x\nstage: []\n", ["r.yaml:1", "'stages'", "missing", "found 'stage'"])
    }

    @Test func knobsOfAnotherAlgorithmAreUnknownKeys() {
        expectError("name: x\nstages:\n  - algorithm: rtn\n    scheme: {bits: 4}\n    block_size: 128\n", ["r.yaml:5", "block_size"])
    }

    @Test func unknownAlgorithmAndWrongTypes() {
        expectError("name: x\nstages:\n  - algorithm: awq2\n    scheme: {bits: 4}\n", ["r.yaml", "algorithm"])
        expectError("name: x\nstages:\n  - algorithm: gptq\n    scheme: {bits: four}\n", ["r.yaml:4", "bits", "integer"])
        expectError("name: x\nstages:\n  - algorithm: gptq\n    scheme: {bits: 4}\n    act_order: always\n", ["r.yaml", "act_order"])
    }

    @Test func invalidSchemesAndKnobs() {
        expectError("name: x\nstages:\n  - algorithm: rtn\n    scheme: {bits: 9}\n", ["r.yaml:4", "stages[0].scheme", "bits"])
        expectError("name: x\nstages:\n  - algorithm: rtn\n    scheme: {bits: 4, group_size: 0}\n", ["group_size"])
        expectError("name: x\nstages:\n  - algorithm: gptq\n    scheme: {bits: 4}\n    dampening: 2\n", ["dampening", "(0, 1)"])
        expectError("name: x\nstages: []\n", ["stages", "at least one stage"])
        expectError("name: x\nstages:\n  - algorithm: rtn\n    scheme: {bits: 4}\n    targets: ['re:(']\n", ["regular expression"])
    }

    @Test func targetsMatchingNothingAreErrors() throws {
        let recipe = try Recipe.parse(
            "name: x\nstages:\n  - algorithm: rtn\n    scheme: {bits: 4}\n    targets: [qproj]\n", path: "r.yaml")
        #expect(throws: PipelineError.targetMatchesNothing(recipe: "r.yaml", stage: 0, pattern: "qproj")) {
            try LayerPlan(recipe: recipe, layerCount: 2, recipePath: "r.yaml")
        }
    }

    @Test func targetsAndIgnoresSelectLinears() throws {
        let recipe = try Recipe.parse(
            """
            name: x
            stages:
              - algorithm: gptq
                scheme: {bits: 4}
                targets: ['re:model\\.layers\\.1\\.', q_proj]
                ignore: [mlp.down_proj]
              - algorithm: rtn
                scheme: {bits: 8}
            """, path: "r.yaml")
        let plan = try LayerPlan(recipe: recipe, layerCount: 2, recipePath: "r.yaml")
        #expect(plan.assignments["model.layers.0.self_attn.q_proj"] == 0)
        #expect(plan.assignments["model.layers.0.self_attn.k_proj"] == 1)
        #expect(plan.assignments["model.layers.1.mlp.up_proj"] == 0)
        #expect(plan.assignments["model.layers.1.mlp.down_proj"] == 1)
        #expect(plan.assignments.count == 14)
    }
}

@Suite struct ActivationAwareRecipeTests {
    func expectError(_ text: String, _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        RecipeTests().expectError(text, fragments, sourceLocation: sourceLocation)
    }

    @Test func alphaOutsideTheUnitIntervalIsAnError() {
        expectError("name: x\nstages:\n  - algorithm: smoothquant\n    alpha: 1.5\n", ["alpha", "[0, 1]", "1.5"])
        expectError("name: x\nstages:\n  - algorithm: smoothquant\n    alpha: -0.1\n", ["alpha", "[0, 1]"])
    }

    @Test func knobsBelongToTheirAlgorithm() {
        expectError("name: x\nstages:\n  - algorithm: gptq\n    scheme: {bits: 4}\n    alpha: 0.5\n", ["r.yaml:5", "alpha"])
        expectError("name: x\nstages:\n  - algorithm: smoothquant\n    activations: {bits: 8}\n", ["activations"])
        expectError(
            "name: x\nstages:\n  - algorithm: absmax\n    scheme: {bits: 8, group_size: 128, symmetric: true}\n",
            ["scheme", "per channel or per tensor"])
        expectError("name: x\nstages:\n  - algorithm: awq\n    scheme: {bits: 4}\n    grid_size: 0\n", ["grid_size"])
        expectError("name: x\nstages:\n  - algorithm: awq\n    scheme: {bits: 4}\n    grid_size: 1099511627776\n", ["grid_size", "10000"])
        expectError("name: x\nstages:\n  - algorithm: gptq\n    scheme: {bits: 4}\n    block_size: 1099511627776\n", ["block_size", "65536"])
        expectError(
            "name: x\nstages:\n  - algorithm: rtn\n    scheme: {bits: 4, clipping: {method: mse, grid: 1099511627776}}\n", ["clipping.grid", "10000"])
    }

    @Test func shippedActivationAwareRecipesDecode() throws {
        let smooth = try Recipe.load(path: RecipeTests.root + "/recipes/w8a8-smoothquant.yaml")
        #expect(smooth.stages.map(\.algorithm) == [.smoothquant, .absmax])
        #expect(smooth.stages[0].activationAware.alpha == 0.5)
        #expect(smooth.stages[1].activationAware == ActivationAwareKnobs(perTensor: true, activations: ActivationScheme()))
        let round = try Recipe.parse(String(decoding: smooth.encodedJSON(), as: UTF8.self), path: "json")
        #expect(round == smooth)
    }
}
