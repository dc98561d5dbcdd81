/// Python's `random` module generator (MT19937 seeded by `init_by_array`, as CPython's
/// `random.seed(int)`), so calibration windows drawn with `randint` are the same ones the
/// reference GPTQ code (`datautils.py`: `random.seed(seed)`, `random.randint(0, n - seqlen - 1)`)
/// draws. Matsumoto & Nishimura 1998; CPython `Modules/_randommodule.c`.
public struct PythonRandom: Sendable {
    private var state = [UInt32](repeating: 0, count: 624)
    private var index = 625

    /// `random.seed(seed)` for a non-negative integer seed.
    public init(seed: UInt64) {
        var key: [UInt32] = []
        var remaining = seed
        repeat {
            key.append(UInt32(truncatingIfNeeded: remaining))
            remaining >>= 32
        } while remaining > 0
        initialize(byArray: key)
    }

    private mutating func initialize(seed: UInt32) {
        state[0] = seed
        for position in 1..<624 {
            let previous = state[position - 1]
            state[position] = 1_812_433_253 &* (previous ^ (previous >> 30)) &+ UInt32(position)
        }
        index = 624
    }

    private mutating func initialize(byArray key: [UInt32]) {
        initialize(seed: 19_650_218)
        var i = 1
        var j = 0
        for _ in 0..<max(624, key.count) {
            let previous = state[i - 1]
            state[i] = (state[i] ^ ((previous ^ (previous >> 30)) &* 1_664_525)) &+ key[j] &+ UInt32(j)
            i += 1
            j += 1
            if i >= 624 {
                state[0] = state[623]
                i = 1
            }
            if j >= key.count { j = 0 }
        }
        for _ in 0..<623 {
            let previous = state[i - 1]
            state[i] = (state[i] ^ ((previous ^ (previous >> 30)) &* 1_566_083_941)) &- UInt32(i)
            i += 1
            if i >= 624 {
                state[0] = state[623]
                i = 1
            }
        }
        state[0] = 0x8000_0000
    }

    /// The next 32-bit output (`genrand_uint32`).
    public mutating func nextUInt32() -> UInt32 {
        if index >= 624 { twist() }
        var y = state[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    private mutating func twist() {
        for position in 0..<624 {
            let y = (state[position] & 0x8000_0000) | (state[(position + 1) % 624] & 0x7FFF_FFFF)
            state[position] = state[(position + 397) % 624] ^ (y >> 1) ^ (y & 1 == 0 ? 0 : 0x9908_B0DF)
        }
        index = 0
    }

    /// `random.getrandbits(bits)` for 1 ≤ bits ≤ 64.
    public mutating func randomBits(_ bits: Int) -> UInt64 {
        precondition(bits >= 1 && bits <= 64)
        if bits <= 32 { return UInt64(nextUInt32() >> (32 - UInt32(bits))) }
        let low = UInt64(nextUInt32())
        let high = UInt64(nextUInt32() >> (64 - UInt32(bits)))
        return low | (high << 32)
    }

    /// `random.randint(lower, upper)`: uniform in the closed range, by rejection sampling
    /// on `bit_length(upper - lower + 1)` random bits (`_randbelow_with_getrandbits`).
    public mutating func randomInteger(in range: ClosedRange<Int>) -> Int {
        let count = UInt64(range.upperBound - range.lowerBound + 1)
        let bits = 64 - count.leadingZeroBitCount
        var value = randomBits(bits)
        while value >= count { value = randomBits(bits) }
        return range.lowerBound + Int(value)
    }
}
