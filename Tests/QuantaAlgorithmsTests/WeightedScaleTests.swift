import QuantaAlgorithms
import QuantaTensor
import Testing

@Suite struct WeightedScaleTests {
    /// Weighted squared error of symmetric `bits`-bit rounding with `scale` (codes −n … n−1).
    func error(_ values: [Float], weights: [Float], scale: Float, bits: Int) -> Float {
        let levels = Float(1 << (bits - 1))
        return zip(values, weights).reduce(0) { total, item in
            let code = min(max((item.0 / scale).rounded(.toNearestOrEven), -levels), levels - 1)
            let difference = item.0 - scale * code
            return total + item.1 * difference * difference
        }
    }

    @Test func theSearchNeverLosesToLlamaCppsPlainScale() {
        var generator = RandomGenerator(seed: 9)
        for trial in 0..<50 {
            let values = generator.normalValues(count: 32)
            let importance = (0..<32).map { Float(1 + ($0 * 7 + trial) % 5) }
            let scale = values.withUnsafeBufferPointer { Quantizer.weightedScale($0, importance: importance, bits: 4) }!
            // quantize_row_q4_0_ref: d = max / −8 with max the value of largest magnitude.
            let extreme = values.max { abs($0) < abs($1) }!
            #expect(error(values, weights: importance, scale: scale, bits: 4) <= error(values, weights: importance, scale: extreme / -8, bits: 4) * 1.0001)
        }
    }

    @Test func valuesOnAGridGiveItsScaleBack() {
        // x = 0.25 · l with the extreme at −8 levels: the fit is exact.
        let codes: [Float] = [-8, -3, 0, 1, 5, 7, 2, -1]
        let values = codes.map { $0 * 0.25 }
        let scale = values.withUnsafeBufferPointer { Quantizer.weightedScale($0, importance: nil, bits: 4) }
        #expect(scale == 0.25)
        #expect([Float](repeating: 0, count: 8).withUnsafeBufferPointer { Quantizer.weightedScale($0, importance: nil, bits: 4) } == nil)
    }

    @Test func ggmlClippingIsForSymmetricSchemes() {
        #expect(throws: AlgorithmError.self) { try QuantizationScheme(bits: 4, groupSize: 32, symmetric: false, clipping: .ggml).validate() }
        #expect(throws: Never.self) { try QuantizationScheme(bits: 4, groupSize: 32, symmetric: true, clipping: .ggml).validate() }
    }
}
