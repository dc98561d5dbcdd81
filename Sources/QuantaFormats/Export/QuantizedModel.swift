import Foundation
import QuantaTensor

/// A model as the exporters see it, whatever it was read from: the config, the tokenizer
/// files, every tensor in Hugging Face naming (dense floats, or quantized linears as
/// `PackedWeights` holding Quanta's codes, scales and zero points unchanged), and what the
/// quantized graph adds at run time (activation quantization, online rotations, a low-bit
/// KV cache), which a target format must be able to express.
public struct QuantizedModel: Sendable {
    /// Where it was read from; labels errors.
    public var path: String
    public var config: ModelConfig
    public var tokenizer: Data?
    public var tokenizerConfig: Data?
    public var generationConfig: Data?
    /// Tensors in file order.
    public var tensors: [ContainerTensor]
    /// Activation quantization by module name (`model.layers.0.mlp.up_proj`).
    public var activations: [String: ActivationScheme]
    /// The run-time graph additions (online Hadamards, KV cache), or nil for the plain graph.
    public var runtime: RuntimeMetadata?

    public init(
        path: String, config: ModelConfig, tokenizer: Data?, tokenizerConfig: Data?, generationConfig: Data?,
        tensors: [ContainerTensor], activations: [String: ActivationScheme] = [:], runtime: RuntimeMetadata? = nil
    ) {
        self.path = path
        self.config = config
        self.tokenizer = tokenizer
        self.tokenizerConfig = tokenizerConfig
        self.generationConfig = generationConfig
        self.tensors = tensors
        self.activations = activations
        self.runtime = runtime
    }

    /// The runtime transforms a plain LLaMA graph cannot run, by metadata key; empty when
    /// the graph is the plain one.
    public var onlineTransforms: [String] { runtime?.onlineTransforms ?? [] }

    /// Reads a Quanta container, a simulated quantized directory (`quantization.json` +
    /// `quantization.safetensors`) or a float model (Hugging Face directory, GGUF, HDF5).
    public static func load(path: String) throws(FormatError) -> QuantizedModel {
        switch try ModelFormat.detect(path: path) {
        case .quanta: return try fromContainer(QuantaContainer(path: path, verify: true))
        case .huggingFace where FileManager.default.fileExists(atPath: path + "/" + SimulatedDirectory.metadataFile):
            return try SimulatedDirectory.read(path: path)
        default:
            let checkpoint = try ModelFiles.loadCheckpoint(path: path)
            return QuantizedModel(
                path: path, config: checkpoint.config, tokenizer: checkpoint.tokenizer,
                tokenizerConfig: checkpoint.tokenizerConfig, generationConfig: checkpoint.generationConfig,
                tensors: checkpoint.tensors.map { ContainerTensor(name: $0.name, dense: $0.tensor) })
        }
    }

    /// A container's tensors (packed arrays borrowed from the mapping), its files, and the
    /// `activations` and `runtime` entries of its provenance.
    public static func fromContainer(_ container: QuantaContainer) throws(FormatError) -> QuantizedModel {
        let provenance = try ContainerProvenance.decode(container.provenance, path: container.path)
        return QuantizedModel(
            path: container.path, config: container.config, tokenizer: try container.file(named: "tokenizer.json"),
            tokenizerConfig: try container.file(named: "tokenizer_config.json"),
            generationConfig: try container.file(named: "generation_config.json"), tensors: try container.tensors(),
            activations: provenance.activations ?? [:], runtime: provenance.runtime)
    }
}

/// The simulated quantized directory that `quanta quantize` writes (a Hugging Face directory
/// of dequantized weights plus the codes, scales, zero points and group indices of each
/// quantized linear), read back with each quantized linear packed losslessly.
public enum SimulatedDirectory {
    public static let metadataFile = "quantization.json"
    public static let arraysFile = "quantization.safetensors"

    public static func read(path: String) throws(FormatError) -> QuantizedModel {
        let metadata = try QuantizationMetadata.read(path: path + "/" + metadataFile)
        let checkpoint = try HuggingFaceDirectory.read(path: path)
        let arraysPath = path + "/" + arraysFile
        let arrays = Dictionary(
            try SafetensorsFile(path: arraysPath).tensors().map { ($0.name, $0.tensor) }, uniquingKeysWith: { first, _ in first })
        var packed: [String: PackedWeights] = [:]
        var activations: [String: ActivationScheme] = [:]
        for (module, entry) in metadata.tensors {
            if let activation = entry.activation { activations[module] = activation }
            guard let bits = entry.bits else { continue }  // pruned only: the dense weight is the result
            packed[module + ".weight"] = try packedLinear(module, bits: bits, entry: entry, arrays: arrays, path: arraysPath)
        }
        let tensors = checkpoint.tensors.map { item in
            packed[item.name].map { ContainerTensor(name: item.name, packed: $0) } ?? ContainerTensor(name: item.name, dense: item.tensor)
        }
        return QuantizedModel(
            path: path, config: checkpoint.config, tokenizer: checkpoint.tokenizer, tokenizerConfig: checkpoint.tokenizerConfig,
            generationConfig: checkpoint.generationConfig, tensors: tensors, activations: activations,
            runtime: metadata.runtime)
    }

    /// One linear's arrays packed as the container would pack them (act-order groups that
    /// are not contiguous keep an input permutation).
    static func packedLinear(_ module: String, bits: Int, entry: QuantizedTensorMetadata, arrays: [String: Tensor], path: String)
        throws(FormatError)
        -> PackedWeights
    {
        guard let codes = arrays[module + ".codes"], let scales = arrays[module + ".scales"],
            let zeros = arrays[module + ".zero_points"], let groupIndex = arrays[module + ".group_index"]
        else { throw .missingTensor(path: path, tensor: module + ".codes/.scales/.zero_points/.group_index") }
        guard codes.dtype == .uint8, codes.shape.count == 2, zeros.dtype == .uint8, groupIndex.dtype == .int32,
            groupIndex.shape == [codes.shape[1]], let symmetric = entry.symmetric
        else {
            throw .invalidField(path: path, field: module, detail: "codes [out, in] and zero points must be U8, group_index I32 [in], and bits/symmetric given; quantize again")
        }
        let (rows, columns) = (codes.shape[0], codes.shape[1])
        let groupSize = entry.groupSize ?? columns
        do {
            return try PackedWeights.pack(
                name: module + ".weight", codes: codes.storage.withUnsafeBytes { Array($0) }, scales: scales.floatValues(),
                zeroPoints: zeros.storage.withUnsafeBytes { Array($0) },
                groupIndex: groupIndex.storage.withUnsafeBytes { bytes in
                    (0..<columns).map { Int(bytes.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self).littleEndian) }
                },
                outputCount: rows, inputCount: columns, bits: bits, groupSize: min(max(groupSize, 1), columns),
                symmetric: symmetric)
        } catch let error as FormatError {
            throw error
        } catch {
            throw .invalidField(path: path, field: module, detail: error.localizedDescription)
        }
    }
}
