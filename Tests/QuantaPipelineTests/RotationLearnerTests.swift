import Foundation
import QuantaAlgorithms
import QuantaModel
import QuantaPipeline
import QuantaTensor
import Testing

@Suite struct RotationLearnerTests {
    static func foldedModel() throws -> TransformerModel {
        var model = try TransformerModel(checkpoint: tinyModelCheckpoint())
        try ModelRotation.foldNorms(&model)
        return model
    }

    static func startingPlan() throws -> RotationPlan {
        let plan = try RotationPlan.randomizedHadamard(hiddenSize: 16, headDimension: 4, seed: 5, onlineDownProjection: false)
        return RotationPlan(residual: plan.residual, perHead: [plan.perHead[0], plan.perHead[0]])
    }

    @Test func lossEqualsTheRotatedModelsCrossEntropy() throws {
        let model = try Self.foldedModel()
        let plan = try Self.startingPlan()
        let window = tinyWindows(count: 1, length: 10)[0]
        let learner = try RotationLearner(model: model)
        let (loss, _, _) = try learner.lossAndGradients(window: window, residual: plan.residual!, perHead: plan.perHead)
        var rotated = model
        try ModelRotation.rotate(&rotated, plan: plan)
        let hidden = try rotated.forward(tokens: window)
        let logits = rotated.logits(hidden: hidden, rows: 0..<hidden.rows)
        let expected = meanNextTokenCrossEntropy(logits, window)
        #expect(abs(loss - expected) < 1e-4 * max(1, expected))
    }

    @Test func rotationGradientsMatchFiniteDifferences() throws {
        let learner = try RotationLearner(model: Self.foldedModel())
        let plan = try Self.startingPlan()
        let window = tinyWindows(count: 1, length: 10)[0]
        let (_, residualGradient, perHeadGradients) = try learner.lossAndGradients(
            window: window, residual: plan.residual!, perHead: plan.perHead)
        var generator = RandomGenerator(seed: 17)
        let epsilon: Float = 2e-3
        func loss(_ residual: Matrix, _ perHead: [Matrix]) throws -> Double {
            try learner.lossAndGradients(window: window, residual: residual, perHead: perHead).loss
        }
        func shifted(_ matrix: Matrix, _ direction: [Float], _ sign: Float) -> Matrix {
            var result = matrix
            for index in result.values.indices { result.values[index] += sign * epsilon * direction[index] }
            return result
        }
        // R1.
        let direction = generator.uniformValues(count: 256, in: -1..<1)
        let numeric =
            (try loss(shifted(plan.residual!, direction, 1), plan.perHead)
                - loss(shifted(plan.residual!, direction, -1), plan.perHead)) / (2 * Double(epsilon))
        let analytic = zip(residualGradient.values, direction).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        #expect(abs(numeric - analytic) <= 5e-3 * max(0.1, abs(numeric)), "R1: numeric \(numeric), analytic \(analytic)")
        // R2 of layer 1.
        let headDirection = generator.uniformValues(count: 16, in: -1..<1)
        var plus = plan.perHead, minus = plan.perHead
        plus[1] = shifted(plus[1], headDirection, 1)
        minus[1] = shifted(minus[1], headDirection, -1)
        let headNumeric = (try loss(plan.residual!, plus) - loss(plan.residual!, minus)) / (2 * Double(epsilon))
        let headAnalytic = zip(perHeadGradients[1].values, headDirection).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        #expect(abs(headNumeric - headAnalytic) <= 5e-3 * max(0.1, abs(headNumeric)), "R2: numeric \(headNumeric), analytic \(headAnalytic)")
    }

    @Test func batchGradientsAreTheMeanOfTheWindowsGradients() throws {
        let learner = try RotationLearner(model: Self.foldedModel())
        let plan = try Self.startingPlan()
        let windows = tinyWindows(count: 3, length: 9, seed: 12)
        let batch = try learner.lossAndGradients(windows: windows, residual: plan.residual!, perHead: plan.perHead)
        let singles = try windows.map { try learner.lossAndGradients(window: $0, residual: plan.residual!, perHead: plan.perHead) }
        #expect(abs(batch.loss - singles.map(\.loss).reduce(0, +) / 3) < 1e-9)
        var residual = Matrix(rows: 16, columns: 16)
        for single in singles {
            for index in residual.values.indices { residual.values[index] += single.residual.values[index] / 3 }
        }
        let scale = residual.values.map(abs).max()!
        #expect(batch.residual.maximumAbsoluteDifference(to: residual) < 1e-5 * scale)
        var head = Matrix(rows: 4, columns: 4)
        for single in singles {
            for index in head.values.indices { head.values[index] += single.perHead[1].values[index] / 3 }
        }
        #expect(batch.perHead[1].maximumAbsoluteDifference(to: head) < 1e-5 * head.values.map(abs).max()!)
    }

    @Test func trainingLowersTheQuantizedLossAndKeepsRotationsOrthogonal() throws {
        // Outlier features in the residual stream (as real LLMs have): a few embedding columns
        // much larger than the rest, which per-token 4-bit activations and per-channel weights
        // handle badly until a rotation spreads them.
        var model = try Self.foldedModel()
        for row in 0..<model.embedding.rows {
            for column in [2, 9] { model.embedding[row, column] *= 25 }
        }
        var learner = try RotationLearner(model: model)
        let scheme = QuantizationScheme(bits: 4, groupSize: nil, symmetric: false)
        learner.weightQuantizer = { try RoundToNearest.quantize(weight: $0, scheme: scheme).dequantized }
        learner.quantizer = { matrix, site in
            guard site != .key, site != .value else { return nil }
            for row in 0..<matrix.rows {
                let limit = (0..<matrix.columns).map { abs(matrix[row, $0]) }.max() ?? 0
                let scale = limit > 0 ? limit / 7 : 1
                for column in 0..<matrix.columns { matrix[row, column] = scale * min(max((matrix[row, column] / scale).rounded(), -8), 7) }
            }
            return nil
        }
        let windows = tinyWindows(count: 2, length: 12)
        let start = try Self.startingPlan()
        func meanLoss(_ plan: RotationPlan) throws -> Double {
            try windows.map { try learner.lossAndGradients(window: $0, residual: plan.residual!, perHead: plan.perHead).loss }
                .reduce(0, +) / Double(windows.count)
        }
        let (plan, losses) = try learner.train(windows: windows, initial: start, steps: 40, learningRate: 0.05, momentum: 0)
        #expect(losses.count == 40)
        let before = try meanLoss(start)
        let after = try meanLoss(plan)
        #expect(after < before)
        #expect(CayleySGD.orthogonalityError(plan.residual!) < 1e-4)
        #expect(plan.perHead.allSatisfy { CayleySGD.orthogonalityError($0) < 1e-4 })
        // R2 only: R1 stays the starting Hadamard, the head rotations move.
        let headsOnly = try learner.train(
            windows: windows, initial: start, steps: 5, learningRate: 0.05, momentum: 0, learnsResidual: false).plan
        #expect(headsOnly.residual == start.residual)
        #expect(headsOnly.perHead[0] != start.perHead[0])
    }
}

extension RotationLearnerTests {
    /// Rotations leave the full-precision network's function unchanged, so its loss is flat on
    /// the orthogonal group: the Riemannian gradient vanishes and training moves nothing.
    @Test func fullPrecisionLossIsFlatUnderLearning() throws {
        let learner = try RotationLearner(model: Self.foldedModel())
        let windows = tinyWindows(count: 1, length: 12)
        let (_, losses) = try learner.train(
            windows: windows, initial: try Self.startingPlan(), steps: 5, learningRate: 0.1, momentum: 0)
        #expect(losses.allSatisfy { abs($0 - losses[0]) < 1e-4 })
    }
}
