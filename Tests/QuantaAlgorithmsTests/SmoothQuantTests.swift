import Foundation
import QuantaAlgorithms
import QuantaTensor
import Testing

@Suite struct SmoothQuantTests {
    @Test func scalesFollowTheFormula() throws {
        let weight = try Matrix([[1, -4, 0.5], [-2, 1, 0.25]])
        let scales = try SmoothQuantSolver.scales(activationMaximum: [9, 1, 100], weights: [weight], alpha: 0.5)
        // s_j = sqrt(max|X_j|) / sqrt(max|W_j|)
        let expected: [Float] = [3 / sqrt(2), 1 / 2, 10 / sqrt(0.5)]
        for (value, reference) in zip(scales, expected) { #expect(abs(value - reference) < 1e-5) }
        let weightOnly = try SmoothQuantSolver.scales(activationMaximum: [9, 1, 100], weights: [weight], alpha: 0)
        #expect(weightOnly.map { ($0 * 1e5).rounded() / 1e5 } == [0.5, 0.25, 2])
    }

    @Test func alphaOutsideTheUnitIntervalIsRejected() throws {
        #expect(throws: AlgorithmError.self) {
            try SmoothQuantSolver.scales(activationMaximum: [1], weights: [try Matrix([[1]])], alpha: 1.5)
        }
    }

    @Test func scalingPreservesTheProduct() throws {
        let input = AlgorithmTestSupport.normalMatrix(rows: 5, columns: 6, seed: 1)
        var weight = AlgorithmTestSupport.normalMatrix(rows: 4, columns: 6, seed: 2)
        let reference = try BLAS.multiply(input, weight, transposeB: true)
        let scales: [Float] = [0.5, 2, 3, 0.25, 1, 7]
        var scaledInput = input
        ChannelScaling.divideColumns(&scaledInput, by: scales)
        ChannelScaling.multiplyColumns(&weight, by: scales)
        #expect(try BLAS.multiply(scaledInput, weight, transposeB: true).maximumAbsoluteDifference(to: reference) < 1e-5)
    }

    @Test func absmaxInt8MatchesTheReferenceQuantizer() throws {
        let weight = try Matrix([[0.5, -1.27, 0.004], [2.54, 0.01, -0.02]])
        let perTensor = try AbsmaxQuantization.quantize(weight: weight, bits: 8, perTensor: true)
        // scale = 2.54 / 127 = 0.02; round(w / scale) · scale
        let expected: [Float] = ([25, -64, 0, 127, 0, -1] as [Float]).map { $0 * 0.02 }
        for (value, reference) in zip(perTensor.dequantized.values, expected) { #expect(abs(value - reference) < 1e-6) }
        #expect(perTensor.reconstructed() == perTensor.dequantized)
        #expect(perTensor.codes.allSatisfy { $0 >= 1 })
        let perChannel = try AbsmaxQuantization.quantize(weight: weight, bits: 8, perTensor: false)
        #expect(abs(perChannel.scales.values[0] - 1.27 / 127) < 1e-7)
        #expect(abs(perChannel.dequantized[0, 1] + 1.27) < 1e-6)
    }

    @Test func activationStatistics() throws {
        let first = try Matrix([[1, -2], [-3, 0.5]])
        let second = try Matrix([[0.5, 4]])
        let statistics = try ActivationStatistics([first, second])
        #expect(statistics.absoluteMaximum == [3, 4])
        #expect(statistics.absoluteMean == [1.5, 6.5 / 3])
        #expect(statistics.tokenCount == 3)
        #expect(throws: AlgorithmError.self) { try ActivationStatistics([first, try Matrix([[1, 2, 3]])]) }
    }

    @Test func perTokenActivationQuantization() {
        var values: [Float] = [1.27, -0.5, 0.013, 100, 0, -50]
        ActivationScheme().fakeQuantize(&values, rows: 2, columns: 3)
        // row 0: scale 0.01; row 1: scale 100 / 127
        #expect(abs(values[0] - 1.27) < 1e-6 && abs(values[1] + 0.5) < 1e-6 && abs(values[2] - 0.01) < 1e-6)
        #expect(abs(values[3] - 100) < 1e-4 && values[4] == 0 && abs(values[5] + 64 * 100 / 127) < 1e-4)
    }
}

@Suite struct AWQSolverTests {
    @Test func candidateScalesAreNormalized() {
        let scales = AWQSolver.candidateScales(activationMean: [1, 4, 16], weightMean: nil, alpha: 0.5)
        // [1, 2, 4] / sqrt(4 · 1)
        #expect(scales == [0.5, 1, 2])
        #expect(AWQSolver.candidateScales(activationMean: [1, 4, 16], weightMean: nil, alpha: 0) == [1, 1, 1])
    }

    @Test func searchPrefersScalingOutlierChannels() throws {
        // Two input channels carry most of the activation energy.
        var featureScales = [Float](repeating: 1, count: 32)
        featureScales[3] = 20
        featureScales[17] = 12
        let inputs = AlgorithmTestSupport.correlatedActivations(tokens: 128, features: 32, seed: 4, featureScales: featureScales)
        let weight = AlgorithmTestSupport.normalMatrix(rows: 16, columns: 32, seed: 5)
        let scheme = QuantizationScheme(bits: 3, groupSize: 16)
        let statistics = try ActivationStatistics([inputs])
        let reference = try BLAS.multiply(inputs, weight, transposeB: true)
        func error(_ candidate: Matrix) throws -> Double {
            let output = try BLAS.multiply(inputs, candidate, transposeB: true)
            return zip(output.values, reference.values).reduce(0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
                / Double(output.values.count)
        }
        for duoScaling in [false, true] {
            let search = try AWQSolver.searchScales(
                activationMean: statistics.absoluteMean, weights: [weight], scheme: scheme, gridSize: 20,
                duoScaling: duoScaling
            ) { try error($0[0]) }
            #expect(search.lossHistory.count == 20)
            #expect(search.loss == search.lossHistory.min())
            #expect(search.alpha > 0 && search.loss < search.lossHistory[0], "duo \(duoScaling): \(search.lossHistory)")
        }
    }

    @Test func clippingNeverIncreasesTheGroupError() throws {
        let inputs = AlgorithmTestSupport.normalMatrix(rows: 64, columns: 24, seed: 6)
        var weight = AlgorithmTestSupport.normalMatrix(rows: 8, columns: 24, seed: 7)
        weight[2, 5] = 9  // an outlier worth clipping
        let scheme = QuantizationScheme(bits: 3, groupSize: 16)  // groups 16 + 8
        let maxima = try AWQSolver.searchClipping(weight: weight, inputs: inputs, scheme: scheme)
        #expect(maxima.rows == 8 && maxima.columns == 2)
        let clipped = AWQSolver.clip(weight, maxima: maxima, scheme: scheme)
        #expect(clipped[2, 5] <= 9)
        let reference = try BLAS.multiply(inputs, weight, transposeB: true)
        func error(_ candidate: Matrix) throws -> Float {
            let quantized = try RoundToNearest.quantize(weight: candidate, scheme: scheme).dequantized
            return try BLAS.multiply(inputs, quantized, transposeB: true).values.enumerated().reduce(0) {
                $0 + ($1.element - reference.values[$1.offset]) * ($1.element - reference.values[$1.offset])
            }
        }
        #expect(try error(clipped) <= error(weight) * 1.0001)
    }
}
