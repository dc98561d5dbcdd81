import QuantaTensor
import Testing

@Suite struct HalfPrecisionTests {
    // MARK: IEEE binary16

    @Test func halfEdgeCases() {
        // Largest finite half, and values around the overflow threshold 65520 (halfway to 2^16).
        #expect(HalfPrecision.halfBits(from: 65504) == 0x7BFF)
        #expect(HalfPrecision.float(fromHalfBits: 0x7BFF) == 65504)
        #expect(HalfPrecision.halfBits(from: 65519) == 0x7BFF)
        #expect(HalfPrecision.halfBits(from: 65520) == 0x7C00)  // tie rounds to even: infinity
        #expect(HalfPrecision.halfBits(from: .infinity) == 0x7C00)
        #expect(HalfPrecision.halfBits(from: -.infinity) == 0xFC00)
        #expect(HalfPrecision.float(fromHalfBits: 0x7C00) == .infinity)
        #expect(HalfPrecision.halfBits(from: -0.0) == 0x8000)

        // Subnormals: the smallest is 2^-24; halfway cases go to the even neighbour.
        #expect(HalfPrecision.halfBits(from: 0x1p-24) == 0x0001)
        #expect(HalfPrecision.float(fromHalfBits: 0x0001) == 0x1p-24)
        #expect(HalfPrecision.halfBits(from: 0x1p-25) == 0x0000)  // tie between 0 and 1 → 0
        #expect(HalfPrecision.halfBits(from: 0x1.000002p-25) == 0x0001)  // just above the tie
        #expect(HalfPrecision.halfBits(from: 0x3p-25) == 0x0002)  // tie between 1 and 2 → 2
        #expect(HalfPrecision.halfBits(from: 0x5p-25) == 0x0002)  // tie between 2 and 3 → 2
        #expect(HalfPrecision.float(fromHalfBits: 0x03FF) == 1023 * 0x1p-24)  // largest subnormal

        // Normal range ties: 1 + 2^-11 is halfway between 1 and 1 + 2^-10.
        #expect(HalfPrecision.halfBits(from: 1 + 0x1p-11) == 0x3C00)
        #expect(HalfPrecision.halfBits(from: 1 + 0x3p-11) == 0x3C02)

        let nanBits = HalfPrecision.halfBits(from: .nan)
        #expect(nanBits & 0x7C00 == 0x7C00 && nanBits & 0x03FF != 0)
        #expect(HalfPrecision.float(fromHalfBits: 0x7E00).isNaN)
    }

    /// Widening then narrowing every 16-bit pattern gives the pattern back (NaN stays NaN).
    static func checkEveryPatternRoundTrips(
        _ name: String, widen: (UInt16) -> Float, narrow: (Float) -> UInt16
    ) {
        for bits in 0...UInt16.max {
            let value = widen(bits)
            if value.isNaN {
                #expect(widen(narrow(value)).isNaN, "\(name) NaN 0x\(String(bits, radix: 16))")
            } else if narrow(value) != bits {
                Issue.record("\(name) 0x\(String(bits, radix: 16)) did not round-trip")
            }
        }
    }

    @Test func everyHalfValueRoundTrips() {
        Self.checkEveryPatternRoundTrips("half", widen: HalfPrecision.float(fromHalfBits:), narrow: HalfPrecision.halfBits(from:))
    }

    // MARK: bfloat16

    @Test func bfloat16EdgeCases() {
        #expect(HalfPrecision.bfloat16Bits(from: 1) == 0x3F80)
        #expect(HalfPrecision.bfloat16Bits(from: 1 + 0x1p-8) == 0x3F80)  // tie → even (1.0)
        #expect(HalfPrecision.bfloat16Bits(from: 1 + 0x3p-8) == 0x3F82)  // tie → even (1 + 2^-6)
        #expect(HalfPrecision.bfloat16Bits(from: 1 + 0x1.02p-8) == 0x3F81)  // above the tie (1 + 2^-8 + 2^-15)
        #expect(HalfPrecision.bfloat16Bits(from: 65504) == 0x4780)  // 65504 → 65536
        #expect(HalfPrecision.bfloat16Bits(from: .greatestFiniteMagnitude) == 0x7F80)  // rounds up to infinity
        #expect(HalfPrecision.bfloat16Bits(from: Float(bitPattern: 0x7F7F_7FFF)) == 0x7F7F)  // just below the tie
        #expect(HalfPrecision.bfloat16Bits(from: .infinity) == 0x7F80)
        #expect(HalfPrecision.bfloat16Bits(from: -.infinity) == 0xFF80)
        #expect(HalfPrecision.bfloat16Bits(from: -0.0) == 0x8000)

        // Subnormals.
        #expect(HalfPrecision.bfloat16Bits(from: Float(bitPattern: 0x0000_8000)) == 0x0000)  // tie → 0
        #expect(HalfPrecision.bfloat16Bits(from: Float(bitPattern: 0x0001_8000)) == 0x0002)  // tie → 2
        #expect(HalfPrecision.bfloat16Bits(from: Float(bitPattern: 0x0001_7FFF)) == 0x0001)
        #expect(HalfPrecision.float(fromBFloat16Bits: 0x0001) == Float(bitPattern: 0x0001_0000))

        // NaN stays NaN, including a signalling NaN whose payload is only in the low bits.
        #expect(HalfPrecision.float(fromBFloat16Bits: HalfPrecision.bfloat16Bits(from: .nan)).isNaN)
        let signalling = Float(bitPattern: 0x7F80_0001)
        #expect(signalling.isNaN)
        #expect(HalfPrecision.float(fromBFloat16Bits: HalfPrecision.bfloat16Bits(from: signalling)).isNaN)
    }

    @Test func everyBFloat16ValueRoundTrips() {
        Self.checkEveryPatternRoundTrips(
            "bfloat16", widen: HalfPrecision.float(fromBFloat16Bits:), narrow: HalfPrecision.bfloat16Bits(from:))
    }

    @Test func tensorConversionRoundsToNearestEven() throws {
        let tensor = try Tensor(shape: [4], values: [1 + 0x1p-11, 1 + 0x3p-11, 65520, 0x1p-25])
        let half = try tensor.converted(to: .float16)
        #expect(try half.floatValues() == [1, 1 + 0x1p-9, .infinity, 0])
        let brain = try tensor.converted(to: .bfloat16)
        #expect(try brain.floatValues() == [1, 1, 65536, 0x1p-25])
    }
}
