import Foundation
import QuantaTensor

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes Quanta containers (docs/container.md).
public enum QuantaContainerWriter {
    /// Writer settings.
    public struct Options: Sendable {
        /// zstd level for arrays, or nil to store everything raw. An array is stored
        /// compressed only when that saves at least 5%.
        public var zstdLevel: Int32?
        /// `tool.name` and `tool.version` in the header.
        public var toolName: String
        public var toolVersion: String

        public init(zstdLevel: Int32? = nil, toolName: String = "quanta", toolVersion: String = QuantaContainerFormat.toolVersion) {
            self.zstdLevel = zstdLevel
            self.toolName = toolName
            self.toolVersion = toolVersion
        }
    }

    /// An auxiliary file (`tokenizer.json`, …) stored byte for byte.
    public struct File: Sendable {
        public var name: String
        public var data: Data

        public init(name: String, data: Data) {
            self.name = name
            self.data = data
        }
    }

    /// One array as it will be written.
    private struct PlannedArray {
        enum Payload {
            case storage(TensorStorage)
            case bytes([UInt8])
        }
        var role: String
        var dtype: DType
        var shape: [Int]
        var byteCount: Int
        var payload: Payload
        var compression: ContainerCompression
        var checksum: UInt32
        var offset = 0

        var storedByteCount: Int {
            switch payload {
            case .storage(let storage): storage.bytes.count
            case .bytes(let bytes): bytes.count
            }
        }

        func withStoredBytes<Value>(_ body: (UnsafeRawBufferPointer) throws(FormatError) -> Value) throws(FormatError) -> Value {
            switch payload {
            case .storage(let storage): return try storage.withUnsafeBytes(body)
            case .bytes(let bytes):
                return try bytes.withUnsafeBytes { raw in Result { () throws(FormatError) in try body(raw) } }.get()
            }
        }

        var json: JSONValue {
            .object([
                ("role", .string(role)), ("dtype", .string(dtype.rawValue)),
                ("shape", .array(shape.map { .integer(Int64($0)) })), ("offset", .integer(Int64(offset))),
                ("byte_count", .integer(Int64(byteCount))), ("stored_byte_count", .integer(Int64(storedByteCount))),
                ("compression", .string(compression.rawValue)), ("checksum", .string("crc32c:" + hex8(checksum))),
            ])
        }
    }

    /// Writes a container to `path` atomically (temporary sibling, `fsync`, rename).
    ///
    /// - `config`: the model config, stored as its `config.json` object.
    /// - `files`: auxiliary files (tokenizer), stored as data-section arrays.
    /// - `provenance`: any JSON object (recipe, calibration, source model…).
    /// - `tensors`: in model order; dense ones must be F32, F16 or BF16.
    public static func write(
        to path: String, config: ModelConfig, files: [File] = [], provenance: JSONValue = .object([]),
        tensors: [ContainerTensor], options: Options = Options()
    ) throws(FormatError) {
        let configJSON = try JSONValue.parse(config.encodedJSON(), path: path + " (config)")
        var arrays: [PlannedArray] = []
        var fileMembers: [JSONValue] = []
        var fileNames = Set<String>()
        for file in files {
            guard !file.name.isEmpty, !file.name.contains("/"), fileNames.insert(file.name).inserted else {
                throw .invalidField(path: path, field: "files", detail: "file name '\(file.name)' is empty, contains '/', or repeats")
            }
            let storage = file.data.withUnsafeBytes { TensorStorage(copying: $0) }
            arrays.append(plan(role: "file", dtype: .uint8, shape: [file.data.count], storage: storage, options: options))
            fileMembers.append(.object([("name", .string(file.name))]))
        }
        var tensorMembers: [JSONValue] = []
        var tensorArrayCounts: [Int] = []
        var tensorNames = Set<String>()
        for tensor in tensors {
            guard !tensor.name.isEmpty else { throw .invalidField(path: path, field: "tensors", detail: "a tensor name is empty") }
            guard tensorNames.insert(tensor.name).inserted else { throw .duplicateTensor(path: path, tensor: tensor.name) }
            var members: [(String, JSONValue)] = [("name", .string(tensor.name))]
            let shape: JSONValue = .array(tensor.shape.map { .integer(Int64($0)) })
            switch tensor.content {
            case .dense(let dense):
                guard [.float32, .float16, .bfloat16].contains(dense.dtype) else {
                    throw .unsupportedDType(path: path, tensor: tensor.name, dtype: dense.dtype.rawValue)
                }
                members += [("format", .string(ContainerTensorFormat.dense(dense.dtype).name)), ("shape", shape)]
                arrays.append(plan(role: "data", dtype: dense.dtype, shape: dense.shape, storage: dense.storage, options: options))
                tensorArrayCounts.append(1)
            case .packed(let weights):
                members += [
                    ("format", .string("packed")), ("shape", shape), ("bits", .integer(Int64(weights.bits))),
                    ("group_size", .integer(Int64(weights.groupSize))), ("symmetric", .bool(weights.symmetric)),
                ]
                var components = [("codes", weights.codes), ("scales", weights.scales), ("zeros", weights.zeros)]
                if let permutation = weights.inputPermutation { components.append(("input_permutation", permutation)) }
                for (role, component) in components {
                    arrays.append(plan(role: role, dtype: component.dtype, shape: component.shape, storage: component.storage, options: options))
                }
                tensorArrayCounts.append(components.count)
            case .sparse(let weights):
                members += [("format", .string("sparse24")), ("shape", shape)]
                var components: [(String, Tensor)] = []
                switch weights.values {
                case .float(let values):
                    members.append(("values", .string(values.dtype.rawValue.lowercased())))
                    components.append(("values", values))
                case .packed(let packed):
                    let groupSize = packed.groupSize >= packed.inputCount ? weights.inputCount : 2 * packed.groupSize
                    members += [
                        ("values", .string("packed")), ("bits", .integer(Int64(packed.bits))),
                        ("group_size", .integer(Int64(groupSize))), ("symmetric", .bool(packed.symmetric)),
                    ]
                    components += [("codes", packed.codes), ("scales", packed.scales), ("zeros", packed.zeros)]
                }
                components.append(("sparsity_metadata", weights.metadata))
                for (role, component) in components {
                    arrays.append(plan(role: role, dtype: component.dtype, shape: component.shape, storage: component.storage, options: options))
                }
                tensorArrayCounts.append(components.count)
            }
            tensorMembers.append(.object(members))
        }

        // Lay out the data section: every array at the next multiple of the alignment.
        var dataSize = 0
        for index in arrays.indices {
            arrays[index].offset = QuantaContainerFormat.aligned(dataSize)
            dataSize = arrays[index].offset + arrays[index].storedByteCount
        }
        var next = 0
        for index in fileMembers.indices {
            guard case .object(var members) = fileMembers[index] else { continue }
            members.append(("array", arrays[next].json))
            fileMembers[index] = .object(members)
            next += 1
        }
        for index in tensorMembers.indices {
            guard case .object(var members) = tensorMembers[index] else { continue }
            members.append(("arrays", .array(arrays[next..<(next + tensorArrayCounts[index])].map(\.json))))
            tensorMembers[index] = .object(members)
            next += tensorArrayCounts[index]
        }
        let header: JSONValue = .object([
            ("minor_version", .integer(Int64(QuantaContainerFormat.minorVersion))),
            ("tool", .object([("name", .string(options.toolName)), ("version", .string(options.toolVersion))])),
            ("config", configJSON), ("provenance", provenance), ("files", .array(fileMembers)),
            ("tensors", .array(tensorMembers)), ("data_size", .integer(Int64(dataSize))),
        ])
        var headerBytes = Array(header.serialized(pretty: false).utf8)
        while (QuantaContainerFormat.preambleSize + headerBytes.count) % QuantaContainerFormat.alignment != 0 {
            headerBytes.append(0x20)
        }
        var preamble = QuantaContainerFormat.magic
        preamble += withUnsafeBytes(of: QuantaContainerFormat.version.littleEndian) { Array($0) }
        preamble += withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { Array($0) }

        try AtomicOutput.produce(path) { temporary throws(FormatError) in
            let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            guard descriptor >= 0 else { throw .writeFailed(path: path, reason: String(cString: strerror(errno))) }
            defer { close(descriptor) }
            var position = 0
            func emit(_ bytes: UnsafeRawBufferPointer) throws(FormatError) {
                try writeAll(bytes, to: descriptor, path: path)
                position += bytes.count
            }
            try (preamble + headerBytes).withUnsafeBytes { raw in Result { () throws(FormatError) in try emit(raw) } }.get()
            let dataStart = position
            let zeros = [UInt8](repeating: 0, count: QuantaContainerFormat.alignment)
            for array in arrays {
                let gap = dataStart + array.offset - position
                if gap > 0 { try zeros[0..<gap].withUnsafeBytes { raw in Result { () throws(FormatError) in try emit(raw) } }.get() }
                try array.withStoredBytes { (raw) throws(FormatError) in try emit(raw) }
            }
            guard fsync(descriptor) == 0 else { throw .writeFailed(path: path, reason: "fsync: " + String(cString: strerror(errno))) }
        }
    }

    /// Compresses when that pays, and checksums the stored bytes.
    private static func plan(role: String, dtype: DType, shape: [Int], storage: TensorStorage, options: Options) -> PlannedArray {
        let raw = storage.bytes.count
        if let level = options.zstdLevel, raw > 0,
            let compressed = storage.withUnsafeBytes({ ZstdCodec.compress($0, level: level) }),
            Double(compressed.count) <= Double(raw) * (1 - QuantaContainerFormat.minimumSaving)
        {
            return PlannedArray(
                role: role, dtype: dtype, shape: shape, byteCount: raw, payload: .bytes(compressed), compression: .zstd,
                checksum: CRC32C.checksum(compressed))
        }
        return PlannedArray(
            role: role, dtype: dtype, shape: shape, byteCount: raw, payload: .storage(storage), compression: .none,
            checksum: storage.withUnsafeBytes { CRC32C.checksum($0) })
    }

    private static func writeAll(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32, path: String) throws(FormatError) {
        guard var pointer = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            #if canImport(Glibc)
            let written = Glibc.write(descriptor, pointer, min(remaining, 1 << 26))
            #else
            let written = Darwin.write(descriptor, pointer, min(remaining, 1 << 26))
            #endif
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { throw .writeFailed(path: path, reason: String(cString: strerror(errno))) }
            pointer += written
            remaining -= written
        }
    }
}
