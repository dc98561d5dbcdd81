import Foundation
import QuantaTensor

/// A Quanta container opened for reading (docs/container.md): the preamble, header and
/// tensor table are validated at open; array data is memory-mapped and handed out as
/// `Tensor`s that borrow the mapping (uncompressed) or own their decompressed bytes (zstd).
///
/// Checksums: `verify: true` checks every array at open; with `verify: false` each array
/// is checked the first time `tensor(named:)`, `tensor(at:)` or `file(named:)` returns it.
/// Either way no unverified byte reaches a caller. Safe to share between threads.
public final class QuantaContainer: @unchecked Sendable {
    public let path: String
    /// Major version from the preamble.
    public let version: UInt32
    /// `minor_version` from the header (0 when absent).
    public let minorVersion: Int
    /// `tool.name` and `tool.version`: the writer.
    public let toolName: String
    public let toolVersion: String
    /// The model config, decoded and validated.
    public let config: ModelConfig
    /// The `config` object as stored.
    public let configJSON: JSONValue
    /// The `provenance` object (`.object([])` when absent).
    public let provenance: JSONValue
    /// The whole header.
    public let header: JSONValue
    /// The tensor table in file order.
    public let tensorEntries: [ContainerTensorEntry]
    /// Auxiliary file names and their arrays, in file order.
    public let fileEntries: [(name: String, array: ContainerArrayEntry)]

    private let owner: AnyObject
    private let bytes: UnsafeRawBufferPointer
    private let dataStart: Int
    private let tensorIndex: [String: Int]
    private let lock = NSLock()
    /// Arrays whose checksum has been verified, by (tensor or file index, array index) key.
    private var verified = Set<Int>()
    /// Decompressed arrays, by the same key.
    private var decompressed: [Int: TensorStorage] = [:]

    /// Opens and validates `path`; `verify` checks every checksum now (otherwise lazily).
    public convenience init(path: String, verify: Bool = true) throws(FormatError) {
        let file = try MappedFile(path: path)
        try self.init(path: path, owner: file, bytes: file.bytes, verify: verify)
    }

    /// Reads a container from memory (tests, tools); `path` labels errors.
    public convenience init(data: Data, path: String = "<memory>", verify: Bool = true) throws(FormatError) {
        let storage = data.withUnsafeBytes { TensorStorage(copying: $0) }
        try self.init(path: path, owner: storage, bytes: storage.bytes, verify: verify)
    }

    private init(path: String, owner: AnyObject, bytes: UnsafeRawBufferPointer, verify: Bool) throws(FormatError) {
        self.path = path
        self.owner = owner
        self.bytes = bytes
        let preambleSize = QuantaContainerFormat.preambleSize
        guard bytes.count >= 4 else {
            throw .truncated(path: path, detail: "the 16-byte preamble needs 16 bytes but the file has \(bytes.count)")
        }
        guard Array(bytes[0..<4]) == QuantaContainerFormat.magic else {
            throw .invalidHeader(path: path, detail: "magic is not 'QNTA'; not a Quanta container")
        }
        guard bytes.count >= preambleSize else {
            throw .truncated(path: path, detail: "the 16-byte preamble needs 16 bytes but the file has \(bytes.count)")
        }
        version = bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self).littleEndian
        guard version == QuantaContainerFormat.version else {
            throw .unsupportedVersion(path: path, found: version, supported: QuantaContainerFormat.version)
        }
        let headerLength = bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian
        guard headerLength <= UInt64(QuantaContainerFormat.maximumHeaderLength) else {
            throw .invalidHeader(path: path, detail: "header length \(headerLength) exceeds \(QuantaContainerFormat.maximumHeaderLength) bytes")
        }
        dataStart = preambleSize + Int(headerLength)
        guard dataStart <= bytes.count else {
            throw .truncated(path: path, detail: "the header needs bytes 16..<\(dataStart) but the file has \(bytes.count)")
        }
        guard dataStart % QuantaContainerFormat.alignment == 0 else {
            throw .invalidHeader(path: path, detail: "the data section starts at \(dataStart), not a multiple of \(QuantaContainerFormat.alignment)")
        }
        let header = try JSONValue.parse(UnsafeRawBufferPointer(rebasing: bytes[preambleSize..<dataStart]), path: path)
        guard case .object = header else { throw .invalidHeader(path: path, detail: "the JSON header is not an object") }
        self.header = header

        let probe = ContainerHeaderParser(path: path, dataSize: 0)
        let dataSize = try probe.integer(header["data_size"], "data_size")
        let (fileEnd, overflow) = dataStart.addingReportingOverflow(dataSize)
        guard !overflow, fileEnd <= bytes.count else {
            throw .truncated(path: path, detail: "the data section needs \(dataSize) bytes from \(dataStart) but the file has \(bytes.count)")
        }
        guard fileEnd == bytes.count else {
            throw .invalidHeader(path: path, detail: "\(bytes.count - fileEnd) unexpected bytes after the data section")
        }
        let parser = ContainerHeaderParser(path: path, dataSize: dataSize)
        minorVersion = header["minor_version"] == nil ? 0 : try parser.integer(header["minor_version"], "minor_version")
        guard case .object? = header["tool"] else { throw .missingField(path: path, field: "tool") }
        toolName = try parser.string(header["tool"]?["name"], "tool.name")
        toolVersion = try parser.string(header["tool"]?["version"], "tool.version")
        guard let configJSON = header["config"], case .object = configJSON else {
            throw .missingField(path: path, field: "config")
        }
        self.configJSON = configJSON
        config = try ModelConfig.decode(Data(configJSON.serialized(pretty: false).utf8), path: path + " (header 'config')")
        provenance = header["provenance"] ?? .object([])

        var files: [(name: String, array: ContainerArrayEntry)] = []
        if let filesValue = header["files"] {
            guard case .array(let items) = filesValue else { throw .invalidField(path: path, field: "files", detail: "must be an array") }
            for (index, item) in items.enumerated() {
                let name = try parser.string(item["name"], "files[\(index)].name")
                guard !name.isEmpty, !name.contains("/"), !files.contains(where: { $0.name == name }) else {
                    throw .invalidField(path: path, field: "files[\(index)].name", detail: "'\(name)' is empty, contains '/', or repeats")
                }
                let array = try parser.array(item["array"], "files[\(index)].array ('\(name)')", owner: name)
                guard array.dtype == .uint8, array.shape == [array.byteCount] else {
                    throw .shapeMismatch(path: path, tensor: name, detail: "a file is stored as U8 [byte count]")
                }
                files.append((name, array))
            }
        }
        fileEntries = files
        guard case .array(let tensorValues)? = header["tensors"] else { throw .missingField(path: path, field: "tensors") }
        var tensors: [ContainerTensorEntry] = []
        var index: [String: Int] = [:]
        for (position, value) in tensorValues.enumerated() {
            let entry = try parser.tensor(value, index: position, toolVersion: toolVersion)
            guard index.updateValue(position, forKey: entry.name) == nil else {
                throw .duplicateTensor(path: path, tensor: entry.name)
            }
            // Shapes agree with the config before any array is read or decompressed.
            if let expected = LlamaTensorLayout.expectedShape(of: entry.name, for: config), entry.shape != expected {
                throw .shapeMismatch(path: path, tensor: entry.name, detail: "shape \(entry.shape), but the header's config implies \(expected)")
            }
            tensors.append(entry)
        }
        tensorEntries = tensors
        tensorIndex = index

        // No two arrays may share a byte.
        var ranges: [(range: Range<Int>, owner: String)] = files.map { ($0.array.offset..<($0.array.offset + $0.array.storedByteCount), $0.name) }
        for tensor in tensors {
            for array in tensor.arrays { ranges.append((array.offset..<(array.offset + array.storedByteCount), tensor.name)) }
        }
        ranges = ranges.filter { !$0.range.isEmpty }.sorted { $0.range.lowerBound < $1.range.lowerBound }
        for position in ranges.indices.dropFirst() where ranges[position - 1].range.upperBound > ranges[position].range.lowerBound {
            throw .overlappingTensors(path: path, first: ranges[position - 1].owner, second: ranges[position].owner)
        }
        if verify { try verifyAll() }
    }

    // MARK: - Table

    public var tensorNames: [String] { tensorEntries.map(\.name) }
    /// Bytes of the preamble and header (with its padding): where the data section starts.
    public var headerByteCount: Int { dataStart }
    /// Bytes of the whole file.
    public var fileByteCount: Int { bytes.count }
    public var fileNames: [String] { fileEntries.map(\.name) }

    /// The tensor table for `quanta inspect` (packed dtypes shown as `int4-g128`).
    public var tensorInfos: [TensorInfo] {
        tensorEntries.map { TensorInfo(name: $0.name, dtype: $0.label, shape: $0.shape, byteCount: $0.byteCount) }
    }

    // MARK: - Data

    /// Verifies every array's checksum (files and tensors), once each.
    public func verifyAll() throws(FormatError) {
        for index in fileEntries.indices { _ = try storage(key: Self.fileKey(index), array: fileEntries[index].array, owner: fileEntries[index].name, load: false) }
        for (tensor, entry) in tensorEntries.enumerated() {
            for (position, array) in entry.arrays.enumerated() {
                _ = try storage(key: Self.tensorKey(tensor, position), array: array, owner: entry.name, load: false)
            }
        }
    }

    /// The tensor named `name` (verified on first access), or `missingTensor`.
    public func tensor(named name: String) throws(FormatError) -> ContainerTensor {
        guard let index = tensorIndex[name] else { throw .missingTensor(path: path, tensor: name) }
        return try tensor(at: index)
    }

    /// The tensor at `index` of `tensorEntries` (verified on first access).
    public func tensor(at index: Int) throws(FormatError) -> ContainerTensor {
        precondition(tensorEntries.indices.contains(index), "tensor index out of range")
        let entry = tensorEntries[index]
        var components: [String: Tensor] = [:]
        for (position, array) in entry.arrays.enumerated() {
            let storage = try storage(key: Self.tensorKey(index, position), array: array, owner: entry.name, load: true)!
            do { components[array.role] = try Tensor(dtype: array.dtype, shape: array.shape, storage: storage) } catch {
                throw .invalidTensor(path: path, tensor: entry.name, underlying: error)
            }
        }
        switch entry.format {
        case .dense:
            return ContainerTensor(name: entry.name, dense: components["data"]!)
        case .packed(let bits, let groupSize, let symmetric):
            do {
                let weights = try PackedWeights(
                    name: entry.name, bits: bits, groupSize: groupSize, symmetric: symmetric, outputCount: entry.shape[0],
                    inputCount: entry.shape[1], codes: components["codes"]!, scales: components["scales"]!,
                    zeros: components["zeros"]!, inputPermutation: components["input_permutation"])
                return ContainerTensor(name: entry.name, packed: weights)
            } catch {
                throw .shapeMismatch(path: path, tensor: entry.name, detail: error.localizedDescription)
            }
        case .sparse24Float, .sparse24Packed:
            return ContainerTensor(name: entry.name, content: .sparse(try sparseWeights(entry, components)))
        }
    }

    /// A `sparse24` tensor from its components; the initializer checks that every group of 4
    /// inputs keeps at most 2 values (a clear error naming the tensor otherwise).
    private func sparseWeights(_ entry: ContainerTensorEntry, _ components: [String: Tensor]) throws(FormatError)
        -> SparseWeights
    {
        let out = entry.shape[0]
        let input = entry.shape[1]
        do {
            let values: SparseWeights.Values
            switch entry.format {
            case .sparse24Packed(let bits, let groupSize, let symmetric):
                values = .packed(try PackedWeights(
                    name: entry.name, bits: bits, groupSize: groupSize >= input ? input / 2 : groupSize / 2,
                    symmetric: symmetric, outputCount: out, inputCount: input / 2, codes: components["codes"]!,
                    scales: components["scales"]!, zeros: components["zeros"]!))
            default:
                values = .float(components["values"]!)
            }
            return try SparseWeights(
                name: entry.name, outputCount: out, inputCount: input, values: values,
                metadata: components["sparsity_metadata"]!)
        } catch {
            throw .shapeMismatch(path: path, tensor: entry.name, detail: error.localizedDescription)
        }
    }

    /// All tensors in file order.
    public func tensors() throws(FormatError) -> [ContainerTensor] {
        var result: [ContainerTensor] = []
        for index in tensorEntries.indices { result.append(try tensor(at: index)) }
        return result
    }

    /// The bytes of the auxiliary file `name` (e.g. `tokenizer.json`), or nil if absent.
    public func file(named name: String) throws(FormatError) -> Data? {
        guard let index = fileEntries.firstIndex(where: { $0.name == name }) else { return nil }
        let storage = try storage(key: Self.fileKey(index), array: fileEntries[index].array, owner: name, load: true)!
        return storage.withUnsafeBytes { Data($0) }
    }

    /// The model with every tensor as float32 (packed ones through the scalar reference
    /// dequantizer) — for tools and tests; the runtime runs the packed weights directly.
    public func dequantizedCheckpoint() throws(FormatError) -> ModelCheckpoint {
        var tensors: [NamedTensor] = []
        for tensor in try self.tensors() { tensors.append(NamedTensor(name: tensor.name, tensor: try tensor.floatTensor())) }
        return ModelCheckpoint(
            config: config, tensors: tensors, tokenizer: try file(named: "tokenizer.json"),
            tokenizerConfig: try file(named: "tokenizer_config.json"),
            generationConfig: try file(named: "generation_config.json"))
    }

    private static func fileKey(_ index: Int) -> Int { -1 - index }
    private static func tensorKey(_ tensor: Int, _ array: Int) -> Int { tensor * 16 + array }

    /// Verifies `array` once and, if `load`, returns its bytes: borrowed from the mapping,
    /// or decompressed once into owned aligned memory.
    private func storage(key: Int, array: ContainerArrayEntry, owner name: String, load: Bool) throws(FormatError) -> TensorStorage? {
        lock.lock()
        defer { lock.unlock() }
        let start = dataStart + array.offset
        let stored = UnsafeRawBufferPointer(rebasing: bytes[start..<(start + array.storedByteCount)])
        if !verified.contains(key) {
            let actual = CRC32C.checksum(stored)
            guard actual == array.checksum else {
                throw .checksumMismatch(path: path, tensor: name, array: array.role, expected: array.checksum, actual: actual)
            }
            verified.insert(key)
        }
        guard load else { return nil }
        switch array.compression {
        case .none:
            return TensorStorage(borrowing: stored, owner: owner)
        case .zstd:
            if let cached = decompressed[key] { return cached }
            if let failure = ZstdCodec.checkContentSize(stored, byteCount: array.byteCount) {
                throw .invalidField(path: path, field: "array '\(array.role)' of '\(name)'", detail: failure)
            }
            // A frame of zeros can expand 30000-fold: never ask for more than the machine has.
            guard UInt64(array.byteCount) <= ProcessInfo.processInfo.physicalMemory else {
                throw .invalidField(
                    path: path, field: "array '\(array.role)' of '\(name)'",
                    detail: "decompresses to \(array.byteCount) bytes, more than this machine's \(ProcessInfo.processInfo.physicalMemory) bytes of memory")
            }
            var failure: String?
            let storage = TensorStorage(byteCount: array.byteCount) { destination in
                failure = ZstdCodec.decompress(stored, into: destination)
            }
            if let failure {
                throw .invalidField(path: path, field: "array '\(array.role)' of '\(name)'", detail: failure)
            }
            decompressed[key] = storage
            return storage
        }
    }
}
