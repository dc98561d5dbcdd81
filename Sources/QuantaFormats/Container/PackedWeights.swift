import QuantaTensor

/// A quantized linear `W[out × in]` in the packed layout of docs/packed-weights.md: codes
/// and zero points bit-packed per row, f16 scales per row and group, and an optional input
/// permutation (act-order). The components are `Tensor`s, so they are either owned or
/// borrowed from a memory-mapped container.
public struct PackedWeights: Sendable {
    public let traits: PackedWeightTraits
    /// Columns per group along the input dimension (`inputCount` for per-channel).
    public let groupSize: Int
    /// Whether the scheme is symmetric (zero points then all equal `2^(bits−1)`).
    public let symmetric: Bool
    /// Rows, `out`.
    public let outputCount: Int
    /// Columns, `in`.
    public let inputCount: Int
    /// `codes`: U8 `[out, rowBytes]`, columns in packed (permuted) order.
    public let codes: Tensor
    /// `scales`: F16 `[out, groups]`.
    public let scales: Tensor
    /// `zeros`: U8 `[out, zeroBytes]`.
    public let zeros: Tensor
    /// `input_permutation`: I32 `[in]`; packed column j holds original column `permutation[j]`.
    public let inputPermutation: Tensor?

    public var bits: Int { traits.bits }
    /// Groups per row, `ceil(in / groupSize)`.
    public var groupCount: Int { Self.groupCount(inputCount: inputCount, groupSize: groupSize) }
    /// Bytes of one packed row of codes.
    public var rowByteCount: Int { codes.shape.last ?? 0 }
    /// Bytes of one packed row of zero points.
    public var zeroByteCount: Int { zeros.shape.last ?? 0 }
    /// `int4-g128`, or `int4-channel` for per-channel (one group per row).
    public var label: String {
        groupSize >= inputCount ? "\(traits.name)-channel" : "\(traits.name)-g\(groupSize)"
    }
    /// Bytes of all components.
    public var byteCount: Int {
        codes.byteCount + scales.byteCount + zeros.byteCount + (inputPermutation?.byteCount ?? 0)
    }

    static func groupCount(inputCount: Int, groupSize: Int) -> Int {
        groupSize <= 0 ? 0 : inputCount / groupSize + (inputCount % groupSize == 0 ? 0 : 1)
    }

    /// Wraps components after checking their dtypes and shapes against the layout, and
    /// that `inputPermutation`, when present, is a permutation of `0..<inputCount` (so a
    /// kernel may index with it unchecked). `name` labels errors.
    public init(
        name: String, bits: Int, groupSize: Int, symmetric: Bool, outputCount: Int, inputCount: Int, codes: Tensor,
        scales: Tensor, zeros: Tensor, inputPermutation: Tensor? = nil
    ) throws(FormatError) {
        guard let traits = PackedWeightTraits.forBits(bits) else {
            throw .invalidPackedWeights(tensor: name, detail: "bits \(bits) is not one of 2, 3, 4, 8")
        }
        guard outputCount >= 0, inputCount >= 1 else {
            throw .invalidPackedWeights(tensor: name, detail: "shape [\(outputCount), \(inputCount)] must have in ≥ 1")
        }
        guard groupSize >= 1, groupSize <= inputCount else {
            throw .invalidPackedWeights(
                tensor: name, detail: "group size \(groupSize) must be in 1…\(inputCount) (the input dimension)")
        }
        let groups = Self.groupCount(inputCount: inputCount, groupSize: groupSize)
        guard let rowBytes = traits.packedByteCount(valueCount: inputCount),
            let zeroBytes = traits.packedByteCount(valueCount: groups)
        else { throw .invalidPackedWeights(tensor: name, detail: "row size overflows") }
        func check(_ tensor: Tensor, _ role: String, _ dtype: DType, _ shape: [Int]) throws(FormatError) {
            guard tensor.dtype == dtype, tensor.shape == shape else {
                throw .invalidPackedWeights(
                    tensor: name,
                    detail: "\(role) is \(tensor.dtype.rawValue) \(tensor.shape), the layout needs \(dtype.rawValue) \(shape)")
            }
        }
        try check(codes, "codes", .uint8, [outputCount, rowBytes])
        try check(scales, "scales", .float16, [outputCount, groups])
        try check(zeros, "zeros", .uint8, [outputCount, zeroBytes])
        // f16 infinity and NaN have all exponent bits set; the kernels would turn them into
        // NaN outputs or trap converting them to integers.
        let nonFinite = scales.storage.withUnsafeBytes { bytes in
            bytes.bindMemory(to: UInt16.self).firstIndex { $0 & 0x7C00 == 0x7C00 }
        }
        if let nonFinite {
            throw .invalidPackedWeights(
                tensor: name, detail: "scale \(nonFinite) (row \(nonFinite / max(groups, 1)), group \(nonFinite % max(groups, 1))) is infinite or NaN")
        }
        if let inputPermutation {
            try check(inputPermutation, "input_permutation", .int32, [inputCount])
            let valid = inputPermutation.storage.withUnsafeBytes { bytes in
                var seen = [Bool](repeating: false, count: inputCount)
                for index in 0..<inputCount {
                    let value = Int(bytes.loadUnaligned(fromByteOffset: 4 * index, as: Int32.self).littleEndian)
                    guard value >= 0, value < inputCount, !seen[value] else { return false }
                    seen[value] = true
                }
                return true
            }
            guard valid else {
                throw .invalidPackedWeights(tensor: name, detail: "input_permutation is not a permutation of 0..<\(inputCount)")
            }
        }
        self.traits = traits
        self.groupSize = groupSize
        self.symmetric = symmetric
        self.outputCount = outputCount
        self.inputCount = inputCount
        self.codes = codes
        self.scales = scales
        self.zeros = zeros
        self.inputPermutation = inputPermutation
    }

    /// Packs a quantized weight given as plain arrays.
    ///
    /// - `codes`: `[out × in]` row-major, original column order, each `≤ 2^bits − 1`.
    /// - `scales`, `zeroPoints`: `[out × groups]` row-major. Scales must be exactly
    ///   representable in f16 (the quantizer rounds them before computing the dequantized
    ///   weights); a scale that is not is an error rather than silently rounded, because
    ///   the packed model would then differ from the simulated one.
    /// - `groupIndex`: the group of each input column (GPTQ `g_idx`). When it is not
    ///   `column / groupSize`, the columns are stably reordered by group, so each group is
    ///   contiguous, and the order is stored as `input_permutation`; this needs exactly
    ///   `groupSize` columns per group (the last `in − (groups−1)·groupSize`).
    /// - symmetric schemes must use the zero point `2^(bits−1)` throughout.
    public static func pack(
        name: String, codes: [UInt8], scales: [Float], zeroPoints: [UInt8], groupIndex: [Int], outputCount: Int,
        inputCount: Int, bits: Int, groupSize: Int, symmetric: Bool
    ) throws(FormatError) -> PackedWeights {
        func fail(_ detail: String) -> FormatError { .invalidPackedWeights(tensor: name, detail: detail) }
        guard let traits = PackedWeightTraits.forBits(bits) else { throw fail("bits \(bits) is not one of 2, 3, 4, 8") }
        guard outputCount >= 0, inputCount >= 1, groupSize >= 1, groupSize <= inputCount else {
            throw fail("shape [\(outputCount), \(inputCount)] with group size \(groupSize): need in ≥ 1 and 1 ≤ group size ≤ in")
        }
        let groups = groupCount(inputCount: inputCount, groupSize: groupSize)
        let (weightCount, overflow) = outputCount.multipliedReportingOverflow(by: inputCount)
        guard !overflow, codes.count == weightCount else { throw fail("\(codes.count) codes for [\(outputCount), \(inputCount)]") }
        guard scales.count == outputCount * groups, zeroPoints.count == outputCount * groups else {
            throw fail("\(scales.count) scales and \(zeroPoints.count) zero points, expected \(outputCount) × \(groups)")
        }
        guard groupIndex.count == inputCount else { throw fail("\(groupIndex.count) group indices for \(inputCount) columns") }
        if let index = codes.firstIndex(where: { Int($0) > traits.maximumCode }) {
            throw fail("code \(codes[index]) at [\(index / inputCount), \(index % inputCount)] exceeds \(traits.maximumCode)")
        }
        if let index = zeroPoints.firstIndex(where: { Int($0) > traits.maximumCode }) {
            throw fail("zero point \(zeroPoints[index]) at [\(index / groups), \(index % groups)] exceeds \(traits.maximumCode)")
        }
        if symmetric, let index = zeroPoints.firstIndex(where: { Int($0) != traits.symmetricZeroPoint }) {
            throw fail("symmetric scheme with zero point \(zeroPoints[index]) (must be \(traits.symmetricZeroPoint))")
        }
        var halfScales = [UInt16](repeating: 0, count: scales.count)
        for (index, scale) in scales.enumerated() {
            let half = Float16(scale)
            guard Float(half) == scale else {
                throw fail("scale \(scale) at [\(index / groups), \(index % groups)] is not representable in f16; round scales to f16 before computing the codes")
            }
            halfScales[index] = half.bitPattern
        }
        let permutation = try inputOrder(groupIndex: groupIndex, groupSize: groupSize, groups: groups, name: name)

        let rowBytes = traits.packedByteCount(valueCount: inputCount)!
        let zeroBytes = traits.packedByteCount(valueCount: groups)!
        let packedCodes = TensorStorage(byteCount: outputCount * rowBytes) { destination in
            var row = [UInt8](repeating: 0, count: inputCount)
            for rowIndex in 0..<outputCount {
                let base = rowIndex * inputCount
                if let permutation {
                    for column in 0..<inputCount { row[column] = codes[base + permutation[column]] }
                } else {
                    for column in 0..<inputCount { row[column] = codes[base + column] }
                }
                let start = rowIndex * rowBytes
                traits.pack(row[...], into: UnsafeMutableRawBufferPointer(rebasing: destination[start..<(start + rowBytes)]))
            }
        }
        let packedZeros = TensorStorage(byteCount: outputCount * zeroBytes) { destination in
            for rowIndex in 0..<outputCount {
                let start = rowIndex * zeroBytes
                traits.pack(
                    zeroPoints[(rowIndex * groups)..<((rowIndex + 1) * groups)],
                    into: UnsafeMutableRawBufferPointer(rebasing: destination[start..<(start + zeroBytes)]))
            }
        }
        let codesTensor: Tensor, scalesTensor: Tensor, zerosTensor: Tensor, permutationTensor: Tensor?
        do throws(TensorError) {
            codesTensor = try Tensor(dtype: .uint8, shape: [outputCount, rowBytes], storage: packedCodes)
            scalesTensor = try Tensor(dtype: .float16, shape: [outputCount, groups], storage: TensorStorage(array: halfScales))
            zerosTensor = try Tensor(dtype: .uint8, shape: [outputCount, zeroBytes], storage: packedZeros)
            permutationTensor = try permutation.map { (order) throws(TensorError) in
                try Tensor(dtype: .int32, shape: [inputCount], storage: TensorStorage(array: order.map { Int32($0) }))
            }
        } catch {
            throw .invalidPackedWeights(tensor: name, detail: error.localizedDescription)
        }
        return try PackedWeights(
            name: name, bits: bits, groupSize: groupSize, symmetric: symmetric, outputCount: outputCount,
            inputCount: inputCount, codes: codesTensor, scales: scalesTensor, zeros: zerosTensor,
            inputPermutation: permutationTensor)
    }

    /// The column order that makes groups contiguous, or nil when `groupIndex` already is
    /// `column / groupSize`. Stable: within a group, columns keep their original order.
    static func inputOrder(groupIndex: [Int], groupSize: Int, groups: Int, name: String) throws(FormatError) -> [Int]? {
        let inputCount = groupIndex.count
        if groupIndex.indices.allSatisfy({ groupIndex[$0] == $0 / groupSize }) { return nil }
        var members = [[Int]](repeating: [], count: groups)
        for (column, group) in groupIndex.enumerated() {
            guard group >= 0, group < groups else {
                throw .invalidPackedWeights(tensor: name, detail: "group index \(group) of column \(column) is outside 0..<\(groups)")
            }
            members[group].append(column)
        }
        for (group, columns) in members.enumerated() {
            let expected = min(groupSize, inputCount - group * groupSize)
            guard columns.count == expected else {
                throw .invalidPackedWeights(
                    tensor: name,
                    detail: "group \(group) has \(columns.count) columns, the layout needs \(expected) (groups of \(groupSize), the last one narrower)")
            }
        }
        return members.flatMap { $0 }
    }

    /// Codes `[out × in]` in packed (permuted) column order, unpacked.
    public func unpackedCodes() -> [UInt8] {
        unpackRows(codes, count: inputCount)
    }

    /// Zero points `[out × groups]`, unpacked.
    public func unpackedZeroPoints() -> [UInt8] {
        unpackRows(zeros, count: groupCount)
    }

    /// Scales `[out × groups]` widened to Float.
    public func scaleValues() -> [Float] {
        // Validated F16 at init, so this cannot fail.
        (try? scales.floatValues()) ?? []
    }

    /// The input permutation as Ints (packed column j holds original column `[j]`), if any.
    public func permutation() -> [Int]? {
        inputPermutation.map { tensor in
            tensor.storage.withUnsafeBytes { bytes in
                (0..<inputCount).map { Int(bytes.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self).littleEndian) }
            }
        }
    }

    private func unpackRows(_ tensor: Tensor, count: Int) -> [UInt8] {
        let rowBytes = tensor.shape.last ?? 0
        return tensor.storage.withUnsafeBytes { bytes in
            var result = [UInt8]()
            result.reserveCapacity(outputCount * count)
            for row in 0..<outputCount {
                let rowSlice = UnsafeRawBufferPointer(rebasing: bytes[(row * rowBytes)..<((row + 1) * rowBytes)])
                for index in 0..<count { result.append(traits.unpackValue(at: index, from: rowSlice)) }
            }
            return result
        }
    }

    /// The scalar reference dequantizer the runtime kernels are tested against: `W[out × in]`
    /// row-major in the ORIGINAL column order, element `(r, c)` =
    /// `Float(scale[r, G]) * (Float(code) − Float(zero[r, G]))` with G the group of c's packed
    /// position — the operation order of the simulated weights (docs/packed-weights.md).
    public func dequantize() -> [Float] {
        let codeValues = unpackedCodes()
        let zeroValues = unpackedZeroPoints()
        let scaleValues = scaleValues()
        let order = permutation()
        let groups = groupCount
        var result = [Float](repeating: 0, count: outputCount * inputCount)
        for row in 0..<outputCount {
            for packedColumn in 0..<inputCount {
                let group = packedColumn / groupSize
                let scale = scaleValues[row * groups + group]
                let zero = Float(zeroValues[row * groups + group])
                let column = order?[packedColumn] ?? packedColumn
                result[row * inputCount + column] = scale * (Float(codeValues[row * inputCount + packedColumn]) - zero)
            }
        }
        return result
    }
}
