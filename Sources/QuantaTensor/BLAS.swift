import COpenBLAS

/// Row-major single-precision BLAS wrappers (OpenBLAS CBLAS) with checked shapes.
///
/// The pointer forms follow the CBLAS argument order with named labels and throw
/// `invalidArgument` for impossible dimensions or leading dimensions. The `Matrix` forms
/// check that the operand shapes agree and throw `shapeMismatch` otherwise.
public enum BLAS {
    /// Converts a dimension to CBLAS's 32-bit integer, throwing if it does not fit.
    static func blasInt(_ value: Int, _ name: String, _ operation: String) throws(TensorError) -> Int32 {
        guard value >= 0, let converted = Int32(exactly: value) else {
            throw .invalidArgument(operation: operation, detail: "\(name) = \(value) is negative or exceeds the 32-bit BLAS limit")
        }
        return converted
    }

    /// General matrix multiply on raw row-major storage:
    /// `C = alpha · op(A) · op(B) + beta · C`, with op(A) `rows` × `inner`, op(B) `inner` ×
    /// `columns` and C `rows` × `columns`. `leadingDimension…` is the stored row length
    /// of each operand (at least its stored column count).
    public static func gemm(
        transposeA: Bool, transposeB: Bool,
        rows: Int, columns: Int, inner: Int,
        alpha: Float,
        a: UnsafePointer<Float>, leadingDimensionA: Int,
        b: UnsafePointer<Float>, leadingDimensionB: Int,
        beta: Float,
        c: UnsafeMutablePointer<Float>, leadingDimensionC: Int
    ) throws(TensorError) {
        let operation = "BLAS.gemm"
        let m = try blasInt(rows, "rows", operation)
        let n = try blasInt(columns, "columns", operation)
        let k = try blasInt(inner, "inner", operation)
        let lda = try blasInt(leadingDimensionA, "leadingDimensionA", operation)
        let ldb = try blasInt(leadingDimensionB, "leadingDimensionB", operation)
        let ldc = try blasInt(leadingDimensionC, "leadingDimensionC", operation)
        let storedColumnsA = transposeA ? rows : inner
        let storedColumnsB = transposeB ? inner : columns
        guard leadingDimensionA >= max(1, storedColumnsA), leadingDimensionB >= max(1, storedColumnsB),
            leadingDimensionC >= max(1, columns)
        else {
            throw .invalidArgument(
                operation: operation,
                detail: "leading dimensions (\(leadingDimensionA), \(leadingDimensionB), \(leadingDimensionC)) are shorter than the rows they hold (\(storedColumnsA), \(storedColumnsB), \(columns))")
        }
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }

    /// General matrix-vector multiply on raw row-major storage:
    /// `y = alpha · op(A) · x + beta · y`, where A is stored `rows` × `columns`; `x` has
    /// `columns` elements and `y` `rows` (swapped when `transposeA`).
    public static func gemv(
        transposeA: Bool, rows: Int, columns: Int,
        alpha: Float,
        a: UnsafePointer<Float>, leadingDimensionA: Int,
        x: UnsafePointer<Float>,
        beta: Float,
        y: UnsafeMutablePointer<Float>
    ) throws(TensorError) {
        let operation = "BLAS.gemv"
        let m = try blasInt(rows, "rows", operation)
        let n = try blasInt(columns, "columns", operation)
        let lda = try blasInt(leadingDimensionA, "leadingDimensionA", operation)
        guard leadingDimensionA >= max(1, columns) else {
            throw .invalidArgument(operation: operation, detail: "leadingDimensionA \(leadingDimensionA) < columns \(columns)")
        }
        cblas_sgemv(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, m, n, alpha, a, lda, x, 1, beta, y, 1)
    }

    /// `C = alpha · op(A) · op(B) + beta · C` on matrices. `c` must already have the result
    /// shape (its values are read only when `beta != 0`).
    public static func gemm(
        _ a: Matrix, transposeA: Bool = false, _ b: Matrix, transposeB: Bool = false,
        alpha: Float = 1, beta: Float = 0, into c: inout Matrix
    ) throws(TensorError) {
        let rows = transposeA ? a.columns : a.rows
        let inner = transposeA ? a.rows : a.columns
        let innerB = transposeB ? b.columns : b.rows
        let columns = transposeB ? b.rows : b.columns
        guard inner == innerB, c.rows == rows, c.columns == columns else {
            throw .shapeMismatch(
                operation: "BLAS.gemm",
                detail: "op(A) \(rows)x\(inner) · op(B) \(innerB)x\(columns) into C \(c.rows)x\(c.columns)")
        }
        guard rows > 0, columns > 0 else { return }
        guard inner > 0 else {
            // An empty sum: C = beta · C (BLAS would not be handed empty operands).
            for index in c.values.indices { c.values[index] = beta == 0 ? 0 : beta * c.values[index] }
            return
        }
        try a.values.withUnsafeBufferPointer { (aBuffer) throws(TensorError) in
            try b.values.withUnsafeBufferPointer { (bBuffer) throws(TensorError) in
                try c.values.withUnsafeMutableBufferPointer { (cBuffer) throws(TensorError) in
                    try gemm(
                        transposeA: transposeA, transposeB: transposeB,
                        rows: rows, columns: columns, inner: inner, alpha: alpha,
                        a: aBuffer.baseAddress!, leadingDimensionA: a.columns,
                        b: bBuffer.baseAddress!, leadingDimensionB: b.columns,
                        beta: beta, c: cBuffer.baseAddress!, leadingDimensionC: columns)
                }
            }
        }
    }

    /// `op(A) · op(B)` as a new matrix.
    public static func multiply(
        _ a: Matrix, transposeA: Bool = false, _ b: Matrix, transposeB: Bool = false
    ) throws(TensorError) -> Matrix {
        var result = Matrix(rows: transposeA ? a.columns : a.rows, columns: transposeB ? b.rows : b.columns)
        try gemm(a, transposeA: transposeA, b, transposeB: transposeB, into: &result)
        return result
    }

    /// `y = alpha · op(A) · x + beta · y` on a matrix and arrays. `y` must already have the
    /// result length.
    public static func gemv(
        _ a: Matrix, transposeA: Bool = false, _ x: [Float],
        alpha: Float = 1, beta: Float = 0, into y: inout [Float]
    ) throws(TensorError) {
        let inputLength = transposeA ? a.rows : a.columns
        let outputLength = transposeA ? a.columns : a.rows
        guard x.count == inputLength, y.count == outputLength else {
            throw .shapeMismatch(
                operation: "BLAS.gemv",
                detail: "op(A) \(outputLength)x\(inputLength) · x[\(x.count)] into y[\(y.count)]")
        }
        guard outputLength > 0 else { return }
        guard inputLength > 0 else {
            for index in y.indices { y[index] = beta == 0 ? 0 : beta * y[index] }
            return
        }
        try a.values.withUnsafeBufferPointer { (aBuffer) throws(TensorError) in
            try x.withUnsafeBufferPointer { (xBuffer) throws(TensorError) in
                try y.withUnsafeMutableBufferPointer { (yBuffer) throws(TensorError) in
                    try gemv(
                        transposeA: transposeA, rows: a.rows, columns: a.columns, alpha: alpha,
                        a: aBuffer.baseAddress!, leadingDimensionA: a.columns,
                        x: xBuffer.baseAddress!, beta: beta, y: yBuffer.baseAddress!)
                }
            }
        }
    }

    /// `op(A) · x` as a new array.
    public static func multiply(_ a: Matrix, transposeA: Bool = false, vector x: [Float]) throws(TensorError) -> [Float] {
        var result = [Float](repeating: 0, count: transposeA ? a.columns : a.rows)
        try gemv(a, transposeA: transposeA, x, into: &result)
        return result
    }
}
