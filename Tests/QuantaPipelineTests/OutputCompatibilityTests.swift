import QuantaFormats
import QuantaPipeline
import Testing

@Suite struct OutputCompatibilityTests {
    func recipe(_ stage: String, extra: String = "") throws -> Recipe {
        try Recipe.parse("name: t\n\(extra)stages:\n  - \(stage)\n", path: "t.yaml")
    }

    func message(_ recipe: Recipe, _ output: OutputKind) -> String? {
        do {
            try recipe.check(fits: output, recipePath: "t.yaml")
            return nil
        } catch {
            return error.errorDescription
        }
    }

    @Test func outputKindFollowsTheFormatAndTheName() {
        #expect(OutputKind.of(path: "a.gguf", format: nil) == .export(.gguf))
        #expect(OutputKind.of(path: "a", format: .compressedTensors) == .export(.compressedTensors))
        #expect(OutputKind.of(path: "a.quanta", format: nil) == .container)
        #expect(OutputKind.of(path: "out/a", format: nil) == .simulated)
    }

    @Test func fiveBitCodesFitOnlyASimulatedDirectory() throws {
        let five = try recipe("algorithm: rtn\n    scheme: {bits: 5, group_size: 128}")
        #expect(message(five, .simulated) == nil)
        #expect(message(five, .container)?.contains("stages[0].scheme.bits") == true)
        #expect(message(five, .export(.gguf))?.contains("5-bit codes cannot be packed") == true)
    }

    @Test func ggufNeedsWholeBlocksStaticActOrderAndEightBitActivations() throws {
        let groups = try recipe("algorithm: rtn\n    scheme: {bits: 4, group_size: 48}")
        #expect(message(groups, .export(.gguf))?.contains("multiple of 32") == true)
        #expect(message(groups, .export(.compressedTensors)) == nil)
        let dynamic = try recipe("algorithm: gptq\n    scheme: {bits: 4, group_size: 128}\n    act_order: dynamic")
        #expect(message(dynamic, .export(.compressedTensors))?.contains("act_order: static") == true)
        #expect(message(dynamic, .container) == nil)
        let staticOrder = try recipe("algorithm: gptq\n    scheme: {bits: 4, group_size: 128}\n    act_order: static")
        #expect(message(staticOrder, .export(.gguf)) == nil)
        let fourBitActivations = try recipe(
            "algorithm: rtn\n    scheme: {bits: 4, group_size: -1, symmetric: true}\n    activations: {bits: 4, granularity: per_token}")
        #expect(message(fourBitActivations, .export(.gguf))?.contains("activations.bits") == true)
        #expect(message(fourBitActivations, .container) == nil)
    }

    @Test func aLowBitKeyValueCacheCannotBeExported() throws {
        let cached = try recipe(
            "algorithm: rtn\n    scheme: {bits: 4, group_size: 128}", extra: "kv_cache: {bits: 4, group_size: 64}\n")
        #expect(message(cached, .export(.gguf))?.contains("kv_cache") == true)
        #expect(message(cached, .container) == nil)
    }
}
