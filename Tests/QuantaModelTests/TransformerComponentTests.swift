import Foundation
import QuantaFormats
import QuantaModel
import QuantaTensor
import Testing

@Suite struct TransformerComponentTests {
    // Hand-computed frequencies for head_dim 16, rope_theta 10000: 1 / 10000^(2i/16) =
    // 10^(-i/2), i = 0..<8.
    static let plain: [Double] = [1, 0.31622776601683794, 0.1, 0.0316227766016838, 0.01, 0.0031622776601683794, 0.001, 0.00031622776601683794]

    static func expectClose(_ actual: [Float], _ expected: [Double], _ comment: Comment? = nil) {
        #expect(actual.count == expected.count)
        for (a, e) in zip(actual, expected) { #expect(abs(Double(a) - e) <= 1e-6 * abs(e), comment) }
    }

    @Test func plainAndLinearFrequencies() {
        Self.expectClose(RotaryEmbedding(headDimension: 16, base: 10_000).inverseFrequencies, Self.plain)
        Self.expectClose(
            RotaryEmbedding(headDimension: 16, base: 10_000, scaling: .linear(factor: 4)).inverseFrequencies,
            Self.plain.map { $0 / 4 })
    }

    @Test func llama3Frequencies() {
        // factor 8, low 1, high 4, original 64: wavelengths 2π/f. < 16 (i = 0) kept; > 64
        // (i ≥ 3) divided by 8; i = 1 (λ = 19.87) and 2 (λ = 62.83) blended with
        // s = (64/λ − 1)/3: s₁ = 0.74019, s₂ = 0.0062; (1 − s)·f/8 + s·f.
        let rotary = RotaryEmbedding(
            headDimension: 16, base: 10_000,
            scaling: .llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalMaxPositions: 64))
        Self.expectClose(
            rotary.inverseFrequencies,
            [1.0, 0.24438459943539834, 0.013042256043820465, 0.003952847075210474, 0.00125, 0.00039528470752104737, 0.000125, 3.952847075210474e-05])
    }

    @Test func dynamicFrequenciesGrowTheBaseBeyondTheOriginalContext() {
        let rotary = RotaryEmbedding(headDimension: 16, base: 10_000, scaling: .dynamic(factor: 2, originalMaxPositions: 64))
        Self.expectClose(rotary.inverseFrequencies(sequenceLength: 64), Self.plain)
        // base' = 10000 · (2·128/64 − 1)^(16/14) = 35097.92
        let base = 10_000 * pow(3.0, 16.0 / 14.0)
        Self.expectClose(
            rotary.inverseFrequencies(sequenceLength: 128), (0..<8).map { 1 / pow(base, Double(2 * $0) / 16) })
    }

    @Test func configSelectsTheScaling() throws {
        var config = TinyTransformer.config()
        config.ropeScaling = RopeScaling(ropeType: "linear", factor: 2)
        #expect(try RotaryEmbedding(config: config).scaling == .linear(factor: 2))
        config.ropeScaling = RopeScaling(
            ropeType: "llama3", factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalMaxPositionEmbeddings: 8192)
        #expect(
            try RotaryEmbedding(config: config).scaling
                == .llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalMaxPositions: 8192))
        config.ropeScaling = RopeScaling(ropeType: "yarn", factor: 2)
        #expect(throws: ModelError.self) { _ = try RotaryEmbedding(config: config) }
    }

    @Test func linearScalingModelMatchesReferenceWithScaledFrequencies() throws {
        let config = TinyTransformer.config(ropeScaling: RopeScaling(ropeType: "linear", factor: 4))
        let checkpoint = TinyTransformer.checkpoint(config: config)
        let model = try TransformerModel(checkpoint: checkpoint)
        let tokens = TinyTransformer.tokens(count: 12)
        var noCache: KVCache? = nil
        let logits = try model.logits(tokens: tokens, cache: &noCache)
        let frequencies = (0..<2).map { 1 / pow(10_000.0, Double(2 * $0) / 4) / 4 }
        let reference = ReferenceTransformer(checkpoint: checkpoint, inverseFrequencies: frequencies).logits(tokens)
        #expect(TinyTransformer.maximumError(logits, reference) < 1e-4)
    }

    @Test func groupedQueryHeadsShareConsecutively() throws {
        let model = try TransformerModel(checkpoint: TinyTransformer.checkpoint(config: TinyTransformer.config()))
        let attention = model.layers[0].attention
        #expect((0..<4).map { attention.kvHead(forQueryHead: $0) } == [0, 0, 1, 1])
        // Zeroing KV head 1's value rows silences exactly query heads 2 and 3.
        var edited = model.layers[0]
        let valueWeight = (edited.attention.valueProjection as! DenseLinear).weight
        var zeroed = valueWeight
        for index in (4 * 16)..<(8 * 16) { zeroed.values[index] = 0 }
        edited.attention.valueProjection = try DenseLinear(weight: zeroed)
        let observer = RecordingObserver()
        var hidden = model.embed([3, 5, 7])
        var noCache: KVCache? = nil
        edited.forward(hidden: &hidden, positions: 0..<3, cache: &noCache, observer: observer)
        let attended = observer.observations.first { $0.names == ["model.layers.0.self_attn.o_proj"] }!.values
        for row in 0..<3 {
            for column in 0..<16 {
                let value = attended[row, column]
                if column >= 8 { #expect(value == 0) } else { #expect(value != 0) }
            }
        }
    }

    @Test func denseLinearGemmAndGemvPathsAgree() throws {
        var generator = RandomGenerator(seed: 9)
        let weight = try Matrix(rows: 7, columns: 5, values: generator.uniformValues(count: 35, in: -1..<1))
        let bias = generator.uniformValues(count: 7, in: -1..<1)
        let linear = try DenseLinear(weight: weight, bias: bias)
        let input = try Matrix(rows: 3, columns: 5, values: generator.uniformValues(count: 15, in: -1..<1))
        let batched = linear.apply(input)
        for row in 0..<3 {
            let single = linear.apply(try Matrix(rows: 1, columns: 5, values: Array(input.row(row))))
            for column in 0..<7 {
                var expected = Double(bias[column])
                for inner in 0..<5 { expected += Double(input[row, inner]) * Double(weight[column, inner]) }
                #expect(abs(Double(batched[row, column]) - expected) < 1e-5)
                #expect(abs(Double(single[0, column]) - expected) < 1e-5)
            }
        }
        #expect(throws: ModelError.self) { _ = try DenseLinear(weight: weight, bias: [1, 2]) }
    }

    @Test func rmsNormMatchesTheFormula() {
        let input = try! Matrix(rows: 2, columns: 20, values: (0..<40).map { Float($0) * 0.1 - 2 })
        let weight = (0..<20).map { 1 + Float($0) * 0.01 }
        let output = RMSNorm(weight: weight, epsilon: 1e-5).apply(input)
        for row in 0..<2 {
            let values = input.row(row).map(Double.init)
            let inverse = 1 / (values.reduce(0) { $0 + $1 * $1 } / 20 + 1e-5).squareRoot()
            for column in 0..<20 {
                #expect(abs(Double(output[row, column]) - Double(weight[column]) * values[column] * inverse) < 1e-5)
            }
        }
    }
}
