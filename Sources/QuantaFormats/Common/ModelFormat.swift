import Foundation
import QuantaTensor

/// The weight formats Quanta reads, detected from a path's contents.
public enum ModelFormat: String, Sendable, Codable, CaseIterable {
    case huggingFace = "huggingface"
    case safetensors
    case gguf
    case hdf5
    /// A Quanta container of packed weights (docs/container.md).
    case quanta

    /// Detects the format of `path`: a directory with `config.json`, or a file recognised by
    /// its magic bytes (GGUF, HDF5, Quanta container) or its `.safetensors` extension.
    public static func detect(path: String) throws(FormatError) -> ModelFormat {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .fileNotFound(path: path)
        }
        if isDirectory.boolValue {
            guard HuggingFaceDirectory.isModelDirectory(path) else {
                throw .missingField(path: path + "/" + HuggingFaceDirectory.configFile, field: "config.json")
            }
            return .huggingFace
        }
        let file = try MappedFile(path: path)
        let magic = file.count >= 8 ? Array(file.bytes[0..<8]) : Array(file.bytes)
        if magic.starts(with: Array("GGUF".utf8)) { return .gguf }
        if magic.starts(with: QuantaContainerFormat.magic) { return .quanta }
        if magic == [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A] { return .hdf5 }
        if path.hasSuffix(".safetensors") { return .safetensors }
        throw .unknownFormat(path: path)
    }
}

/// What `quanta inspect` shows about a weight file or directory.
public struct ModelSummary: Sendable, Codable {
    public var path: String
    public var format: ModelFormat
    public var architecture: String?
    public var tensors: [TensorInfo]
    public var metadataCount: Int

    public var tensorCount: Int { tensors.count }
    public var parameterCount: Int { tensors.reduce(0) { $0 + $1.elementCount } }
    public var byteCount: Int { tensors.reduce(0) { $0 + $1.byteCount } }

    /// Tensor count per dtype, sorted by dtype name.
    public var dtypeCounts: [(dtype: String, count: Int)] {
        Dictionary(grouping: tensors, by: \.dtype).map { ($0.key, $0.value.count) }.sorted { $0.dtype < $1.dtype }
    }
}
