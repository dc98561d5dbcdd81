import QuantaModel
import QuantaTensor
import Testing

@Suite struct KeyValueQuantizationTests {
    static func model(_ configure: (inout SelfAttention) throws -> Void = { _ in }) throws -> TransformerModel {
        var model = try TransformerModel(checkpoint: TinyTransformer.checkpoint(config: TinyTransformer.config()))
        for index in model.layers.indices { try configure(&model.layers[index].attention) }
        return model
    }

    static func logits(_ model: TransformerModel) throws -> Matrix {
        let hidden = try model.forward(tokens: TinyTransformer.tokens(count: 13))
        return model.logits(hidden: hidden, rows: 0..<hidden.rows)
    }

    @Test func queryKeyHadamardKeepsLogits() throws {
        let reference = try Self.logits(Self.model())
        let rotated = try Self.logits(Self.model { try $0.enableQueryKeyRotation() })
        #expect(TinyTransformer.maximumError(rotated, reference) < 1e-5)
    }

    @Test func queryKeyHadamardAlsoHoldsWhenDecodingWithACache() throws {
        let model = try Self.model { try $0.enableQueryKeyRotation() }
        let tokens = TinyTransformer.tokens(count: 9)
        var cache: KVCache? = model.makeCache()
        _ = try model.logits(tokens: Array(tokens.prefix(8)), cache: &cache)
        let last = try model.logits(tokens: [tokens[8]], cache: &cache)
        var noCache: KVCache? = nil
        let reference = try Self.model().logits(tokens: tokens, cache: &noCache)
        for column in 0..<last.columns {
            #expect(abs(last[0, column] - reference[8, column]) < 1e-4)
        }
    }

    @Test func fewerKeyValueBitsMeanLargerErrors() throws {
        let reference = try Self.logits(Self.model())
        var errors: [Double] = []
        for bits in [8, 4, 2] {
            let quantizer = try KeyValueQuantizer(bits: bits, groupSize: 4)
            let quantized = try Self.logits(Self.model { try $0.enableKeyValueQuantization(quantizer) })
            errors.append(TinyTransformer.maximumError(quantized, reference))
        }
        // Each bit halves the step: 8 bits is ~16× closer than 4 bits (measured 0.034 / 0.63 / 2.3).
        #expect(errors[0] > 0 && errors[0] * 8 < errors[1])
        #expect(errors[1] < errors[2])
    }

    @Test(arguments: [false, true])
    func roundingErrorIsAtMostHalfAStep(symmetric: Bool) throws {
        var generator = RandomGenerator(seed: 5)
        let original = generator.uniformValues(count: 64, in: -3..<2)
        var values = original
        let quantizer = try KeyValueQuantizer(bits: 4, groupSize: 16, symmetric: symmetric)
        values.withUnsafeMutableBufferPointer { quantizer.fakeQuantize($0) }
        for group in 0..<4 {
            let slice = original[(group * 16)..<((group + 1) * 16)]
            let range = symmetric ? 2 * slice.map(abs).max()! : slice.max()! - slice.min()!
            let step = range / (symmetric ? 14 : 15)
            let levels = Set(values[(group * 16)..<((group + 1) * 16)])
            #expect(levels.count <= 16)
            for index in slice.indices { #expect(abs(values[index] - original[index]) <= step / 2 + 1e-5) }
        }
    }

    @Test func invalidSettingsAreClearErrors() throws {
        #expect(throws: ModelError.self) { try KeyValueQuantizer(bits: 1, groupSize: 4) }
        #expect(throws: ModelError.self) { try KeyValueQuantizer(bits: 4, groupSize: 0) }
        #expect(throws: ModelError.self) { try KeyValueQuantizer(bits: 4, groupSize: 4, clipRatio: 1.5) }
        let quantizer = try KeyValueQuantizer(bits: 4, groupSize: 3)
        #expect(throws: ModelError.self) { try Self.model { try $0.enableKeyValueQuantization(quantizer) } }
    }
}
