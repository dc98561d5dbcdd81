import Foundation
import QuantaAlgorithms
import QuantaTensor
import Testing

@Suite struct QuantizerTests {
    /// Parameters and codes of one row, plus the dequantized values.
    func quantizeRow(_ values: [Float], scheme: QuantizationScheme) -> (Float, UInt8, [Float], [Float]) {
        let matrix = try! Matrix([values])
        let parameters = Quantizer.groupParameters(of: matrix, columns: 0..<values.count, scheme: scheme)
        let scale = parameters.scales[0]
        let zero = Float(parameters.zeroPoints[0])
        let maxq = Float(scheme.maximumCode)
        let codes = values.map { Quantizer.code($0, scale: scale, zeroPoint: zero, maximumCode: maxq) }
        let dequantized = codes.map { Quantizer.dequantize(code: $0, scale: scale, zeroPoint: zero) }
        return (scale, parameters.zeroPoints[0], codes, dequantized)
    }

    @Test func asymmetricMinMaxByHand() {
        // 2 bits on [-1, 0.5, 2]: xmin -1, xmax 2, scale 3/3 = 1, zero round(1) = 1;
        // 0.5/1 = 0.5 rounds to even 0, so its code is 1 and it dequantizes to 0.
        let (scale, zero, codes, dequantized) = quantizeRow([-1, 0.5, 2], scheme: QuantizationScheme(bits: 2))
        #expect(scale == 1 && zero == 1)
        #expect(codes == [0, 1, 3])
        #expect(dequantized == [-1, 0, 2])
        // 4 bits on [0.25, 1, 3.75]: xmin is clamped to 0, scale 3.75/15 = 0.25, zero 0.
        let positive = quantizeRow([0.25, 1, 3.75], scheme: QuantizationScheme(bits: 4))
        #expect(positive.0 == 0.25 && positive.1 == 0 && positive.2 == [1, 4, 15])
        // 3 bits on [-7, 0, 7]: scale 14/7 = 2, zero round(3.5) = 4 (half to even).
        let three = quantizeRow([-7, 0, 7], scheme: QuantizationScheme(bits: 3))
        #expect(three.0 == 2 && three.1 == 4 && three.2 == [0, 4, 7] && three.3 == [-8, 0, 6])
    }

    @Test func symmetricByHand() {
        // 4 bits on [-2, 1, 0.5]: xmax = max(|-2|, 1) = 2, xmin = -2, scale 4/15, zero 8.
        // In float32, 4/15 rounds up, so -2/scale = -7.4999995 and rounds to -7 → code 1
        // (torch 2.13: torch.round(-2 / (torch.tensor(4.) / 15)) == -7).
        let (scale, zero, codes, dequantized) = quantizeRow([-2, 1, 0.5], scheme: QuantizationScheme(bits: 4, symmetric: true))
        #expect(scale == Float(4) / 15 && zero == 8)
        #expect(codes == [1, 12, 10])
        #expect(dequantized[0] == scale * -7)
        // GPTQ's quirk: a row without negatives keeps xmin = 0, scale xmax/maxq, zero (maxq+1)/2.
        let positive = quantizeRow([0.5, 1], scheme: QuantizationScheme(bits: 2, symmetric: true))
        #expect(positive.0 == Float(1) / 3 && positive.1 == 2 && positive.2 == [3, 3])
        // 8 bits symmetric: zero 128.
        #expect(quantizeRow([-1, 1], scheme: QuantizationScheme(bits: 8, symmetric: true)).1 == 128)
    }

    @Test func allZeroRowsUseMinusOneToOne() {
        // zero = round(1 / (2/maxq)) in float32: 1.5 → 2, but 3.4999998 → 3, 7.4999995 → 7,
        // 127.49999 → 127 (the float32 scale rounds up; same values from torch 2.13).
        for (bits, expectedZero) in [(2, 2), (3, 3), (4, 7), (8, 127)] {
            let (scale, zero, codes, dequantized) = quantizeRow([0, 0, 0], scheme: QuantizationScheme(bits: bits))
            let maxq = Float((1 << bits) - 1)
            #expect(scale == 2 / maxq)
            #expect(Int(zero) == expectedZero)
            #expect(codes.allSatisfy { $0 == Float(expectedZero) })
            #expect(dequantized == [0, 0, 0])
        }
    }

    @Test func tiesRoundToEven() {
        let codes = [0.5, 1.5, 2.5, 3.5, -0.5, 4.5].map {
            Quantizer.code(Float($0), scale: 1, zeroPoint: 4, maximumCode: 15)
        }
        #expect(codes == [4, 6, 6, 8, 4, 8])
        #expect(Quantizer.code(100, scale: 1, zeroPoint: 4, maximumCode: 15) == 15)
        #expect(Quantizer.code(-100, scale: 1, zeroPoint: 4, maximumCode: 15) == 0)
    }

    @Test func roundTripErrorIsAtMostHalfAScale() {
        let weight = AlgorithmTestSupport.normalMatrix(rows: 8, columns: 64, seed: 3)
        for bits in [2, 3, 4, 8] {
            for symmetric in [false, true] {
                let scheme = QuantizationScheme(bits: bits, symmetric: symmetric)
                let parameters = Quantizer.groupParameters(of: weight, columns: 0..<64, scheme: scheme)
                for row in 0..<8 {
                    let scale = parameters.scales[row]
                    let zero = Float(parameters.zeroPoints[row])
                    for column in 0..<64 {
                        let value = weight[row, column]
                        let restored = Quantizer.fakeQuantize(
                            value, scale: scale, zeroPoint: zero, maximumCode: Float(scheme.maximumCode))
                        // Symmetric grids lose one level at the top: the largest positive value
                        // can sit a full step above the grid.
                        let bound = (symmetric ? 1.0 : 0.5) * scale * 1.0001
                        #expect(abs(restored - value) <= bound, "bits \(bits) symmetric \(symmetric)")
                    }
                }
            }
        }
    }

    @Test func meanSquaredErrorClippingShrinksOutlierRangesAndNeverLoses() {
        var values = (0..<64).map { Float(($0 % 9) - 4) * 0.1 }
        values[7] = 3  // an outlier
        let weight = try! Matrix([values, values.map { $0 * 0.5 }])
        let minMax = QuantizationScheme(bits: 3)
        let clipped = QuantizationScheme(bits: 3, clipping: .mse)
        let plain = Quantizer.groupParameters(of: weight, columns: 0..<64, scheme: minMax)
        let searched = Quantizer.groupParameters(of: weight, columns: 0..<64, scheme: clipped)
        func error(_ parameters: GroupParameters, row: Int) -> Double {
            (0..<64).reduce(0.0) { sum, column in
                let value = weight[row, column]
                let restored = Quantizer.fakeQuantize(
                    value, scale: parameters.scales[row], zeroPoint: Float(parameters.zeroPoints[row]), maximumCode: 7)
                return sum + Double(pow(abs(restored - value), 2.4))
            }
        }
        for row in 0..<2 {
            #expect(searched.scales[row] < plain.scales[row])
            #expect(error(searched, row: row) < error(plain, row: row))
            // The shrink factors lie on the grid: scale = p · plain scale with p ∈ {1, 0.99, …, 0.81}.
            let ratio = Double(searched.scales[row] / plain.scales[row])
            #expect(ratio >= 0.8 && abs(ratio * 100 - (ratio * 100).rounded()) < 1e-3)
        }
    }
}
