import QuantaTensor
import Testing

/// Golden values come from an independent Python 3 implementation of the same algorithms,
/// run once on 2026-11-29 (CPython, arbitrary-precision ints masked to 64 bits):
///
///     M = (1 << 64) - 1
///     def splitmix64(s):
///         s = (s + 0x9E3779B97F4A7C15) & M; z = s
///         z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
///         z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
///         return s, z ^ (z >> 31)
///     rotl = lambda x, k: ((x << k) | (x >> (64 - k))) & M
///     class X:                                  # xoshiro256**, prng.di.unimi.it reference
///         def __init__(self, seed):
///             self.s = []
///             for _ in range(4): seed, v = splitmix64(seed); self.s.append(v)
///         def next(self):
///             s = self.s; r = (rotl((s[1] * 5) & M, 7) * 9) & M; t = (s[1] << 17) & M
///             s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45)
///             return r
///     def below(g, b):                          # Lemire 2019, multiply-shift with rejection
///         m = g.next() * b
///         if m & M < b:
///             t = ((1 << 64) - b) % b
///             while m & M < t: m = g.next() * b
///         return m >> 64
///     float:  (g.next() >> 40) * 2**-24
///     normal: u1 = 1 - (g.next() >> 11) * 2**-53; u2 = (g.next() >> 11) * 2**-53
///             sqrt(-2 log u1) * cos(2 pi u2)
///     perm:   p = list(range(10)); for i in 9..1: j = below(g, i + 1); swap p[i], p[j]
///     sign:   +1 if g.next() >> 63 == 0 else -1
///     stream: X(seed ^ splitmix64(stream)[1])
@Suite struct RandomGeneratorTests {
    @Test func firstOutputsMatchIndependentReference() {
        var zero = RandomGenerator(seed: 0)
        #expect((0..<5).map { _ in zero.next() } == [
            0x99ec_5f36_cb75_f2b4, 0xbf6e_1f78_4956_452a, 0x1a5f_849d_4933_e6e0, 0x6aa5_94f1_262d_2d2c, 0xbba5_ad4a_1f84_2e59,
        ])
        var fortyTwo = RandomGenerator(seed: 42)
        #expect((0..<5).map { _ in fortyTwo.next() } == [
            0x1578_0b2e_0c2e_c716, 0x6104_d986_6d11_3a7e, 0xae17_5332_39e4_99a1, 0xecb8_ad47_03b3_60a1, 0xfde6_dc7f_e2ec_5e64,
        ])
        var stream = RandomGenerator(seed: 42, stream: 3)
        #expect(stream.next() == 0x44ad_28f4_4a5c_0633)
    }

    @Test func derivedValuesMatchIndependentReference() {
        var floats = RandomGenerator(seed: 42)
        #expect((0..<4).map { _ in floats.nextFloat() } == [0.08386296033859253, 0.37898021936416626, 0.6800433993339539, 0.9246929287910461])

        var normals = RandomGenerator(seed: 42)
        let expectedNormals = [-0.303263064678738, 1.3438117634372806, 0.3834617912676943]
        for expected in expectedNormals { #expect(abs(normals.nextNormal() - expected) < 1e-12) }

        var bounded = RandomGenerator(seed: 7)
        #expect([10, 1000, 3, (1 << 40) + 5].map { bounded.nextInt(below: $0) } == [7, 278, 2, 1_078_728_356_643])

        var shuffler = RandomGenerator(seed: 7)
        #expect(shuffler.permutation(count: 10) == [1, 8, 3, 0, 4, 5, 9, 6, 2, 7])

        var signs = RandomGenerator(seed: 7)
        #expect(signs.signs(count: 8) == [-1, 1, -1, -1, -1, -1, 1, 1])
    }

    @Test func sameSeedSameSequenceDifferentSeedDifferent() {
        var first = RandomGenerator(seed: 123)
        var second = RandomGenerator(seed: 123)
        var other = RandomGenerator(seed: 124)
        let a = (0..<100).map { _ in first.next() }
        #expect(a == (0..<100).map { _ in second.next() })
        #expect(a != (0..<100).map { _ in other.next() })
    }

    @Test func normalSamplesHaveUnitMoments() {
        var generator = RandomGenerator(seed: 2024)
        let count = 200_000
        let samples = generator.normalValues(count: count)
        let mean = samples.reduce(0.0) { $0 + Double($1) } / Double(count)
        let variance = samples.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(count - 1)
        // Standard errors: 1/√n ≈ 0.0022 for the mean, √(2/n) ≈ 0.0032 for the variance.
        #expect(abs(mean) < 0.01)
        #expect(abs(variance - 1) < 0.015)
        #expect(samples.allSatisfy { $0.isFinite })

        let shifted = generator.normalValues(count: count, mean: 3, standardDeviation: 0.5)
        let shiftedMean = shifted.reduce(0.0) { $0 + Double($1) } / Double(count)
        #expect(abs(shiftedMean - 3) < 0.01)
    }

    @Test func uniformFloatsStayInRangeAndSpreadEvenly() {
        var generator = RandomGenerator(seed: 5)
        let values = generator.uniformValues(count: 100_000, in: -2..<6)
        #expect(values.allSatisfy { $0 >= -2 && $0 < 6 })
        var buckets = [Int](repeating: 0, count: 8)
        for value in values { buckets[min(7, Int(value + 2))] += 1 }
        #expect(buckets.allSatisfy { abs($0 - 12_500) < 600 })
        var unit = RandomGenerator(seed: 6)
        #expect((0..<10_000).allSatisfy { _ in let x = unit.nextFloat(); return x >= 0 && x < 1 })
    }

    @Test func boundedIntegersAreUnbiasedAndInRange() {
        var generator = RandomGenerator(seed: 8)
        var counts = [Int](repeating: 0, count: 6)
        for _ in 0..<60_000 { counts[generator.nextInt(below: 6)] += 1 }
        #expect(counts.allSatisfy { abs($0 - 10_000) < 500 })
        #expect((0..<1000).allSatisfy { _ in generator.nextInt(below: 1) == 0 })
    }

    @Test func shuffleAndSampleArePermutations() {
        var generator = RandomGenerator(seed: 9)
        let permutation = generator.permutation(count: 1000)
        #expect(permutation.sorted() == Array(0..<1000))
        #expect(permutation != Array(0..<1000))

        let sample = generator.sampleIndices(count: 50, from: 200)
        #expect(sample.count == 50 && Set(sample).count == 50 && sample.allSatisfy { (0..<200).contains($0) })
        #expect(generator.sampleIndices(count: 0, from: 5).isEmpty)
        #expect(generator.sampleIndices(count: 5, from: 5).sorted() == Array(0..<5))

        var words = ["a", "b", "c", "d"]
        generator.shuffle(&words)
        #expect(words.sorted() == ["a", "b", "c", "d"])
    }

    @Test func worksAsStandardLibraryGenerator() {
        var generator = RandomGenerator(seed: 10)
        let value = Int.random(in: 0..<10, using: &generator)
        #expect((0..<10).contains(value))
    }
}
