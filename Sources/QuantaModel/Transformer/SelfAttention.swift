import Foundation
import QuantaTensor

/// Grouped-query causal self-attention (HF `LlamaAttention` with the SDPA/eager math):
/// q/k/v projections (with optional biases, as Qwen2), rotary embedding of q and k,
/// `softmax(q·kᵀ/√d + causal mask)·v` per head in float32 with max subtraction, and the
/// output projection. Query head `h` reads KV head `h / (heads / kvHeads)` (HF `repeat_kv`,
/// which repeats each KV head `n_rep` times consecutively).
public struct SelfAttention: Sendable {
    public var queryProjection: any LinearOperator
    public var keyProjection: any LinearOperator
    public var valueProjection: any LinearOperator
    public var outputProjection: any LinearOperator
    public let heads: Int
    public let kvHeads: Int
    public let headDimension: Int
    public var rotary: RotaryEmbedding
    /// R3: an orthonormal Hadamard over each head's query and key after the rotary embedding
    /// (`q·kᵀ` is unchanged; keys enter the cache rotated, so outliers are spread before KV
    /// quantization). QuaRot §4, SpinQuant §3.1.
    public var rotatesQueriesAndKeys = false
    /// Low-bit KV cache: keys and values are stored packed in a `KVCache` layer made with
    /// this quantizer (`TransformerModel.makeCache`); without such a cache (prefill without
    /// a cache, or an f32 cache) they are fake-quantized as they are produced, to the same values.
    public var keyValueQuantizer: KeyValueQuantizer?

    /// Query rows per attention block in prefill: each block multiplies only against the
    /// keys it can see (causal), so the masked upper triangle is mostly skipped.
    static let queryBlockRows = 128

    public init(
        queryProjection: any LinearOperator, keyProjection: any LinearOperator, valueProjection: any LinearOperator,
        outputProjection: any LinearOperator, heads: Int, kvHeads: Int, headDimension: Int, rotary: RotaryEmbedding
    ) {
        precondition(heads > 0 && kvHeads > 0 && heads % kvHeads == 0, "heads must be a multiple of kvHeads")
        precondition(queryProjection.outputCount == heads * headDimension, "q_proj width must be heads × head_dim")
        precondition(keyProjection.outputCount == kvHeads * headDimension, "k_proj width must be kvHeads × head_dim")
        precondition(valueProjection.outputCount == kvHeads * headDimension, "v_proj width must be kvHeads × head_dim")
        precondition(outputProjection.inputCount == heads * headDimension, "o_proj input must be heads × head_dim")
        self.queryProjection = queryProjection
        self.keyProjection = keyProjection
        self.valueProjection = valueProjection
        self.outputProjection = outputProjection
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDimension = headDimension
        self.rotary = rotary
    }

    /// The KV head query head `head` reads.
    public func kvHead(forQueryHead head: Int) -> Int { head / (heads / kvHeads) }

    /// Attention over `normalized` (`rows × hidden`, the input norm's output) at
    /// `positions`. With a cache layer, its keys/values are attended too and the new ones
    /// appended; `positions.lowerBound` must equal the cache count. Returns the
    /// `rows × hidden` output of `o_proj`. `observe` receives the `o_proj` input.
    func forward(
        _ normalized: Matrix, positions: Range<Int>, cache: inout KVCache.Layer?, context: ComputeContext,
        observeOutputInput: ((Matrix) -> Void)?
    ) -> Matrix {
        let attended = self.attended(normalized, positions: positions, cache: &cache, context: context)
        observeOutputInput?(attended)
        return outputProjection.apply(attended)
    }

    /// The per-head attention results concatenated (`rows × heads·headDimension`): the input
    /// of `o_proj`. Staged calibration runs this, then `outputProjection`, itself.
    public func attended(
        _ normalized: Matrix, positions: Range<Int>, cache: inout KVCache.Layer?, context: ComputeContext
    ) -> Matrix {
        let rows = normalized.rows
        // A packed cache quantizes keys and values itself as it stores them.
        let packedCache = cache?.quantizer != nil
        precondition(!packedCache || cache!.quantizer == keyValueQuantizer, "the packed KV cache must use the attention's quantizer")
        var (query, key, value) = projectAndRotate(normalized, positions: positions, quantizingKeysAndValues: !packedCache)
        var attended = Matrix(rows: rows, columns: heads * headDimension)
        if cache != nil {
            precondition(cache!.count == positions.lowerBound, "positions must continue the KV cache")
            key.values.withUnsafeBufferPointer { keyBuffer in
                value.values.withUnsafeBufferPointer { valueBuffer in
                    cache!.append(
                        keys: keyBuffer.baseAddress!, values: valueBuffer.baseAddress!, rows: rows,
                        rowStride: kvHeads * headDimension)
                }
            }
            let layer = cache!
            if packedCache && rows == 1 {
                attendPackedDecode(query: query, layer: layer, into: &attended)
                return attended
            }
            layer.withFloatKeysAndValues { keys, values, headStride in
                attend(
                    query: &query, keys: keys, values: values, headStride: headStride, rowStride: headDimension,
                    total: layer.count, into: &attended, context: context)
            }
        } else {
            key.values.withUnsafeBufferPointer { keyBuffer in
                value.values.withUnsafeBufferPointer { valueBuffer in
                    attend(
                        query: &query, keys: keyBuffer.baseAddress!, values: valueBuffer.baseAddress!,
                        headStride: headDimension, rowStride: kvHeads * headDimension, total: rows,
                        into: &attended, context: context)
                }
            }
        }
        return attended
    }

    /// q, k, v of `normalized`, with q and k rotated for `positions` and, when
    /// `quantizingKeysAndValues`, k and v fake-quantized by `keyValueQuantizer`.
    func projectAndRotate(
        _ normalized: Matrix, positions: Range<Int>, quantizingKeysAndValues: Bool = true
    ) -> (Matrix, Matrix, Matrix) {
        var query = queryProjection.apply(normalized)
        var key = keyProjection.apply(normalized)
        var value = valueProjection.apply(normalized)
        let (cosine, sine) = rotary.table(positions: positions)
        let rows = normalized.rows
        let dimension = headDimension
        cosine.withUnsafeBufferPointer { cosineBuffer in
            sine.withUnsafeBufferPointer { sineBuffer in
                query.values.withUnsafeMutableBufferPointer { buffer in
                    RotaryEmbedding.rotate(
                        buffer.baseAddress!, rows: rows, rowStride: heads * dimension, heads: heads,
                        headDimension: dimension, cosine: cosineBuffer.baseAddress!, sine: sineBuffer.baseAddress!)
                }
                key.values.withUnsafeMutableBufferPointer { buffer in
                    RotaryEmbedding.rotate(
                        buffer.baseAddress!, rows: rows, rowStride: kvHeads * dimension, heads: kvHeads,
                        headDimension: dimension, cosine: cosineBuffer.baseAddress!, sine: sineBuffer.baseAddress!)
                }
            }
        }
        if rotatesQueriesAndKeys {
            Self.transformHeads(&query, dimension: dimension)
            Self.transformHeads(&key, dimension: dimension)
        }
        if let keyValueQuantizer, quantizingKeysAndValues {
            keyValueQuantizer.fakeQuantize(&key)
            keyValueQuantizer.fakeQuantize(&value)
        }
        return (query, key, value)
    }

    /// The orthonormal Hadamard transform of every `dimension`-wide head slice of `matrix`.
    static func transformHeads(_ matrix: inout Matrix, dimension: Int) {
        var heads = Matrix(rows: matrix.rows * matrix.columns / dimension, columns: dimension)
        heads.values = matrix.values
        // The head dimension was validated when R3 was enabled (`SelfAttention.enableQueryKeyRotation`).
        try? Hadamard.transformRows(of: &heads)
        matrix.values = heads.values
    }

    /// Turns on R3 after checking the head dimension has a Hadamard transform.
    public mutating func enableQueryKeyRotation() throws(ModelError) {
        guard Hadamard.factorization(size: headDimension) != nil else {
            throw .invalidConfiguration(
                field: "head_dim", detail: "\(headDimension) has no Hadamard transform; R3 needs b · 2^k with b in \(Hadamard.supportedBaseOrders)")
        }
        rotatesQueriesAndKeys = true
    }

    /// Turns on the simulated low-bit KV cache after checking its groups tile a head.
    public mutating func enableKeyValueQuantization(_ quantizer: KeyValueQuantizer) throws(ModelError) {
        guard headDimension % quantizer.groupSize == 0 else {
            throw .invalidConfiguration(
                field: "kv_cache.group_size", detail: "\(quantizer.groupSize) does not divide the head dimension \(headDimension)")
        }
        keyValueQuantizer = quantizer
    }

    /// Causal attention of the `query` rows (the last `query.rows` of `total` positions)
    /// over `total` keys/values. KV head `g`, position `t` starts at
    /// `g · headStride + t · rowStride`. Heads are split across `context`'s threads.
    private func attend(
        query: inout Matrix, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, headStride: Int, rowStride: Int,
        total: Int, into attended: inout Matrix, context: ComputeContext
    ) {
        let rows = query.rows
        let past = total - rows
        let dimension = headDimension
        let queryWidth = heads * dimension
        let scale = 1 / Float(dimension).squareRoot()
        let groupSize = heads / kvHeads
        let blockRows = Self.queryBlockRows
        let keyBase = SharedPointer(UnsafeMutablePointer(mutating: keys))
        let valueBase = SharedPointer(UnsafeMutablePointer(mutating: values))
        query.values.withUnsafeMutableBufferPointer { queryBuffer in
            attended.values.withUnsafeMutableBufferPointer { outputBuffer in
                let queryBase = SharedPointer(queryBuffer.baseAddress!)
                let outputBase = SharedPointer(outputBuffer.baseAddress!)
                // Heads go to our threads only for prefill and only while OpenBLAS is not
                // threading each call itself: both at once oversubscribe the cores (measured
                // on 2 vCPUs: pp512 127 tok/s versus 268 with BLAS threads alone).
                let headContext = rows == 1 || ComputeContext.blasThreadCount > 1 ? ComputeContext.serial() : context
                headContext.parallelFor(0..<heads) { headRange in
                    var scores = [Float](repeating: 0, count: min(rows, blockRows) * total)
                    scores.withUnsafeMutableBufferPointer { scoreBuffer in
                        let score = scoreBuffer.baseAddress!
                        for head in headRange {
                            let group = head / groupSize
                            let headKeys = keyBase.base + group * headStride
                            let headValues = valueBase.base + group * headStride
                            let headQuery = queryBase.base + head * dimension
                            let headOutput = outputBase.base + head * dimension
                            if rows == 1 {
                                // Decoding: scores = K·q, out = Vᵀ·p (two GEMVs over the cache).
                                Kernels.gemv(
                                    transposeA: false, rows: total, columns: dimension, alpha: scale, a: headKeys,
                                    leadingDimensionA: rowStride, x: headQuery, y: score)
                                VectorKernels.softmax(score, count: total)
                                Kernels.gemv(
                                    transposeA: true, rows: total, columns: dimension, a: headValues,
                                    leadingDimensionA: rowStride, x: score, y: headOutput)
                                continue
                            }
                            for blockStart in stride(from: 0, to: rows, by: blockRows) {
                                let blockEnd = min(blockStart + blockRows, rows)
                                let visible = past + blockEnd  // keys the last row of the block sees
                                // S = scale · Q_block · K[0..<visible]ᵀ
                                Kernels.gemm(
                                    transposeB: true, rows: blockEnd - blockStart, columns: visible, inner: dimension,
                                    alpha: scale, a: headQuery + blockStart * queryWidth, leadingDimensionA: queryWidth,
                                    b: headKeys, leadingDimensionB: rowStride, c: score, leadingDimensionC: visible)
                                for row in blockStart..<blockEnd {
                                    let scoreRow = score + (row - blockStart) * visible
                                    let seen = past + row + 1  // causal mask: positions 0...past+row
                                    VectorKernels.softmax(scoreRow, count: seen)
                                    if seen < visible { (scoreRow + seen).update(repeating: 0, count: visible - seen) }
                                }
                                // O_block = P · V[0..<visible]
                                Kernels.gemm(
                                    transposeB: false, rows: blockEnd - blockStart, columns: dimension, inner: visible,
                                    a: score, leadingDimensionA: visible, b: headValues, leadingDimensionB: rowStride,
                                    c: headOutput + blockStart * queryWidth, leadingDimensionC: queryWidth)
                            }
                        }
                    }
                }
            }
        }
    }
}
