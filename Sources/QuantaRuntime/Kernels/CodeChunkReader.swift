/// Reads the codes of 8 consecutive columns (one "chunk", columns 8k…8k+7) of a packed row
/// as 32-bit lanes, with one small load, a lane-wise variable shift (`vpsrlvd`) and a mask.
///
/// The shift counts come in as `shifts` (`(0…7) · bits`, computed at run time by the
/// caller): with literal constants LLVM scalarizes the splat-and-shift into per-lane scalar
/// shifts and inserts (measured: int4 GEMV 166 µs on 576×1536 vs about 3× faster with one
/// `vpsrlvd`). Every width
/// of docs/packed-weights.md packs 8 codes into whole bytes (8, 4, 3 or 2 bytes), so chunk
/// `k` starts at byte `k · bits`.
///
/// Provenance: the idea of widening packed nibbles with a broadcast + per-lane shift + mask
/// instead of byte shuffles follows the AVX2 unpacking of ggml-quants (llama.cpp's
/// `bytes_from_nibbles_32`), adapted to 32-bit float lanes.
protocol CodeChunkReader {
    /// Bits per code.
    static var bits: Int { get }
    /// Codes `8k … 8k+7` of the row at `row`; reads only bytes `k·bits ..< (k+1)·bits`.
    /// `shifts` must be `chunkShifts(bits:)`.
    static func chunk(_ row: UnsafeRawPointer, _ k: Int, _ shifts: SIMD8<UInt32>) -> SIMD8<UInt32>
}

/// 8-bit codes: one byte each.
enum Int8Chunks: CodeChunkReader {
    static var bits: Int { 8 }
    @inline(__always)
    static func chunk(_ row: UnsafeRawPointer, _ k: Int, _ shifts: SIMD8<UInt32>) -> SIMD8<UInt32> {
        // One zero-extending load (vpmovzxbd); no shifts needed.
        SIMD8<UInt32>(truncatingIfNeeded: row.loadUnaligned(fromByteOffset: 8 &* k, as: SIMD8<UInt8>.self))
    }
}

/// 4-bit codes: the little-endian 32-bit word of bytes 4k…4k+3 holds code 8k+j in bits 4j…4j+3.
enum Int4Chunks: CodeChunkReader {
    static var bits: Int { 4 }
    @inline(__always)
    static func chunk(_ row: UnsafeRawPointer, _ k: Int, _ shifts: SIMD8<UInt32>) -> SIMD8<UInt32> {
        let word = row.loadUnaligned(fromByteOffset: 4 &* k, as: UInt32.self)
        return (SIMD8(repeating: word) &>> shifts) & 0x0F
    }
}

/// 3-bit codes: the 24-bit word of bytes 3k…3k+2 holds code 8k+j in bits 3j…3j+2.
enum Int3Chunks: CodeChunkReader {
    static var bits: Int { 3 }
    @inline(__always)
    static func chunk(_ row: UnsafeRawPointer, _ k: Int, _ shifts: SIMD8<UInt32>) -> SIMD8<UInt32> {
        let offset = 3 &* k
        let word = UInt32(row.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            | UInt32(row.load(fromByteOffset: offset &+ 2, as: UInt8.self)) << 16
        return (SIMD8(repeating: word) &>> shifts) & 0x07
    }
}

/// 2-bit codes: the 16-bit word of bytes 2k…2k+1 holds code 8k+j in bits 2j…2j+1.
enum Int2Chunks: CodeChunkReader {
    static var bits: Int { 2 }
    @inline(__always)
    static func chunk(_ row: UnsafeRawPointer, _ k: Int, _ shifts: SIMD8<UInt32>) -> SIMD8<UInt32> {
        let word = UInt32(row.loadUnaligned(fromByteOffset: 2 &* k, as: UInt16.self))
        return (SIMD8(repeating: word) &>> shifts) & 0x03
    }
}

/// The lane shifts `(0, 1, …, 7) · bits` for `CodeChunkReader.chunk`, from a run-time
/// `bits` and behind a call LLVM cannot look into, so that it keeps them as one opaque
/// register operand of `vpsrlvd` (see `CodeChunkReader`): inlined, it still proves lane 0
/// shifts by 0 and splits the shift into per-lane pieces.
@inline(never)
func chunkShifts(bits: Int) -> SIMD8<UInt32> {
    SIMD8<UInt32>(0, 1, 2, 3, 4, 5, 6, 7) &* UInt32(truncatingIfNeeded: bits)
}

/// Exact small-integer to float conversion without a SIMD int→float call (Swift's generic
/// vector conversions are outlined calls): OR-ing an integer `v < 2^23` into the mantissa of
/// 2^23 gives the float `2^23 + v` exactly, and subtracting `2^23 + zero` leaves `v − zero`
/// exactly. So `codeMinusZero` equals `Float(code) - Float(zero)` bit for bit.
@inline(__always)
func codeMinusZero(_ codes: SIMD8<UInt32>, offset: SIMD8<Float>) -> SIMD8<Float> {
    unsafeBitCast(codes | SIMD8(repeating: 0x4B00_0000), to: SIMD8<Float>.self) - offset
}

/// The float `2^23 + zero` that `codeMinusZero` subtracts, in every lane.
@inline(__always)
func magicOffset(zero: UInt8) -> SIMD8<Float> {
    SIMD8(repeating: 8_388_608 + Float(zero))
}
