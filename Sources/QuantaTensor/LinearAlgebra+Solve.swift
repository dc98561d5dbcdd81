import COpenBLAS

extension LinearAlgebra {
    /// `X` with `A · X = B` for a square, non-singular `A` (LU with partial pivoting, LAPACK
    /// `dgesv`, computed in double precision). A singular `A` throws `factorizationFailed`.
    public static func solve(_ a: Matrix, _ b: Matrix) throws(TensorError) -> Matrix {
        guard a.rows == a.columns else {
            throw .shapeMismatch(operation: "LinearAlgebra.solve", detail: "needs a square matrix, got \(a.rows)x\(a.columns)")
        }
        guard b.rows == a.rows else {
            throw .shapeMismatch(
                operation: "LinearAlgebra.solve", detail: "right-hand side has \(b.rows) rows, the system \(a.rows)")
        }
        guard a.rows > 0, b.columns > 0 else { return b }
        var matrix = a.values.map(Double.init)
        var rightHandSides = b.values.map(Double.init)
        var pivots = [Int32](repeating: 0, count: a.rows)
        let info = LAPACKE_dgesv(
            LAPACK_ROW_MAJOR, Int32(a.rows), Int32(b.columns), &matrix, Int32(a.rows), &pivots, &rightHandSides,
            Int32(b.columns))
        guard info == 0 else { throw .factorizationFailed(routine: "dgesv", info: Int(info)) }
        return try Matrix(rows: b.rows, columns: b.columns, values: rightHandSides.map(Float.init))
    }
}
