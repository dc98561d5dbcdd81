import Foundation
import QuantaTensor

/// Reads a compressed-tensors checkpoint (`pack-quantized` / `int-quantized`, the layouts
/// `CompressedTensorsExporter` writes) back to float weights, as compressed-tensors'
/// `decompress` computes them: `(q − zero) · scale` per group. For checks and `quanta inspect`.
public enum CompressedTensorsReader {
    /// The `quantization_config` of `directory/config.json`, or nil when it has none.
    public static func quantizationConfig(directory: String) throws(FormatError) -> JSONValue? {
        try JSONValue.read(path: directory + "/config.json")["quantization_config"]
    }

    /// Every tensor of `directory/model.safetensors` as floats under its module's `.weight`
    /// name: quantized linears decompressed, everything else as stored.
    public static func dequantizedTensors(directory: String) throws(FormatError) -> [String: [Float]] {
        let path = directory + "/model.safetensors"
        guard let config = try quantizationConfig(directory: directory) else {
            throw .missingField(path: directory + "/config.json", field: "quantization_config")
        }
        guard case .object(let groups)? = config["config_groups"] else {
            throw .missingField(path: directory + "/config.json", field: "quantization_config.config_groups")
        }
        let arrays = Dictionary(try SafetensorsFile(path: path).tensors().map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        var result: [String: [Float]] = [:]
        var consumed = Set<String>()
        for (name, tensor) in arrays where name.hasSuffix(".weight_scale") {
            let module = String(name.dropLast(".weight_scale".count))
            guard let group = groups.first(where: { matches($0.1["targets"], module: module) })?.1,
                let bits = group["weights"]?["num_bits"]?.integerValue
            else { throw .invalidField(path: path, field: name, detail: "no config group targets \(module)") }
            let scales: [Float]
            do { scales = try tensor.floatValues() } catch { throw .invalidTensor(path: path, tensor: name, underlying: error) }
            let codes: [Int], rows: Int, columns: Int
            guard (1...8).contains(bits) else { throw .invalidField(path: path, field: module, detail: "num_bits \(bits) is not 1…8") }
            if let packed = arrays[module + ".weight_packed"], let shape = arrays[module + ".weight_shape"] {
                guard shape.dtype == .int64, shape.shape == [2], packed.dtype == .int32 else {
                    throw .shapeMismatch(path: path, tensor: module, detail: "weight_shape must be I64 [2] and weight_packed I32")
                }
                let dimensions = shape.storage.withUnsafeBytes { bytes in (0..<2).map { Int(bytes.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) } }
                (rows, columns) = (dimensions[0], dimensions[1])
                guard rows > 0, columns > 0, rows < 1 << 40, columns < 1 << 40, packed.shape == [rows, (columns * Int(bits) + 31) / 32] else {
                    throw .shapeMismatch(path: path, tensor: module + ".weight_packed", detail: "does not hold weight_shape \(dimensions) at \(bits) bits")
                }
                codes = unpack(packed, bits: Int(bits), rows: rows, count: columns, along: 1)
                consumed.formUnion([module + ".weight_packed", module + ".weight_shape"])
            } else if let weight = arrays[module + ".weight"], weight.dtype == .int8, weight.shape.count == 2 {
                (rows, columns) = (weight.shape[0], weight.shape[1])
                codes = weight.storage.withUnsafeBytes { $0.map { Int(Int8(bitPattern: $0)) + 128 } }
                consumed.insert(module + ".weight")
            } else {
                throw .missingTensor(path: path, tensor: module + ".weight_packed")
            }
            let groupCount = tensor.shape.last ?? 1
            guard tensor.shape == [rows, groupCount], groupCount > 0, columns % groupCount == 0 else {
                throw .shapeMismatch(path: path, tensor: name, detail: "\(tensor.shape) does not divide [\(rows), \(columns)] into groups")
            }
            var zeros = [Int](repeating: 1 << (Int(bits) - 1), count: rows * groupCount)
            if let zeroPoints = arrays[module + ".weight_zero_point"] {
                guard zeroPoints.dtype == .int32, zeroPoints.shape == [(rows * Int(bits) + 31) / 32, groupCount] else {
                    throw .shapeMismatch(path: path, tensor: module + ".weight_zero_point", detail: "must be I32 [⌈out·bits/32⌉, groups]")
                }
                let byColumn = unpack(zeroPoints, bits: Int(bits), rows: groupCount, count: rows, along: 0)
                for row in 0..<rows { for group in 0..<groupCount { zeros[row * groupCount + group] = byColumn[group * rows + row] } }
                consumed.insert(module + ".weight_zero_point")
            }
            let groupSize = columns / groupCount
            var values = [Float](repeating: 0, count: rows * columns)
            for row in 0..<rows {
                for column in 0..<columns {
                    let group = row * groupCount + column / groupSize
                    values[row * columns + column] = Float(codes[row * columns + column] - zeros[group]) * scales[group]
                }
            }
            result[module + ".weight"] = values
            consumed.insert(name)
        }
        for (name, tensor) in arrays where !consumed.contains(name) && tensor.dtype.isFloatingPoint && !name.hasSuffix(".input_scale") {
            do { result[name] = try tensor.floatValues() } catch { throw .invalidTensor(path: path, tensor: name, underlying: error) }
        }
        return result
    }

    /// Whether a config group's `targets` select `module` (`Linear`, an exact name, or `re:`).
    static func matches(_ targets: JSONValue?, module: String) -> Bool {
        guard case .array(let items)? = targets else { return false }
        return items.contains { item in
            guard let target = item.stringValue else { return false }
            if target == "Linear" || target == module { return true }
            if target.hasPrefix("re:") { return module.range(of: String(target.dropFirst(3)), options: .regularExpression) != nil }
            return false
        }
    }

    /// Unpacks an I32 tensor of dense LSB-first `bits`-bit streams: along 1, one stream per
    /// row (`[rows, words]`, `count` values each); along 0, one per column (`[words, rows]`,
    /// returned column by column).
    static func unpack(_ tensor: Tensor, bits: Int, rows: Int, count: Int, along axis: Int) -> [Int] {
        let words = (count * bits + 31) / 32
        let mask = (1 << bits) - 1
        return tensor.storage.withUnsafeBytes { bytes in
            var result = [Int](repeating: 0, count: rows * count)
            for stream in 0..<rows {
                func word(_ index: Int) -> UInt64 {
                    let offset = axis == 1 ? stream * words + index : index * rows + stream
                    return UInt64(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * offset, as: UInt32.self)))
                }
                for index in 0..<count {
                    let bit = index * bits
                    var value = word(bit / 32) >> UInt64(bit % 32)
                    if bit % 32 + bits > 32 { value |= word(bit / 32 + 1) << UInt64(32 - bit % 32) }
                    result[stream * count + index] = Int(value) & mask
                }
            }
            return result
        }
    }
}
