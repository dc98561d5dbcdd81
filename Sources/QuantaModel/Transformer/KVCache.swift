import QuantaTensor

/// Keys and values of the positions already processed, per decoder layer, for incremental
/// decoding (HF `DynamicCache`). Keys are stored after the rotary embedding, so a cached
/// position never needs re-rotating.
///
/// Layout per layer: `[kvHeads][capacity][headDimension]`, so each KV head's keys are one
/// contiguous `positions × headDimension` block that attention hands to BLAS directly.
/// Capacity grows by doubling when an append does not fit.
public struct KVCache: Sendable {
    /// The cached keys and values of one decoder layer.
    public struct Layer: Sendable {
        public let kvHeads: Int
        public let headDimension: Int
        /// Positions cached so far.
        public internal(set) var count: Int = 0
        /// Positions the storage holds before it must grow.
        public internal(set) var capacity: Int
        var keys: [Float]
        var values: [Float]

        init(kvHeads: Int, headDimension: Int, capacity: Int) {
            self.kvHeads = kvHeads
            self.headDimension = headDimension
            self.capacity = max(1, capacity)
            keys = [Float](repeating: 0, count: kvHeads * self.capacity * headDimension)
            values = keys
        }

        /// Grows the storage so that `needed` positions fit.
        mutating func reserve(_ needed: Int) {
            guard needed > capacity else { return }
            var newCapacity = capacity
            while newCapacity < needed { newCapacity *= 2 }
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
        /// `valueSource` (row stride `rowStride`, KV head `h` at columns `h·headDimension`).
        mutating func append(
            keys keySource: UnsafePointer<Float>, values valueSource: UnsafePointer<Float>, rows: Int, rowStride: Int
        ) {
            reserve(count + rows)
            let dimension = headDimension
            let block = capacity * dimension
            let start = count
            let heads = kvHeads
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

        /// The cached keys of KV head `head` as a `count × headDimension` matrix (a copy).
        public func keys(head: Int) -> Matrix {
            let block = capacity * headDimension
            return try! Matrix(
                rows: count, columns: headDimension,
                values: Array(keys[(head * block)..<(head * block + count * headDimension)]))
        }

        /// The cached values of KV head `head` as a `count × headDimension` matrix (a copy).
        public func values(head: Int) -> Matrix {
            let block = capacity * headDimension
            return try! Matrix(
                rows: count, columns: headDimension,
                values: Array(values[(head * block)..<(head * block + count * headDimension)]))
        }
    }

    /// One entry per decoder layer.
    public var layers: [Layer]

    /// An empty cache for `layerCount` layers, with room for `capacity` positions before
    /// the first growth.
    public init(layerCount: Int, kvHeads: Int, headDimension: Int, capacity: Int = 256) {
        layers = (0..<layerCount).map { _ in Layer(kvHeads: kvHeads, headDimension: headDimension, capacity: capacity) }
    }

    /// Positions cached (the position of the next token).
    public var count: Int { layers.first?.count ?? 0 }
}
