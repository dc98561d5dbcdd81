import QuantaAlgorithms
import QuantaTensor
import Testing

@Suite struct RoundToNearestTests {
    @Test func codesStayInRangeAndErrorIsBoundedPerGroup() throws {
        let weight = AlgorithmTestSupport.normalMatrix(rows: 12, columns: 576, seed: 11)
        for bits in [2, 3, 4, 8] {
            let scheme = QuantizationScheme(bits: bits, groupSize: 128)
            let result = try RoundToNearest.quantize(weight: weight, scheme: scheme)
            #expect(result.groupCount == 5)
            #expect(result.codes.allSatisfy { Int($0) <= scheme.maximumCode })
            #expect(result.groupIndex == (0..<576).map { $0 / 128 })
            #expect(result.reconstructed() == result.dequantized)
            for row in 0..<12 {
                for column in 0..<576 {
                    let scale = result.scales[row, column / 128]
                    #expect(abs(result.dequantized[row, column] - weight[row, column]) <= scale / 2 * 1.0001)
                }
            }
        }
    }

    @Test func narrowLastGroupGetsItsOwnRange() throws {
        // The last group (column 4) holds a large value; the first group's range ignores it.
        let weight = try Matrix([[0.1, -0.2, 0.3, 0.05, 8]])
        let result = try RoundToNearest.quantize(weight: weight, scheme: QuantizationScheme(bits: 4, groupSize: 4))
        #expect(result.groupIndex == [0, 0, 0, 0, 1])
        #expect(abs(result.scales[0, 0] - 0.5 / 15) < 1e-7)
        #expect(abs(result.scales[0, 1] - 8 / 15) < 1e-6)
        #expect(abs(result.dequantized[0, 4] - 8) < 1e-5)  // the maximum is on the grid
    }

    @Test func rejectsNonFiniteWeightsAndBadSchemes() throws {
        let weight = try Matrix([[1, .nan]])
        #expect(throws: AlgorithmError.self) { try RoundToNearest.quantize(weight: weight, scheme: .init(bits: 4)) }
        do {
            _ = try RoundToNearest.quantize(weight: try Matrix([[1, 2]]), scheme: .init(bits: 12))
            Issue.record("12 bits was accepted")
        } catch {
            #expect(error as? AlgorithmError == .invalidScheme(field: "bits", detail: "12 is not supported; use 2, 3, 4 or 8"))
        }
    }
}

@Suite struct HalfPrecisionScaleTests {
    @Test func roundedScalesRebuildTheWeightsExactly() throws {
        var generator = RandomGenerator(seed: 5)
        let weight = try Matrix(rows: 6, columns: 20, values: (0..<120).map { _ in Float(generator.nextNormal()) })
        let quantized = try RoundToNearest.quantize(weight: weight, scheme: QuantizationScheme(bits: 4, groupSize: 8))
        let rounded = quantized.withHalfPrecisionScales()
        #expect(rounded.codes == quantized.codes && rounded.zeroPoints == quantized.zeroPoints)
        #expect(rounded.scales.values.allSatisfy { Float(Float16($0)) == $0 })
        #expect(rounded.dequantized == rounded.reconstructed())
        let largest = zip(rounded.dequantized.values, quantized.dequantized.values).map { abs($0 - $1) }.max()!
        #expect(largest > 0 && largest < 1e-2)
    }
}
