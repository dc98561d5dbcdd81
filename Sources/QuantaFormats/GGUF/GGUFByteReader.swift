/// A bounds-checked little-endian cursor over a GGUF file's header bytes. Every read checks
/// the remaining length first and reports the byte offset and the item being read.
struct GGUFByteReader {
    let bytes: UnsafeRawBufferPointer
    let path: String
    private(set) var position: Int = 0

    /// Nested metadata arrays deeper than this are rejected, so hostile input cannot
    /// exhaust the stack.
    static let maximumArrayDepth = 16

    init(bytes: UnsafeRawBufferPointer, path: String) {
        self.bytes = bytes
        self.path = path
    }

    var remaining: Int { bytes.count - position }

    mutating func seek(to offset: Int) { position = offset }

    /// Throws `truncated` unless `count` more bytes are available for `what`.
    func require(_ count: Int, for what: @autoclosure () -> String) throws(FormatError) {
        guard count >= 0, count <= remaining else {
            throw .truncated(
                path: path,
                detail: "\(what()) at byte \(position) needs \(count) bytes but only \(remaining) remain")
        }
    }

    mutating func read<Value: FixedWidthInteger>(_: Value.Type, for what: @autoclosure () -> String)
        throws(FormatError) -> Value
    {
        try require(MemoryLayout<Value>.size, for: what())
        let value = bytes.loadUnaligned(fromByteOffset: position, as: Value.self)
        position += MemoryLayout<Value>.size
        return Value(littleEndian: value)
    }

    /// Reads a 64-bit length or count and checks that it fits in `Int`.
    mutating func readCount(for what: @autoclosure () -> String) throws(FormatError) -> Int {
        let start = position
        let raw = try read(UInt64.self, for: what())
        guard let count = Int(exactly: raw) else {
            throw .invalidHeader(path: path, detail: "\(what()) at byte \(start) is \(raw), which is absurdly large")
        }
        return count
    }

    /// Reads a GGUF string: a 64-bit byte length and that many bytes of UTF-8.
    mutating func readString(for what: @autoclosure () -> String) throws(FormatError) -> String {
        let start = position
        let length = try readCount(for: "length of \(what())")
        guard length <= remaining else {
            throw .truncated(
                path: path,
                detail: "\(what()) at byte \(start) claims \(length) bytes but only \(remaining) remain")
        }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[position..<position + length])
        guard let string = String(validating: slice.bindMemory(to: UInt8.self), as: UTF8.self) else {
            throw .invalidHeader(path: path, detail: "\(what()) at byte \(start) is not valid UTF-8")
        }
        position += length
        return string
    }

    /// Reads a value type tag.
    mutating func readValueType(for what: @autoclosure () -> String) throws(FormatError) -> GGUFValueType {
        let start = position
        let raw = try read(UInt32.self, for: "value type of \(what())")
        guard let type = GGUFValueType(rawValue: raw) else {
            throw .invalidField(path: path, field: what(), detail: "unknown GGUF value type \(raw) at byte \(start)")
        }
        return type
    }

    /// Reads one value of `type`; `key` names the metadata entry in errors.
    mutating func readValue(of type: GGUFValueType, key: String, depth: Int = 0) throws(FormatError) -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try read(UInt8.self, for: "value of '\(key)'"))
        case .int8: return .int8(try read(Int8.self, for: "value of '\(key)'"))
        case .uint16: return .uint16(try read(UInt16.self, for: "value of '\(key)'"))
        case .int16: return .int16(try read(Int16.self, for: "value of '\(key)'"))
        case .uint32: return .uint32(try read(UInt32.self, for: "value of '\(key)'"))
        case .int32: return .int32(try read(Int32.self, for: "value of '\(key)'"))
        case .uint64: return .uint64(try read(UInt64.self, for: "value of '\(key)'"))
        case .int64: return .int64(try read(Int64.self, for: "value of '\(key)'"))
        case .float32: return .float32(Float(bitPattern: try read(UInt32.self, for: "value of '\(key)'")))
        case .float64: return .float64(Double(bitPattern: try read(UInt64.self, for: "value of '\(key)'")))
        case .bool:
            let start = position
            let raw = try read(UInt8.self, for: "value of '\(key)'")
            guard raw <= 1 else {
                throw .invalidField(path: path, field: key, detail: "bool value \(raw) at byte \(start) is not 0 or 1")
            }
            return .bool(raw == 1)
        case .string: return .string(try readString(for: "string value of '\(key)'"))
        case .array: return try readArray(key: key, depth: depth)
        }
    }

    private mutating func readArray(key: String, depth: Int) throws(FormatError) -> GGUFValue {
        let start = position
        guard depth < Self.maximumArrayDepth else {
            throw .invalidField(
                path: path, field: key,
                detail: "arrays nested deeper than \(Self.maximumArrayDepth) levels at byte \(start)")
        }
        let elementType = try readValueType(for: key)
        let countPosition = position
        let count = try readCount(for: "element count of '\(key)'")
        // Check the count against the bytes left before allocating anything.
        let (needed, overflow) = count.multipliedReportingOverflow(by: elementType.minimumSize)
        guard !overflow, needed <= remaining else {
            throw .truncated(
                path: path,
                detail: "array '\(key)' at byte \(countPosition) claims \(count) elements of \(elementType) "
                    + "but only \(remaining) bytes remain")
        }
        var values: [GGUFValue] = []
        values.reserveCapacity(count)
        for _ in 0..<count {
            values.append(try readValue(of: elementType, key: key, depth: depth + 1))
        }
        return .array(elementType, values)
    }
}
