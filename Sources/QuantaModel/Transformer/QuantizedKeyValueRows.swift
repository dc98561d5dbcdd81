/// The packed storage of a low-bit KV cache for one of keys or values of one decoder layer:
/// for each KV head and cached position, the head's `headDimension` features as codes of
/// `quantizer.bits` bits (two per byte up to 4 bits, one byte above) plus an f32 scale and
/// zero point per group of `quantizer.groupSize` features. Layout `[kvHeads][capacity]` like
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
    /// Codes `[kvHeads][capacity][rowBytes]`; low nibble first when two share a byte.
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
        codes = []
        scales = []
        zeros = []
        codes = [UInt8](repeating: 0, count: kvHeads * capacity * rowBytes)
        scales = [Float](repeating: 0, count: kvHeads * capacity * groupsPerRow)
        zeros = scales
    }

    /// Whether two codes share a byte (up to 4 bits).
    var packsTwoPerByte: Bool { quantizer.bits <= 4 }
    /// Bytes of one position's codes for one head.
    var rowBytes: Int { packsTwoPerByte ? (headDimension + 1) / 2 : headDimension }
    var groupsPerRow: Int { headDimension / quantizer.groupSize }

    /// Bytes one cached position takes across all KV heads (codes, scales, zero points).
    static func bytesPerPosition(quantizer: KeyValueQuantizer, kvHeads: Int, headDimension: Int) -> Int {
        let rowBytes = quantizer.bits <= 4 ? (headDimension + 1) / 2 : headDimension
        return kvHeads * (rowBytes + 2 * MemoryLayout<Float>.size * (headDimension / quantizer.groupSize))
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
                    for byte in 0..<bytes {
                        let low = unpackedBase[2 * byte]
                        let high = 2 * byte + 1 < headDimension ? unpackedBase[2 * byte + 1] : 0
                        row[byte] = low | (high << 4)
                    }
                } else {
                    row.update(from: unpackedBase, count: bytes)
                }
            }
        }
    }

    /// Dequantizes positions `0..<count` of `head` into `destination` (`count × headDimension`).
    func dequantize(head: Int, count: Int, into destination: UnsafeMutablePointer<Float>) {
        let groupSize = quantizer.groupSize
        let groups = groupsPerRow
        let bytes = rowBytes
        let dimension = headDimension
        let twoPerByte = packsTwoPerByte
        codes.withUnsafeBufferPointer { codeBuffer in
            scales.withUnsafeBufferPointer { scaleBuffer in
                zeros.withUnsafeBufferPointer { zeroBuffer in
                    for position in 0..<count {
                        let slot = head * capacity + position
                        let row = codeBuffer.baseAddress! + slot * bytes
                        let output = destination + position * dimension
                        for group in 0..<groups {
                            let scale = scaleBuffer[slot * groups + group]
                            let zero = zeroBuffer[slot * groups + group]
                            let start = group * groupSize
                            if twoPerByte {
                                for index in start..<(start + groupSize) {
                                    let code = (row[index >> 1] >> UInt8((index & 1) << 2)) & 0x0F
                                    output[index] = KeyValueQuantizer.dequantized(code, scale: scale, zero: zero)
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
        }
    }
}
