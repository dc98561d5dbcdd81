import Foundation
import QuantaTensor

/// The export targets of `quanta export` and `quanta quantize --output X.gguf`.
public enum ExportFormat: String, Sendable, CaseIterable {
    case gguf
    case compressedTensors = "compressed-tensors"

    /// The format an output path implies: `.gguf` files are GGUF; nil otherwise.
    public static func implied(by path: String) -> ExportFormat? { path.hasSuffix(".gguf") ? .gguf : nil }
}

/// Writes a `QuantizedModel` in an export format, with the output rules of every Quanta
/// command: never onto an input, never over a non-empty directory or a file of the other
/// kind; written to a temporary name and renamed into place.
public enum ModelExport {
    public struct Options: Sendable {
        public var gguf = GGUFExporter.Options()
        public var compressedTensors = CompressedTensorsExporter.Options()
        public init() {}
    }

    public static func write(_ model: QuantizedModel, format: ExportFormat, options: Options = Options(), to path: String)
        throws(FormatError)
    {
        try checkOutput(path, format: format, inputs: [model.path])
        switch format {
        case .gguf: try GGUFExporter.write(model, options: options.gguf, to: path)
        case .compressedTensors: try CompressedTensorsExporter.write(model, options: options.compressedTensors, to: path)
        }
    }

    /// Refuses an output that is one of `inputs` (or inside one), a non-empty directory, or
    /// an existing entry of the other kind (a directory where a file goes, or the reverse).
    public static func checkOutput(_ path: String, format: ExportFormat, inputs: [String]) throws(FormatError) {
        let output = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
        for input in inputs {
            let resolved = URL(fileURLWithPath: input).standardizedFileURL.resolvingSymlinksInPath().path
            if output == resolved || output.hasPrefix(resolved + "/") {
                throw .unsupportedOperation(path: path, detail: "is the input \(input) (or inside it); choose another --output")
            }
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return }
        let wantsDirectory = format == .compressedTensors
        if isDirectory.boolValue != wantsDirectory {
            throw .unsupportedOperation(
                path: path, detail: "exists and is a \(isDirectory.boolValue ? "directory" : "file"); the \(format.rawValue) output is a \(wantsDirectory ? "directory" : "file"), so choose another --output")
        }
        if isDirectory.boolValue, let contents = try? FileManager.default.contentsOfDirectory(atPath: path), !contents.isEmpty {
            throw .unsupportedOperation(path: path, detail: "is a non-empty directory; nothing was replaced, choose a new --output")
        }
    }
}
