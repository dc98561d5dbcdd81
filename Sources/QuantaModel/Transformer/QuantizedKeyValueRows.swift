/// The packed storage of a low-bit KV cache for one of keys or values of one decoder layer:
/// for each KV head and cached position, the head's `headDimension` features as codes of
/// `quantizer.bits` bits plus an f32 scale and zero point per group of `quantizer.groupSize`
/// features. Up to 4 bits (with an even group size) two codes share a byte: in each group of
/// `G` features, byte `j` holds feature `j` in its low nibble and feature `j + G/2` in its
/// high one, so unpacking is two contiguous, vectorizable halves; wider codes take a byte each. Layout `[kvHeads][capacity]` like
/// the f32 cache, so a head's positions are contiguous.
///
/// Reading dequantizes `scale · (code − zero)` (`KeyValueQuantizer.dequantized`), the same
/// float operation `KeyValueQuantizer.fakeQuantize` does, so attention over this cache sees
/// bit for bit the values of the simulated (fake-quantized) cache.
///
/// Provenance: per-head, per-group asymmetric KV quantization as in QuaRot (Ashkboos et al.,
/// NeurIPS 2024) §4 and KIVI (Liu et al., ICML 2024) §3 (scale and zero point per group,
/// codes packed into bytes).
struct QuantizedKeyValueRows: Sendable {
    let quantizer: KeyValueQuantizer
    let kvHeads: Int
    let headDimension: Int
    private(set) var capacity: Int
    /// Codes `[kvHeads][capacity][rowBytes]`.
    private(set) var codes: [UInt8]
    /// `[kvHeads][capacity][groupsPerRow]`.
    private(set) var scales: [Float]
    private(set) var zeros: [Float]

    init(quantizer: KeyValueQuantizer, kvHeads: Int, headDimension: Int, capacity: Int) {
        precondition(headDimension % quantizer.groupSize == 0, "KV groups must tile a head")
        self.quantizer = quantizer
        self.kvHeads = kvHeads
        self.headDimension = headDimension
        self.capacity = capacity
        codes = [UInt8](repeating: 0, count: kvHeads * capacity * Self.rowBytes(quantizer, headDimension: headDimension))
        scales = [Float](repeating: 0, count: kvHeads * capacity * (headDimension / quantizer.groupSize))
        zeros = scales
    }

    /// Whether two codes share a byte (up to 4 bits, even groups).
    var packsTwoPerByte: Bool { Self.packsTwoPerByte(quantizer) }
    static func packsTwoPerByte(_ quantizer: KeyValueQuantizer) -> Bool { quantizer.bits <= 4 && quantizer.groupSize % 2 == 0 }
    /// Bytes of one position's codes for one head.
    var rowBytes: Int { Self.rowBytes(quantizer, headDimension: headDimension) }
    static func rowBytes(_ quantizer: KeyValueQuantizer, headDimension: Int) -> Int {
        packsTwoPerByte(quantizer) ? headDimension / 2 : headDimension
    }
    var groupsPerRow: Int { headDimension / quantizer.groupSize }

    /// Bytes one cached position takes across all KV heads (codes, scales, zero points).
    static func bytesPerPosition(quantizer: KeyValueQuantizer, kvHeads: Int, headDimension: Int) -> Int {
        kvHeads * (rowBytes(quantizer, headDimension: headDimension)
            + 2 * MemoryLayout<Float>.size * (headDimension / quantizer.groupSize))
    }

    /// Bytes of the storage at its current capacity.
    var byteCount: Int { codes.count + (scales.count + zeros.count) * MemoryLayout<Float>.size }

    /// Grows to `newCapacity` positions, keeping the first `count` of every head.
    mutating func grow(to newCapacity: Int, keeping count: Int) {
        guard newCapacity > capacity else { return }
        func regrown<Element>(_ old: [Element], perPosition: Int, fill: Element) -> [Element] {
            var new = [Element](repeating: fill, count: kvHeads * newCapacity * perPosition)
            for head in 0..<kvHeads {
                let oldStart = head * capacity * perPosition
                let newStart = head * newCapacity * perPosition
                new[newStart..<(newStart + count * perPosition)] = old[oldStart..<(oldStart + count * perPosition)]
            }
            return new
        }
        codes = regrown(codes, perPosition: rowBytes, fill: 0)
        scales = regrown(scales, perPosition: groupsPerRow, fill: 0)
        zeros = regrown(zeros, perPosition: groupsPerRow, fill: 0)
        capacity = newCapacity
    }

    /// Quantizes the `headDimension` values at `source` into position `position` of `head`.
    mutating func store(_ source: UnsafePointer<Float>, head: Int, position: Int) {
        let groupSize = quantizer.groupSize
        let groups = groupsPerRow
        let bytes = rowBytes
        let twoPerByte = packsTwoPerByte
        let slot = head * capacity + position
        let quantizer = quantizer
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: headDimension) { unpacked in
            let unpackedBase = unpacked.baseAddress!
            scales.withUnsafeMutableBufferPointer { scaleBuffer in
                zeros.withUnsafeMutableBufferPointer { zeroBuffer in
                    for group in 0..<groups {
                        let (scale, zero) = quantizer.quantizeGroup(
                            source + group * groupSize, into: unpackedBase + group * groupSize)
                        scaleBuffer[slot * groups + group] = scale
                        zeroBuffer[slot * groups + group] = zero
                    }
                }
            }
            codes.withUnsafeMutableBufferPointer { codeBuffer in
                let row = codeBuffer.baseAddress! + slot * bytes
                if twoPerByte {
                    let half = groupSize / 2
                    for group in 0..<groups {
                        let codes = unpackedBase + group * groupSize
                        for index in 0..<half { row[group * half + index] = codes[index] | (codes[half + index] << 4) }
                    }
                } else {
                    row.update(from: unpackedBase, count: bytes)
                }
            }
        }
    }

    /// Dequantizes positions `0..<count` of `head` into `destination` (`count × headDimension`).
    func dequantize(head: Int, count: Int, into destination: UnsafeMutablePointer<Float>) {
        withView { view in
            for position in 0..<count {
                view.dequantizeRow(head * capacity + position, into: destination + position * headDimension)
            }
        }
    }

    /// Calls `body` with raw pointers to the storage (valid only inside `body`).
    func withView<Result>(_ body: (View) -> Result) -> Result {
        codes.withUnsafeBufferPointer { codeBuffer in
            scales.withUnsafeBufferPointer { scaleBuffer in
                zeros.withUnsafeBufferPointer { zeroBuffer in
                    body(View(
                        codes: codeBuffer.baseAddress!, scales: scaleBuffer.baseAddress!, zeros: zeroBuffer.baseAddress!,
                        rowBytes: rowBytes, groupSize: quantizer.groupSize, groups: groupsPerRow,
                        headDimension: headDimension, capacity: capacity, packsTwoPerByte: packsTwoPerByte))
                }
            }
        }
    }

    /// The storage as raw pointers, for the attention kernels.
    struct View: @unchecked Sendable {
        let codes: UnsafePointer<UInt8>
        let scales: UnsafePointer<Float>
        let zeros: UnsafePointer<Float>
        let rowBytes: Int
        let groupSize: Int
        let groups: Int
        let headDimension: Int
        let capacity: Int
        let packsTwoPerByte: Bool

        /// Dequantizes row `slot` (`head · capacity + position`) into `output[0..<headDimension]`.
        @inline(__always)
        func dequantizeRow(_ slot: Int, into output: UnsafeMutablePointer<Float>) {
            let row = codes + slot * rowBytes
            let rowScales = scales + slot * groups
            let rowZeros = zeros + slot * groups
            for group in 0..<groups {
                let scale = rowScales[group]
                let zero = rowZeros[group]
                let start = group * groupSize
                if packsTwoPerByte {
                    let half = groupSize / 2
                    let bytes = row + group * half
                    let low = output + start
                    let high = low + half
                    for index in 0..<half {
                        let byte = bytes[index]
                        low[index] = KeyValueQuantizer.dequantized(byte & 0x0F, scale: scale, zero: zero)
                        high[index] = KeyValueQuantizer.dequantized(byte >> 4, scale: scale, zero: zero)
                    }
                } else {
                    for index in start..<(start + groupSize) {
                        output[index] = KeyValueQuantizer.dequantized(row[index], scale: scale, zero: zero)
                    }
                }
            }
        }
    }
}
