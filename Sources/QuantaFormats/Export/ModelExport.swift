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

    public static func write(
        _ model: QuantizedModel, format: ExportFormat, options: Options = Options(), to path: String, force: Bool = false
    ) throws {
        try AtomicOutput.check(path, kind: format.outputKind, inputs: [model.path], force: force)
        try AtomicOutput.replacing(path, force: force) {
            switch format {
            case .gguf: try GGUFExporter.write(model, options: options.gguf, to: path)
            case .compressedTensors: try CompressedTensorsExporter.write(model, options: options.compressedTensors, to: path)
            }
        }
    }
}

extension ExportFormat {
    /// A GGUF export is one file, a compressed-tensors export a directory.
    public var outputKind: OutputEntryKind { self == .gguf ? .file : .directory }
}
