/// A dense row-major `Float` matrix: the value type the quantization math works on.
///
/// Element `(row, column)` is `values[row * columns + column]`. Keep `values.count ==
/// rows * columns` when mutating `values` directly (checked).
public struct Matrix: Sendable, Equatable {
    /// The number of rows.
    public let rows: Int
    /// The number of columns (the length of each row).
    public let columns: Int
    /// The elements in row-major order. Callers keep the count at `rows × columns` (no
    /// property observer here: one would turn every element write into a full copy).
    public var values: [Float]

    /// A `rows` × `columns` matrix with every element equal to `value`.
    public init(rows: Int, columns: Int, repeating value: Float = 0) {
        precondition(rows >= 0 && columns >= 0, "Matrix dimensions must be non-negative")
        self.rows = rows
        self.columns = columns
        self.values = [Float](repeating: value, count: rows * columns)
    }

    /// A `rows` × `columns` matrix over row-major `values`; throws if the count is wrong.
    public init(rows: Int, columns: Int, values: [Float]) throws(TensorError) {
        guard rows >= 0, columns >= 0 else { throw .negativeDimension(shape: [rows, columns]) }
        guard values.count == rows * columns else {
            throw .shapeMismatch(
                operation: "Matrix(rows:columns:values:)",
                detail: "\(rows)x\(columns) needs \(rows * columns) values, got \(values.count)")
        }
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    /// A matrix from nested rows (handy in tests); throws if the rows are ragged.
    public init(_ nestedRows: [[Float]]) throws(TensorError) {
        let columns = nestedRows.first?.count ?? 0
        guard nestedRows.allSatisfy({ $0.count == columns }) else {
            throw .shapeMismatch(operation: "Matrix(_:)", detail: "rows have different lengths")
        }
        try self.init(rows: nestedRows.count, columns: columns, values: nestedRows.flatMap { $0 })
    }

    /// The `size` × `size` identity matrix.
    public static func identity(size: Int) -> Matrix {
        var matrix = Matrix(rows: size, columns: size)
        for index in 0..<size { matrix.values[index * size + index] = 1 }
        return matrix
    }

    /// The element at `row`, `column`.
    @inlinable
    public subscript(row: Int, column: Int) -> Float {
        get {
            precondition(row >= 0 && row < rows && column >= 0 && column < columns, "Matrix index out of range")
            return values[row * columns + column]
        }
        set {
            precondition(row >= 0 && row < rows && column >= 0 && column < columns, "Matrix index out of range")
            values[row * columns + column] = newValue
        }
    }

    /// Whether the matrix is square.
    public var isSquare: Bool { rows == columns }

    /// The values of row `row`.
    public func row(_ row: Int) -> ArraySlice<Float> {
        precondition(row >= 0 && row < rows, "Matrix row out of range")
        return values[(row * columns)..<((row + 1) * columns)]
    }

    /// The transpose (`columns` × `rows`).
    public func transposed() -> Matrix {
        var result = Matrix(rows: columns, columns: rows)
        let rowCount = rows
        let columnCount = columns
        values.withUnsafeBufferPointer { source in
            result.values.withUnsafeMutableBufferPointer { destination in
                // Blocked so both sides stay in cache for large matrices.
                let block = 32
                for rowStart in stride(from: 0, to: rowCount, by: block) {
                    for columnStart in stride(from: 0, to: columnCount, by: block) {
                        for i in rowStart..<min(rowStart + block, rowCount) {
                            for j in columnStart..<min(columnStart + block, columnCount) {
                                destination[j * rowCount + i] = source[i * columnCount + j]
                            }
                        }
                    }
                }
            }
        }
        return result
    }

    /// The largest absolute element-wise difference to `other` (same shape required).
    public func maximumAbsoluteDifference(to other: Matrix) -> Float {
        precondition(rows == other.rows && columns == other.columns, "Matrix shapes differ")
        var largest: Float = 0
        for index in values.indices { largest = max(largest, abs(values[index] - other.values[index])) }
        return largest
    }
}

extension Matrix {
    /// A matrix from a 2-D tensor of any floating-point dtype (widened to `Float`).
    public init(_ tensor: Tensor) throws(TensorError) {
        guard tensor.shape.count == 2 else {
            throw .shapeMismatch(operation: "Matrix(tensor)", detail: "expected a 2-D tensor, got shape \(tensor.shape)")
        }
        try self.init(rows: tensor.shape[0], columns: tensor.shape[1], values: tensor.floatValues())
    }

    /// This matrix as a 2-D tensor of `dtype` (a floating-point type; narrowing rounds to nearest even).
    public func tensor(dtype: DType = .float32) throws(TensorError) -> Tensor {
        try Tensor(shape: [rows, columns], values: values).converted(to: dtype)
    }
}
