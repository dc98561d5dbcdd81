import Foundation
import QuantaTensor

/// A memory-mapped `.safetensors` file: an 8-byte little-endian header length, a JSON header
/// mapping names to dtype, shape and data offsets, then the data section.
/// Format: https://github.com/huggingface/safetensors (README, "Format").
public final class SafetensorsFile: Sendable {
    public let path: String
    /// Tensor table in file (data offset) order.
    public let entries: [Entry]
    /// The `__metadata__` string map.
    public let metadata: [(String, String)]
    private let file: MappedFile
    private let dataStart: Int

    public struct Entry: Sendable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        /// Byte range relative to the start of the data section.
        public let dataRange: Range<Int>
    }

    /// Headers above this size are rejected before they are read (the reference
    /// implementation uses the same 100 MB bound).
    static let maximumHeaderSize = 100_000_000

    public convenience init(path: String) throws(FormatError) {
        try self.init(file: MappedFile(path: path))
    }

    /// Parses an already mapped (or in-memory) file.
    public init(file: MappedFile) throws(FormatError) {
        path = file.path
        self.file = file
        let lengthBytes = try file.slice(0..<8, for: "the 8-byte header length")
        let headerLength = lengthBytes.loadUnaligned(as: UInt64.self).littleEndian
        guard headerLength <= UInt64(Self.maximumHeaderSize) else {
            throw .invalidHeader(path: path, detail: "header length \(headerLength) exceeds \(Self.maximumHeaderSize) bytes")
        }
        let headerBytes = try file.slice(8..<(8 + Int(headerLength)), for: "the JSON header")
        dataStart = 8 + Int(headerLength)
        let header = try JSONValue.parse(headerBytes, path: path)
        guard case .object(let members) = header else {
            throw .invalidHeader(path: path, detail: "the JSON header is not an object")
        }
        var entries: [Entry] = []
        var metadata: [(String, String)] = []
        var seen = Set<String>()
        for (name, value) in members {
            guard seen.insert(name).inserted else { throw .duplicateTensor(path: path, tensor: name) }
            if name == "__metadata__" {
                metadata = try Self.parseMetadata(value, path: path)
            } else {
                entries.append(try Self.parseEntry(name: name, value: value, path: path))
            }
        }
        entries.sort { $0.dataRange.lowerBound < $1.dataRange.lowerBound }
        let dataSize = file.count - dataStart
        for (index, entry) in entries.enumerated() {
            guard entry.dataRange.upperBound <= dataSize else {
                throw .offsetOutOfRange(
                    path: path, tensor: entry.name,
                    detail: "data_offsets end at \(entry.dataRange.upperBound) but the data section has \(dataSize) bytes")
            }
            if index > 0, entries[index - 1].dataRange.upperBound > entry.dataRange.lowerBound {
                throw .overlappingTensors(path: path, first: entries[index - 1].name, second: entry.name)
            }
        }
        self.entries = entries
        self.metadata = metadata
    }

    private static func parseMetadata(_ value: JSONValue, path: String) throws(FormatError) -> [(String, String)] {
        guard case .object(let members) = value else {
            throw .invalidField(path: path, field: "__metadata__", detail: "must be an object of strings")
        }
        var result: [(String, String)] = []
        for (key, item) in members {
            guard let text = item.stringValue else {
                throw .invalidField(path: path, field: "__metadata__.\(key)", detail: "must be a string")
            }
            result.append((key, text))
        }
        return result
    }

    private static func parseEntry(name: String, value: JSONValue, path: String) throws(FormatError) -> Entry {
        guard let dtypeName = value["dtype"]?.stringValue else {
            throw .missingField(path: path, field: "\(name).dtype")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw .unsupportedDType(path: path, tensor: name, dtype: dtypeName)
        }
        guard case .array(let shapeValues) = value["shape"] else { throw .missingField(path: path, field: "\(name).shape") }
        var shape: [Int] = []
        for item in shapeValues {
            guard let dimension = item.integerValue, dimension >= 0, dimension <= Int64(Int.max) else {
                throw .invalidField(path: path, field: "\(name).shape", detail: "dimensions must be non-negative integers")
            }
            shape.append(Int(dimension))
        }
        guard case .array(let offsets) = value["data_offsets"] else {
            throw .missingField(path: path, field: "\(name).data_offsets")
        }
        guard offsets.count == 2, let begin = offsets[0].integerValue, let end = offsets[1].integerValue,
            begin >= 0, end >= begin, end <= Int64(Int.max)
        else {
            throw .invalidField(path: path, field: "\(name).data_offsets", detail: "must be two integers [begin, end] with begin <= end")
        }
        let byteCount: Int
        do { byteCount = try Shape.byteCount(shape, dtype: dtype) } catch {
            throw .invalidTensor(path: path, tensor: name, underlying: error)
        }
        guard byteCount == Int(end - begin) else {
            throw .shapeMismatch(
                path: path, tensor: name,
                detail: "shape \(shape) of \(dtypeName) needs \(byteCount) bytes but data_offsets span \(end - begin)")
        }
        return Entry(name: name, dtype: dtype, shape: shape, dataRange: Int(begin)..<Int(end))
    }

    /// The tensor table as `TensorInfo` rows.
    public var tensorInfos: [TensorInfo] {
        entries.map { TensorInfo(name: $0.name, dtype: $0.dtype.rawValue, shape: $0.shape, byteCount: $0.dataRange.count) }
    }

    /// The tensor `entry`, borrowing the mapped file (no copy).
    public func tensor(_ entry: Entry) throws(FormatError) -> Tensor {
        let range = (dataStart + entry.dataRange.lowerBound)..<(dataStart + entry.dataRange.upperBound)
        return try file.tensor(named: entry.name, dtype: entry.dtype, shape: entry.shape, range: range)
    }

    /// All tensors in file order.
    public func tensors() throws(FormatError) -> [NamedTensor] {
        var result: [NamedTensor] = []
        result.reserveCapacity(entries.count)
        for entry in entries { result.append(NamedTensor(name: entry.name, tensor: try tensor(entry))) }
        return result
    }
}
