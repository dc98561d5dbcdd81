import QuantaTensor

extension SelfAttention {
    /// Decoding (one query row) over a packed KV cache layer without dequantizing the cache
    /// into a buffer: per KV head, each cached key row is dequantized into a 1-row scratch
    /// (L1) and dotted with the head's query heads (`heads / kvHeads` of them), the scores
    /// go through the softmax, and each value row, dequantized the same way, is added into
    /// the outputs weighted by its probabilities. The dequantized values are those of the
    /// simulated cache bit for bit; only the summation order differs from the BLAS GEMVs of
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
        packedKeys.withView { keyView in
            packedValues.withView { valueView in
                query.values.withUnsafeBufferPointer { queryBuffer in
                    attended.values.withUnsafeMutableBufferPointer { outputBuffer in
                        withUnsafeTemporaryAllocation(of: Float.self, capacity: perGroup * total + dimension) { buffer in
                            let scores = buffer.baseAddress!
                            let row = scores + perGroup * total
                            for group in 0..<groups {
                                let firstHead = group * perGroup
                                let slots = group * keyView.capacity
                                for position in 0..<total {
                                    keyView.dequantizeRow(slots + position, into: row)
                                    for member in 0..<perGroup {
                                        let headQuery = queryBuffer.baseAddress! + (firstHead + member) * dimension
                                        scores[member * total + position] = scale * Self.dot(headQuery, row, count: dimension)
                                    }
                                }
                                for member in 0..<perGroup {
                                    VectorKernels.softmax(scores + member * total, count: total)
                                    (outputBuffer.baseAddress! + (firstHead + member) * dimension)
                                        .update(repeating: 0, count: dimension)
                                }
                                for position in 0..<total {
                                    valueView.dequantizeRow(slots + position, into: row)
                                    for member in 0..<perGroup {
                                        Self.addScaled(
                                            row, by: scores[member * total + position],
                                            to: outputBuffer.baseAddress! + (firstHead + member) * dimension, count: dimension)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `Σ a[i] · b[i]`, 16 lanes at a time.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var sum = VectorKernels.Vector()
        var index = 0
        while index + VectorKernels.width <= count {
            sum += VectorKernels.load(a + index) * VectorKernels.load(b + index)
            index += VectorKernels.width
        }
        var total = sum.sum()
        while index < count {
            total += a[index] * b[index]
            index += 1
        }
        return total
    }

    /// `target[i] += factor · source[i]`.
    @inline(__always)
    static func addScaled(
        _ source: UnsafePointer<Float>, by factor: Float, to target: UnsafeMutablePointer<Float>, count: Int
    ) {
        let factors = VectorKernels.Vector(repeating: factor)
        var index = 0
        while index + VectorKernels.width <= count {
            VectorKernels.store(VectorKernels.load(target + index) + VectorKernels.load(source + index) * factors, target + index)
            index += VectorKernels.width
        }
        while index < count {
            target[index] += factor * source[index]
            index += 1
        }
    }
}
