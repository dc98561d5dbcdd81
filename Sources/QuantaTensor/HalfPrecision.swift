/// IEEE half and bfloat16 conversions. Round-to-nearest-even on narrowing, exact on widening.
public enum HalfPrecision {
    @inlinable
    public static func float(fromHalfBits bits: UInt16) -> Float {
        Float(Float16(bitPattern: bits))
    }

    @inlinable
    public static func halfBits(from value: Float) -> UInt16 {
        Float16(value).bitPattern
    }

    @inlinable
    public static func float(fromBFloat16Bits bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Rounds to nearest even; NaN stays a quiet NaN.
    @inlinable
    public static func bfloat16Bits(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: (bits >> 16) | 0x40) }
        let rounding = 0x7FFF &+ ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
    }

    /// Widens `count` half values at `source` into `destination`.
    public static func widenHalf(
        _ source: UnsafePointer<UInt16>, into destination: UnsafeMutablePointer<Float>, count: Int
    ) {
        for index in 0..<count { destination[index] = float(fromHalfBits: source[index]) }
    }

    /// Widens `count` bfloat16 values at `source` into `destination`.
    public static func widenBFloat16(
        _ source: UnsafePointer<UInt16>, into destination: UnsafeMutablePointer<Float>, count: Int
    ) {
        for index in 0..<count { destination[index] = float(fromBFloat16Bits: source[index]) }
    }
}
