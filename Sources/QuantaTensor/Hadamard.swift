/// Orthonormal Hadamard transforms: the fast Walsh–Hadamard transform (FWHT) on vectors and
/// matrix rows, explicit Hadamard matrices, and random Hadamard rotations.
///
/// Sizes are `2^k · baseOrder`. Only `baseOrder == 1` (powers of two) is implemented; the
/// factorization step is where known non-power-of-two base matrices (orders 12, 20, 28, 40,
/// 172 … as in QuaRot/SpinQuant) would plug in, transforming with `H_base ⊗ H_(2^k)`.
/// Unsupported sizes throw `invalidArgument`.
///
/// Provenance: the Sylvester construction `H_2n = [[H_n, H_n], [H_n, -H_n]]` (J. J. Sylvester,
/// 1867) and its O(n log n) butterfly factorization (the FWHT; e.g. Fino and Algazi,
/// "Unified Matrix Treatment of the Fast Walsh-Hadamard Transform", IEEE Trans. Computers
/// C-25(11), 1976). Normalized by `1/√n`, the transform is orthogonal and its own inverse.
public enum Hadamard {
    /// A supported transform size split as `powerOfTwo · baseOrder`.
    public struct Factorization: Sendable, Equatable {
        /// The power-of-two factor (the FWHT part).
        public let powerOfTwo: Int
        /// The order of the base Hadamard matrix (1 for pure powers of two).
        public let baseOrder: Int
    }

    /// Base Hadamard orders with an implementation. Only 1 today.
    public static let supportedBaseOrders: [Int] = [1]

    /// How `size` factors, or `nil` if no supported base order gives it.
    public static func factorization(size: Int) -> Factorization? {
        guard size > 0 else { return nil }
        for baseOrder in supportedBaseOrders where size % baseOrder == 0 {
            let powerOfTwo = size / baseOrder
            if powerOfTwo & (powerOfTwo - 1) == 0 { return Factorization(powerOfTwo: powerOfTwo, baseOrder: baseOrder) }
        }
        return nil
    }

    /// The factorization of `size`, or a thrown `invalidArgument` naming what is supported.
    static func requireFactorization(size: Int, _ operation: String) throws(TensorError) -> Factorization {
        guard let factorization = factorization(size: size) else {
            throw .invalidArgument(
                operation: operation,
                detail: "Hadamard size \(size) is not supported; use a power of two (non-power-of-two factors are not implemented yet)")
        }
        return factorization
    }

    /// Applies the orthonormal Hadamard transform to `values` in place.
    public static func transform(_ values: UnsafeMutableBufferPointer<Float>) throws(TensorError) {
        let factorization = try requireFactorization(size: values.count, "Hadamard.transform")
        guard let base = values.baseAddress else { return }
        precondition(factorization.baseOrder == 1, "only power-of-two Hadamard sizes are implemented")
        walshHadamard(base, count: values.count)
        scale(base, count: values.count, by: 1 / Float(values.count).squareRoot())
    }

    /// Applies the orthonormal Hadamard transform to `values` in place.
    public static func transform(_ values: inout [Float]) throws(TensorError) {
        try values.withUnsafeMutableBufferPointer { (buffer) throws(TensorError) in try transform(buffer) }
    }

    /// Applies the orthonormal Hadamard transform to every row of `matrix` in place
    /// (`matrix ← matrix · H`, since `H` is symmetric), rows spread over `context`'s threads.
    public static func transformRows(of matrix: inout Matrix, context: ComputeContext = .serial()) throws(TensorError) {
        let columns = matrix.columns
        let factorization = try requireFactorization(size: columns, "Hadamard.transformRows")
        precondition(factorization.baseOrder == 1, "only power-of-two Hadamard sizes are implemented")
        let normalization = 1 / Float(columns).squareRoot()
        context.parallelForRows(of: &matrix) { _, row in
            guard let base = row.baseAddress else { return }
            walshHadamard(base, count: columns)
            scale(base, count: columns, by: normalization)
        }
    }

    /// The explicit orthonormal Hadamard matrix of order `size`, built by Sylvester doubling
    /// (independently of the fast transform, so each can check the other).
    public static func matrix(size: Int) throws(TensorError) -> Matrix {
        _ = try requireFactorization(size: size, "Hadamard.matrix")
        var signs: [Float] = [1]
        var order = 1
        while order < size {
            var doubled = [Float](repeating: 0, count: 4 * order * order)
            for row in 0..<order {
                for column in 0..<order {
                    let value = signs[row * order + column]
                    doubled[row * 2 * order + column] = value
                    doubled[row * 2 * order + column + order] = value
                    doubled[(row + order) * 2 * order + column] = value
                    doubled[(row + order) * 2 * order + column + order] = -value
                }
            }
            signs = doubled
            order *= 2
        }
        let normalization = 1 / Float(size).squareRoot()
        return try Matrix(rows: size, columns: size, values: signs.map { $0 * normalization })
    }

    /// A random orthogonal Hadamard rotation `H · diag(s)` with random signs `s` drawn from
    /// `generator`, as used for rotations in QuaRot / SpinQuant initialization.
    ///
    /// Provenance: S. Ashkboos et al., "QuaRot: Outlier-Free 4-Bit Inference in Rotated
    /// LLMs", NeurIPS 2024, §3 (randomized Hadamard); Z. Liu et al., "SpinQuant: LLM
    /// Quantization with Learned Rotations", ICLR 2025, §3.
    public static func randomHadamard(size: Int, generator: inout RandomGenerator) throws(TensorError) -> Matrix {
        var result = try matrix(size: size)
        let signs = generator.signs(count: size)
        for row in 0..<size {
            for column in 0..<size where signs[column] < 0 {
                result.values[row * size + column] = -result.values[row * size + column]
            }
        }
        return result
    }

    /// `randomHadamard(size:generator:)` with a fresh generator seeded by `seed`.
    public static func randomHadamard(size: Int, seed: UInt64) throws(TensorError) -> Matrix {
        var generator = RandomGenerator(seed: seed)
        return try randomHadamard(size: size, generator: &generator)
    }

    // MARK: - Kernels

    /// Unnormalized in-place Walsh–Hadamard butterflies over `count` (a power of two) floats:
    /// for each stride `h`, pairs `(x[j], x[j+h])` become `(x[j]+x[j+h], x[j]-x[j+h])`.
    /// Strides of 8 and more run on `SIMD8<Float>`; the first three stages are scalar.
    @inlinable
    static func walshHadamard(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        var h = 1
        while h < n {
            var blockStart = 0
            if h >= 8 {
                while blockStart < n {
                    var j = blockStart
                    let blockEnd = blockStart + h
                    while j < blockEnd {
                        let low = UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self)
                        let high = UnsafeRawPointer(x + j + h).loadUnaligned(as: SIMD8<Float>.self)
                        UnsafeMutableRawPointer(x + j).storeBytes(of: low + high, as: SIMD8<Float>.self)
                        UnsafeMutableRawPointer(x + j + h).storeBytes(of: low - high, as: SIMD8<Float>.self)
                        j += 8
                    }
                    blockStart += 2 * h
                }
            } else {
                while blockStart < n {
                    for j in blockStart..<(blockStart + h) {
                        let low = x[j]
                        let high = x[j + h]
                        x[j] = low + high
                        x[j + h] = low - high
                    }
                    blockStart += 2 * h
                }
            }
            h *= 2
        }
    }

    /// Multiplies `count` floats at `x` by `factor` (SIMD8 body, scalar tail).
    @inlinable
    static func scale(_ x: UnsafeMutablePointer<Float>, count n: Int, by factor: Float) {
        var i = 0
        let factorVector = SIMD8<Float>(repeating: factor)
        while i + 8 <= n {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(x + i).storeBytes(of: v * factorVector, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n {
            x[i] *= factor
            i += 1
        }
    }
}
