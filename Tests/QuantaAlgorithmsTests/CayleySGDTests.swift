import QuantaAlgorithms
import QuantaTensor
import Testing

@Suite struct CayleySGDTests {
    /// `‖R − T‖²` and its gradient `2 (R − T)`.
    static func distance(_ rotation: Matrix, _ target: Matrix) -> (loss: Float, gradient: Matrix) {
        var gradient = rotation
        var loss: Float = 0
        for index in gradient.values.indices {
            let difference = rotation.values[index] - target.values[index]
            loss += difference * difference
            gradient.values[index] = 2 * difference
        }
        return (loss, gradient)
    }

    @Test func manyRandomStepsStayOrthogonal() throws {
        var rotation = try Hadamard.randomHadamard(size: 36, seed: 2)
        var optimizer = try CayleySGD(learningRate: 0.05, momentum: 0.9)
        var generator = RandomGenerator(seed: 9)
        for _ in 0..<200 {
            let gradient = try Matrix(rows: 36, columns: 36, values: generator.uniformValues(count: 36 * 36, in: -1..<1))
            try optimizer.step(rotation: &rotation, gradient: gradient)
        }
        #expect(CayleySGD.orthogonalityError(rotation) < 1e-4)
        #expect(rotation.maximumAbsoluteDifference(to: try Hadamard.randomHadamard(size: 36, seed: 2)) > 0.05)
    }

    @Test func descendsToAnOrthogonalTarget() throws {
        // A target in the identity's component (determinant +1): the Cayley transform of a
        // random skew matrix S, (I + S)⁻¹ (I − S).
        var generator = RandomGenerator(seed: 4)
        let random = try Matrix(rows: 16, columns: 16, values: generator.uniformValues(count: 256, in: -0.5..<0.5))
        var plus = Matrix.identity(size: 16)
        var minus = Matrix.identity(size: 16)
        for row in 0..<16 {
            for column in 0..<16 {
                let skew = random[row, column] - random[column, row]
                plus[row, column] += skew
                minus[row, column] -= skew
            }
        }
        let target = try LinearAlgebra.solve(plus, minus)
        var rotation = Matrix.identity(size: 16)
        var optimizer = try CayleySGD(learningRate: 0.1, momentum: 0.5)
        let start = Self.distance(rotation, target).loss
        for _ in 0..<300 {
            try optimizer.step(rotation: &rotation, gradient: Self.distance(rotation, target).gradient)
        }
        let final = Self.distance(rotation, target).loss
        #expect(final < 0.05 * start)
        #expect(CayleySGD.orthogonalityError(rotation) < 1e-4)
    }

    @Test func aSmallStepFollowsTheProjectedGradient() throws {
        // To first order the step is R − η (G − R Gᵀ R).
        let rotation = try Hadamard.randomHadamard(size: 8, seed: 1)
        var generator = RandomGenerator(seed: 3)
        let gradient = try Matrix(rows: 8, columns: 8, values: generator.uniformValues(count: 64, in: -1..<1))
        var stepped = rotation
        var optimizer = try CayleySGD(learningRate: 1e-3, momentum: 0)
        try optimizer.step(rotation: &stepped, gradient: gradient)
        let projected = try BLAS.multiply(try BLAS.multiply(rotation, gradient, transposeB: true), rotation)
        var expected = rotation
        for index in expected.values.indices {
            expected.values[index] -= 1e-3 * (gradient.values[index] - projected.values[index])
        }
        #expect(stepped.maximumAbsoluteDifference(to: expected) < 1e-5)
    }

    @Test func badSettingsAndShapesAreClearErrors() throws {
        #expect(throws: AlgorithmError.self) { try CayleySGD(learningRate: 0) }
        #expect(throws: AlgorithmError.self) { try CayleySGD(learningRate: 0.1, momentum: 1) }
        var optimizer = try CayleySGD(learningRate: 0.1)
        var rotation = Matrix.identity(size: 4)
        #expect(throws: AlgorithmError.self) { try optimizer.step(rotation: &rotation, gradient: .identity(size: 3)) }
    }

    @Test func solveMatchesAKnownSystem() throws {
        let a = try Matrix([[2, 1], [1, 3]])
        let b = try Matrix([[3], [5]])
        let x = try LinearAlgebra.solve(a, b)
        #expect(x.maximumAbsoluteDifference(to: try Matrix([[0.8], [1.4]])) < 1e-6)
        #expect(throws: TensorError.self) { try LinearAlgebra.solve(try Matrix([[1, 2], [2, 4]]), b) }
    }
}
