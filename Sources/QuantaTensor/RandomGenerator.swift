#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A deterministic 64-bit pseudo-random generator: xoshiro256** seeded through SplitMix64.
///
/// The integer stream (and everything derived from it with integer or exact float
/// arithmetic: uniform floats, signs, bounded integers, shuffles, samples) is bit-identical
/// on every platform for a given seed. Normal samples go through `log`, `sqrt` and `cos`,
/// so they agree across platforms to within the libm's last-bit accuracy.
///
/// Provenance: D. Blackman and S. Vigna, "Scrambled Linear Pseudorandom Number Generators",
/// ACM TOMS 47(4), 2021 (xoshiro256**, reference C code at https://prng.di.unimi.it/);
/// SplitMix64 from G. Steele, D. Lea and C. Flood, "Fast Splittable Pseudorandom Number
/// Generators", OOPSLA 2014, as recommended by Vigna for seeding.
public struct RandomGenerator: RandomNumberGenerator, Sendable, Equatable {
    @usableFromInline var state0: UInt64
    @usableFromInline var state1: UInt64
    @usableFromInline var state2: UInt64
    @usableFromInline var state3: UInt64

    /// A generator whose state is expanded from `seed` with SplitMix64. Any seed,
    /// including 0, gives a valid (non-zero) state.
    public init(seed: UInt64) {
        var splitMixState = seed
        state0 = Self.splitMix64(&splitMixState)
        state1 = Self.splitMix64(&splitMixState)
        state2 = Self.splitMix64(&splitMixState)
        state3 = Self.splitMix64(&splitMixState)
    }

    /// A generator for an independent stream `stream` of the same `seed` (for example one per
    /// layer or per worker), so results do not depend on the order the streams are used in.
    public init(seed: UInt64, stream: UInt64) {
        var mixer = stream
        self.init(seed: seed ^ Self.splitMix64(&mixer))
    }

    /// One SplitMix64 step: advances `state` and returns the mixed output.
    @inlinable
    static func splitMix64(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inlinable
    static func rotateLeft(_ value: UInt64, by count: UInt64) -> UInt64 {
        (value << count) | (value >> (64 &- count))
    }

    /// The next 64 random bits (xoshiro256** step).
    @inlinable
    public mutating func next() -> UInt64 {
        let result = Self.rotateLeft(state1 &* 5, by: 7) &* 9
        let shifted = state1 << 17
        state2 ^= state0
        state3 ^= state1
        state1 ^= state2
        state0 ^= state3
        state2 ^= shifted
        state3 = Self.rotateLeft(state3, by: 45)
        return result
    }

    /// A uniform `Float` in [0, 1) with 24 random bits.
    @inlinable
    public mutating func nextFloat() -> Float {
        Float(next() >> 40) * 0x1p-24
    }

    /// A uniform `Double` in [0, 1) with 53 random bits.
    @inlinable
    public mutating func nextDouble() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// A uniform `Float` in `range` (lower bound included, upper bound excluded up to rounding).
    @inlinable
    public mutating func nextFloat(in range: Range<Float>) -> Float {
        range.lowerBound + (range.upperBound - range.lowerBound) * nextFloat()
    }

    /// +1 or -1 with equal probability (from the top bit).
    @inlinable
    public mutating func nextSign() -> Float {
        next() >> 63 == 0 ? 1 : -1
    }

    /// A uniform integer in `0..<bound` without modulo bias.
    ///
    /// Provenance: D. Lemire, "Fast Random Integer Generation in an Interval", ACM TOMACS
    /// 29(1), 2019, algorithm 5 (multiply-shift with rejection). Implemented here rather than
    /// taken from the standard library so the sequence cannot change with the toolchain.
    @inlinable
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "nextInt(below:) needs a positive bound")
        let range = UInt64(bound)
        var product = next().multipliedFullWidth(by: range)
        if product.low < range {
            let threshold = (0 &- range) % range
            while product.low < threshold { product = next().multipliedFullWidth(by: range) }
        }
        return Int(product.high)
    }

    /// A standard normal sample (mean 0, variance 1) by the Box–Muller transform, using the
    /// cosine branch only so each sample consumes exactly two 64-bit outputs.
    ///
    /// Provenance: G. E. P. Box and M. E. Muller, "A Note on the Generation of Random Normal
    /// Deviates", Ann. Math. Statist. 29(2), 1958, eq. (1).
    @inlinable
    public mutating func nextNormal() -> Double {
        let radiusUniform = 1.0 - nextDouble()  // (0, 1], so the logarithm is finite
        let angleUniform = nextDouble()
        return (-2.0 * log(radiusUniform)).squareRoot() * cos(2.0 * Double.pi * angleUniform)
    }

    /// `count` uniform floats in `range`.
    public mutating func uniformValues(count: Int, in range: Range<Float> = 0..<1) -> [Float] {
        (0..<count).map { _ in nextFloat(in: range) }
    }

    /// `count` normal samples with the given mean and standard deviation.
    public mutating func normalValues(count: Int, mean: Float = 0, standardDeviation: Float = 1) -> [Float] {
        (0..<count).map { _ in mean + standardDeviation * Float(nextNormal()) }
    }

    /// `count` random signs (each +1 or -1).
    public mutating func signs(count: Int) -> [Float] {
        (0..<count).map { _ in nextSign() }
    }

    /// Shuffles `elements` in place (Fisher–Yates / Durstenfeld, from the last index down).
    ///
    /// Provenance: R. Durstenfeld, "Algorithm 235: Random permutation", CACM 7(7), 1964.
    public mutating func shuffle<Element>(_ elements: inout [Element]) {
        guard elements.count > 1 else { return }
        for index in stride(from: elements.count - 1, to: 0, by: -1) {
            let other = nextInt(below: index + 1)
            if other != index { elements.swapAt(index, other) }
        }
    }

    /// A uniformly random permutation of `0..<count`.
    public mutating func permutation(count: Int) -> [Int] {
        var indices = Array(0..<count)
        shuffle(&indices)
        return indices
    }

    /// `count` distinct indices drawn uniformly from `0..<population`, in draw order
    /// (a partial Fisher–Yates shuffle from the front).
    public mutating func sampleIndices(count: Int, from population: Int) -> [Int] {
        precondition(count >= 0 && count <= population, "cannot draw \(count) distinct indices from \(population)")
        var indices = Array(0..<population)
        for index in 0..<count {
            let other = index + nextInt(below: population - index)
            if other != index { indices.swapAt(index, other) }
        }
        return Array(indices.prefix(count))
    }
}
