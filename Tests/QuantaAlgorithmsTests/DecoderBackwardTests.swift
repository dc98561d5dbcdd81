import Foundation
import QuantaAlgorithms
import QuantaTensor
import Testing

@Suite struct DecoderBackwardTests {
    static let tokens = 5
    static let hidden = 8
    static let intermediate = 12

    static func random(_ rows: Int, _ columns: Int, _ generator: inout RandomGenerator, scale: Float = 0.4) -> Matrix {
        try! Matrix(rows: rows, columns: columns, values: generator.uniformValues(count: rows * columns, in: -scale..<scale))
    }

    static func setUp() -> (DecoderLayerWeights, DecoderLayerGeometry, Matrix, Matrix) {
        var generator = RandomGenerator(seed: 21)
        let weights = DecoderLayerWeights(
            query: random(8, hidden, &generator), key: random(4, hidden, &generator), value: random(4, hidden, &generator),
            output: random(hidden, 8, &generator), gate: random(intermediate, hidden, &generator),
            up: random(intermediate, hidden, &generator), down: random(hidden, intermediate, &generator),
            inputGain: generator.uniformValues(count: hidden, in: 0.7..<1.3),
            postAttentionGain: generator.uniformValues(count: hidden, in: 0.7..<1.3))
        var cosine: [Float] = []
        var sine: [Float] = []
        for position in 0..<tokens {
            for index in 0..<2 {
                let angle = Float(position) * pow(10_000, -Float(2 * index) / 4)
                cosine.append(cos(angle))
                sine.append(sin(angle))
            }
        }
        let geometry = DecoderLayerGeometry(heads: 2, kvHeads: 1, headDimension: 4, epsilon: 1e-5, cosine: cosine, sine: sine)
        return (weights, geometry, random(tokens, hidden, &generator, scale: 1), random(tokens, hidden, &generator, scale: 1))
    }

    /// `Σ output ⊙ probe`.
    static func loss(_ input: Matrix, _ weights: DecoderLayerWeights, _ geometry: DecoderLayerGeometry, _ probe: Matrix) -> Double {
        let output = try! DecoderBackward.forward(input, weights: weights, geometry: geometry).output
        return zip(output.values, probe.values).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }

    /// Central difference along a random direction versus the analytic gradient's projection.
    static func check(
        _ name: String, gradient: [Float], perturb: (inout DecoderLayerWeights, inout Matrix, [Float]) -> Void, count: Int
    ) {
        let (weights, geometry, input, probe) = setUp()
        var generator = RandomGenerator(seed: UInt64(name.utf8.count) * 7 + 1)
        let direction = generator.uniformValues(count: count, in: -1..<1)
        let epsilon: Float = 1e-2
        var plusWeights = weights, plusInput = input
        perturb(&plusWeights, &plusInput, direction.map { $0 * epsilon })
        var minusWeights = weights, minusInput = input
        perturb(&minusWeights, &minusInput, direction.map { -$0 * epsilon })
        let numeric =
            (loss(plusInput, plusWeights, geometry, probe) - loss(minusInput, minusWeights, geometry, probe)) / (2 * Double(epsilon))
        let analytic = zip(gradient, direction).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        #expect(abs(numeric - analytic) <= 2e-3 * max(0.1, abs(numeric)), "\(name): numeric \(numeric), analytic \(analytic)")
    }

    static func adding(_ matrix: inout Matrix, _ delta: [Float]) {
        for index in matrix.values.indices { matrix.values[index] += delta[index] }
    }

    @Test func gradientsMatchFiniteDifferences() throws {
        let (weights, geometry, input, probe) = Self.setUp()
        let (_, tape) = try DecoderBackward.forward(input, weights: weights, geometry: geometry)
        let (inputGradient, gradients) = try DecoderBackward.backward(probe, tape: tape, weights: weights, geometry: geometry)
        Self.check("input", gradient: inputGradient.values, perturb: { _, x, d in Self.adding(&x, d) }, count: input.values.count)
        let matrices: [(String, Matrix, WritableKeyPath<DecoderLayerWeights, Matrix>)] = [
            ("query", gradients.query, \.query), ("key", gradients.key, \.key), ("value", gradients.value, \.value),
            ("output", gradients.output, \.output), ("gate", gradients.gate, \.gate), ("up", gradients.up, \.up),
            ("down", gradients.down, \.down),
        ]
        for (name, gradient, path) in matrices {
            Self.check(name, gradient: gradient.values, perturb: { w, _, d in Self.adding(&w[keyPath: path], d) }, count: gradient.values.count)
        }
        Self.check(
            "input gain", gradient: gradients.inputGain,
            perturb: { w, _, d in for i in d.indices { w.inputGain[i] += d[i] } }, count: Self.hidden)
        Self.check(
            "post-attention gain", gradient: gradients.postAttentionGain,
            perturb: { w, _, d in for i in d.indices { w.postAttentionGain[i] += d[i] } }, count: Self.hidden)
    }

    @Test func laterTokensDoNotInfluenceEarlierOutputs() throws {
        let (weights, geometry, input, _) = Self.setUp()
        var changed = input
        for column in 0..<Self.hidden { changed[Self.tokens - 1, column] += 1 }
        let original = try DecoderBackward.forward(input, weights: weights, geometry: geometry).output
        let perturbed = try DecoderBackward.forward(changed, weights: weights, geometry: geometry).output
        for row in 0..<(Self.tokens - 1) {
            for column in 0..<Self.hidden { #expect(original[row, column] == perturbed[row, column]) }
        }
    }
}
