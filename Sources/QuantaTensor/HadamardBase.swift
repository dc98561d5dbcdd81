/// Symmetric Hadamard matrices of orders that are not powers of two, for transforms of size
/// `baseOrder · 2^k` (576 = 36 · 16, 1536 = 12 · 128, 2304 = 36 · 64 …).
///
/// Provenance: R. E. A. C. Paley, "On orthogonal matrices", J. Math. Phys. 12 (1933), the
/// second construction: for a prime `q ≡ 1 (mod 4)` the Jacobsthal matrix
/// `Q[i][j] = χ(j − i)` (χ the quadratic character mod q) is symmetric, the conference matrix
/// `C = [[0, 1ᵀ], [1, Q]]` has `C Cᵀ = q I`, and
/// `H = C ⊗ [[1, 1], [1, −1]] + I ⊗ [[1, −1], [−1, −1]]` is a symmetric Hadamard matrix of
/// order `2(q + 1)`. Symmetric bases keep the normalized transform its own inverse.
/// (QuaRot and SpinQuant ship tables of such matrices; this builds them.)
enum HadamardBase {
    /// The primes `q ≡ 1 (mod 4)` used, giving base orders 12, 28, 36, 60, 76, 84, 108, 124, 148.
    static let paleyPrimes = [5, 13, 17, 29, 37, 41, 53, 61, 73]

    /// Supported base orders, smallest first (1 is the pure power-of-two case).
    static let orders: [Int] = [1] + paleyPrimes.map { 2 * ($0 + 1) }

    /// The ±1 entries of the base matrix of `order` (row-major), or `nil` if unsupported.
    static func signs(order: Int) -> [Float]? {
        if order == 1 { return [1] }
        guard order % 2 == 0, paleyPrimes.contains(order / 2 - 1) else { return nil }
        return paleySecondConstruction(prime: order / 2 - 1)
    }

    /// `2(q + 1)`-order symmetric Hadamard matrix from Paley's second construction.
    static func paleySecondConstruction(prime q: Int) -> [Float] {
        var isSquare = [Bool](repeating: false, count: q)
        for value in 1..<q { isSquare[(value * value) % q] = true }
        // Conference matrix C (order q + 1): C[0][0] = 0, first row/column 1, Q below.
        let size = q + 1
        var conference = [Float](repeating: 0, count: size * size)
        for index in 1..<size {
            conference[index] = 1
            conference[index * size] = 1
        }
        for row in 0..<q {
            for column in 0..<q where row != column {
                conference[(row + 1) * size + column + 1] = isSquare[((column - row) % q + q) % q] ? 1 : -1
            }
        }
        let order = 2 * size
        var result = [Float](repeating: 0, count: order * order)
        let plus: [[Float]] = [[1, 1], [1, -1]]
        let diagonal: [[Float]] = [[1, -1], [-1, -1]]
        for row in 0..<size {
            for column in 0..<size {
                let entry = conference[row * size + column]
                for i in 0..<2 {
                    for j in 0..<2 {
                        result[(2 * row + i) * order + 2 * column + j] =
                            entry * plus[i][j] + (row == column ? diagonal[i][j] : 0)
                    }
                }
            }
        }
        return result
    }
}
