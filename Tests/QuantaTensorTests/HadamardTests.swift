import QuantaTensor
import Testing

@Suite struct HadamardTests {
    /// The scalar reference: the explicit orthonormal Sylvester matrix,
    /// `H[i][j] = (-1)^popcount(i & j) / √n` (the closed form of Sylvester's doubling).
    static func sylvesterMatrix(size: Int) -> Matrix {
        var matrix = Matrix(rows: size, columns: size)
        let normalization = 1 / Float(size).squareRoot()
        for row in 0..<size {
            for column in 0..<size {
                matrix[row, column] = (row & column).nonzeroBitCount % 2 == 0 ? normalization : -normalization
            }
        }
        return matrix
    }

    static let sizes = [1, 2, 4, 8, 16, 32, 64, 256]

    @Test(arguments: sizes)
    func fastTransformEqualsExplicitMatrixProduct(size: Int) throws {
        let input = TestSupport.randomMatrix(rows: 1, columns: size, seed: UInt64(size))
        var transformed = input.values
        try Hadamard.transform(&transformed)
        let reference = TestSupport.naiveMultiply(Self.sylvesterMatrix(size: size), input, transposeB: true)
        for index in 0..<size { #expect(abs(transformed[index] - reference.values[index]) < 1e-5) }
    }

    @Test(arguments: sizes)
    func transformIsItsOwnInverseAndPreservesNorm(size: Int) throws {
        let input = TestSupport.randomMatrix(rows: 1, columns: size, seed: 100 + UInt64(size)).values
        var values = input
        try Hadamard.transform(&values)
        let inputNorm = input.reduce(0) { $0 + $1 * $1 }
        let outputNorm = values.reduce(0) { $0 + $1 * $1 }
        #expect(abs(inputNorm - outputNorm) < 1e-4 * max(1, inputNorm))
        if size > 1 { #expect(values != input) }
        try Hadamard.transform(&values)
        for index in 0..<size { #expect(abs(values[index] - input[index]) < 1e-5) }
    }

    @Test(arguments: sizes)
    func explicitMatrixMatchesSylvesterClosedForm(size: Int) throws {
        #expect(try Hadamard.matrix(size: size).maximumAbsoluteDifference(to: Self.sylvesterMatrix(size: size)) == 0)
    }

    @Test(arguments: [1, 3])
    func rowTransformMatchesPerRowTransform(threadCount: Int) throws {
        let original = TestSupport.randomMatrix(rows: 13, columns: 128, seed: 7)
        var matrix = original
        try Hadamard.transformRows(of: &matrix, context: ComputeContext(threadCount: threadCount))
        let reference = TestSupport.naiveMultiply(original, Self.sylvesterMatrix(size: 128))
        #expect(matrix.maximumAbsoluteDifference(to: reference) < 1e-5)
    }

    @Test(arguments: [0, 3, 20, 40, 100])
    func unsupportedSizesThrowInvalidArgument(size: Int) {
        #expect(Hadamard.factorization(size: size) == nil)
        var values = [Float](repeating: 1, count: size)
        #expect {
            try Hadamard.transform(&values)
        } throws: { error in
            if case .invalidArgument = error as? TensorError { return true }
            return false
        }
        var matrix = Matrix(rows: 2, columns: size)
        #expect(throws: TensorError.self) { try Hadamard.transformRows(of: &matrix) }
        #expect(throws: TensorError.self) { try Hadamard.randomHadamard(size: size, seed: 1) }
    }

    static let compositeSizes = [12, 24, 28, 36, 60, 576, 1536]

    @Test(arguments: compositeSizes)
    func compositeMatrixIsSymmetricAndOrthogonal(size: Int) throws {
        let matrix = try Hadamard.matrix(size: size)
        var transposed = matrix
        for row in 0..<size { for column in 0..<size { transposed[row, column] = matrix[column, row] } }
        #expect(matrix.maximumAbsoluteDifference(to: transposed) == 0)
        let gram = TestSupport.naiveMultiply(matrix, matrix, transposeB: true)
        #expect(gram.maximumAbsoluteDifference(to: .identity(size: size)) < 1e-5)
        let magnitude = 1 / Float(size).squareRoot()
        #expect(matrix.values.allSatisfy { abs(abs($0) - magnitude) < 1e-7 })
    }

    @Test(arguments: compositeSizes)
    func compositeFastTransformEqualsExplicitMatrix(size: Int) throws {
        let input = TestSupport.randomMatrix(rows: 3, columns: size, seed: UInt64(size) + 5)
        var transformed = input
        try Hadamard.transformRows(of: &transformed)
        let reference = TestSupport.naiveMultiply(input, try Hadamard.matrix(size: size))
        #expect(transformed.maximumAbsoluteDifference(to: reference) < 1e-5)
        var values = Array(transformed.values[0..<size])
        try Hadamard.transform(&values)
        for index in 0..<size { #expect(abs(values[index] - input.values[index]) < 1e-5) }
    }

    @Test func compositeFactorizationsUseTheSmallestBase() {
        for (size, power, base) in [(576, 16, 36), (1536, 128, 12), (24, 2, 12)] {
            let factorization = Hadamard.factorization(size: size)
            #expect(factorization?.powerOfTwo == power && factorization?.baseOrder == base)
        }
    }

    @Test func factorizationOfPowerOfTwo() {
        let factorization = Hadamard.factorization(size: 4096)
        #expect(factorization?.powerOfTwo == 4096 && factorization?.baseOrder == 1)
    }

    @Test(arguments: [2, 16, 64])
    func randomHadamardIsOrthogonalAndSeeded(size: Int) throws {
        let rotation = try Hadamard.randomHadamard(size: size, seed: 11)
        let gram = TestSupport.naiveMultiply(rotation, rotation, transposeB: true)
        #expect(gram.maximumAbsoluteDifference(to: .identity(size: size)) < 1e-5)
        let gramColumns = TestSupport.naiveMultiply(rotation, transposeA: true, rotation)
        #expect(gramColumns.maximumAbsoluteDifference(to: .identity(size: size)) < 1e-5)
        #expect(try Hadamard.randomHadamard(size: size, seed: 11) == rotation)

        // It is H · diag(s): every column is ± the plain Hadamard column, with both signs present for size ≥ 16.
        let plain = try Hadamard.matrix(size: size)
        var flippedColumns = 0
        for column in 0..<size {
            let sign = rotation[0, column] / plain[0, column]
            #expect(abs(sign) == 1)
            for row in 0..<size { #expect(rotation[row, column] == sign * plain[row, column]) }
            if sign < 0 { flippedColumns += 1 }
        }
        if size >= 16 { #expect(flippedColumns > 0 && flippedColumns < size) }
    }
}
