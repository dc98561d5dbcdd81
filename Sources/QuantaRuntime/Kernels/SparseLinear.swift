import QuantaFormats
import QuantaModel
import QuantaTensor

/// A linear layer over 2:4 sparse weights (`SparseWeights`, docs/packed-weights.md "2:4
/// sparse"): only the kept half of the weights is stored and multiplied. Kept values are
/// f32, f16 or 4-bit codes (`scale · (code − zero)` per group, the packed layout's rule);
/// other packed widths, and shapes the fast path does not cover (an input count that is not
/// a multiple of 8, a value group that is not a multiple of 4), are dequantized to f32 kept
/// values at load and run the same kernels.
///
/// Decoding (fewer than 4 rows) runs a GEMV per row: the input is first laid out as a pair
/// table (for each group of 4 inputs, the two inputs of each of the 6 possible kept pairs
/// side by side), so each metadata byte — the positions of 4 kept values covering 8 inputs —
/// selects two 8-byte pairs to multiply with the 4 values (2 multiply-adds per 4 inputs
/// instead of 4). Prefill transposes the input once
/// in tiles of 32 tokens and, per tile and output row, accumulates each kept value times its
/// input column in registers: again half the multiply-adds of the dense product.
public struct SparseLinear: LinearOperator {
    enum Values: @unchecked Sendable {
        case float32(TensorStorage)
        case float16(TensorStorage)
        /// Codes `[out, rowBytes]`, with scales and zero points widened to f32 `[out, groups]`
        /// and kept values per group.
        case int4(codes: TensorStorage, rowBytes: Int, scales: [Float], zeros: [Float], groups: Int, groupOfChunk: [Int32])
    }

    public let inputCount: Int
    public let outputCount: Int
    let values: Values
    /// `[out, ceil(in/8)]` 2-bit positions.
    let metadata: TensorStorage
    public let bias: [Float]?
    public let context: ComputeContext
    /// Inputs with fewer rows than this run the GEMV once per row.
    public static let vectorRowLimit = 4

    /// The kind of kept value the kernels read: `f32`, `f16` or `int4`.
    public var valueKind: String {
        switch values {
        case .float32: "f32"
        case .float16: "f16"
        case .int4: "int4"
        }
    }

    public init(weights: SparseWeights, bias: [Float]? = nil, context: ComputeContext = .serial(), name: String = "linear")
        throws(RuntimeError)
    {
        if let bias, bias.count != weights.outputCount {
            throw .invalidPackedWeight(name: name, detail: "bias has \(bias.count) values, expected \(weights.outputCount)")
        }
        inputCount = weights.inputCount
        outputCount = weights.outputCount
        metadata = weights.metadata.storage
        self.bias = bias
        self.context = context
        let aligned = weights.inputCount % 8 == 0
        switch weights.values {
        case .float(let tensor) where aligned:
            values = tensor.dtype == .float16 ? .float16(tensor.storage) : .float32(tensor.storage)
        case .packed(let packed) where aligned && packed.bits == 4 && packed.groupSize % 4 == 0:
            values = .int4(
                codes: packed.codes.storage, rowBytes: packed.rowByteCount, scales: packed.scaleValues(),
                zeros: packed.unpackedZeroPoints().map(Float.init), groups: packed.groupCount,
                groupOfChunk: (0..<(weights.keptCount / 4)).map { Int32(4 * $0 / packed.groupSize) })
        default:
            // Anything else: f32 kept values (still half the multiply-adds), padded so the
            // kernels' chunks of 8 inputs cover the row.
            guard aligned else {
                throw .invalidPackedWeight(name: name, detail: "2:4 kernels need an input count divisible by 8, got \(weights.inputCount)")
            }
            values = .float32(TensorStorage(array: weights.keptValues()))
        }
    }

    public func apply(input: UnsafePointer<Float>, rows: Int, output: UnsafeMutablePointer<Float>) {
        guard rows > 0 else { return }
        let kept = inputCount / 2
        // Each case calls the generic `compute` with a concrete reader, so it is specialized.
        switch values {
        case .float32(let storage):
            storage.withUnsafeBytes {
                compute(Float32Values(base: $0.baseAddress!.assumingMemoryBound(to: Float.self), keptCount: kept),
                        input: input, rows: rows, output: output)
            }
        case .float16(let storage):
            storage.withUnsafeBytes {
                compute(Float16Values(base: $0.baseAddress!.assumingMemoryBound(to: UInt16.self), keptCount: kept),
                        input: input, rows: rows, output: output)
            }
        case .int4(let codes, let rowBytes, let scales, let zeros, let groups, let groupOfChunk):
            codes.withUnsafeBytes { codeBytes in
                scales.withUnsafeBufferPointer { scaleBuffer in
                    zeros.withUnsafeBufferPointer { zeroBuffer in
                        groupOfChunk.withUnsafeBufferPointer { table in
                            compute(
                                Int4Values(
                                    codes: codeBytes.baseAddress!.assumingMemoryBound(to: UInt8.self), rowBytes: rowBytes,
                                    scales: scaleBuffer.baseAddress!, zeros: zeroBuffer.baseAddress!, groups: groups,
                                    groupOfChunk: table.baseAddress!),
                                input: input, rows: rows, output: output)
                        }
                    }
                }
            }
        }
        if let bias {
            for row in 0..<rows {
                let target = output + row * outputCount
                for column in 0..<outputCount { target[column] += bias[column] }
            }
        }
    }

    private func compute<Reader: SparseValueReader>(
        _ reader: Reader, input: UnsafePointer<Float>, rows: Int, output: UnsafeMutablePointer<Float>
    ) {
        metadata.withUnsafeBytes { meta in
            if rows < Self.vectorRowLimit {
                for row in 0..<rows {
                    multiplyVector(reader, meta: meta, x: input + row * inputCount, y: output + row * outputCount)
                }
            } else {
                multiplyMatrix(reader, meta: meta, x: input, rows: rows, output: output)
            }
        }
    }

    private func multiplyVector<Reader: SparseValueReader>(
        _ reader: Reader, meta: UnsafeRawBufferPointer, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>
    ) {
        // The pair table: for group g of 4 inputs and each valid metadata nibble
        // `i0 | i1 << 2`, the inputs (x[4g+i0], x[4g+i1]) side by side at [16g + nibble].
        let groups = inputCount / 4
        let pairs = UnsafeMutablePointer<SIMD2<Float>>.allocate(capacity: 16 * groups)
        defer { pairs.deallocate() }
        for group in 0..<groups {
            let base = x + 4 * group
            for (first, second) in SparseKernels.validPairs {
                pairs[16 * group + first | second << 2] = SIMD2(base[first], base[second])
            }
        }
        let pointers = SparsePointers(
            meta: meta.baseAddress!.assumingMemoryBound(to: UInt8.self),
            x: UnsafeRawPointer(pairs).assumingMemoryBound(to: Float.self), y: y)
        let chunks = inputCount / 8
        context.parallelFor(0..<outputCount) { rows in
            SparseKernels.multiplyVector(reader, pointers, chunks: chunks, rows: rows)
        }
    }

    private func multiplyMatrix<Reader: SparseValueReader>(
        _ reader: Reader, meta: UnsafeRawBufferPointer, x: UnsafePointer<Float>, rows: Int,
        output: UnsafeMutablePointer<Float>
    ) {
        let n = inputCount
        // x in tiles of `tokenTile` tokens, each `[in × tokenTile]` (a column's tokens
        // contiguous), the last one padded with zeros: one tile (72 KB for 576 inputs) stays
        // in cache while every output row reads it.
        let tile = SparseKernels.tokenTile
        let tiles = (rows + tile - 1) / tile
        let tiled = UnsafeMutablePointer<Float>.allocate(capacity: tiles * n * tile)
        defer { tiled.deallocate() }
        tiled.initialize(repeating: 0, count: tiles * n * tile)
        for token in 0..<rows {
            let target = tiled + (token / tile) * n * tile + token % tile
            let source = x + token * n
            for column in 0..<n { target[column * tile] = source[column] }
        }
        let pointers = SparsePointers(
            meta: meta.baseAddress!.assumingMemoryBound(to: UInt8.self), x: UnsafePointer(tiled), y: output)
        let chunks = n / 8
        let outputs = outputCount
        context.parallelFor(0..<outputCount) { outputRows in
            SparseKernels.multiplyMatrix(reader, pointers, chunks: chunks, tokens: rows, outputCount: outputs, rows: outputRows)
        }
    }
}

/// Addresses shared by one `apply`'s parallel chunks (which write disjoint outputs).
struct SparsePointers: @unchecked Sendable {
    let meta: UnsafePointer<UInt8>
    let x: UnsafePointer<Float>
    let y: UnsafeMutablePointer<Float>
}

/// The kept values of 2:4 rows, four at a time (one metadata byte's worth).
protocol SparseValueReader: Sendable {
    /// Kept values `4·chunk … 4·chunk+3` of `row`.
    func values(row: Int, chunk: Int) -> SIMD4<Float>
}

struct Float32Values: SparseValueReader, @unchecked Sendable {
    let base: UnsafePointer<Float>
    let keptCount: Int
    @inline(__always) func values(row: Int, chunk: Int) -> SIMD4<Float> {
        UnsafeRawPointer(base + row * keptCount + 4 * chunk).loadUnaligned(as: SIMD4<Float>.self)
    }
}

struct Float16Values: SparseValueReader, @unchecked Sendable {
    let base: UnsafePointer<UInt16>
    let keptCount: Int
    @inline(__always) func values(row: Int, chunk: Int) -> SIMD4<Float> {
        let bits = UnsafeRawPointer(base + row * keptCount + 4 * chunk).loadUnaligned(as: SIMD4<UInt16>.self)
        return SIMD4<Float>(
            Float(Float16(bitPattern: bits[0])), Float(Float16(bitPattern: bits[1])),
            Float(Float16(bitPattern: bits[2])), Float(Float16(bitPattern: bits[3])))
    }
}

struct Int4Values: SparseValueReader, @unchecked Sendable {
    let codes: UnsafePointer<UInt8>
    let rowBytes: Int
    let scales: UnsafePointer<Float>
    let zeros: UnsafePointer<Float>
    let groups: Int
    /// The group of each chunk of 4 kept values (groups hold a multiple of 4 kept values, so
    /// a chunk never straddles two); a table, so the kernel does no division.
    let groupOfChunk: UnsafePointer<Int32>
    @inline(__always) func values(row: Int, chunk: Int) -> SIMD4<Float> {
        let word = Int32(UnsafeRawPointer(codes + row * rowBytes + 2 * chunk).loadUnaligned(as: UInt16.self).littleEndian)
        let code = SIMD4<Float>((SIMD4<Int32>(repeating: word) &>> SIMD4<Int32>(0, 4, 8, 12)) & 15)
        let group = row * groups + Int(groupOfChunk[chunk])
        // scale · (code − zero) per value, the packed layout's operation order.
        return scales[group] * (code - zeros[group])
    }
}

enum SparseKernels {
    /// The input offsets (within a chunk of 8) of the 4 kept values a metadata byte holds.
    @inline(__always) static func offsets(_ byte: UInt8) -> (Int, Int, Int, Int) {
        (Int(byte & 3), Int((byte >> 2) & 3), 4 + Int((byte >> 4) & 3), 4 + Int(byte >> 6))
    }

    /// The 6 position pairs a group of 4 can keep.
    static let validPairs = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]

    /// `y[row] = Σ kept values · x[positions]` for `rows`, with `pointers.x` the pair table
    /// of `multiplyVector` (one 8-byte load per kept pair).
    static func multiplyVector<Reader: SparseValueReader>(
        _ reader: Reader, _ pointers: SparsePointers, chunks: Int, rows: Range<Int>
    ) {
        let pairs = UnsafeRawPointer(pointers.x).assumingMemoryBound(to: SIMD2<Float>.self)
        for row in rows {
            let meta = pointers.meta + row * chunks
            var first = SIMD4<Float>()
            var second = SIMD4<Float>()
            var chunk = 0
            while chunk + 1 < chunks {
                let byte = meta[chunk]
                let next = meta[chunk + 1]
                let table = pairs + 32 * chunk
                first.addProduct(
                    reader.values(row: row, chunk: chunk),
                    SIMD4(lowHalf: table[Int(byte & 15)], highHalf: table[16 + Int(byte >> 4)]))
                second.addProduct(
                    reader.values(row: row, chunk: chunk + 1),
                    SIMD4(lowHalf: table[32 + Int(next & 15)], highHalf: table[48 + Int(next >> 4)]))
                chunk += 2
            }
            if chunk < chunks {
                let byte = meta[chunk]
                let table = pairs + 32 * chunk
                first.addProduct(
                    reader.values(row: row, chunk: chunk),
                    SIMD4(lowHalf: table[Int(byte & 15)], highHalf: table[16 + Int(byte >> 4)]))
            }
            pointers.y[row] = (first + second).sum()
        }
    }

    /// Tokens per register tile of the GEMM (4 × SIMD8 accumulators).
    static let tokenTile = 32

    /// `y[t, row] = Σ kept values · x[t, position]` for output `rows` and every token `t`, with
    /// `x` in tiles of `tokenTile` tokens (`[in × tokenTile]` each): per tile and row, the
    /// 32 sums accumulate in registers over all kept values of the row.
    static func multiplyMatrix<Reader: SparseValueReader>(
        _ reader: Reader, _ pointers: SparsePointers, chunks: Int, tokens: Int, outputCount: Int, rows: Range<Int>
    ) {
        let tile = tokenTile
        let inputCount = 8 * chunks
        for tileIndex in 0..<((tokens + tile - 1) / tile) {
            let start = tileIndex * tile
            let valid = min(tile, tokens - start)
            let tileBase = pointers.x + tileIndex * inputCount * tile
            for row in rows {
                let meta = pointers.meta + row * chunks
                var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
                for chunk in 0..<chunks {
                    let (p0, p1, p2, p3) = offsets(meta[chunk])
                    let values = reader.values(row: row, chunk: chunk)
                    let base = tileBase + 8 * chunk * tile
                    @inline(__always) func add(_ value: Float, _ position: Int) {
                        let column = UnsafeRawPointer(base + position * tile)
                        let scale = SIMD8<Float>(repeating: value)
                        a0.addProduct(scale, column.loadUnaligned(as: SIMD8<Float>.self))
                        a1.addProduct(scale, column.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
                        a2.addProduct(scale, column.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
                        a3.addProduct(scale, column.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
                    }
                    add(values[0], p0)
                    add(values[1], p1)
                    add(values[2], p2)
                    add(values[3], p3)
                }
                let target = pointers.y + start * outputCount + row
                for lane in 0..<min(8, valid) { target[lane * outputCount] = a0[lane] }
                for lane in 8..<max(8, min(16, valid)) { target[lane * outputCount] = a1[lane - 8] }
                for lane in 16..<max(16, min(24, valid)) { target[lane * outputCount] = a2[lane - 16] }
                for lane in 24..<max(24, valid) { target[lane * outputCount] = a3[lane - 24] }
            }
        }
    }
}
