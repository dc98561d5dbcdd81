import QuantaTensor
import Testing

@Suite struct BLASTests {
    /// Shapes (rows, columns, inner) including degenerate and non-square ones.
    static let shapes: [(Int, Int, Int)] = [(1, 1, 1), (3, 5, 7), (17, 9, 33), (64, 48, 80), (5, 1, 12)]

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func gemmMatchesNaiveTripleLoop(transposeA: Bool, transposeB: Bool) throws {
        for (index, (rows, columns, inner)) in Self.shapes.enumerated() {
            let seed = UInt64(index * 10)
            let a = transposeA
                ? TestSupport.randomMatrix(rows: inner, columns: rows, seed: seed)
                : TestSupport.randomMatrix(rows: rows, columns: inner, seed: seed)
            let b = transposeB
                ? TestSupport.randomMatrix(rows: columns, columns: inner, seed: seed + 1)
                : TestSupport.randomMatrix(rows: inner, columns: columns, seed: seed + 1)
            let product = try BLAS.multiply(a, transposeA: transposeA, b, transposeB: transposeB)
            let reference = TestSupport.naiveMultiply(a, transposeA: transposeA, b, transposeB: transposeB)
            #expect(product.rows == rows && product.columns == columns)
            #expect(product.maximumAbsoluteDifference(to: reference) < 1e-5 * Float(inner), "shape \(rows)x\(columns)x\(inner)")

            // alpha and beta: C = 0.5 · op(A)op(B) − 2 · C
            let initial = TestSupport.randomMatrix(rows: rows, columns: columns, seed: seed + 2)
            var accumulated = initial
            try BLAS.gemm(a, transposeA: transposeA, b, transposeB: transposeB, alpha: 0.5, beta: -2, into: &accumulated)
            var expected = initial
            for i in expected.values.indices { expected.values[i] = 0.5 * reference.values[i] - 2 * initial.values[i] }
            #expect(accumulated.maximumAbsoluteDifference(to: expected) < 1e-5 * Float(inner + 2))
        }
    }

    @Test func gemmShapeMismatchThrows() {
        let a = Matrix(rows: 3, columns: 4)
        let b = Matrix(rows: 5, columns: 2)
        #expect {
            try BLAS.multiply(a, b)
        } throws: { error in
            if case .shapeMismatch(let operation, _) = error as? TensorError { return operation == "BLAS.gemm" }
            return false
        }
        var wrongResult = Matrix(rows: 3, columns: 3)
        #expect(throws: TensorError.self) { try BLAS.gemm(a, Matrix(rows: 4, columns: 2), into: &wrongResult) }
        // The transposed operand does fit.
        #expect(throws: Never.self) { try BLAS.multiply(a, transposeA: true, Matrix(rows: 3, columns: 2)) }
    }

    @Test func emptyInnerDimensionScalesResult() throws {
        var c = try Matrix([[1, 2], [3, 4]])
        try BLAS.gemm(Matrix(rows: 2, columns: 0), Matrix(rows: 0, columns: 2), beta: 3, into: &c)
        #expect(c.values == [3, 6, 9, 12])
    }

    @Test func pointerGemmRejectsShortLeadingDimension() {
        let a: [Float] = [1, 2, 3, 4]
        var c: [Float] = [0, 0, 0, 0]
        #expect(throws: TensorError.self) {
            try a.withUnsafeBufferPointer { buffer in
                try c.withUnsafeMutableBufferPointer { output in
                    try BLAS.gemm(
                        transposeA: false, transposeB: false, rows: 2, columns: 2, inner: 2, alpha: 1,
                        a: buffer.baseAddress!, leadingDimensionA: 1,  // too short: rows hold 2 values
                        b: buffer.baseAddress!, leadingDimensionB: 2,
                        beta: 0, c: output.baseAddress!, leadingDimensionC: 2)
                }
            }
        }
    }

    @Test func pointerGemmWithStridedSubmatrix() throws {
        // The top-left 2x2 of a 2x3 A times a 2x2 B, using leadingDimensionA = 3.
        let a: [Float] = [1, 2, 99, 3, 4, 99]
        let b: [Float] = [5, 6, 7, 8]
        var c = [Float](repeating: 0, count: 4)
        try a.withUnsafeBufferPointer { aBuffer in
            try b.withUnsafeBufferPointer { bBuffer in
                try c.withUnsafeMutableBufferPointer { cBuffer in
                    try BLAS.gemm(
                        transposeA: false, transposeB: false, rows: 2, columns: 2, inner: 2, alpha: 1,
                        a: aBuffer.baseAddress!, leadingDimensionA: 3, b: bBuffer.baseAddress!, leadingDimensionB: 2,
                        beta: 0, c: cBuffer.baseAddress!, leadingDimensionC: 2)
                }
            }
        }
        #expect(c == [19, 22, 43, 50])
    }

    @Test(arguments: [false, true])
    func gemvMatchesNaive(transposeA: Bool) throws {
        let a = TestSupport.randomMatrix(rows: 23, columns: 41, seed: 5)
        let inputLength = transposeA ? 23 : 41
        let vector = TestSupport.randomMatrix(rows: inputLength, columns: 1, seed: 6)
        let result = try BLAS.multiply(a, transposeA: transposeA, vector: vector.values)
        let reference = TestSupport.naiveMultiply(a, transposeA: transposeA, vector)
        #expect(result.count == reference.rows)
        for index in result.indices { #expect(abs(result[index] - reference.values[index]) < 1e-4) }

        var accumulated = [Float](repeating: 1, count: result.count)
        try BLAS.gemv(a, transposeA: transposeA, vector.values, alpha: 2, beta: 0.5, into: &accumulated)
        for index in result.indices { #expect(abs(accumulated[index] - (2 * reference.values[index] + 0.5)) < 2e-4) }

        var wrongLength = [Float](repeating: 0, count: result.count + 1)
        #expect(throws: TensorError.self) { try BLAS.gemv(a, transposeA: transposeA, vector.values, into: &wrongLength) }
    }
}
