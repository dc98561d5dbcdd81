import QuantaTensor

/// A 2:4 sparse linear `W[out × in]` (docs/packed-weights.md, "2:4 sparse"): in every row,
/// each group of 4 consecutive inputs keeps 2 values; the kept values are stored densely as
/// an `[out × in/2]` matrix (floats, or codes in the packed layout with groups of
/// `groupSize/2` kept values) and each kept value's position in its group (0…3) as a 2-bit
/// index, 4 per byte (`sparsity_metadata` U8 `[out, ceil(in/8)]`, index k in bits 2(k%4)).
/// A group's two indices are strictly increasing, so no group can hold more than 2
/// non-zeros; the initializer checks this for every group.
public struct SparseWeights: Sendable {
    /// How the kept values are stored.
    public enum Values: Sendable {
        /// F32 or F16 `[out, in/2]`.
        case float(Tensor)
        /// A packed `[out, in/2]` matrix whose group size is half the tensor's `group_size`.
        case packed(PackedWeights)
    }

    public let outputCount: Int
    public let inputCount: Int
    public let values: Values
    /// U8 `[out, ceil(in/8)]`: 2-bit positions of the kept values.
    public let metadata: Tensor

    /// Kept values per row, `in / 2`.
    public var keptCount: Int { inputCount / 2 }
    /// Bytes of metadata per row.
    public static func metadataByteCount(inputCount: Int) -> Int { (inputCount / 2 + 3) / 4 }

    /// Bytes of all arrays.
    public var byteCount: Int {
        switch values {
        case .float(let tensor): tensor.byteCount + metadata.byteCount
        case .packed(let packed): packed.byteCount + metadata.byteCount
        }
    }

    /// `sparse24-f16`, `sparse24-int4-g128` …: the label `quanta inspect` shows.
    public var label: String {
        switch values {
        case .float(let tensor): "sparse24-\(tensor.dtype.rawValue.lowercased())"
        case .packed(let packed):
            packed.groupSize >= packed.inputCount
                ? "sparse24-\(packed.traits.name)-channel" : "sparse24-\(packed.traits.name)-g\(packed.groupSize * 2)"
        }
    }

    /// Wraps components after checking shapes and dtypes and that every group's two
    /// positions are distinct and increasing (at most 2 non-zeros per 4). `name` labels errors.
    public init(name: String, outputCount: Int, inputCount: Int, values: Values, metadata: Tensor) throws(FormatError) {
        func fail(_ detail: String) -> FormatError { .invalidPackedWeights(tensor: name, detail: detail) }
        guard outputCount >= 0, inputCount >= 4, inputCount % 4 == 0 else {
            throw fail("2:4 sparse shape [\(outputCount), \(inputCount)] needs a positive input count divisible by 4")
        }
        let metadataShape = [outputCount, Self.metadataByteCount(inputCount: inputCount)]
        guard metadata.dtype == .uint8, metadata.shape == metadataShape else {
            throw fail("sparsity_metadata is \(metadata.dtype.rawValue) \(metadata.shape), 2:4 needs U8 \(metadataShape)")
        }
        switch values {
        case .float(let tensor):
            guard [.float32, .float16].contains(tensor.dtype), tensor.shape == [outputCount, inputCount / 2] else {
                throw fail("values are \(tensor.dtype.rawValue) \(tensor.shape), 2:4 needs F32 or F16 [\(outputCount), \(inputCount / 2)]")
            }
        case .packed(let packed):
            guard packed.outputCount == outputCount, packed.inputCount == inputCount / 2, packed.inputPermutation == nil else {
                throw fail("packed values are [\(packed.outputCount), \(packed.inputCount)], 2:4 needs [\(outputCount), \(inputCount / 2)] without permutation")
            }
            guard packed.groupSize >= packed.inputCount || packed.groupSize % 2 == 0 else {
                throw fail("packed values use groups of \(packed.groupSize) kept values; whole groups of 4 inputs need an even count")
            }
        }
        self.outputCount = outputCount
        self.inputCount = inputCount
        self.values = values
        self.metadata = metadata
        if let (row, group) = firstInvalidGroup() {
            throw fail("row \(row), inputs \(4 * group)…\(4 * group + 3): the 2-bit positions are not two distinct increasing indices, so the group could hold more than 2 non-zeros")
        }
    }

    /// The first `(row, group)` whose two positions are not strictly increasing.
    private func firstInvalidGroup() -> (Int, Int)? {
        let rowBytes = Self.metadataByteCount(inputCount: inputCount)
        return metadata.storage.withUnsafeBytes { bytes -> (Int, Int)? in
            for row in 0..<outputCount {
                for group in 0..<(inputCount / 4) {
                    // Kept values 2g and 2g+1 share one byte's nibble (2g % 4 is 0 or 2).
                    let byte = bytes[row * rowBytes + group / 2] >> UInt8(4 * (group % 2))
                    if byte & 3 >= (byte >> 2) & 3 { return (row, group) }
                }
            }
            return nil
        }
    }

    /// Positions `[out × in/2]`: kept value k of a row sits at input `4·(k/2) + position`.
    public func positions() -> [UInt8] {
        let rowBytes = Self.metadataByteCount(inputCount: inputCount)
        return metadata.storage.withUnsafeBytes { bytes in
            var result = [UInt8](repeating: 0, count: outputCount * keptCount)
            for row in 0..<outputCount {
                for kept in 0..<keptCount {
                    result[row * keptCount + kept] = (bytes[row * rowBytes + kept / 4] >> UInt8(2 * (kept % 4))) & 3
                }
            }
            return result
        }
    }

    /// The kept values `[out × in/2]` as floats (packed ones dequantized).
    public func keptValues() -> [Float] {
        switch values {
        case .float(let tensor): (try? tensor.floatValues()) ?? []
        case .packed(let packed): packed.dequantize()
        }
    }

    /// The scalar reference: the dense `W[out × in]` with zeros at the pruned positions.
    public func dequantize() -> [Float] {
        let kept = keptValues()
        let positions = positions()
        var result = [Float](repeating: 0, count: outputCount * inputCount)
        for row in 0..<outputCount {
            for index in 0..<keptCount {
                let column = 4 * (index / 2) + Int(positions[row * keptCount + index])
                result[row * inputCount + column] = kept[row * keptCount + index]
            }
        }
        return result
    }

    // MARK: - Packing

    /// The two kept columns of every group of 4 in each row of `nonZero` (`[out × in]`):
    /// the non-zero ones, padded with the lowest zero positions. Throws naming `name` when a
    /// group has more than 2 non-zeros.
    static func selectKept(name: String, nonZero: [Bool], outputCount: Int, inputCount: Int) throws(FormatError) -> [UInt8] {
        guard inputCount >= 4, inputCount % 4 == 0 else {
            throw .invalidPackedWeights(tensor: name, detail: "2:4 sparsity needs an input count divisible by 4, got \(inputCount)")
        }
        var positions = [UInt8](repeating: 0, count: outputCount * inputCount / 2)
        for row in 0..<outputCount {
            for group in 0..<(inputCount / 4) {
                let base = row * inputCount + 4 * group
                var chosen = (0..<4).filter { nonZero[base + $0] }
                guard chosen.count <= 2 else {
                    throw .invalidPackedWeights(
                        tensor: name,
                        detail: "row \(row), inputs \(4 * group)…\(4 * group + 3) hold \(chosen.count) non-zeros; 2:4 sparsity allows 2")
                }
                for position in 0..<4 where chosen.count < 2 && !chosen.contains(position) { chosen.append(position) }
                chosen.sort()
                positions[(row * inputCount + 4 * group) / 2] = UInt8(chosen[0])
                positions[(row * inputCount + 4 * group) / 2 + 1] = UInt8(chosen[1])
            }
        }
        return positions
    }

    static func metadataTensor(positions: [UInt8], outputCount: Int, inputCount: Int) -> Tensor {
        let rowBytes = metadataByteCount(inputCount: inputCount)
        let kept = inputCount / 2
        let traits = PackedWeightTraits.forBits(2)!
        let storage = TensorStorage(byteCount: outputCount * rowBytes) { destination in
            for row in 0..<outputCount {
                traits.pack(
                    positions[(row * kept)..<((row + 1) * kept)],
                    into: UnsafeMutableRawBufferPointer(rebasing: destination[(row * rowBytes)..<((row + 1) * rowBytes)]))
            }
        }
        return try! Tensor(dtype: .uint8, shape: [outputCount, rowBytes], storage: storage)
    }

    /// Packs a dense `[out × in]` matrix holding at most 2 non-zeros per group of 4, keeping
    /// the values as `valueType` (F32 or F16).
    public static func pack(name: String, values: [Float], outputCount: Int, inputCount: Int, valueType: DType)
        throws(FormatError) -> SparseWeights
    {
        guard values.count == outputCount * inputCount else {
            throw .invalidPackedWeights(tensor: name, detail: "\(values.count) values for [\(outputCount), \(inputCount)]")
        }
        let positions = try selectKept(
            name: name, nonZero: values.map { $0 != 0 }, outputCount: outputCount, inputCount: inputCount)
        var kept = [Float](repeating: 0, count: positions.count)
        for index in kept.indices {
            let row = index / (inputCount / 2)
            let local = index % (inputCount / 2)
            kept[index] = values[row * inputCount + 4 * (local / 2) + Int(positions[index])]
        }
        let keptTensor: Tensor
        do throws(TensorError) {
            keptTensor = try Tensor(shape: [outputCount, inputCount / 2], values: kept).converted(to: valueType)
        } catch {
            throw .invalidPackedWeights(tensor: name, detail: error.localizedDescription)
        }
        return try SparseWeights(
            name: name, outputCount: outputCount, inputCount: inputCount, values: .float(keptTensor),
            metadata: metadataTensor(positions: positions, outputCount: outputCount, inputCount: inputCount))
    }

    /// Packs a quantized 2:4 matrix: `codes` `[out × in]` (original order, no act-order),
    /// pruned entries holding their group's zero point; `scales`/`zeroPoints` `[out × groups]`
    /// with groups of `groupSize` inputs (a multiple of 4, or `in` for per-channel). The kept
    /// values are the entries whose code differs from the zero point, padded with others.
    public static func pack(
        name: String, codes: [UInt8], scales: [Float], zeroPoints: [UInt8], outputCount: Int, inputCount: Int,
        bits: Int, groupSize: Int, symmetric: Bool
    ) throws(FormatError) -> SparseWeights {
        let groupSize = min(groupSize, inputCount)
        guard groupSize == inputCount || groupSize % 4 == 0 else {
            throw .invalidPackedWeights(tensor: name, detail: "2:4 with groups of \(groupSize) inputs: the group size must be a multiple of 4")
        }
        let groups = PackedWeights.groupCount(inputCount: inputCount, groupSize: groupSize)
        guard codes.count == outputCount * inputCount, zeroPoints.count == outputCount * groups else {
            throw .invalidPackedWeights(tensor: name, detail: "\(codes.count) codes and \(zeroPoints.count) zero points for [\(outputCount), \(inputCount)]")
        }
        let nonZero = codes.indices.map { index in
            let row = index / inputCount
            return codes[index] != zeroPoints[row * groups + (index % inputCount) / groupSize]
        }
        let positions = try selectKept(name: name, nonZero: nonZero, outputCount: outputCount, inputCount: inputCount)
        let keptCount = inputCount / 2
        var keptCodes = [UInt8](repeating: 0, count: positions.count)
        for index in keptCodes.indices {
            let row = index / keptCount
            let local = index % keptCount
            keptCodes[index] = codes[row * inputCount + 4 * (local / 2) + Int(positions[index])]
        }
        let keptGroupSize = groupSize == inputCount ? keptCount : groupSize / 2
        let packed = try PackedWeights.pack(
            name: name, codes: keptCodes, scales: scales, zeroPoints: zeroPoints,
            groupIndex: (0..<keptCount).map { $0 / keptGroupSize }, outputCount: outputCount, inputCount: keptCount,
            bits: bits, groupSize: keptGroupSize, symmetric: symmetric)
        return try SparseWeights(
            name: name, outputCount: outputCount, inputCount: inputCount, values: .packed(packed),
            metadata: metadataTensor(positions: positions, outputCount: outputCount, inputCount: inputCount))
    }

    /// Packed kept values as a dense packed `[out × in]` matrix (the inverse of the quantized
    /// `pack`): every pruned entry holds its group's zero point, so it dequantizes to 0.
    /// Float kept values are an error (they export as dense floats instead).
    public func densePacked(name: String) throws(FormatError) -> PackedWeights {
        guard case .packed(let kept) = values else {
            throw .invalidPackedWeights(tensor: name, detail: "2:4 float values have no packed dense form")
        }
        let groupSize = kept.groupSize >= kept.inputCount ? inputCount : kept.groupSize * 2
        let groups = PackedWeights.groupCount(inputCount: inputCount, groupSize: groupSize)
        let keptCodes = kept.unpackedCodes()
        let zeroPoints = kept.unpackedZeroPoints()
        let positions = positions()
        var codes = [UInt8](repeating: 0, count: outputCount * inputCount)
        for row in 0..<outputCount {
            for column in 0..<inputCount { codes[row * inputCount + column] = zeroPoints[row * groups + column / groupSize] }
            for index in 0..<keptCount {
                let column = 4 * (index / 2) + Int(positions[row * keptCount + index])
                codes[row * inputCount + column] = keptCodes[row * keptCount + index]
            }
        }
        return try PackedWeights.pack(
            name: name, codes: codes, scales: kept.scaleValues(), zeroPoints: zeroPoints,
            groupIndex: (0..<inputCount).map { $0 / groupSize }, outputCount: outputCount, inputCount: inputCount,
            bits: kept.bits, groupSize: groupSize, symmetric: kept.symmetric)
    }
}
