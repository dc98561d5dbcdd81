import QuantaAlgorithms
import QuantaTensor
import Testing

@Suite struct HessianAccumulatorTests {
    @Test func runningAverageEqualsTwoOverSamplesTimesSum() throws {
        // Three calls: 1 sample of 5 rows, 2 samples of 7 rows, 1 sample of 4 rows → n = 4.
        let activations = AlgorithmTestSupport.normalMatrix(rows: 16, columns: 6, seed: 5)
        var accumulator = HessianAccumulator(inputSize: 6)
        var start = 0
        for (rowCount, samples) in [(5, 1), (7, 2), (4, 1)] {
            let slice = try Matrix(
                rows: rowCount, columns: 6, values: Array(activations.values[(start * 6)..<((start + rowCount) * 6)]))
            try accumulator.add(slice, samples: samples)
            start += rowCount
        }
        #expect(accumulator.sampleCount == 4 && accumulator.rowCount == 16)
        let hessian = try accumulator.finalized()
        for i in 0..<6 {
            for j in 0..<6 {
                var sum = 0.0
                for row in 0..<16 { sum += Double(activations[row, i]) * Double(activations[row, j]) }
                #expect(abs(Double(hessian[i, j]) - 2 * sum / 4) < 1e-4 * max(1, abs(sum)))
            }
        }
    }

    @Test func errorsOnShapeAndEmptyInput() throws {
        var accumulator = HessianAccumulator(inputSize: 3)
        #expect(throws: AlgorithmError.noCalibrationData(layer: "mlp.down_proj")) {
            try accumulator.finalized(layer: "mlp.down_proj")
        }
        #expect(throws: AlgorithmError.self) { try accumulator.add(Matrix(rows: 2, columns: 4)) }
    }
}
