/// Per-bit-width facts of the packed weight layout (docs/packed-weights.md): its name, its
/// packing unit, and its storage cost.
public struct PackedWeightTraits: Sendable, Equatable {
    /// Bits per code: 2, 3, 4 or 8.
    public let bits: Int
    /// The name `quanta inspect` shows: `int4`.
    public let name: String
    /// Codes per packing unit (8 for 3-bit: 8 codes in 3 bytes).
    public let codesPerUnit: Int
    /// Bytes per packing unit.
    public let bytesPerUnit: Int

    /// The supported bit widths, in increasing order.
    public static var all: [PackedWeightTraits] { [2, 3, 4, 8].compactMap { forBits($0) } }

    /// The traits of `bits`, or nil if the layout does not support that width.
    public static func forBits(_ bits: Int) -> PackedWeightTraits? {
        switch bits {
        case 2: PackedWeightTraits(bits: 2, name: "int2", codesPerUnit: 4, bytesPerUnit: 1)
        case 3: PackedWeightTraits(bits: 3, name: "int3", codesPerUnit: 8, bytesPerUnit: 3)
        case 4: PackedWeightTraits(bits: 4, name: "int4", codesPerUnit: 2, bytesPerUnit: 1)
        case 8: PackedWeightTraits(bits: 8, name: "int8", codesPerUnit: 1, bytesPerUnit: 1)
        default: nil
        }
    }

    /// The largest code, `2^bits − 1`.
    public var maximumCode: Int { (1 << bits) - 1 }

    /// The fixed zero point of symmetric schemes, `2^(bits−1)`.
    public var symmetricZeroPoint: Int { 1 << (bits - 1) }

    /// Bytes that `count` packed values occupy (whole units, padding codes 0): `rowBytes`
    /// for `count = in`, `zeroBytes` for `count = groups`. Nil if the size overflows.
    public func packedByteCount(valueCount count: Int) -> Int? {
        guard count >= 0 else { return nil }
        let units = count / codesPerUnit + (count % codesPerUnit == 0 ? 0 : 1)
        let (bytes, overflow) = units.multipliedReportingOverflow(by: bytesPerUnit)
        return overflow ? nil : bytes
    }

    /// Nominal bits per weight of a packed linear (docs/packed-weights.md, "Bits per
    /// weight"): `bits + (16 + bits) / groupSize`, plus `32 / inputCount` with an input
    /// permutation.
    public func bitsPerWeight(groupSize: Int, inputCount: Int, hasPermutation: Bool) -> Double {
        var total = Double(bits) + Double(16 + bits) / Double(max(groupSize, 1))
        if hasPermutation { total += 32 / Double(max(inputCount, 1)) }
        return total
    }

    /// Packs `values` (each `≤ maximumCode`, unchecked here) into `destination`, which holds
    /// `packedByteCount(valueCount: values.count)` bytes and is zeroed by the caller. Value i
    /// occupies bits `i·bits ..< (i+1)·bits` of the little-endian bit stream, which is the
    /// per-width rule of the layout (for 3-bit: code 8k+j at bits 3j of the 24-bit word of
    /// bytes 3k…3k+2).
    public func pack(_ values: ArraySlice<UInt8>, into destination: UnsafeMutableRawBufferPointer) {
        var bitPosition = 0
        for value in values {
            let byte = bitPosition >> 3
            let shift = bitPosition & 7
            let word = UInt16(value) << UInt16(shift)
            destination[byte] |= UInt8(truncatingIfNeeded: word)
            if shift + bits > 8 { destination[byte + 1] |= UInt8(truncatingIfNeeded: word >> 8) }
            bitPosition += bits
        }
    }

    /// The value at `index` of a packed row `source` (the inverse of `pack`); `source` must
    /// hold at least `packedByteCount(valueCount: index + 1)` bytes.
    @inlinable
    public func unpackValue(at index: Int, from source: UnsafeRawBufferPointer) -> UInt8 {
        let bitPosition = index * bits
        let byte = bitPosition >> 3
        let shift = bitPosition & 7
        var word = UInt16(source[byte])
        if shift + bits > 8 { word |= UInt16(source[byte + 1]) << 8 }
        return UInt8(truncatingIfNeeded: (word >> UInt16(shift)) & UInt16(maximumCode))
    }

    /// The first `count` values of the packed row `source`.
    public func unpack(_ source: UnsafeRawBufferPointer, count: Int) -> [UInt8] {
        (0..<count).map { unpackValue(at: $0, from: source) }
    }

    /// Packs `values` into a new byte array (convenience for tests and tools).
    public func pack(_ values: [UInt8]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: packedByteCount(valueCount: values.count) ?? 0)
        bytes.withUnsafeMutableBytes { pack(values[...], into: $0) }
        return bytes
    }
}
