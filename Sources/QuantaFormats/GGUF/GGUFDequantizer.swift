import QuantaTensor

/// Scalar dequantizers of ggml block formats to float32, bit-exact with gguf-py
/// `gguf.quants.dequantize` (numpy float32 arithmetic in the same operation order, no fused
/// multiply-add) and with ggml-quants.c `dequantize_row_*`. Each kernel walks the blocks
/// over raw pointers; block layouts are given beside each kernel.
public enum GGUFDequantizer {
    /// Whether `type` can be dequantized here.
    public static func supports(_ type: GGMLType) -> Bool {
        switch type {
        case .f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q5_K, .q6_K: true
        default: false
        }
    }

    /// Dequantizes `destination.count` elements of `type` from `source`, which must hold
    /// exactly that many elements' blocks. Precondition: `supports(type)`.
    public static func dequantize(
        _ type: GGMLType, source: UnsafeRawBufferPointer, into destination: UnsafeMutableBufferPointer<Float>
    ) {
        let count = destination.count
        precondition(count % type.blockSize == 0, "element count \(count) is not whole \(type.name) blocks")
        let blockCount = count / type.blockSize
        precondition(source.count == blockCount * type.bytesPerBlock, "source size does not match the element count")
        guard count > 0, let input = source.baseAddress, let output = destination.baseAddress else { return }
        switch type {
        case .f32: UnsafeMutableRawPointer(output).copyMemory(from: input, byteCount: count * 4)
        case .f16: f16(input, output, count)
        case .bf16: bf16(input, output, count)
        case .q8_0: q8_0(input, output, blockCount)
        case .q4_0: q4_0(input, output, blockCount)
        case .q4_1: q4_1(input, output, blockCount)
        case .q5_0: q5_0(input, output, blockCount)
        case .q5_1: q5_1(input, output, blockCount)
        case .q4_K: q4_K(input, output, blockCount)
        case .q5_K: q5_K(input, output, blockCount)
        case .q6_K: q6_K(input, output, blockCount)
        default: preconditionFailure("\(type.name) cannot be dequantized; check supports(_:) first")
        }
    }

    @inline(__always)
    static func half(_ pointer: UnsafeRawPointer, _ offset: Int) -> Float {
        HalfPrecision.float(fromHalfBits: UInt16(littleEndian: pointer.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    @inline(__always)
    static func byte(_ pointer: UnsafeRawPointer, _ offset: Int) -> UInt8 {
        pointer.load(fromByteOffset: offset, as: UInt8.self)
    }

    /// IEEE half → float32 (gguf-py: `view(np.float16).astype(np.float32)`).
    static func f16(_ input: UnsafeRawPointer, _ output: UnsafeMutablePointer<Float>, _ count: Int) {
        for index in 0..<count { output[index] = half(input, 2 &* index) }
    }

    /// bfloat16 → float32 by shifting the bits up (gguf-py `BF16.dequantize_blocks`).
    static func bf16(_ input: UnsafeRawPointer, _ output: UnsafeMutablePointer<Float>, _ count: Int) {
        for index in 0..<count {
            let bits = UInt16(littleEndian: input.loadUnaligned(fromByteOffset: 2 &* index, as: UInt16.self))
            output[index] = Float(bitPattern: UInt32(bits) << 16)
        }
    }

    /// Q8_0, 34 bytes per 32: d (f16), qs (int8 × 32); y = q * d (ggml `dequantize_row_q8_0`).
    static func q8_0(_ input: UnsafeRawPointer, _ output: UnsafeMutablePointer<Float>, _ blockCount: Int) {
        for block in 0..<blockCount {
            let base = input + block &* 34
            let out = output + block &* 32
            let d = half(base, 0)
            for index in 0..<32 {
                out[index] = Float(Int8(bitPattern: byte(base, 2 &+ index))) * d
            }
        }
    }

    /// Q4_0, 18 bytes per 32: d (f16), qs (16 bytes: low nibbles are elements 0–15, high
    /// nibbles 16–31); y = d * (q - 8) (ggml `dequantize_row_q4_0`).
    static func q4_0(_ input: UnsafeRawPointer, _ output: UnsafeMutablePointer<Float>, _ blockCount: Int) {
        for block in 0..<blockCount {
            let base = input + block &* 18
            let out = output + block &* 32
            let d = half(base, 0)
            for index in 0..<16 {
                let packed = byte(base, 2 &+ index)
                out[index] = d * Float(Int32(packed & 0x0F) &- 8)
                out[index &+ 16] = d * Float(Int32(packed >> 4) &- 8)
            }
        }
    }

    /// Q4_1, 20 bytes per 32: d, m (f16), qs (16 bytes, nibbles as Q4_0); y = d * q + m
    /// (ggml `dequantize_row_q4_1`).
    static func q4_1(_ input: UnsafeRawPointer, _ output: UnsafeMutablePointer<Float>, _ blockCount: Int) {
        for block in 0..<blockCount {
            let base = input + block &* 20
            let out = output + block &* 32
            let d = half(base, 0)
            let m = half(base, 2)
            for index in 0..<16 {
                let packed = byte(base, 4 &+ index)
                out[index] = d * Float(packed & 0x0F) + m
                out[index &+ 16] = d * Float(packed >> 4) + m
            }
        }
    }

    /// Q5_0, 22 bytes per 32: d (f16), qh (u32: bit i is the fifth bit of element i), qs;
    /// y = d * (q - 16) (ggml `dequantize_row_q5_0`).
    static func q5_0(_ input: UnsafeRawPointer, _ output: UnsafeMutablePointer<Float>, _ blockCount: Int) {
        for block in 0..<blockCount {
            let base = input + block &* 22
            let out = output + block &* 32
            let d = half(base, 0)
            let high = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
            for index in 0..<16 {
                let packed = UInt32(byte(base, 6 &+ index))
                let low = (packed & 0x0F) | (((high >> UInt32(index)) & 1) << 4)
                let upper = (packed >> 4) | (((high >> UInt32(index &+ 16)) & 1) << 4)
                out[index] = d * Float(Int32(low) &- 16)
                out[index &+ 16] = d * Float(Int32(upper) &- 16)
            }
        }
    }

    /// Q5_1, 24 bytes per 32: d, m (f16), qh (u32), qs; y = d * q + m
    /// (ggml `dequantize_row_q5_1`).
    static func q5_1(_ input: UnsafeRawPointer, _ output: UnsafeMutablePointer<Float>, _ blockCount: Int) {
        for block in 0..<blockCount {
            let base = input + block &* 24
            let out = output + block &* 32
            let d = half(base, 0)
            let m = half(base, 2)
            let high = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            for index in 0..<16 {
                let packed = UInt32(byte(base, 8 &+ index))
                let low = (packed & 0x0F) | (((high >> UInt32(index)) & 1) << 4)
                let upper = (packed >> 4) | (((high >> UInt32(index &+ 16)) & 1) << 4)
                out[index] = d * Float(low) + m
                out[index &+ 16] = d * Float(upper) + m
            }
        }
    }

    /// The eight 6-bit scales and mins of a Q4_K/Q5_K block's 12 scale bytes
    /// (ggml `get_scale_min_k4`, gguf-py `Q4_K.get_scale_min`).
    @inline(__always)
    static func scaleAndMin(_ scales: UnsafeRawPointer, _ subBlock: Int) -> (scale: UInt8, minimum: UInt8) {
        if subBlock < 4 {
            return (byte(scales, subBlock) & 63, byte(scales, subBlock &+ 4) & 63)
        }
        let scale = (byte(scales, subBlock &+ 4) & 0x0F) | ((byte(scales, subBlock &- 4) >> 6) << 4)
        let minimum = (byte(scales, subBlock &+ 4) >> 4) | ((byte(scales, subBlock) >> 6) << 4)
        return (scale, minimum)
    }

    /// Q4_K, 144 bytes per 256: d, dmin (f16), 12 scale bytes, qs (128 bytes; sub-block s
    /// of 32 uses nibble s % 2 of bytes 32·(s/2) …); y = (d·sc) * q − (dmin·m)
    /// (ggml `dequantize_row_q4_K`, gguf-py `Q4_K.dequantize_blocks`).
    static func q4_K(_ input: UnsafeRawPointer, _ output: UnsafeMutablePointer<Float>, _ blockCount: Int) {
        kQuants(input, output, blockCount, blockBytes: 144, highBitsOffset: nil, quantsOffset: 16)
    }

    /// Q5_K, 176 bytes per 256: d, dmin (f16), 12 scale bytes, qh (32 bytes: bit s of byte l
    /// is the fifth bit of element l of sub-block s), qs (128 bytes as Q4_K);
    /// y = (d·sc) * q − (dmin·m) (ggml `dequantize_row_q5_K`, gguf-py `Q5_K`).
    static func q5_K(_ input: UnsafeRawPointer, _ output: UnsafeMutablePointer<Float>, _ blockCount: Int) {
        kQuants(input, output, blockCount, blockBytes: 176, highBitsOffset: 16, quantsOffset: 48)
    }

    /// The shared Q4_K/Q5_K layout: eight sub-blocks of 32 with 6-bit scales and mins, 4-bit
    /// nibbles, and for Q5_K a plane of fifth bits.
    @inline(__always)
    private static func kQuants(
        _ input: UnsafeRawPointer, _ output: UnsafeMutablePointer<Float>, _ blockCount: Int,
        blockBytes: Int, highBitsOffset: Int?, quantsOffset: Int
    ) {
        for block in 0..<blockCount {
            let base = input + block &* blockBytes
            let out = output + block &* 256
            let d = half(base, 0)
            let dmin = half(base, 2)
            let quants = base + quantsOffset
            for subBlock in 0..<8 {
                let (scale, minimum) = scaleAndMin(base + 4, subBlock)
                let dl = d * Float(scale)
                let ml = dmin * Float(minimum)
                let shift = UInt8(4 &* (subBlock & 1))
                let bytes = quants + 32 &* (subBlock >> 1)
                let target = out + 32 &* subBlock
                for index in 0..<32 {
                    var value = (byte(bytes, index) >> shift) & 0x0F
                    if let highBitsOffset {
                        value |= ((byte(base + highBitsOffset, index) >> UInt8(subBlock)) & 1) << 4
                    }
                    target[index] = dl * Float(value) - ml
                }
            }
        }
    }

    /// Q6_K, 210 bytes per 256: ql (128), qh (64), 16 int8 scales, d (f16). Element i of
    /// half h = i / 128 (r = i % 128) has low bits from nibble r / 64 of ql[64h + r % 64] and
    /// high bits from bit pair r / 32 of qh[32h + r % 32]; y = (d·scale[i / 16]) * (q − 32)
    /// (ggml `dequantize_row_q6_K`, gguf-py `Q6_K.dequantize_blocks`).
    static func q6_K(_ input: UnsafeRawPointer, _ output: UnsafeMutablePointer<Float>, _ blockCount: Int) {
        for block in 0..<blockCount {
            let base = input + block &* 210
            let out = output + block &* 256
            let d = half(base, 208)
            for group in 0..<16 {
                let dl = d * Float(Int8(bitPattern: byte(base, 192 &+ group)))
                for offset in 0..<16 {
                    let element = group &* 16 &+ offset
                    let halfIndex = element >> 7
                    let remainder = element & 127
                    let low = (byte(base, 64 &* halfIndex &+ (remainder & 63)) >> UInt8(4 &* (remainder >> 6))) & 0x0F
                    let high = (byte(base, 128 &+ 32 &* halfIndex &+ (remainder & 31)) >> UInt8(2 &* (remainder >> 5))) & 3
                    out[element] = dl * Float(Int32(low | (high << 4)) &- 32)
                }
            }
        }
    }
}
