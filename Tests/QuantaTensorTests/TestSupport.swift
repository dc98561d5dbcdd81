import QuantaTensor

/// Shared test helpers: random matrices and naive scalar references.
enum TestSupport {
    /// A `rows` × `columns` matrix of uniform values in [-1, 1) from `seed`.
    static func randomMatrix(rows: Int, columns: Int, seed: UInt64) -> Matrix {
        var generator = RandomGenerator(seed: seed)
        let values = generator.uniformValues(count: rows * columns, in: -1..<1)
        return try! Matrix(rows: rows, columns: columns, values: values)
    }

    /// A well-conditioned symmetric positive-definite matrix `MᵀM + size·I`.
    static func randomSymmetricPositiveDefinite(size: Int, seed: UInt64) -> Matrix {
        let factor = randomMatrix(rows: size, columns: size, seed: seed)
        var result = naiveMultiply(factor, transposeA: true, factor)
        for index in 0..<size { result[index, index] += Float(size) }
        return result
    }

    /// `op(A) · op(B)` by the textbook triple loop, accumulated in `Double`.
    static func naiveMultiply(_ a: Matrix, transposeA: Bool = false, _ b: Matrix, transposeB: Bool = false) -> Matrix {
        let rows = transposeA ? a.columns : a.rows
        let inner = transposeA ? a.rows : a.columns
        let columns = transposeB ? b.rows : b.columns
        var result = Matrix(rows: rows, columns: columns)
        for i in 0..<rows {
            for j in 0..<columns {
                var sum = 0.0
                for p in 0..<inner {
                    let left = transposeA ? a[p, i] : a[i, p]
                    let right = transposeB ? b[j, p] : b[p, j]
                    sum += Double(left) * Double(right)
                }
                result[i, j] = Float(sum)
            }
        }
        return result
    }

    /// The largest absolute element of `matrix`.
    static func maximumMagnitude(_ matrix: Matrix) -> Float {
        matrix.values.reduce(0) { max($0, abs($1)) }
    }
}
