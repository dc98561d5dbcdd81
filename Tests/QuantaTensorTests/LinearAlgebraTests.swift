import QuantaTensor
import Testing

@Suite struct LinearAlgebraTests {
    /// The classic 3x3 example (e.g. Wikipedia "Cholesky decomposition"): A = L·Lᵀ with
    /// L = [[2, 0, 0], [6, 1, 0], [-8, 5, 3]], checked by hand.
    static let knownMatrix = try! Matrix([[4, 12, -16], [12, 37, -43], [-16, -43, 98]])
    static let knownFactor = try! Matrix([[2, 0, 0], [6, 1, 0], [-8, 5, 3]])

    @Test(arguments: [FactorizationPrecision.single, .double])
    func choleskyOfKnownMatrix(precision: FactorizationPrecision) throws {
        let lower = try LinearAlgebra.cholesky(Self.knownMatrix, triangle: .lower, precision: precision)
        #expect(lower.maximumAbsoluteDifference(to: Self.knownFactor) < 1e-5)
        let upper = try LinearAlgebra.cholesky(Self.knownMatrix, triangle: .upper, precision: precision)
        #expect(upper.maximumAbsoluteDifference(to: Self.knownFactor.transposed()) < 1e-5)
    }

    @Test(arguments: [8, 33, 96])
    func choleskyReconstructsRandomMatrix(size: Int) throws {
        let matrix = TestSupport.randomSymmetricPositiveDefinite(size: size, seed: UInt64(size))
        let lower = try LinearAlgebra.cholesky(matrix)
        for row in 0..<size {
            for column in (row + 1)..<max(row + 1, size) { #expect(lower[row, column] == 0) }
        }
        let reconstructed = TestSupport.naiveMultiply(lower, lower, transposeB: true)
        let scale = TestSupport.maximumMagnitude(matrix)
        #expect(reconstructed.maximumAbsoluteDifference(to: matrix) < 1e-5 * scale)

        let upper = try LinearAlgebra.cholesky(matrix, triangle: .upper)
        let fromUpper = TestSupport.naiveMultiply(upper, transposeA: true, upper)
        #expect(fromUpper.maximumAbsoluteDifference(to: matrix) < 1e-5 * scale)
    }

    @Test func indefiniteMatrixThrowsInsteadOfCrashing() throws {
        let indefinite = try Matrix([[1, 2], [2, 1]])  // eigenvalues 3 and -1
        #expect(throws: TensorError.factorizationFailed(routine: "spotrf", info: 2)) {
            try LinearAlgebra.cholesky(indefinite)
        }
        #expect(throws: TensorError.factorizationFailed(routine: "dpotrf", info: 2)) {
            try LinearAlgebra.cholesky(indefinite, precision: .double)
        }
        #expect(throws: TensorError.self) { try LinearAlgebra.upperCholeskyOfInverse(indefinite) }
        #expect(throws: TensorError.self) { try LinearAlgebra.cholesky(Matrix(rows: 3, columns: 3)) }
        // Non-finite input is reported, not propagated.
        #expect {
            try LinearAlgebra.cholesky(Matrix([[Float.nan, 0], [0, 1]]))
        } throws: { error in
            if case .factorizationFailed = error as? TensorError { return true }
            return false
        }
        #expect(throws: TensorError.self) { try LinearAlgebra.cholesky(Matrix(rows: 2, columns: 3)) }
    }

    @Test func inverseSymmetricPositiveDefiniteTimesMatrixIsIdentity() throws {
        let matrix = TestSupport.randomSymmetricPositiveDefinite(size: 40, seed: 9)
        let inverse = try LinearAlgebra.inverseSymmetricPositiveDefinite(matrix)
        #expect(inverse == inverse.transposed())
        let product = TestSupport.naiveMultiply(matrix, inverse)
        #expect(product.maximumAbsoluteDifference(to: .identity(size: 40)) < 1e-4)

        let fromFactor = try LinearAlgebra.choleskyInverse(factor: LinearAlgebra.cholesky(matrix))
        #expect(fromFactor.maximumAbsoluteDifference(to: inverse) < 1e-6)
        let fromUpperFactor = try LinearAlgebra.choleskyInverse(
            factor: LinearAlgebra.cholesky(matrix, triangle: .upper), triangle: .upper)
        #expect(fromUpperFactor.maximumAbsoluteDifference(to: inverse) < 1e-5)
    }

    @Test(arguments: [FactorizationPrecision.single, .double])
    func gptqInverseFactorSatisfiesDefinition(precision: FactorizationPrecision) throws {
        let size = 64
        // A Hessian-like matrix 2·XᵀX from correlated "activations", plus 1% mean-diagonal dampening as GPTQ does.
        let activations = TestSupport.randomMatrix(rows: 256, columns: size, seed: 21)
        var hessian = TestSupport.naiveMultiply(activations, transposeA: true, activations)
        var meanDiagonal: Float = 0
        for index in 0..<size { meanDiagonal += hessian[index, index] / Float(size) }
        for index in hessian.values.indices { hessian.values[index] *= 2 }
        for index in 0..<size { hessian[index, index] += 0.01 * 2 * meanDiagonal }

        let upper = try LinearAlgebra.upperCholeskyOfInverse(hessian, precision: precision)
        for row in 0..<size {
            #expect(upper[row, row] > 0)
            for column in 0..<row { #expect(upper[row, column] == 0) }
        }
        // Uᵀ·U = H⁻¹, checked without any inverse code: H · (Uᵀ·U) = I.
        let inverse = TestSupport.naiveMultiply(upper, transposeA: true, upper)
        let identity = TestSupport.naiveMultiply(hessian, inverse)
        #expect(identity.maximumAbsoluteDifference(to: .identity(size: size)) < 1e-3)
    }

    @Test func gptqInverseFactorOfKnownMatrix() throws {
        // H = diag(4, 9): H⁻¹ = diag(1/4, 1/9), so U = diag(1/2, 1/3).
        let upper = try LinearAlgebra.upperCholeskyOfInverse(Matrix([[4, 0], [0, 9]]))
        #expect(upper.maximumAbsoluteDifference(to: try Matrix([[0.5, 0], [0, 1.0 / 3]])) < 1e-7)
    }

    @Test(arguments: [Triangle.lower, .upper], [false, true])
    func triangularSolveRecoversSolution(triangle: Triangle, transposed: Bool) throws {
        let size = 24
        var triangular = TestSupport.randomMatrix(rows: size, columns: size, seed: 31)
        for row in 0..<size {
            triangular[row, row] = 2 + abs(triangular[row, row])
            // Garbage in the unused triangle must be ignored.
            for column in 0..<size where (triangle == .lower ? column > row : column < row) { triangular[row, column] = 1000 }
        }
        var clean = triangular
        for row in 0..<size {
            for column in 0..<size where (triangle == .lower ? column > row : column < row) { clean[row, column] = 0 }
        }
        let solution = TestSupport.randomMatrix(rows: size, columns: 5, seed: 32)
        let rightHandSides = TestSupport.naiveMultiply(clean, transposeA: transposed, solution)
        let solved = try LinearAlgebra.solveTriangular(
            triangular, triangle: triangle, transposed: transposed, rightHandSides: rightHandSides)
        #expect(solved.maximumAbsoluteDifference(to: solution) < 1e-4)

        // X · op(T) = B from the right.
        let rowSolution = TestSupport.randomMatrix(rows: 3, columns: size, seed: 33)
        let rowRightHandSides = TestSupport.naiveMultiply(rowSolution, clean, transposeB: transposed)
        let rowSolved = try LinearAlgebra.solveTriangular(
            triangular, triangle: triangle, transposed: transposed, side: .right, rightHandSides: rowRightHandSides)
        #expect(rowSolved.rows == 3 && rowSolved.columns == size)
        #expect(rowSolved.maximumAbsoluteDifference(to: rowSolution) < 1e-4)
    }

    @Test func unitDiagonalSolveIgnoresStoredDiagonal() throws {
        let triangular = try Matrix([[5, 0], [2, 7]])  // treated as [[1, 0], [2, 1]]
        let solved = try LinearAlgebra.solveTriangular(
            triangular, triangle: .lower, unitDiagonal: true, rightHandSides: Matrix([[1], [4]]))
        #expect(solved.values == [1, 2])
    }

    @Test func singularTriangularSolveThrows() throws {
        let singular = try Matrix([[1, 0], [3, 0]])
        #expect(throws: TensorError.factorizationFailed(routine: "strtrs", info: 2)) {
            try LinearAlgebra.solveTriangular(singular, triangle: .lower, rightHandSides: Matrix([[1], [1]]))
        }
        #expect(throws: TensorError.self) {
            try LinearAlgebra.solveTriangular(singular, triangle: .lower, rightHandSides: Matrix([[1, 2, 3]]))
        }
    }
}
