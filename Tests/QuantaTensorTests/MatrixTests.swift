import QuantaTensor
import Testing

@Suite struct MatrixTests {
    @Test func subscriptIsRowMajor() throws {
        var matrix = try Matrix([[1, 2, 3], [4, 5, 6]])
        #expect(matrix.rows == 2 && matrix.columns == 3)
        #expect(matrix.values == [1, 2, 3, 4, 5, 6])
        #expect(matrix[1, 0] == 4)
        matrix[0, 2] = 9
        #expect(matrix.values[2] == 9)
        #expect(Array(matrix.row(1)) == [4, 5, 6])
        #expect(Matrix(rows: 2, columns: 2, repeating: 7).values == [7, 7, 7, 7])
        #expect(Matrix.identity(size: 2).values == [1, 0, 0, 1])
    }

    @Test func wrongValueCountThrows() {
        #expect(throws: TensorError.self) { try Matrix(rows: 2, columns: 3, values: [1, 2]) }
        #expect(throws: TensorError.self) { try Matrix([[1, 2], [3]]) }
    }

    @Test func transposeSwapsIndices() throws {
        let matrix = TestSupport.randomMatrix(rows: 37, columns: 70, seed: 1)
        let transposed = matrix.transposed()
        #expect(transposed.rows == 70 && transposed.columns == 37)
        for row in 0..<37 {
            for column in 0..<70 { #expect(transposed[column, row] == matrix[row, column]) }
        }
        #expect(transposed.transposed() == matrix)
    }

    @Test func tensorRoundTripInEveryFloatType() throws {
        let matrix = try Matrix([[1, -2.5, 0.125], [65504, -0, 3]])
        for dtype in [DType.float32, .float16, .bfloat16, .float64] {
            let tensor = try matrix.tensor(dtype: dtype)
            #expect(tensor.dtype == dtype && tensor.shape == [2, 3])
            let back = try Matrix(tensor)
            // 65504 is not a bfloat16 value: it rounds to 65536 there.
            let expected: [Float] = dtype == .bfloat16 ? [1, -2.5, 0.125, 65536, 0, 3] : matrix.values
            #expect(back.values == expected, "dtype \(dtype)")
        }
    }

    @Test func nonMatrixTensorsThrow() throws {
        let cube = try Tensor(shape: [2, 2, 2], values: Array(repeating: 0, count: 8))
        #expect(throws: TensorError.self) { try Matrix(cube) }
        let integers = try Tensor(dtype: .int32, shape: [1, 2], storage: TensorStorage(array: [Int32(1), 2]))
        #expect(throws: TensorError.notFloatingPoint(dtype: .int32)) { try Matrix(integers) }
    }
}
