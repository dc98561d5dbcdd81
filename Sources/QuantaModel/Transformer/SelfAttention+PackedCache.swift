import QuantaTensor

extension SelfAttention {
    /// Cached positions dequantized at a time by `attendPackedDecode` (a 32 KB f32 tile at
    /// head dimension 64: stays in L1/L2).
    static let packedTileRows = 128

    /// Decoding (one query row) over a packed KV cache layer without dequantizing the whole
    /// cache: per KV head, tiles of `packedTileRows` cached keys are dequantized into a
    /// scratch tile and multiplied with the head's `heads / kvHeads` query heads at once
    /// (one small GEMM), the scores go through the softmax, and value tiles, dequantized the
    /// same way, are accumulated into the outputs (`O += P_tile · V_tile`). The dequantized
    /// values are those of the simulated cache bit for bit; only the BLAS kernels (GEMM on
    /// tiles instead of GEMV over the whole cache) and so the summation order differ from
    /// the f32 path (float rounding).
    func attendPackedDecode(query: Matrix, layer: KVCache.Layer, into attended: inout Matrix) {
        guard let packedKeys = layer.packedKeys, let packedValues = layer.packedValues else {
            preconditionFailure("attendPackedDecode needs a packed cache layer")
        }
        precondition(query.rows == 1, "the packed decode path takes one query row")
        let total = layer.count
        let dimension = headDimension
        let scale = 1 / Float(dimension).squareRoot()
        let perGroup = heads / kvHeads
        let groups = kvHeads
        let tileRows = min(Self.packedTileRows, total)
        packedKeys.withView { keyView in
            packedValues.withView { valueView in
                query.values.withUnsafeBufferPointer { queryBuffer in
                    attended.values.withUnsafeMutableBufferPointer { outputBuffer in
                        withUnsafeTemporaryAllocation(of: Float.self, capacity: perGroup * total + tileRows * dimension) {
                            buffer in
                            let scores = buffer.baseAddress!
                            let tile = scores + perGroup * total
                            for group in 0..<groups {
                                let groupQuery = queryBuffer.baseAddress! + group * perGroup * dimension
                                let groupOutput = outputBuffer.baseAddress! + group * perGroup * dimension
                                let slots = group * keyView.capacity
                                // S[member, t] = scale · q_member · k_t
                                for tileStart in stride(from: 0, to: total, by: tileRows) {
                                    let rows = min(tileRows, total - tileStart)
                                    for row in 0..<rows {
                                        keyView.dequantizeRow(slots + tileStart + row, into: tile + row * dimension)
                                    }
                                    Kernels.gemm(
                                        transposeB: true, rows: perGroup, columns: rows, inner: dimension, alpha: scale,
                                        a: groupQuery, leadingDimensionA: dimension, b: tile, leadingDimensionB: dimension,
                                        c: scores + tileStart, leadingDimensionC: total)
                                }
                                for member in 0..<perGroup { VectorKernels.softmax(scores + member * total, count: total) }
                                // O[member] = Σ_t P[member, t] · v_t
                                for tileStart in stride(from: 0, to: total, by: tileRows) {
                                    let rows = min(tileRows, total - tileStart)
                                    for row in 0..<rows {
                                        valueView.dequantizeRow(slots + tileStart + row, into: tile + row * dimension)
                                    }
                                    Kernels.gemm(
                                        transposeB: false, rows: perGroup, columns: dimension, inner: rows,
                                        a: scores + tileStart, leadingDimensionA: total, b: tile, leadingDimensionB: dimension,
                                        beta: tileStart == 0 ? 0 : 1, c: groupOutput, leadingDimensionC: dimension)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
