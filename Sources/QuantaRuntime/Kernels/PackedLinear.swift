import QuantaModel
import QuantaTensor

/// A linear layer over packed integer weights (docs/packed-weights.md): 2-, 3-, 4- or 8-bit
/// codes per row, an f16 scale and a packed integer zero point per group, an optional input
/// permutation (act-order) and an optional f32 bias. The weight stays packed: decoding
/// (`rows == 1`, and up to `vectorRowLimit − 1` rows) unpacks codes on the fly inside the
/// GEMV, prefill dequantizes tiles of `tileRows` output rows into a scratch buffer and hands
/// each tile to `sgemm`.
///
/// The component buffers are `TensorStorage`s, possibly borrowed from a memory-mapped
/// container; the operator keeps them (and so their owner) alive.
public struct PackedLinear: LinearOperator {
    /// Bits, group size and shape.
    public let layout: PackedLayout
    /// `[outputCount, rowBytes]` packed codes.
    public let codes: TensorStorage
    /// `[outputCount, groups]` f16 scales.
    public let scales: TensorStorage
    /// `[outputCount, zeroBytes]` packed zero points.
    public let zeros: TensorStorage
    /// When present, the operator computes `W · x[inputPermutation]`.
    public let inputPermutation: [Int32]?
    /// One value per output, or `nil`.
    public let bias: [Float]?
    /// Threads for the GEMV and for tile dequantization (`sgemm` uses OpenBLAS's own setting).
    public let context: ComputeContext
    /// Output rows dequantized per `sgemm` call in the prefill path.
    public let tileRows: Int
    /// Activations: f32 (exact, default) or int8 (`ActivationPrecision`) where
    /// `Int8Activations.supports(layout)`, then for every row (one integer GEMV per row).
    public var activationPrecision: ActivationPrecision = .float
    /// Inputs with fewer rows than this run the GEMV once per row instead of tiles + `sgemm`.
    public static let vectorRowLimit = 4

    public var inputCount: Int { layout.inputCount }
    public var outputCount: Int { layout.outputCount }
    /// Bits per code.
    public var bits: Int { layout.bits }
    /// Columns per group.
    public var groupSize: Int { layout.groupSize }

    /// A packed linear; validates every buffer size against the layout, the permutation
    /// (each column exactly once) and the bias length, throwing `invalidPackedWeight` with
    /// `name` on the first mismatch. Nothing is dequantized here.
    public init(
        bits: Int, groupSize: Int, inputCount: Int, outputCount: Int,
        codes: TensorStorage, scales: TensorStorage, zeros: TensorStorage,
        inputPermutation: [Int32]? = nil, bias: [Float]? = nil,
        context: ComputeContext = .serial(), name: String = "linear"
    ) throws(RuntimeError) {
        let layout = try PackedLayout(
            bits: bits, groupSize: groupSize, inputCount: inputCount, outputCount: outputCount, name: name)
        guard inputCount <= Int(Int32.max), outputCount <= Int(Int32.max) else {
            throw .invalidPackedWeight(name: name, detail: "\(outputCount) × \(inputCount) exceeds BLAS's 32-bit limit")
        }
        let expected = [("codes", codes, layout.codeByteCount), ("scales", scales, layout.scaleByteCount),
                        ("zeros", zeros, layout.zeroByteCount)]
        for (role, storage, byteCount) in expected where storage.bytes.count != byteCount {
            throw .invalidPackedWeight(
                name: name,
                detail: "\(role) holds \(storage.bytes.count) bytes but \(bits)-bit \(outputCount) × \(inputCount) "
                    + "with group size \(groupSize) needs \(byteCount)")
        }
        if let inputPermutation {
            guard inputPermutation.count == inputCount else {
                throw .invalidPackedWeight(
                    name: name, detail: "input_permutation has \(inputPermutation.count) entries, expected \(inputCount)")
            }
            var seen = [Bool](repeating: false, count: inputCount)
            for (position, column) in inputPermutation.enumerated() {
                guard column >= 0, Int(column) < inputCount, !seen[Int(column)] else {
                    throw .invalidPackedWeight(
                        name: name,
                        detail: "input_permutation[\(position)] = \(column) is out of range or repeated; it must list 0..<\(inputCount) once each")
                }
                seen[Int(column)] = true
            }
        }
        if let bias, bias.count != outputCount {
            throw .invalidPackedWeight(name: name, detail: "bias has \(bias.count) values, expected \(outputCount)")
        }
        self.layout = layout
        self.codes = codes
        self.scales = scales
        self.zeros = zeros
        self.inputPermutation = inputPermutation
        self.bias = bias
        self.context = context
        // About 512 KiB of f32 per tile (inside L2), between 16 and 256 rows.
        self.tileRows = max(16, min(256, (1 << 17) / inputCount))
    }

    public func apply(input: UnsafePointer<Float>, rows: Int, output: UnsafeMutablePointer<Float>) {
        guard rows > 0 else { return }
        withPointers { weights in
            withPermutedInput(input, rows: rows) { x in
                if activationPrecision == .int8 && Int8Activations.supports(layout) {
                    // Every row (prefill too), so a model computes the same numbers however its
                    // tokens are batched.
                    if rows < Self.vectorRowLimit {
                        for row in 0..<rows {
                            multiplyVectorInt8(weights, x: x + row * inputCount, y: output + row * outputCount, reference: false)
                        }
                    } else {
                        multiplyMatrixInt8(weights, x: x, rows: rows, output: output)
                    }
                } else if rows < Self.vectorRowLimit || !PackedKernels.chunkAligned(layout) {
                    for row in 0..<rows {
                        multiplyVector(weights, x: x + row * inputCount, y: output + row * outputCount)
                    }
                } else {
                    multiplyMatrix(weights, x: x, rows: rows, output: output)
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

    /// Calls `body` with the input itself, or with a scratch copy whose columns are
    /// `input[·, inputPermutation]`.
    private func withPermutedInput(_ input: UnsafePointer<Float>, rows: Int, _ body: (UnsafePointer<Float>) -> Void) {
        guard let inputPermutation else { return body(input) }
        let n = inputCount
        withUnsafeTemporaryAllocation(of: Float.self, capacity: rows * n) { scratch in
            let permuted = scratch.baseAddress!
            inputPermutation.withUnsafeBufferPointer { order in
                for row in 0..<rows {
                    let source = input + row * n
                    let target = permuted + row * n
                    for column in 0..<n { target[column] = source[Int(order[column])] }
                }
            }
            body(permuted)
        }
    }

    /// `y = W · x` for one input row, output rows split across the context's threads.
    private func multiplyVector(_ weights: PackedPointers, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        let vectors = VectorPointers(x: x, y: y)
        let aligned = PackedKernels.chunkAligned(layout)
        context.parallelFor(0..<outputCount) { rows in
            guard aligned else {
                return PackedReference.multiplyVector(weights, x: vectors.x, y: vectors.y, rows: rows)
            }
            switch weights.layout.bits {
            case 4: PackedKernels.multiplyVector(Int4Chunks.self, weights, x: vectors.x, y: vectors.y, rows: rows)
            case 8: PackedKernels.multiplyVector(Int8Chunks.self, weights, x: vectors.x, y: vectors.y, rows: rows)
            case 3: PackedKernels.multiplyVector(Int3Chunks.self, weights, x: vectors.x, y: vectors.y, rows: rows)
            default: PackedKernels.multiplyVector(Int2Chunks.self, weights, x: vectors.x, y: vectors.y, rows: rows)
            }
        }
    }

    /// `y = W · x` for one input row with int8 activations (`Int8Activations`): `x` is
    /// quantized once, then output rows are split across the context's threads; `reference`
    /// runs the scalar loops instead of the C kernel.
    func multiplyVectorInt8(_ weights: PackedPointers, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, reference: Bool) {
        let n = inputCount
        let groups = layout.groups
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: n) { codes in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: n / Int8Activations.blockSize + groups) { floats in
                let scales = floats.baseAddress!
                let corrections = scales + n / Int8Activations.blockSize
                Int8Activations.quantize(
                    x, count: n, groupSize: groupSize, interleaved: bits == 4, codes: codes.baseAddress!, scales: scales,
                    corrections: corrections)
                let shared = Int8ActivationPointers(codes: codes.baseAddress!, scales: scales, corrections: corrections, y: y)
                if reference {
                    Int8Activations.referenceMultiplyVector(
                        weights, codes: shared.codes, scales: shared.scales, y: shared.y, rows: 0..<outputCount)
                    return
                }
                context.parallelFor(0..<outputCount) { rows in
                    Int8Activations.multiplyVector(
                        weights, codes: shared.codes, scales: shared.scales, corrections: shared.corrections, y: shared.y,
                        rows: rows)
                }
            }
        }
    }

    /// `output = x · Wᵀ` for `rows` input rows with int8 activations: every row quantized
    /// once, then the C kernel takes four input rows per pass over each weight block, weight
    /// rows split across the context's threads.
    func multiplyMatrixInt8(_ weights: PackedPointers, x: UnsafePointer<Float>, rows: Int, output: UnsafeMutablePointer<Float>) {
        let n = inputCount
        let blocks = n / Int8Activations.blockSize
        let groups = layout.groups
        let codes = UnsafeMutablePointer<Int8>.allocate(capacity: rows * n)
        let floats = UnsafeMutablePointer<Float>.allocate(capacity: rows * (blocks + groups))
        defer {
            codes.deallocate()
            floats.deallocate()
        }
        let scales = floats
        let corrections = floats + rows * blocks
        for row in 0..<rows {
            Int8Activations.quantize(
                x + row * n, count: n, groupSize: groupSize, interleaved: bits == 4, codes: codes + row * n,
                scales: scales + row * blocks, corrections: corrections + row * groups)
        }
        let shared = Int8ActivationPointers(codes: codes, scales: scales, corrections: corrections, y: output)
        context.parallelFor(0..<outputCount) { range in
            Int8Activations.multiplyMatrix(
                weights, codes: shared.codes, scales: shared.scales, corrections: shared.corrections, inputRows: rows,
                y: shared.y, rows: range)
        }
    }

    /// `output = x · Wᵀ` for `rows` input rows: each tile of `tileRows` weight rows is
    /// dequantized to f32 (rows split across the context's threads) and multiplied with one
    /// `sgemm` into its output columns.
    private func multiplyMatrix(_ weights: PackedPointers, x: UnsafePointer<Float>, rows: Int, output: UnsafeMutablePointer<Float>) {
        TiledGEMM.multiply(
            x: x, rows: rows, inputCount: inputCount, outputCount: outputCount, tileRows: tileRows, context: context,
            output: output
        ) { weightRows, destination in
            Self.dequantizeRows(weights, rows: weightRows, into: destination)
        }
    }
}

/// Quantized activations and the output of one int8 GEMV, shared by its `parallelFor` chunks.
struct Int8ActivationPointers: @unchecked Sendable {
    let codes: UnsafeMutablePointer<Int8>
    let scales: UnsafeMutablePointer<Float>
    let corrections: UnsafeMutablePointer<Float>
    let y: UnsafeMutablePointer<Float>
}

/// `output = x · Wᵀ` for weights that are widened to f32 a tile at a time (packed or f16
/// weights in prefill): for each tile of `tileRows` weight rows, `fill(rows, destination)`
/// writes those rows as f32 (rows split across the context's threads), then one `sgemm`
/// multiplies the tile into its output columns.
enum TiledGEMM {
    static func multiply(
        x: UnsafePointer<Float>, rows: Int, inputCount n: Int, outputCount: Int, tileRows requested: Int,
        context: ComputeContext, output: UnsafeMutablePointer<Float>,
        fill: @Sendable (Range<Int>, UnsafeMutablePointer<Float>) -> Void
    ) {
        let tileRows = min(requested, outputCount)
        let tile = UnsafeMutablePointer<Float>.allocate(capacity: tileRows * n)
        defer { tile.deallocate() }
        let target = VectorPointers(x: x, y: tile)
        var tileStart = 0
        while tileStart < outputCount {
            let tileEnd = min(tileStart + tileRows, outputCount)
            let first = tileStart
            context.parallelFor(tileStart..<tileEnd) { weightRows in
                fill(weightRows, target.y + (weightRows.lowerBound - first) * n)
            }
            do {
                try BLAS.gemm(
                    transposeA: false, transposeB: true, rows: rows, columns: tileEnd - tileStart, inner: n, alpha: 1,
                    a: x, leadingDimensionA: n, b: tile, leadingDimensionB: n, beta: 0,
                    c: output + tileStart, leadingDimensionC: outputCount)
            } catch {
                preconditionFailure("tiled GEMM: \(error)")  // callers validated the dimensions
            }
            tileStart = tileEnd
        }
    }
}

/// The input and output addresses of one `apply`, shared by its `parallelFor` chunks (which
/// write disjoint rows); valid only inside `apply`, which outlives every chunk.
struct VectorPointers: @unchecked Sendable {
    let x: UnsafePointer<Float>
    let y: UnsafeMutablePointer<Float>
}

extension PackedLinear {
    /// The fast tile dequantizer for `rows`, dispatched on the bit width.
    static func dequantizeRows(_ weights: PackedPointers, rows: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        switch weights.layout.bits {
        case 4: PackedKernels.dequantizeRows(Int4Chunks.self, weights, rows: rows, into: destination)
        case 8: PackedKernels.dequantizeRows(Int8Chunks.self, weights, rows: rows, into: destination)
        case 3: PackedKernels.dequantizeRows(Int3Chunks.self, weights, rows: rows, into: destination)
        default: PackedKernels.dequantizeRows(Int2Chunks.self, weights, rows: rows, into: destination)
        }
    }

    /// The int8-activation GEMV (`activationPrecision = .int8`) computed by scalar loops
    /// over the unpacked codes from the same quantized activations (no permutation, bias or
    /// C kernel): the reference the C kernel is tested against. Needs
    /// `supportsInt8Activations`.
    public func referenceInt8Apply(input: UnsafePointer<Float>, rows: Int, output: UnsafeMutablePointer<Float>) {
        precondition(supportsInt8Activations, "layout has no int8-activation kernel")
        withPointers { weights in
            for row in 0..<rows {
                multiplyVectorInt8(weights, x: input + row * inputCount, y: output + row * outputCount, reference: true)
            }
        }
    }

    /// Whether an int8-activation kernel applies (4- or 8-bit, groups of whole 32-column blocks).
    public var supportsInt8Activations: Bool { Int8Activations.supports(layout) }

    /// Rows `rows` of the weight (in the kernels' column order) from the fast tile
    /// dequantizer that prefill uses, for checking it against the scalar reference.
    public func fastDequantizedRows(_ rows: Range<Int>) -> [Float] {
        var tile = [Float](repeating: 0, count: rows.count * inputCount)
        withPointers { pointers in
            tile.withUnsafeMutableBufferPointer { Self.dequantizeRows(pointers, rows: rows, into: $0.baseAddress!) }
        }
        return tile
    }
}
