import QuantaTensor

/// One entry of a GGUF tensor table, validated against the file.
public struct GGUFTensor: Sendable, Equatable {
    /// The llama.cpp tensor name, e.g. `blk.0.attn_q.weight`.
    public var name: String
    /// The ggml element type.
    public var type: GGMLType
    /// The shape in row-major order (GGUF stores dimensions innermost-first; this is reversed).
    public var shape: [Int]
    /// The number of elements.
    public var elementCount: Int
    /// The absolute byte range of the tensor's data in the file.
    public var dataRange: Range<Int>
}

/// A memory-mapped GGUF file (versions 2 and 3, little-endian): metadata in file order and a
/// validated tensor table. Layout as in llama.cpp `docs/gguf.md` / `ggml/src/gguf.cpp`.
public struct GGUFFile: Sendable {
    /// The file path, used in every error message.
    public let path: String
    /// The GGUF format version (2 or 3).
    public let version: UInt32
    /// Metadata entries in file order.
    public let metadata: [GGUFMetadataEntry]
    /// Tensors in file order.
    public let tensors: [GGUFTensor]
    /// `general.alignment`, or 32 when absent.
    public let alignment: Int
    /// The absolute offset of the (aligned) data section.
    public let dataOffset: Int

    /// The mapping that tensors borrow from.
    let mappedFile: MappedFile
    private let metadataIndex: [String: Int]
    private let tensorIndex: [String: Int]

    /// The default data alignment (`GGUF_DEFAULT_ALIGNMENT`).
    public static let defaultAlignment = 32
    /// The most dimensions a tensor may have (`GGML_MAX_DIMS`).
    public static let maximumDimensions = 4

    /// Maps and parses the file at `path`, validating every count, size and offset.
    public init(path: String) throws(FormatError) {
        try self.init(file: MappedFile(path: path))
    }

    /// Parses an already mapped file.
    public init(file: MappedFile) throws(FormatError) {
        self.mappedFile = file
        self.path = file.path
        var reader = GGUFByteReader(bytes: file.bytes, path: file.path)

        try reader.require(4, for: "GGUF magic")
        let magic = try reader.read(UInt32.self, for: "GGUF magic")
        guard magic == 0x4655_4747 else {  // "GGUF" read little-endian
            throw .invalidHeader(
                path: path, detail: "bad magic 0x\(String(magic, radix: 16)) at byte 0 (expected 'GGUF')")
        }
        let rawVersion = try reader.read(UInt32.self, for: "GGUF version")
        guard rawVersion == 2 || rawVersion == 3 else {
            let swapped = rawVersion.byteSwapped
            let hint = swapped == 2 || swapped == 3 ? " (a big-endian file; only little-endian is supported)" : ""
            throw .invalidHeader(
                path: path, detail: "unsupported GGUF version \(rawVersion) at byte 4\(hint); only versions 2 and 3 are read")
        }
        version = rawVersion
        let tensorCount = try reader.readCount(for: "tensor count")
        let metadataCount = try reader.readCount(for: "metadata count")
        // Each metadata entry takes at least 13 bytes, each tensor info at least 24: reject
        // counts the file cannot hold before allocating anything.
        let (metadataBytes, overflowA) = metadataCount.multipliedReportingOverflow(by: 13)
        let (tensorBytes, overflowB) = tensorCount.multipliedReportingOverflow(by: 24)
        let (minimumBytes, overflowC) = metadataBytes.addingReportingOverflow(tensorBytes)
        guard !overflowA, !overflowB, !overflowC, minimumBytes <= reader.remaining else {
            throw .truncated(
                path: path,
                detail: "tensor count \(tensorCount) and metadata count \(metadataCount) at byte 8 need more "
                    + "than the \(reader.remaining) bytes that remain (the counts are corrupt or the file is cut short)")
        }

        var entries: [GGUFMetadataEntry] = []
        var index: [String: Int] = [:]
        entries.reserveCapacity(metadataCount)
        for entryNumber in 0..<metadataCount {
            let keyPosition = reader.position
            let key = try reader.readString(for: "key of metadata entry \(entryNumber)")
            guard index[key] == nil else {
                throw .invalidField(
                    path: path, field: key, detail: "duplicate metadata key at byte \(keyPosition); keys must be unique")
            }
            let type = try reader.readValueType(for: key)
            let value = try reader.readValue(of: type, key: key)
            index[key] = entries.count
            entries.append(GGUFMetadataEntry(key: key, value: value))
        }
        metadata = entries
        metadataIndex = index

        var alignment = Self.defaultAlignment
        if let entry = index["general.alignment"].map({ entries[$0] }) {
            guard case .uint32(let value) = entry.value, value > 0, value & (value - 1) == 0 else {
                throw .invalidField(
                    path: path, field: "general.alignment",
                    detail: "must be a uint32 power of two, got \(entry.value)")
            }
            alignment = Int(value)
        }
        self.alignment = alignment

        var pending: [(tensor: GGUFTensor, offset: Int, byteCount: Int)] = []
        var names: [String: Int] = [:]
        pending.reserveCapacity(tensorCount)
        for tensorNumber in 0..<tensorCount {
            let entry = try Self.readTensorInfo(&reader, number: tensorNumber, alignment: alignment)
            guard names[entry.tensor.name] == nil else { throw .duplicateTensor(path: path, tensor: entry.tensor.name) }
            names[entry.tensor.name] = pending.count
            pending.append(entry)
        }
        tensorIndex = names

        let (alignedStart, overflow) = reader.position.addingReportingOverflow(alignment - 1)
        guard !overflow else { throw .invalidHeader(path: path, detail: "data section offset overflows") }
        dataOffset = alignedStart / alignment * alignment

        var resolved: [GGUFTensor] = []
        resolved.reserveCapacity(pending.count)
        for var entry in pending {
            let (start, overflowStart) = dataOffset.addingReportingOverflow(entry.offset)
            let (end, overflowEnd) = start.addingReportingOverflow(entry.byteCount)
            guard !overflowStart, !overflowEnd, end <= file.count else {
                throw .offsetOutOfRange(
                    path: path, tensor: entry.tensor.name,
                    detail: "data offset \(entry.offset) + \(entry.byteCount) bytes from the data section at byte "
                        + "\(dataOffset) ends past the file's \(file.count) bytes")
            }
            entry.tensor.dataRange = start..<end
            resolved.append(entry.tensor)
        }
        let ordered = resolved.filter { !$0.dataRange.isEmpty }.sorted { $0.dataRange.lowerBound < $1.dataRange.lowerBound }
        for (first, second) in zip(ordered, ordered.dropFirst()) where first.dataRange.upperBound > second.dataRange.lowerBound {
            throw .overlappingTensors(path: path, first: first.name, second: second.name)
        }
        tensors = resolved
    }

    func metadataIndex(of key: String) -> Int? { metadataIndex[key] }

    func tensorPosition(of name: String) -> Int? { tensorIndex[name] }

    /// Reads and checks one tensor info; the data offset stays relative to the data section.
    private static func readTensorInfo(_ reader: inout GGUFByteReader, number: Int, alignment: Int)
        throws(FormatError) -> (tensor: GGUFTensor, offset: Int, byteCount: Int)
    {
        let path = reader.path
        let name = try reader.readString(for: "name of tensor \(number)")
        let dimensionsPosition = reader.position
        let dimensionCount = try reader.read(UInt32.self, for: "dimension count of tensor '\(name)'")
        guard dimensionCount <= maximumDimensions else {
            throw .shapeMismatch(
                path: path, tensor: name,
                detail: "n_dims \(dimensionCount) at byte \(dimensionsPosition) exceeds the maximum of \(maximumDimensions)")
        }
        var dimensions: [Int] = []
        for axis in 0..<Int(dimensionCount) {
            let position = reader.position
            let raw = try reader.read(UInt64.self, for: "dimension \(axis) of tensor '\(name)'")
            guard let dimension = Int(exactly: raw) else {
                throw .shapeMismatch(path: path, tensor: name, detail: "dimension \(axis) = \(raw) at byte \(position) is too large")
            }
            dimensions.append(dimension)
        }
        var elementCount = 1
        for dimension in dimensions {
            let (product, overflow) = elementCount.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw .shapeMismatch(
                    path: path, tensor: name,
                    detail: "dimensions \(dimensions) at byte \(dimensionsPosition) overflow the element count")
            }
            elementCount = product
        }
        let typePosition = reader.position
        let rawType = try reader.read(UInt32.self, for: "type of tensor '\(name)'")
        guard let type = GGMLType(rawValue: rawType) else {
            throw .unsupportedDType(path: path, tensor: name, dtype: "unknown ggml type \(rawType) at byte \(typePosition)")
        }
        let innermost = dimensions.first ?? 1
        guard innermost % type.blockSize == 0 else {
            throw .shapeMismatch(
                path: path, tensor: name,
                detail: "innermost dimension \(innermost) (element count \(elementCount)) is not a multiple of "
                    + "\(type.name)'s block size \(type.blockSize) (info at byte \(dimensionsPosition))")
        }
        let (byteCount, overflow) = (elementCount / type.blockSize).multipliedReportingOverflow(by: type.bytesPerBlock)
        guard !overflow else {
            throw .shapeMismatch(path: path, tensor: name, detail: "byte size of dimensions \(dimensions) overflows")
        }
        let offsetPosition = reader.position
        let offset = try reader.readCount(for: "data offset of tensor '\(name)'")
        guard offset % alignment == 0 else {
            throw .offsetOutOfRange(
                path: path, tensor: name,
                detail: "data offset \(offset) at byte \(offsetPosition) is not a multiple of the alignment \(alignment)")
        }
        let tensor = GGUFTensor(
            name: name, type: type, shape: dimensions.reversed(), elementCount: elementCount, dataRange: 0..<0)
        return (tensor, offset, byteCount)
    }
}
