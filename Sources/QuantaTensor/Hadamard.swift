/// Orthonormal Hadamard transforms: the fast Walsh–Hadamard transform (FWHT) on vectors and
/// matrix rows, explicit Hadamard matrices, and random Hadamard rotations.
///
/// Sizes are `baseOrder · 2^k` with a base order from `HadamardBase` (1, 12, 28, 36, 60 …):
/// the transform is `H_base ⊗ H_(2^k)` — the FWHT on each of `baseOrder` contiguous chunks of
/// `2^k`, then the small symmetric base matrix across chunks. Every matrix used is symmetric,
/// so the normalized transform is orthogonal and its own inverse. Unsupported sizes throw
/// `invalidArgument`.
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

    /// Base Hadamard orders with an implementation (1 = pure powers of two).
    public static let supportedBaseOrders: [Int] = HadamardBase.orders

    /// How `size` factors (the smallest supported base order), or `nil` if none gives it.
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
                detail: "Hadamard size \(size) is not supported; use b · 2^k with b in \(supportedBaseOrders)")
        }
        return factorization
    }

    /// Applies the orthonormal Hadamard transform to `values` in place.
    public static func transform(_ values: UnsafeMutableBufferPointer<Float>) throws(TensorError) {
        let factorization = try requireFactorization(size: values.count, "Hadamard.transform")
        guard let base = values.baseAddress else { return }
        var scratch = [Float](repeating: 0, count: factorization.baseOrder > 1 ? values.count : 0)
        scratch.withUnsafeMutableBufferPointer { scratch in
            transform(base, factorization, scratch: scratch.baseAddress)
        }
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
        context.parallelForRows(of: &matrix) { _, row in
            guard let base = row.baseAddress else { return }
            var scratch = [Float](repeating: 0, count: factorization.baseOrder > 1 ? columns : 0)
            scratch.withUnsafeMutableBufferPointer { scratch in
                transform(base, factorization, scratch: scratch.baseAddress)
            }
        }
    }

    /// The explicit orthonormal Hadamard matrix of order `size`: the base matrix Kronecker
    /// Sylvester doubling (built independently of the fast transform, so each can check the
    /// other).
    public static func matrix(size: Int) throws(TensorError) -> Matrix {
        let factorization = try requireFactorization(size: size, "Hadamard.matrix")
        let baseOrder = factorization.baseOrder
        guard let baseSigns = HadamardBase.signs(order: baseOrder) else {
            preconditionFailure("supported base order \(baseOrder) has no matrix")
        }
        let sylvester = sylvesterSigns(order: factorization.powerOfTwo)
        let power = factorization.powerOfTwo
        var signs = [Float](repeating: 0, count: size * size)
        for baseRow in 0..<baseOrder {
            for baseColumn in 0..<baseOrder {
                let entry = baseSigns[baseRow * baseOrder + baseColumn]
                for row in 0..<power {
                    for column in 0..<power {
                        signs[(baseRow * power + row) * size + baseColumn * power + column] =
                            entry * sylvester[row * power + column]
                    }
                }
            }
        }
        let normalization = 1 / Float(size).squareRoot()
        return try Matrix(rows: size, columns: size, values: signs.map { $0 * normalization })
    }

    /// The ±1 Sylvester matrix of a power-of-two `order` by doubling.
    static func sylvesterSigns(order size: Int) -> [Float] {
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
        return signs
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

    /// The normalized transform of `factorization.baseOrder · powerOfTwo` floats at `x`:
    /// FWHT on each chunk of `powerOfTwo`, then (base order > 1) the base matrix across chunks,
    /// column-wise in SIMD8 steps, through `scratch` (same size as the input).
    @usableFromInline
    static func transform(_ x: UnsafeMutablePointer<Float>, _ factorization: Factorization, scratch: UnsafeMutablePointer<Float>?) {
        let power = factorization.powerOfTwo
        let baseOrder = factorization.baseOrder
        let count = power * baseOrder
        for chunk in 0..<baseOrder { walshHadamard(x + chunk * power, count: power) }
        if baseOrder > 1, let scratch, let baseSigns = HadamardBase.signs(order: baseOrder) {
            scratch.update(from: x, count: count)
            for row in 0..<baseOrder {
                let target = x + row * power
                target.update(repeating: 0, count: power)
                for column in 0..<baseOrder {
                    let source = scratch + column * power
                    if baseSigns[row * baseOrder + column] > 0 {
                        accumulate(source, into: target, count: power, subtract: false)
                    } else {
                        accumulate(source, into: target, count: power, subtract: true)
                    }
                }
            }
        }
        scale(x, count: count, by: 1 / Float(count).squareRoot())
    }

    /// `target ±= source` over `count` floats (SIMD8 body, scalar tail).
    @inlinable
    static func accumulate(_ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, count n: Int, subtract: Bool) {
        var i = 0
        while i + 8 <= n {
            let a = UnsafeRawPointer(target + i).loadUnaligned(as: SIMD8<Float>.self)
            let b = UnsafeRawPointer(source + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(target + i).storeBytes(of: subtract ? a - b : a + b, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n {
            target[i] = subtract ? target[i] - source[i] : target[i] + source[i]
            i += 1
        }
    }

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
