import QuantaFormats

/// The packed weight layout v1 of one linear layer (docs/packed-weights.md): `outputCount`
/// rows of `inputCount` codes of `bits` bits, one f16 scale and one packed integer zero point
/// per group of `groupSize` consecutive columns (the last group may be narrower).
///
/// Element `(r, c)` dequantizes to `Float(scale[r, G]) * (Float(code[r, c]) - Float(zero[r, G]))`
/// with `G = c / groupSize`.
public struct PackedLayout: Sendable, Equatable {
    /// Bits per code: 2, 3, 4 or 8.
    public let bits: Int
    /// Columns per group (per-channel: `inputCount`).
    public let groupSize: Int
    /// Columns of the weight (input features).
    public let inputCount: Int
    /// Rows of the weight (output features).
    public let outputCount: Int

    /// The bit widths the layout defines (`PackedWeightTraits`, the one table of them).
    public static let supportedBits = Set(PackedWeightTraits.all.map(\.bits))

    /// A layout; throws `invalidPackedWeight` for an unsupported bit width or a
    /// non-positive size. `name` labels the error.
    public init(bits: Int, groupSize: Int, inputCount: Int, outputCount: Int, name: String = "linear") throws(RuntimeError) {
        guard Self.supportedBits.contains(bits) else {
            throw .invalidPackedWeight(name: name, detail: "\(bits)-bit codes are not supported (use 2, 3, 4 or 8)")
        }
        guard groupSize > 0, inputCount > 0, outputCount > 0 else {
            throw .invalidPackedWeight(
                name: name,
                detail: "group size \(groupSize), input count \(inputCount) and output count \(outputCount) must all be positive")
        }
        self.bits = bits
        self.groupSize = groupSize
        self.inputCount = inputCount
        self.outputCount = outputCount
    }

    /// Groups per row: `ceil(inputCount / groupSize)`.
    public var groups: Int { (inputCount + groupSize - 1) / groupSize }
    /// Bytes of packed codes per row.
    public var rowBytes: Int { Self.packedByteCount(values: inputCount, bits: bits) }
    /// Bytes of packed zero points per row.
    public var zeroBytes: Int { Self.packedByteCount(values: groups, bits: bits) }
    /// Bytes of the `codes` component (`outputCount × rowBytes`).
    public var codeByteCount: Int { outputCount * rowBytes }
    /// Bytes of the `scales` component (`outputCount × groups` f16 values).
    public var scaleByteCount: Int { outputCount * groups * 2 }
    /// Bytes of the `zeros` component (`outputCount × zeroBytes`).
    public var zeroByteCount: Int { outputCount * zeroBytes }

    /// Bytes that hold `values` codes of `bits` bits, rows padded to whole packing units
    /// (1 byte for 8, 4 and 2 bits; 3 bytes = 8 codes for 3 bits).
    public static func packedByteCount(values: Int, bits: Int) -> Int {
        guard let bytes = PackedWeightTraits.forBits(bits)?.packedByteCount(valueCount: values) else {
            preconditionFailure("unsupported bit width \(bits) or size overflow")
        }
        return bytes
    }

    /// Scalar reference unpacking: code `index` of the packed row at `row` (the rule table
    /// of docs/packed-weights.md, one case per width). Also unpacks zero points.
    @inlinable
    public static func code(at index: Int, in row: UnsafePointer<UInt8>, bits: Int) -> UInt8 {
        switch bits {
        case 8:
            return row[index]
        case 4:
            return (row[index >> 1] >> UInt8((index & 1) * 4)) & 0x0F
        case 2:
            return (row[index >> 2] >> UInt8((index & 3) * 2)) & 0x03
        case 3:
            let unit = 3 * (index >> 3)
            let word = UInt32(row[unit]) | UInt32(row[unit + 1]) << 8 | UInt32(row[unit + 2]) << 16
            return UInt8(truncatingIfNeeded: word >> UInt32(3 * (index & 7))) & 0x07
        default:
            preconditionFailure("unsupported bit width \(bits)")
        }
    }
}
