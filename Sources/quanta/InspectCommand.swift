import ArgumentParser
import Foundation
import QuantaFormats

/// `quanta inspect FILE`: format, architecture, tensor and parameter counts, dtypes.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe a weight file or model directory (GGUF, safetensors, HDF5, Hugging Face)."
    )

    @Argument(help: "A .gguf, .safetensors or .h5 file, or a Hugging Face model directory.")
    var path: String

    @Flag(help: "Also list every tensor: name, dtype, shape, bytes.")
    var tensors = false

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @Flag(help: "Quanta containers: check every array's CRC32C now (otherwise nothing is read but the header).")
    var verify = false

    func run() throws {
        let summary = try ModelFiles.summary(path: path)
        var container: QuantaContainer?
        if summary.format == .quanta {
            // Checks every checksum at open when verifying; throws naming the first bad tensor.
            container = try QuantaContainer(path: path, verify: verify)
        } else if verify {
            throw ValidationError("--verify applies to Quanta containers only; \(path) is \(summary.format.rawValue)")
        }
        if json {
            print(jsonText(summary, container: container))
        } else {
            print(text(summary, container: container))
        }
    }

    private func jsonText(_ summary: ModelSummary, container: QuantaContainer?) -> String {
        var members: [(String, JSONValue)] = [
            ("path", .string(summary.path)),
            ("format", .string(summary.format.rawValue)),
            ("architecture", summary.architecture.map(JSONValue.string) ?? .null),
            ("tensor_count", .integer(Int64(summary.tensorCount))),
            ("parameter_count", .integer(Int64(summary.parameterCount))),
            ("byte_count", .integer(Int64(summary.byteCount))),
            ("metadata_count", .integer(Int64(summary.metadataCount))),
            ("dtypes", .object(summary.dtypeCounts.map { ($0.dtype, .integer(Int64($0.count))) })),
        ]
        if let container {
            let size = container.sizeSummary
            members.append(("size", .object([
                ("file_bytes", .integer(Int64(size.fileByteCount))),
                ("parameter_count", .integer(Int64(size.parameterCount))),
                ("bits_per_weight_file", .number(size.bitsPerWeightFile)),
                ("uncompressed_file_bytes", .integer(Int64(size.uncompressedFileByteCount))),
                ("uncompressed_bits_per_weight_file", .number(size.uncompressedBitsPerWeightFile)),
                ("packed_tensor_count", .integer(Int64(size.packedTensorCount))),
                ("packed_parameter_count", .integer(Int64(size.packedParameterCount))),
                ("packed_bytes", .integer(Int64(size.packedByteCount))),
                ("packed_stored_bytes", .integer(Int64(size.packedStoredByteCount))),
                ("packed_traits_bytes", .integer(Int64(size.packedTraitsByteCount))),
                ("bits_per_weight_linears", .number(size.bitsPerWeightLinears)),
                ("stored_bits_per_weight_linears", .number(size.storedBitsPerWeightLinears)),
                ("nominal_bits_per_weight_linears", .number(size.nominalBitsPerWeightLinears)),
                ("dense_bytes", .integer(Int64(size.denseByteCount))),
                ("dense_stored_bytes", .integer(Int64(size.denseStoredByteCount))),
                ("file_table_bytes", .integer(Int64(size.fileStoredByteCount))),
                ("header_bytes", .integer(Int64(size.headerByteCount))),
                ("padding_bytes", .integer(Int64(size.paddingByteCount))),
                ("matches_traits", .bool(size.matchesTraits(arrayCount: container.arrayCount))),
            ])))
            members.append(("checksums_verified", .bool(verify)))
        }
        if tensors {
            members.append(
                ("tensors", .array(summary.tensors.map { info in
                    .object([
                        ("name", .string(info.name)), ("dtype", .string(info.dtype)),
                        ("shape", .array(info.shape.map { .integer(Int64($0)) })),
                        ("bytes", .integer(Int64(info.byteCount))),
                    ])
                })))
        }
        return JSONValue.object(members).serialized()
    }

    private func text(_ summary: ModelSummary, container: QuantaContainer?) -> String {
        var lines = [
            "path:          \(summary.path)",
            "format:        \(summary.format.rawValue)",
            "architecture:  \(summary.architecture ?? "unknown")",
            "tensors:       \(summary.tensorCount)",
            "parameters:    \(summary.parameterCount) (\(String(format: "%.1f", Double(summary.parameterCount) / 1e6))M)",
            "tensor bytes:  \(summary.byteCount) (\(String(format: "%.1f", Double(summary.byteCount) / 1_048_576)) MiB)",
            "metadata keys: \(summary.metadataCount)",
            "dtypes:        " + summary.dtypeCounts.map { "\($0.dtype) ×\($0.count)" }.joined(separator: ", "),
        ]
        if let container { lines += Self.sizeLines(container, verified: verify) }
        lines += Self.quantizationLines(summary)
        if tensors {
            let nameWidth = max(4, summary.tensors.map(\.name.count).max() ?? 0)
            lines.append("")
            lines.append("name".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  dtype  shape                bytes")
            for info in summary.tensors {
                let shape = "[" + info.shape.map(String.init).joined(separator: ", ") + "]"
                lines.append(
                    info.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  "
                        + info.dtype.padding(toLength: 5, withPad: " ", startingAt: 0) + "  "
                        + shape.padding(toLength: 18, withPad: " ", startingAt: 0) + "  " + String(info.byteCount))
            }
        }
        return lines.joined(separator: "\n")
    }

    /// GGUF: bits per weight over the decoder linears. A Hugging Face directory with a
    /// compressed-tensors `quantization_config`: its format and config groups.
    static func quantizationLines(_ summary: ModelSummary) -> [String] {
        switch summary.format {
        case .gguf:
            let linears = summary.tensors.filter { $0.name.hasPrefix("blk.") && $0.shape.count == 2 }
            let parameters = linears.reduce(0) { $0 + $1.elementCount }
            guard parameters > 0 else { return [] }
            let bits = Double(linears.reduce(0) { $0 + $1.byteCount }) * 8 / Double(parameters)
            return [String(format: "bits/weight:   %.3f over the %d decoder linears", bits, linears.count)]
        case .huggingFace:
            guard let config = try? CompressedTensorsReader.quantizationConfig(directory: summary.path),
                case .object(let groups)? = config["config_groups"]
            else { return [] }
            var lines = ["quantization:  \(config["quant_method"]?.stringValue ?? "?") \(config["format"]?.stringValue ?? "?")"
                + " (version \(config["version"]?.stringValue ?? "?")), ignore \(config["ignore"]?.serialized(pretty: false) ?? "[]")"]
            for (name, group) in groups {
                let weights = group["weights"]
                let size = weights?["group_size"]?.integerValue.map { " of \($0)" } ?? ""
                let targets = group["targets"].map { (value: JSONValue) -> String in
                    guard case .array(let items) = value else { return "?" }
                    return items.count > 3 ? "\(items.count) modules" : value.serialized(pretty: false)
                } ?? "?"
                let input = group["input_activations"]?["num_bits"]?.integerValue.map { ", \($0)-bit activations" } ?? ""
                lines.append("               \(name): \(weights?["num_bits"]?.integerValue ?? 0)-bit "
                    + "\(weights?["symmetric"] == .bool(true) ? "symmetric" : "asymmetric") \(weights?["strategy"]?.stringValue ?? "?")\(size)\(input) → \(targets)")
            }
            return lines
        default:
            return []
        }
    }

    /// Bits per weight and where the bytes go, for a container.
    static func sizeLines(_ container: QuantaContainer, verified: Bool) -> [String] {
        let size = container.sizeSummary
        let megabytes = { (bytes: Int) in String(format: "%.2f MB", Double(bytes) / 1e6) }
        return [
            String(format: "bits/weight:   %.3f over the %d packed linears (%.3f as stored after zstd; traits nominal %.3f)",
                   size.bitsPerWeightLinears, size.packedTensorCount, size.storedBitsPerWeightLinears,
                   size.nominalBitsPerWeightLinears),
            String(format: "               %.3f over the whole file (%d bytes × 8 / %d parameters); %.3f without zstd (≈ %d bytes)",
                   size.bitsPerWeightFile, size.fileByteCount, size.parameterCount, size.uncompressedBitsPerWeightFile,
                   size.uncompressedFileByteCount),
            "file bytes:    \(size.fileByteCount) = packed \(megabytes(size.packedStoredByteCount)) + dense "
                + "\(megabytes(size.denseStoredByteCount)) + files \(megabytes(size.fileStoredByteCount)) + header "
                + "\(size.headerByteCount) + padding \(size.paddingByteCount) (stored sizes)",
            "traits check:  " + (size.matchesTraits(arrayCount: container.arrayCount)
                ? "packed arrays hold exactly the \(size.packedTraitsByteCount) bytes the packed-weight traits predict"
                : "MISMATCH: packed arrays hold \(size.packedByteCount) bytes, traits predict \(size.packedTraitsByteCount)"),
            "checksums:     " + (verified
                ? "all \(container.arrayCount) arrays verified (CRC32C)"
                : "not checked (header only; --verify checks every array)"),
        ]
    }
}
