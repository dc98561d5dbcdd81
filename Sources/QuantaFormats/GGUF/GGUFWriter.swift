import Foundation

/// Writes GGUF version 3 files (little-endian), the layout `GGUFFile` reads and llama.cpp
/// `gguf_init` validates (`ggml/src/gguf.cpp`): magic, version, tensor and metadata counts,
/// the metadata entries, the tensor infos (innermost dimension first), then the data
/// section at `alignment`, each tensor's data padded to `alignment` so every offset is the
/// running sum of the padded sizes in header order.
public struct GGUFWriter {
    /// One tensor: its ggml type, its shape in row-major order (`[out, in]` for a linear;
    /// written reversed) and its encoded blocks.
    public struct Entry {
        public var name: String
        public var type: GGMLType
        public var shape: [Int]
        public var data: [UInt8]

        public init(name: String, type: GGMLType, shape: [Int], data: [UInt8]) {
            self.name = name
            self.type = type
            self.shape = shape
            self.data = data
        }
    }

    /// `GGML_MAX_NAME`: llama.cpp rejects longer tensor names.
    public static let maximumNameLength = 63

    public var metadata: [GGUFMetadataEntry] = []
    public var tensors: [Entry] = []
    public var alignment = GGUFFile.defaultAlignment

    public init() {}

    public mutating func add(_ key: String, _ value: GGUFValue) {
        metadata.append(GGUFMetadataEntry(key: key, value: value))
    }

    /// Checks names, shapes and sizes, then writes the file to `path` atomically.
    public func write(to path: String) throws(FormatError) {
        try validate(path: path)
        var header = ByteBuffer()
        header.append(UInt32(0x4655_4747))  // "GGUF"
        header.append(UInt32(3))
        header.append(UInt64(tensors.count))
        header.append(UInt64(metadata.count))
        for entry in metadata {
            header.append(string: entry.key)
            header.append(entry.value.type.rawValue)
            header.append(value: entry.value)
        }
        var offset = 0
        for tensor in tensors {
            header.append(string: tensor.name)
            header.append(UInt32(tensor.shape.count))
            for dimension in tensor.shape.reversed() { header.append(UInt64(dimension)) }
            header.append(tensor.type.rawValue)
            header.append(UInt64(offset))
            offset += padded(tensor.data.count)
        }
        header.bytes += [UInt8](repeating: 0, count: padded(header.bytes.count) - header.bytes.count)
        try AtomicOutput.produce(path) { temporary throws(FormatError) in
            guard let stream = OutputStream(toFileAtPath: temporary, append: false) else {
                throw .writeFailed(path: path, reason: "cannot create file")
            }
            stream.open()
            defer { stream.close() }
            func emit(_ part: [UInt8]) throws(FormatError) {
                try part.withUnsafeBytes { bytes in
                    Result { () throws(FormatError) in try SafetensorsWriter.write(bytes, to: stream, path: path) }
                }.get()
            }
            try emit(header.bytes)
            for tensor in tensors {
                try emit(tensor.data)
                try emit([UInt8](repeating: 0, count: padded(tensor.data.count) - tensor.data.count))
            }
        }
    }

    private func padded(_ count: Int) -> Int { (count + alignment - 1) / alignment * alignment }

    private func validate(path: String) throws(FormatError) {
        var keys = Set<String>()
        for entry in metadata where !keys.insert(entry.key).inserted {
            throw .invalidField(path: path, field: entry.key, detail: "metadata key written twice")
        }
        var names = Set<String>()
        for tensor in tensors {
            guard names.insert(tensor.name).inserted else { throw .duplicateTensor(path: path, tensor: tensor.name) }
            guard tensor.name.utf8.count <= Self.maximumNameLength else {
                throw .invalidField(path: path, field: tensor.name, detail: "tensor name longer than \(Self.maximumNameLength) bytes")
            }
            guard (1...GGUFFile.maximumDimensions).contains(tensor.shape.count), tensor.shape.allSatisfy({ $0 > 0 }) else {
                throw .shapeMismatch(path: path, tensor: tensor.name, detail: "shape \(tensor.shape) needs 1…4 positive dimensions")
            }
            let elements = tensor.shape.reduce(1, *)
            let innermost = tensor.shape.last ?? 1
            guard innermost % tensor.type.blockSize == 0,
                tensor.data.count == elements / tensor.type.blockSize * tensor.type.bytesPerBlock
            else {
                throw .shapeMismatch(
                    path: path, tensor: tensor.name,
                    detail: "\(tensor.data.count) bytes of \(tensor.type.name) do not hold shape \(tensor.shape) (rows of whole \(tensor.type.blockSize)-element blocks)")
            }
        }
    }
}

/// A growing little-endian byte buffer for GGUF headers.
struct ByteBuffer {
    var bytes: [UInt8] = []

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(string: String) {
        append(UInt64(string.utf8.count))
        bytes.append(contentsOf: string.utf8)
    }

    mutating func append(value: GGUFValue) {
        switch value {
        case .uint8(let value): append(value)
        case .int8(let value): append(value)
        case .uint16(let value): append(value)
        case .int16(let value): append(value)
        case .uint32(let value): append(value)
        case .int32(let value): append(value)
        case .uint64(let value): append(value)
        case .int64(let value): append(value)
        case .float32(let value): append(value.bitPattern)
        case .float64(let value): append(value.bitPattern)
        case .bool(let value): bytes.append(value ? 1 : 0)
        case .string(let value): append(string: value)
        case .array(let type, let values):
            append(type.rawValue)
            append(UInt64(values.count))
            for element in values { append(value: element) }
        }
    }
}
