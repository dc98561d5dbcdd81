import Foundation
import QuantaTensor

/// Format-independent entry points: load any supported weight source as a checkpoint, or
/// summarise it for `quanta inspect`.
public enum ModelFiles {
    /// Loads `path` (Hugging Face directory, HDF5 file or GGUF file) as a checkpoint in
    /// Hugging Face naming. A lone `.safetensors` file has no config and cannot be loaded
    /// as a model: point at its directory instead.
    public static func loadCheckpoint(path: String) throws(FormatError) -> ModelCheckpoint {
        switch try ModelFormat.detect(path: path) {
        case .huggingFace: return try HuggingFaceDirectory.read(path: path)
        case .hdf5: return try HDF5Reader.read(path: path)
        case .gguf: return try GGUFImporter.importCheckpoint(path: path)
        case .quanta:
            throw .unsupportedOperation(
                path: path,
                detail: "is a Quanta container of packed weights, not a float checkpoint; run it with the runtime, or use QuantaContainer.dequantizedCheckpoint() for float weights")
        case .safetensors:
            throw .missingField(
                path: path, field: "config.json' (a lone .safetensors file has no model config; pass the model directory")
        }
    }

    /// Format, architecture and tensor table of `path`, without reading tensor data.
    public static func summary(path: String) throws(FormatError) -> ModelSummary {
        let format = try ModelFormat.detect(path: path)
        switch format {
        case .huggingFace:
            let config = try ModelConfig.read(path: path + "/" + HuggingFaceDirectory.configFile)
            return ModelSummary(
                path: path, format: format, architecture: config.modelType,
                tensors: try HuggingFaceDirectory.tensorInfos(path: path), metadataCount: 0)
        case .safetensors:
            let file = try SafetensorsFile(path: path)
            return ModelSummary(
                path: path, format: format, architecture: nil, tensors: file.tensorInfos,
                metadataCount: file.metadata.count)
        case .gguf:
            let file = try GGUFFile(path: path)
            return ModelSummary(
                path: path, format: format, architecture: file.architecture, tensors: file.tensorInfos,
                metadataCount: file.metadata.count)
        case .quanta:
            let container = try QuantaContainer(path: path, verify: false)
            return ModelSummary(
                path: path, format: format, architecture: container.config.modelType, tensors: container.tensorInfos,
                metadataCount: container.fileEntries.count + 1)
        case .hdf5:
            let summary = try HDF5Reader.summary(path: path)
            return ModelSummary(
                path: path, format: format, architecture: summary.modelType, tensors: summary.tensors,
                metadataCount: summary.auxiliaryFiles.count + 1)
        }
    }
}
