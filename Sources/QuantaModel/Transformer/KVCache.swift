import QuantaTensor

/// Keys and values of the positions already processed, per decoder layer, for incremental
/// decoding (HF `DynamicCache`). Keys are stored after the rotary embedding, so a cached
/// position never needs re-rotating.
///
/// Layout per layer: `[kvHeads][capacity][headDimension]`, so each KV head's keys are one
/// contiguous `positions × headDimension` block that attention hands to BLAS directly.
/// Capacity grows by doubling when an append does not fit.
///
/// With a `KeyValueQuantizer` a layer stores keys and values packed instead
/// (`QuantizedKeyValueRows`: low-bit codes plus a scale and zero point per group, 240 bytes
/// per position for SmolLM2's 3 KV heads × 64 at 4 bits and group 64, against 1536 in f32)
/// and dequantizes them for attention — the same values the simulated (fake-quantized)
/// cache holds, bit for bit.
public struct KVCache: Sendable {
    /// The cached keys and values of one decoder layer.
    public struct Layer: Sendable {
        public let kvHeads: Int
        public let headDimension: Int
        /// Positions cached so far.
        public internal(set) var count: Int = 0
        /// Positions the storage holds before it must grow.
        public internal(set) var capacity: Int
        /// The quantizer of a packed layer (nil: f32 keys and values).
        public var quantizer: KeyValueQuantizer? { packedKeys?.quantizer }
        /// The f32 storage (empty when packed).
        var keys: [Float]
        var values: [Float]
        /// The packed storage (nil for f32).
        var packedKeys: QuantizedKeyValueRows?
        var packedValues: QuantizedKeyValueRows?

        init(kvHeads: Int, headDimension: Int, capacity: Int, quantizer: KeyValueQuantizer? = nil) {
            self.kvHeads = kvHeads
            self.headDimension = headDimension
            self.capacity = max(1, capacity)
            if let quantizer {
                keys = []
                packedKeys = QuantizedKeyValueRows(
                    quantizer: quantizer, kvHeads: kvHeads, headDimension: headDimension, capacity: self.capacity)
                packedValues = packedKeys
            } else {
                keys = [Float](repeating: 0, count: kvHeads * self.capacity * headDimension)
            }
            values = keys
        }

        /// Bytes one cached position takes in this layer (keys and values, all KV heads).
        public var bytesPerPosition: Int {
            Self.bytesPerPosition(kvHeads: kvHeads, headDimension: headDimension, quantizer: quantizer)
        }

        /// Bytes one cached position takes in a layer of this geometry: `2 · kvHeads ·
        /// headDimension · 4` in f32; packed, the codes plus an f32 scale and zero per group.
        public static func bytesPerPosition(kvHeads: Int, headDimension: Int, quantizer: KeyValueQuantizer?) -> Int {
            guard let quantizer else { return 2 * kvHeads * headDimension * MemoryLayout<Float>.size }
            return 2 * QuantizedKeyValueRows.bytesPerPosition(quantizer: quantizer, kvHeads: kvHeads, headDimension: headDimension)
        }

        /// Bytes of the storage at its current capacity.
        public var byteCount: Int {
            if let packedKeys, let packedValues { return packedKeys.byteCount + packedValues.byteCount }
            return (keys.count + values.count) * MemoryLayout<Float>.size
        }

        /// Grows the storage so that `needed` positions fit.
        mutating func reserve(_ needed: Int) {
            guard needed > capacity else { return }
            var newCapacity = capacity
            while newCapacity < needed { newCapacity *= 2 }
            if packedKeys != nil {
                packedKeys!.grow(to: newCapacity, keeping: count)
                packedValues!.grow(to: newCapacity, keeping: count)
                capacity = newCapacity
                return
            }
            let blockOld = capacity * headDimension
            let blockNew = newCapacity * headDimension
            let used = count * headDimension
            var newKeys = [Float](repeating: 0, count: kvHeads * blockNew)
            var newValues = newKeys
            for head in 0..<kvHeads {
                newKeys[(head * blockNew)..<(head * blockNew + used)] = keys[(head * blockOld)..<(head * blockOld + used)]
                newValues[(head * blockNew)..<(head * blockNew + used)] =
                    values[(head * blockOld)..<(head * blockOld + used)]
            }
            keys = newKeys
            values = newValues
            capacity = newCapacity
        }

        /// Appends `rows` positions whose keys and values are rows of `keySource` /
        /// `valueSource` (row stride `rowStride`, KV head `h` at columns `h·headDimension`);
        /// a packed layer quantizes them.
        public mutating func append(
            keys keySource: UnsafePointer<Float>, values valueSource: UnsafePointer<Float>, rows: Int, rowStride: Int
        ) {
            reserve(count + rows)
            let dimension = headDimension
            let block = capacity * dimension
            let start = count
            let heads = kvHeads
            if packedKeys != nil {
                for head in 0..<heads {
                    for row in 0..<rows {
                        let source = row * rowStride + head * dimension
                        packedKeys!.store(keySource + source, head: head, position: start + row)
                        packedValues!.store(valueSource + source, head: head, position: start + row)
                    }
                }
                count += rows
                return
            }
            keys.withUnsafeMutableBufferPointer { keyBuffer in
                values.withUnsafeMutableBufferPointer { valueBuffer in
                    for head in 0..<heads {
                        for row in 0..<rows {
                            let destination = head * block + (start + row) * dimension
                            let source = row * rowStride + head * dimension
                            (keyBuffer.baseAddress! + destination).update(from: keySource + source, count: dimension)
                            (valueBuffer.baseAddress! + destination).update(from: valueSource + source, count: dimension)
                        }
                    }
                }
            }
            count += rows
        }

        /// The cached keys of KV head `head` as a `count × headDimension` matrix (a copy;
        /// dequantized when packed).
        public func keys(head: Int) -> Matrix { rows(of: keys, packed: packedKeys, head: head) }

        /// The cached values of KV head `head` as a `count × headDimension` matrix (a copy;
        /// dequantized when packed).
        public func values(head: Int) -> Matrix { rows(of: values, packed: packedValues, head: head) }

        private func rows(of storage: [Float], packed: QuantizedKeyValueRows?, head: Int) -> Matrix {
            var matrix = Matrix(rows: count, columns: headDimension)
            if let packed {
                matrix.values.withUnsafeMutableBufferPointer { packed.dequantize(head: head, count: count, into: $0.baseAddress!) }
            } else {
                let block = capacity * headDimension
                matrix.values = Array(storage[(head * block)..<(head * block + count * headDimension)])
            }
            return matrix
        }

        /// Calls `body` with the keys and values of all KV heads as f32: KV head `g`,
        /// position `t` at `g · headStride + t · headDimension`. f32 layers hand over their
        /// storage; packed ones dequantize positions `0..<count` into temporary buffers.
        func withFloatKeysAndValues<Result>(
            _ body: (_ keys: UnsafePointer<Float>, _ values: UnsafePointer<Float>, _ headStride: Int) -> Result
        ) -> Result {
            guard let packedKeys, let packedValues else {
                return keys.withUnsafeBufferPointer { keyBuffer in
                    values.withUnsafeBufferPointer { valueBuffer in
                        body(keyBuffer.baseAddress!, valueBuffer.baseAddress!, capacity * headDimension)
                    }
                }
            }
            let block = max(1, count) * headDimension
            return withUnsafeTemporaryAllocation(of: Float.self, capacity: kvHeads * block) { keyBuffer in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: kvHeads * block) { valueBuffer in
                    for head in 0..<kvHeads {
                        packedKeys.dequantize(head: head, count: count, into: keyBuffer.baseAddress! + head * block)
                        packedValues.dequantize(head: head, count: count, into: valueBuffer.baseAddress! + head * block)
                    }
                    return body(keyBuffer.baseAddress!, valueBuffer.baseAddress!, block)
                }
            }
        }
    }

    /// One entry per decoder layer.
    public var layers: [Layer]

    /// An empty cache for `layerCount` layers, with room for `capacity` positions before
    /// the first growth. `quantizers` (one per layer, nil entries for f32 layers) makes
    /// layers packed; without it every layer is f32.
    public init(
        layerCount: Int, kvHeads: Int, headDimension: Int, capacity: Int = 256, quantizers: [KeyValueQuantizer?]? = nil
    ) {
        precondition(quantizers.map { $0.count == layerCount } ?? true, "one quantizer entry per layer")
        layers = (0..<layerCount).map {
            Layer(kvHeads: kvHeads, headDimension: headDimension, capacity: capacity, quantizer: quantizers?[$0])
        }
    }

    /// Bytes of all layers' storage at their current capacity.
    public var byteCount: Int { layers.reduce(0) { $0 + $1.byteCount } }

    /// Positions cached (the position of the next token).
    public var count: Int { layers.first?.count ?? 0 }
}
