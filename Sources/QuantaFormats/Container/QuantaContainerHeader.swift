import Foundation
import QuantaTensor

/// One array of the data section, as the header describes it (validated).
public struct ContainerArrayEntry: Sendable, Equatable {
    /// Its part of the tensor (`data`, `codes`, `scales`, `zeros`, `input_permutation`) or `file`.
    public let role: String
    public let dtype: DType
    public let shape: [Int]
    /// Offset relative to the data section.
    public let offset: Int
    /// Logical (decompressed) size.
    public let byteCount: Int
    /// Size in the file.
    public let storedByteCount: Int
    public let compression: ContainerCompression
    /// CRC32C of the stored bytes.
    public let checksum: UInt32
}

/// One row of the tensor table (validated, no data read).
public struct ContainerTensorEntry: Sendable {
    public let name: String
    public let format: ContainerTensorFormat
    public let shape: [Int]
    public let arrays: [ContainerArrayEntry]

    /// The dtype `quanta inspect` shows: `F32`, `F16`, `BF16`, or e.g. `int4-g128`.
    public var label: String {
        switch format {
        case .dense(let dtype): return dtype.rawValue
        case .packed(let bits, let groupSize, _):
            let name = PackedWeightTraits.forBits(bits)?.name ?? "int\(bits)"
            return groupSize >= (shape.last ?? 0) ? "\(name)-channel" : "\(name)-g\(groupSize)"
        case .sparse24Float(let dtype):
            return "sparse24-\(dtype.rawValue.lowercased())"
        case .sparse24Packed(let bits, let groupSize, _):
            let name = PackedWeightTraits.forBits(bits)?.name ?? "int\(bits)"
            return groupSize >= (shape.last ?? 0) ? "sparse24-\(name)-channel" : "sparse24-\(name)-g\(groupSize)"
        }
    }

    /// Logical bytes of all arrays.
    public var byteCount: Int { arrays.reduce(0) { $0 + $1.byteCount } }
}

/// Header parsing and validation (docs/container.md, "Header JSON"); every error names the
/// file and the field.
struct ContainerHeaderParser {
    let path: String
    let dataSize: Int

    func field(_ name: String) -> String { name }

    func integer(_ value: JSONValue?, _ field: String) throws(FormatError) -> Int {
        guard let value else { throw .missingField(path: path, field: field) }
        guard let number = value.integerValue, number >= 0, number <= Int64(Int.max) else {
            throw .invalidField(path: path, field: field, detail: "must be a non-negative integer")
        }
        return Int(number)
    }

    func string(_ value: JSONValue?, _ field: String) throws(FormatError) -> String {
        guard let value else { throw .missingField(path: path, field: field) }
        guard let text = value.stringValue else { throw .invalidField(path: path, field: field, detail: "must be a string") }
        return text
    }

    func shape(_ value: JSONValue?, _ field: String) throws(FormatError) -> [Int] {
        guard let value else { throw .missingField(path: path, field: field) }
        guard case .array(let items) = value, items.count <= 8 else {
            throw .invalidField(path: path, field: field, detail: "must be an array of at most 8 dimensions")
        }
        var dimensions: [Int] = []
        for item in items { dimensions.append(try integer(item, field)) }
        return dimensions
    }

    /// An array entry, checked against the data section.
    func array(_ value: JSONValue?, _ field: String, owner: String) throws(FormatError) -> ContainerArrayEntry {
        guard let value else { throw .missingField(path: path, field: field) }
        guard case .object = value else { throw .invalidField(path: path, field: field, detail: "must be an object") }
        let role = try string(value["role"], field + ".role")
        let dtypeName = try string(value["dtype"], field + ".dtype")
        guard let dtype = DType(rawValue: dtypeName) else {
            throw .unsupportedDType(path: path, tensor: owner, dtype: dtypeName)
        }
        let shape = try shape(value["shape"], field + ".shape")
        let offset = try integer(value["offset"], field + ".offset")
        let byteCount = try integer(value["byte_count"], field + ".byte_count")
        let storedByteCount = try integer(value["stored_byte_count"], field + ".stored_byte_count")
        let compressionName = try string(value["compression"], field + ".compression")
        guard let compression = ContainerCompression(rawValue: compressionName) else {
            throw .invalidField(path: path, field: field + ".compression", detail: "unknown compression '\(compressionName)' (none, zstd)")
        }
        let checksumText = try string(value["checksum"], field + ".checksum")
        guard checksumText.hasPrefix("crc32c:"), checksumText.count == 15,
            let checksum = UInt32(checksumText.dropFirst(7), radix: 16)
        else {
            throw .invalidField(path: path, field: field + ".checksum", detail: "must be 'crc32c:' and 8 hex digits")
        }
        let expected: Int
        do { expected = try Shape.byteCount(shape, dtype: dtype) } catch {
            throw .invalidTensor(path: path, tensor: owner, underlying: error)
        }
        guard expected == byteCount else {
            throw .shapeMismatch(
                path: path, tensor: owner,
                detail: "array '\(role)' of \(dtypeName) \(shape) needs \(expected) bytes but byte_count is \(byteCount)")
        }
        switch compression {
        case .none:
            guard storedByteCount == byteCount else {
                throw .invalidField(path: path, field: field + ".stored_byte_count", detail: "must equal byte_count for an uncompressed array")
            }
        case .zstd:
            let (limit, overflow) = storedByteCount.multipliedReportingOverflow(by: QuantaContainerFormat.maximumExpansion)
            guard storedByteCount > 0, overflow || byteCount <= limit else {
                throw .invalidField(
                    path: path, field: field + ".byte_count",
                    detail: "\(byteCount) bytes from \(storedByteCount) compressed exceeds the zstd expansion limit")
            }
        }
        guard offset % QuantaContainerFormat.alignment == 0 else {
            throw .invalidField(path: path, field: field + ".offset", detail: "\(offset) is not a multiple of \(QuantaContainerFormat.alignment)")
        }
        let (end, overflow) = offset.addingReportingOverflow(storedByteCount)
        guard !overflow, end <= dataSize else {
            throw .offsetOutOfRange(
                path: path, tensor: owner,
                detail: "array '\(role)' at \(offset) + \(storedByteCount) bytes passes the data section's \(dataSize) bytes")
        }
        return ContainerArrayEntry(
            role: role, dtype: dtype, shape: shape, offset: offset, byteCount: byteCount, storedByteCount: storedByteCount,
            compression: compression, checksum: checksum)
    }

    /// A tensor entry: format, shape and arrays, with the arrays checked against the format.
    func tensor(_ value: JSONValue, index: Int, toolVersion: String) throws(FormatError) -> ContainerTensorEntry {
        let field = "tensors[\(index)]"
        guard case .object = value else { throw .invalidField(path: path, field: field, detail: "must be an object") }
        let name = try string(value["name"], field + ".name")
        guard !name.isEmpty else { throw .invalidField(path: path, field: field + ".name", detail: "must not be empty") }
        let formatName = try string(value["format"], "\(field).format ('\(name)')")
        let shape = try shape(value["shape"], "\(field).shape ('\(name)')")
        guard case .array(let arrayValues)? = value["arrays"] else { throw .missingField(path: path, field: "\(field).arrays ('\(name)')") }
        var arrays: [ContainerArrayEntry] = []
        for (arrayIndex, arrayValue) in arrayValues.enumerated() {
            arrays.append(try array(arrayValue, "\(field).arrays[\(arrayIndex)] ('\(name)')", owner: name))
        }
        var roles = Set<String>()
        for array in arrays where !roles.insert(array.role).inserted {
            throw .invalidField(path: path, field: "\(field).arrays ('\(name)')", detail: "role '\(array.role)' repeats")
        }
        let format: ContainerTensorFormat
        var expected: [(role: String, dtype: DType, shape: [Int], required: Bool)]
        switch formatName {
        case "f32", "f16", "bf16":
            let dtype: DType = formatName == "f32" ? .float32 : formatName == "f16" ? .float16 : .bfloat16
            format = .dense(dtype)
            expected = [("data", dtype, shape, true)]
        case "packed":
            let (bits, groupSize, symmetric, traits) = try packedKeys(value, field: field, name: name)
            guard shape.count == 2, shape[1] >= 1, groupSize >= 1, groupSize <= shape[1] else {
                throw .shapeMismatch(
                    path: path, tensor: name, detail: "packed shape \(shape) with group size \(groupSize): need [out, in], in ≥ 1, 1 ≤ group size ≤ in")
            }
            let groups = PackedWeights.groupCount(inputCount: shape[1], groupSize: groupSize)
            guard let rowBytes = traits.packedByteCount(valueCount: shape[1]),
                let zeroBytes = traits.packedByteCount(valueCount: groups)
            else { throw .shapeMismatch(path: path, tensor: name, detail: "row size overflows") }
            format = .packed(bits: bits, groupSize: groupSize, symmetric: symmetric)
            expected = [
                ("codes", .uint8, [shape[0], rowBytes], true), ("scales", .float16, [shape[0], groups], true),
                ("zeros", .uint8, [shape[0], zeroBytes], true), ("input_permutation", .int32, [shape[1]], false),
            ]
        case "sparse24":
            (format, expected) = try sparse24(value, field: field, name: name, shape: shape)
        default:
            let required = (value["minimum_tool_version"]?.stringValue).map { "quanta \($0)" } ?? "the tool that wrote it (\(toolVersion))"
            throw .unsupportedTensorFormat(path: path, tensor: name, format: formatName, requiredTool: required)
        }
        for array in arrays where !expected.contains(where: { $0.role == array.role }) {
            throw .invalidField(
                path: path, field: "\(field).arrays ('\(name)')",
                detail: "role '\(array.role)' is not part of format '\(formatName)' (\(expected.map(\.role).joined(separator: ", ")))")
        }
        var ordered: [ContainerArrayEntry] = []
        for item in expected {
            guard let array = arrays.first(where: { $0.role == item.role }) else {
                if item.required { throw .missingField(path: path, field: "\(field).arrays ('\(name)') role '\(item.role)'") }
                continue
            }
            guard array.dtype == item.dtype, array.shape == item.shape else {
                throw .shapeMismatch(
                    path: path, tensor: name,
                    detail: "array '\(item.role)' is \(array.dtype.rawValue) \(array.shape), format '\(formatName)' needs \(item.dtype.rawValue) \(item.shape)")
            }
            ordered.append(array)
        }
        return ContainerTensorEntry(name: name, format: format, shape: shape, arrays: ordered)
    }

    /// The `sparse24` keys (`values`: `f32`, `f16` or `packed` with `bits`, `group_size`,
    /// `symmetric`) and the arrays they imply.
    private func sparse24(_ value: JSONValue, field: String, name: String, shape: [Int]) throws(FormatError)
        -> (ContainerTensorFormat, [(role: String, dtype: DType, shape: [Int], required: Bool)])
    {
        guard shape.count == 2, shape[1] >= 4, shape[1] % 4 == 0 else {
            throw .shapeMismatch(path: path, tensor: name, detail: "sparse24 shape \(shape): need [out, in] with in a positive multiple of 4")
        }
        let out = shape[0]
        let kept = shape[1] / 2
        let metadata = ("sparsity_metadata", DType.uint8, [out, SparseWeights.metadataByteCount(inputCount: shape[1])], true)
        let valuesName = try string(value["values"], "\(field).values ('\(name)')")
        switch valuesName {
        case "f32", "f16":
            let dtype: DType = valuesName == "f32" ? .float32 : .float16
            return (.sparse24Float(dtype), [("values", dtype, [out, kept], true), metadata])
        case "packed":
            let (bits, groupSize, symmetric, traits) = try packedKeys(value, field: field, name: name)
            guard groupSize == shape[1] || (groupSize >= 4 && groupSize % 4 == 0 && groupSize < shape[1]) else {
                throw .shapeMismatch(
                    path: path, tensor: name, detail: "sparse24 group size \(groupSize) must be a multiple of 4 below \(shape[1]), or \(shape[1])")
            }
            let keptGroup = groupSize == shape[1] ? kept : groupSize / 2
            let groups = PackedWeights.groupCount(inputCount: kept, groupSize: keptGroup)
            guard let rowBytes = traits.packedByteCount(valueCount: kept), let zeroBytes = traits.packedByteCount(valueCount: groups)
            else { throw .shapeMismatch(path: path, tensor: name, detail: "row size overflows") }
            return (
                .sparse24Packed(bits: bits, groupSize: groupSize, symmetric: symmetric),
                [("codes", .uint8, [out, rowBytes], true), ("scales", .float16, [out, groups], true),
                 ("zeros", .uint8, [out, zeroBytes], true), metadata]
            )
        default:
            throw .invalidField(path: path, field: "\(field).values ('\(name)')", detail: "'\(valuesName)' is not f32, f16 or packed")
        }
    }

    /// The `bits`, `group_size` and `symmetric` keys of a packed (or packed-valued) tensor.
    private func packedKeys(_ value: JSONValue, field: String, name: String) throws(FormatError)
        -> (bits: Int, groupSize: Int, symmetric: Bool, traits: PackedWeightTraits)
    {
        let bits = try integer(value["bits"], "\(field).bits ('\(name)')")
        let groupSize = try integer(value["group_size"], "\(field).group_size ('\(name)')")
        guard case .bool(let symmetric)? = value["symmetric"] else {
            throw .invalidField(path: path, field: "\(field).symmetric ('\(name)')", detail: "must be true or false")
        }
        guard let traits = PackedWeightTraits.forBits(bits) else {
            throw .invalidField(path: path, field: "\(field).bits ('\(name)')", detail: "\(bits) is not one of 2, 3, 4, 8")
        }
        return (bits, groupSize, symmetric, traits)
    }
}
