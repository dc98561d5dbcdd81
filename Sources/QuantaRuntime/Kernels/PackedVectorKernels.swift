/// Base addresses of a packed weight's components during one `apply`, shared by the
/// `parallelFor` chunks. Created only inside the `withUnsafeBytes` scopes of the operator's
/// `TensorStorage`s, which outlive every chunk (`parallelFor` returns when all are done);
/// hence `@unchecked Sendable`.
struct PackedPointers: @unchecked Sendable {
    let codes: UnsafeRawPointer
    let scales: UnsafeRawPointer
    let zeros: UnsafeRawPointer
    let layout: PackedLayout

    /// Packed codes of weight row `row`.
    @inline(__always) func codeRow(_ row: Int) -> UnsafeRawPointer { codes + row &* layout.rowBytes }
    /// Packed zero points of weight row `row`.
    @inline(__always) func zeroRow(_ row: Int) -> UnsafePointer<UInt8> {
        (zeros + row &* layout.zeroBytes).assumingMemoryBound(to: UInt8.self)
    }
    /// Scale of group `group` in row `row`, widened from f16 (read unaligned: the buffer may
    /// be borrowed from a file at any offset).
    @inline(__always) func scale(_ row: Int, _ group: Int) -> Float {
        let bits = scales.loadUnaligned(fromByteOffset: 2 &* (row &* layout.groups &+ group), as: UInt16.self)
        return Float(Float16(bitPattern: bits))
    }
    /// Zero point of group `group` in row `row`.
    @inline(__always) func zero(_ row: Int, _ group: Int) -> UInt8 {
        PackedLayout.code(at: group, in: zeroRow(row), bits: layout.bits)
    }
}

/// The fast packed kernels. Each works on 8-column chunks (`CodeChunkReader`), so every
/// group must start at a multiple of 8 (`groupSize % 8 == 0`, or a single group); callers
/// check `PackedKernels.chunkAligned` and use the scalar reference otherwise.
enum PackedKernels {
    /// Whether every group starts on an 8-column chunk.
    static func chunkAligned(_ layout: PackedLayout) -> Bool {
        layout.groupSize % 8 == 0 || layout.groups == 1
    }

    /// Decode GEMV: `y[r] = Σ_c w[r, c] · x[c]` for the weight rows in `rows`.
    ///
    /// Per group the kernel accumulates `Σ (code − zero) · x` in vector lanes with the codes
    /// unpacked on the fly (never stored) and multiplies by the group's scale once, as
    /// ggml-quants' `vec_dot_q4_0` does per block; four independent accumulators cover the
    /// fused multiply-add latency.
    static func multiplyVector<Reader: CodeChunkReader>(
        _ reader: Reader.Type, _ weights: PackedPointers, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
        rows: Range<Int>
    ) {
        let layout = weights.layout
        let n = layout.inputCount
        let g = layout.groupSize
        let xRaw = UnsafeRawPointer(x)
        let shifts = chunkShifts(bits: layout.bits)
        for r in rows {
            let row = weights.codeRow(r)
            var total = SIMD8<Float>()
            var tailTotal: Float = 0
            var start = 0
            var group = 0
            while start < n {
                let end = min(start &+ g, n)
                let zero = weights.zero(r, group)
                let offset = magicOffset(zero: zero)
                var a0 = SIMD8<Float>()
                var a1 = SIMD8<Float>()
                var a2 = SIMD8<Float>()
                var a3 = SIMD8<Float>()
                var k = start >> 3
                let kEnd = end >> 3
                while k &+ 4 <= kEnd {
                    let byte = k &* 32
                    a0.addProduct(codeMinusZero(Reader.chunk(row, k, shifts), offset: offset),
                                  xRaw.loadUnaligned(fromByteOffset: byte, as: SIMD8<Float>.self))
                    a1.addProduct(codeMinusZero(Reader.chunk(row, k &+ 1, shifts), offset: offset),
                                  xRaw.loadUnaligned(fromByteOffset: byte &+ 32, as: SIMD8<Float>.self))
                    a2.addProduct(codeMinusZero(Reader.chunk(row, k &+ 2, shifts), offset: offset),
                                  xRaw.loadUnaligned(fromByteOffset: byte &+ 64, as: SIMD8<Float>.self))
                    a3.addProduct(codeMinusZero(Reader.chunk(row, k &+ 3, shifts), offset: offset),
                                  xRaw.loadUnaligned(fromByteOffset: byte &+ 96, as: SIMD8<Float>.self))
                    k &+= 4
                }
                while k < kEnd {
                    a0.addProduct(codeMinusZero(Reader.chunk(row, k, shifts), offset: offset),
                                  xRaw.loadUnaligned(fromByteOffset: k &* 32, as: SIMD8<Float>.self))
                    k &+= 1
                }
                let scale = weights.scale(r, group)
                total.addProduct((a0 + a1) + (a2 + a3), SIMD8(repeating: scale))
                if end & 7 != 0 {
                    // The narrower last group's last columns (fewer than 8): scalar, so no load
                    // reads past the row.
                    let codes = row.assumingMemoryBound(to: UInt8.self)
                    var partial: Float = 0
                    for c in (kEnd << 3)..<end {
                        partial += (Float(PackedLayout.code(at: c, in: codes, bits: Reader.bits)) - Float(zero)) * x[c]
                    }
                    tailTotal += scale * partial
                }
                start = end
                group &+= 1
            }
            y[r] = total.sum() + tailTotal
        }
    }

    /// Dequantizes weight rows `rows` into `destination` (row `r` at
    /// `destination + (r − rows.lowerBound) · inputCount`), bit-identical to the reference
    /// `Float(scale) * (Float(code) - Float(zero))`.
    static func dequantizeRows<Reader: CodeChunkReader>(
        _ reader: Reader.Type, _ weights: PackedPointers, rows: Range<Int>, into destination: UnsafeMutablePointer<Float>
    ) {
        let layout = weights.layout
        let n = layout.inputCount
        let g = layout.groupSize
        let shifts = chunkShifts(bits: layout.bits)
        for r in rows {
            let row = weights.codeRow(r)
            let target = destination + (r &- rows.lowerBound) &* n
            let targetRaw = UnsafeMutableRawPointer(target)
            var start = 0
            var group = 0
            while start < n {
                let end = min(start &+ g, n)
                let zero = weights.zero(r, group)
                let offset = magicOffset(zero: zero)
                let scale = weights.scale(r, group)
                let scales = SIMD8<Float>(repeating: scale)
                var k = start >> 3
                let kEnd = end >> 3
                while k < kEnd {
                    targetRaw.storeBytes(
                        of: codeMinusZero(Reader.chunk(row, k, shifts), offset: offset) * scales, toByteOffset: k &* 32,
                        as: SIMD8<Float>.self)
                    k &+= 1
                }
                if end & 7 != 0 {
                    let codes = row.assumingMemoryBound(to: UInt8.self)
                    for c in (kEnd << 3)..<end {
                        target[c] = scale * (Float(PackedLayout.code(at: c, in: codes, bits: Reader.bits)) - Float(zero))
                    }
                }
                start = end
                group &+= 1
            }
        }
    }
}
