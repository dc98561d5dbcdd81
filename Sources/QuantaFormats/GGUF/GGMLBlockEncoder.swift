import QuantaTensor

/// Encodes Quanta's packed weights into ggml blocks without re-quantizing: each block of 32
/// consecutive inputs of a row takes its group's f16 scale as `d` and the codes recentred on
/// the type's offset, so `gguf.quants.dequantize` gives back `scale · (code − zero)` exactly
/// (`Q4_1`: up to the f16 rounding of `m = −scale · zero`). Block layouts from ggml-common.h,
/// dequantization from ggml-quants.c `dequantize_row_*` (docs/export.md has the table).
public enum GGMLBlockEncoder {
    /// Elements per block of every type written here.
    public static let blockElements = WeightFormatTable.ggmlBlockElements

    /// The ggml types a packed linear may be written as, best first (`WeightFormatTable.ggml`):
    /// the exact type that holds the codes unchanged, then (for asymmetric 4-bit) the smaller
    /// `Q4_1`. Empty when no 32-element type can hold them (the reason is in `unsupportedReason`).
    public static func candidates(for weights: PackedWeights) -> [GGMLType] {
        guard unsupportedReason(weights) == nil else { return [] }
        return WeightFormatTable.ggmlTargets(bits: weights.bits, symmetric: weights.symmetric).map(\.type)
    }

    /// Why `weights` cannot become 32-element ggml blocks, or nil if they can.
    public static func unsupportedReason(_ weights: PackedWeights) -> String? {
        if weights.inputPermutation != nil {
            return "act-order groups are not contiguous in the original column order (an input permutation), and a ggml block needs one scale for 32 consecutive inputs; use act_order: static (or none)"
        }
        if weights.inputCount % blockElements != 0 {
            return "\(weights.inputCount) inputs are not whole blocks of \(blockElements)"
        }
        if weights.groupSize < weights.inputCount, weights.groupSize % blockElements != 0 {
            return "group size \(weights.groupSize) is not a multiple of \(blockElements); use a group_size of 32, 64, 128 … or per channel"
        }
        if weights.bits == 8, !centeredCodesFitInt8(weights) {
            return "asymmetric 8-bit codes minus zero points span more than −128…127, which Q8_0 cannot hold; use symmetric: true"
        }
        return nil
    }

    /// Whether every `code − zero` of 8-bit weights fits Q8_0's int8.
    static func centeredCodesFitInt8(_ weights: PackedWeights) -> Bool {
        if weights.symmetric { return true }
        let codes = weights.unpackedCodes()
        let zeros = weights.unpackedZeroPoints()
        let groups = weights.groupCount
        for row in 0..<weights.outputCount {
            for column in 0..<weights.inputCount {
                let centered = Int(codes[row * weights.inputCount + column]) - Int(zeros[row * groups + column / weights.groupSize])
                if centered < -128 || centered > 127 { return false }
            }
        }
        return true
    }

    /// The rows of `weights` as `type` blocks, output row i taken from source row
    /// `rowOrder[i]` (the Q/K permutation; identity when nil). Precondition: `type` is one of
    /// `candidates(for:)` (checked by the caller; here only the cheap part, so the codes are
    /// not unpacked twice).
    public static func encode(_ weights: PackedWeights, as type: GGMLType, rowOrder: [Int]? = nil) -> [UInt8] {
        precondition(
            weights.inputPermutation == nil
                && WeightFormatTable.ggmlTargets(bits: weights.bits, symmetric: weights.symmetric).contains { $0.type == type },
            "\(type.name) cannot hold \(weights.label)")
        let columns = weights.inputCount
        let groups = weights.groupCount
        let codes = weights.unpackedCodes()
        let zeros = weights.unpackedZeroPoints()
        let scaleBits: [UInt16] = weights.scales.storage.withUnsafeBytes { bytes in
            (0..<(weights.outputCount * groups)).map { UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) }
        }
        let blocksPerRow = columns / blockElements
        var output = [UInt8]()
        output.reserveCapacity(weights.outputCount * blocksPerRow * type.bytesPerBlock)
        var centered = [Int](repeating: 0, count: blockElements)
        for outputRow in 0..<weights.outputCount {
            let row = rowOrder?[outputRow] ?? outputRow
            for block in 0..<blocksPerRow {
                let group = row * groups + block * blockElements / weights.groupSize
                let zero = Int(zeros[group])
                let base = row * columns + block * blockElements
                for index in 0..<blockElements { centered[index] = Int(codes[base + index]) - zero }
                appendBlock(type, scaleBits: scaleBits[group], zero: zero, centered: centered, to: &output)
            }
        }
        return output
    }

    /// One block of `centered` codes (`code − zero`) with scale `scaleBits` (f16).
    static func appendBlock(_ type: GGMLType, scaleBits: UInt16, zero: Int, centered: [Int], to output: inout [UInt8]) {
        func appendHalf(_ bits: UInt16) { output.append(UInt8(bits & 0xFF)); output.append(UInt8(bits >> 8)) }
        func appendNibbles(_ values: (Int) -> Int) {
            for index in 0..<16 { output.append(UInt8(values(index) & 0xF) | UInt8(values(index + 16) & 0xF) << 4) }
        }
        switch type {
        case .q4_0:
            // x = d · (q − 8); q = code − zero + 8 ∈ 1…15 for 2-, 3- and 4-bit codes (4-bit symmetric: 0…15).
            appendHalf(scaleBits)
            appendNibbles { centered[$0] + 8 }
        case .q5_0:
            // x = d · (q − 16); q = code − zero + 16 ∈ 1…31; bit 4 of element k is bit k of qh.
            appendHalf(scaleBits)
            var high: UInt32 = 0
            for index in 0..<blockElements where (centered[index] + 16) & 0x10 != 0 { high |= 1 << UInt32(index) }
            for shift in stride(from: 0, to: 32, by: 8) { output.append(UInt8(truncatingIfNeeded: high >> UInt32(shift))) }
            appendNibbles { centered[$0] + 16 }
        case .q4_1:
            // x = d · q + m with q = code and m = f16(−scale · zero): the one rounded field.
            appendHalf(scaleBits)
            let scale = HalfPrecision.float(fromHalfBits: scaleBits)
            appendHalf(Float16(-scale * Float(zero)).bitPattern)
            appendNibbles { centered[$0] + zero }
        case .q8_0:
            appendHalf(scaleBits)
            for value in centered { output.append(UInt8(bitPattern: Int8(value))) }
        default:
            preconditionFailure("\(type.name) blocks are not written here")
        }
    }

    /// Float values `[rows × columns]` as F32, F16 or Q8_0 elements, row `i` taken from
    /// `rowOrder[i]`. F16 rounds to nearest (exact for values read from F16); Q8_0 quantizes
    /// each block of 32 as llama.cpp's `quantize_row_q8_0_ref` (d = absmax / 127 in f16,
    /// q = round(x / d) half away from zero) — not exact, for a smaller embedding on request.
    public static func encode(dense values: [Float], rows: Int, columns: Int, as type: GGMLType, rowOrder: [Int]? = nil)
        -> [UInt8]
    {
        precondition([.f32, .f16, .q8_0].contains(type), "dense tensors are written as F32, F16 or Q8_0")
        precondition(type != .q8_0 || columns % blockElements == 0, "Q8_0 rows must be whole blocks of 32")
        var output = [UInt8]()
        output.reserveCapacity(values.count / type.blockSize * type.bytesPerBlock)
        for outputRow in 0..<rows {
            let row = rowOrder?[outputRow] ?? outputRow
            let rowValues = values[(row * columns)..<((row + 1) * columns)]
            switch type {
            case .f32:
                for value in rowValues { withUnsafeBytes(of: value.bitPattern.littleEndian) { output.append(contentsOf: $0) } }
            case .f16:
                for value in rowValues { withUnsafeBytes(of: Float16(value).bitPattern.littleEndian) { output.append(contentsOf: $0) } }
            default:
                for start in stride(from: rowValues.startIndex, to: rowValues.endIndex, by: blockElements) {
                    let block = rowValues[start..<(start + blockElements)]
                    let scale = (block.map { abs($0) }.max() ?? 0) / 127
                    let inverse: Float = scale != 0 ? 1 / scale : 0
                    withUnsafeBytes(of: Float16(scale).bitPattern.littleEndian) { output.append(contentsOf: $0) }
                    for value in block { output.append(UInt8(bitPattern: Int8((value * inverse).rounded(.toNearestOrAwayFromZero)))) }
                }
            }
        }
        return output
    }
}
