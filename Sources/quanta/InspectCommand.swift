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

    func run() throws {
        let summary = try ModelFiles.summary(path: path)
        if json {
            print(jsonText(summary))
        } else {
            print(text(summary))
        }
    }

    private func jsonText(_ summary: ModelSummary) -> String {
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

    private func text(_ summary: ModelSummary) -> String {
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
}
