import CQuantaKernels

/// How a packed linear treats its input.
public enum ActivationPrecision: String, Sendable, CaseIterable {
    /// f32 activations: the result is the exact product with the dequantized weight (up to
    /// float summation order). The default.
    case float
    /// int8 activations per block of 32 (absmax / 127) and integer dot products
    /// (`quanta_gemv_int4_q8`, `quanta_gemv_int8_q8`) for 4- and 8-bit weights whose groups
    /// are whole blocks; faster, not exact (changes perplexity slightly, as llama.cpp's 8-bit
    /// activations do).
    case int8
}

/// One input row quantized for `quanta_gemv_int4_q8` (docs/packed-weights.md, "Int8
/// activations"): per block b of 32 columns `scale[b] = absmax / 127`,
/// `q = round(x / scale)` (ties to even) — for 4-bit weights stored deinterleaved (the
/// block's 16 even columns, then its 16 odd ones, matching the nibble order), for 8-bit in
/// column order — and per weight group `g` the correction
/// `Σ_{b∈g} scale[b] · Σ_{i∈b} q[i]` that the zero points multiply.
///
/// Provenance: ggml's `Q8_0` activation blocks (llama.cpp `quantize_row_q8_0`: 32 values,
/// `d = amax / 127`).
enum Int8Activations {
    static let blockSize = 32

    /// Whether `layout` can use an integer kernel: 4- or 8-bit codes, whole blocks per row and per group.
    static func supports(_ layout: PackedLayout) -> Bool {
        (layout.bits == 4 || layout.bits == 8) && layout.inputCount % blockSize == 0 && layout.groupSize % blockSize == 0
    }

    /// Quantizes `x[0..<n]` into `codes` (n bytes), `scales` (n / 32) and `corrections`
    /// (one per group of `groupSize`).
    static func quantize(
        _ x: UnsafePointer<Float>, count n: Int, groupSize: Int, interleaved: Bool, codes: UnsafeMutablePointer<Int8>,
        scales: UnsafeMutablePointer<Float>, corrections: UnsafeMutablePointer<Float>
    ) {
        let blocks = n / blockSize
        let blocksPerGroup = groupSize / blockSize
        let groups = (n + groupSize - 1) / groupSize
        for group in 0..<groups { corrections[group] = 0 }
        for block in 0..<blocks {
            let source = x + block * blockSize
            var maximum: Float = 0
            var poison: Float = 0  // NaN when the block holds a NaN or an infinity (x · 0)
            for i in 0..<blockSize {
                maximum = max(maximum, abs(source[i]))
                poison += source[i] * 0
            }
            let scale = poison == 0 ? maximum / 127 : .nan
            let inverse: Float = scale > 0 ? 1 / scale : 0
            let target = codes + block * blockSize
            var sum = 0
            for i in 0..<blockSize {
                // Clamped so a non-finite input gives a code, not a trap; its infinite or NaN
                // scale carries the non-finite value into the output.
                let value = Int8(Swift.min(127, Swift.max(-127, (source[i] * inverse).rounded(.toNearestOrEven))))
                target[interleaved ? (i & 1) * 16 + (i >> 1) : i] = value
                sum += Int(value)
            }
            scales[block] = scale
            corrections[block / blocksPerGroup] += scale * Float(sum)
        }
    }

    /// `y[r]` for `rows` by the C kernel; `codes`/`scales`/`corrections` from `quantize`.
    static func multiplyVector(
        _ weights: PackedPointers, codes: UnsafePointer<Int8>, scales: UnsafePointer<Float>,
        corrections: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, rows: Range<Int>
    ) {
        let layout = weights.layout
        let kernel = layout.bits == 4 ? quanta_gemv_int4_q8 : quanta_gemv_int8_q8
        kernel(
            weights.codes.assumingMemoryBound(to: UInt8.self), layout.rowBytes,
            weights.scales.assumingMemoryBound(to: UInt16.self), weights.zeros.assumingMemoryBound(to: UInt8.self),
            layout.zeroBytes, Int32(layout.inputCount), Int32(layout.groupSize), codes, scales, corrections, y,
            Int32(rows.lowerBound), Int32(rows.upperBound))
    }

    /// `y[i · outputCount + r]` for `inputRows` quantized input rows (each laid out as
    /// `quantize` writes it, rows consecutive) and the weight rows in `rows`.
    static func multiplyMatrix(
        _ weights: PackedPointers, codes: UnsafePointer<Int8>, scales: UnsafePointer<Float>,
        corrections: UnsafePointer<Float>, inputRows: Int, y: UnsafeMutablePointer<Float>, rows: Range<Int>
    ) {
        let layout = weights.layout
        quanta_gemm_q8(
            Int32(layout.bits), weights.codes.assumingMemoryBound(to: UInt8.self), layout.rowBytes,
            weights.scales.assumingMemoryBound(to: UInt16.self), weights.zeros.assumingMemoryBound(to: UInt8.self),
            layout.zeroBytes, Int32(layout.inputCount), Int32(layout.groupSize), codes, scales, corrections,
            Int32(inputRows), y, Int32(layout.outputCount), Int32(rows.lowerBound), Int32(rows.upperBound))
    }

    /// The same sum by scalar loops over the unpacked codes: the reference for tests.
    static func referenceMultiplyVector(
        _ weights: PackedPointers, codes: UnsafePointer<Int8>, scales: UnsafePointer<Float>,
        y: UnsafeMutablePointer<Float>, rows: Range<Int>
    ) {
        let layout = weights.layout
        for r in rows {
            var total: Float = 0
            let row = weights.codeRow(r).assumingMemoryBound(to: UInt8.self)
            for group in 0..<layout.groups {
                var groupSum: Float = 0
                let zero = Int(weights.zero(r, group))
                let start = group * layout.groupSize
                let end = min(start + layout.groupSize, layout.inputCount)
                for block in (start / blockSize)..<(end / blockSize) {
                    var dot = 0
                    for i in 0..<blockSize {
                        let column = block * blockSize + i
                        let position = layout.bits == 4 ? (i & 1) * 16 + (i >> 1) : i
                        let activation = Int(codes[block * blockSize + position])
                        dot += (Int(PackedLayout.code(at: column, in: row, bits: layout.bits)) - zero) * activation
                    }
                    groupSum += scales[block] * Float(dot)
                }
                total += weights.scale(r, group) * groupSum
            }
            y[r] = total
        }
    }
}
