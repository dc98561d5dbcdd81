import Foundation
import QuantaTensor

/// Writes a model as a GGUF file for llama.cpp: LLaMA-family metadata and tokenizer, tensors
/// under llama.cpp's names with its Q/K row permutation, each quantized linear in the ggml
/// block type that holds Quanta's codes unchanged (`GGMLBlockEncoder`), dense tensors as
/// F32 or F16. What ggml cannot run exactly (act-order permutations, online rotations,
/// sub-8-bit activations, a low-bit KV cache) is an error naming the tensor and the recipe
/// knob, never an approximation. docs/export.md lists the mapping.
public enum GGUFExporter {
    public struct Options: Sendable {
        /// The type of asymmetric 4-bit linears: `Q5_0` (exact, 5.5 bits per weight) or
        /// `Q4_1` (5.0 bits; `m = −scale · zero` rounded to f16).
        public var asymmetricFourBit: GGMLType = .q5_0
        /// The type of dense matrices (the embedding, an unquantized head): nil keeps the
        /// stored precision (F16 stays F16, everything else F32); `Q8_0` quantizes them as
        /// llama-quantize does (not exact: a smaller file on request).
        public var denseMatrixType: GGMLType?

        public init(asymmetricFourBit: GGMLType = .q5_0, denseMatrixType: GGMLType? = nil) {
            self.asymmetricFourBit = asymmetricFourBit
            self.denseMatrixType = denseMatrixType
        }
    }

    /// Hugging Face `model_type` → llama.cpp architecture, and whether its Q/K rows are
    /// permuted (convert_hf_to_gguf.py `LlamaModel.permute`; Qwen2 keeps HF's layout).
    static let architectures: [String: (name: String, permutesQueryKey: Bool)] = [
        "llama": ("llama", true), "mistral": ("llama", true), "qwen2": ("qwen2", false),
    ]

    public static func write(_ model: QuantizedModel, options: Options = Options(), to path: String) throws(FormatError) {
        try checkGraph(model)
        let config = model.config
        guard let architecture = architectures[config.modelType] else {
            throw .exportUnsupported(
                path: model.path, tensor: "config.json", detail: "model_type '\(config.modelType)' has no GGUF mapping here; supported: \(architectures.keys.sorted())")
        }
        var writer = GGUFWriter()
        try addHyperparameters(&writer, config: config, architecture: architecture.name, path: model.path)
        guard let tokenizer = model.tokenizer else {
            throw .exportUnsupported(path: model.path, tensor: "tokenizer.json", detail: "the model has no tokenizer; llama.cpp needs one")
        }
        writer.metadata += try GGUFTokenizerMetadata.entries(
            tokenizer: tokenizer, tokenizerConfig: model.tokenizerConfig, config: config, path: model.path)
        for tensor in model.tensors {
            guard let name = GGUFTensorNames.ggufName(for: tensor.name) else {
                throw .exportUnsupported(path: model.path, tensor: tensor.name, detail: "no llama.cpp tensor name for it")
            }
            var rowOrder: [Int]?
            if architecture.permutesQueryKey {
                if tensor.name.contains(".self_attn.q_proj.") { rowOrder = rotaryRowOrder(rows: tensor.shape[0], heads: config.attentionHeads) }
                if tensor.name.contains(".self_attn.k_proj.") { rowOrder = rotaryRowOrder(rows: tensor.shape[0], heads: config.kvHeads) }
            }
            writer.tensors.append(try entry(for: tensor, name: name, rowOrder: rowOrder, options: options, path: model.path))
        }
        writer.metadata.insert(
            GGUFMetadataEntry(key: "general.file_type", value: .uint32(fileType(writer.tensors))), at: 3)
        try writer.write(to: path)
    }

    /// Online rotations, a low-bit KV cache and sub-8-bit activations have no ggml form.
    static func checkGraph(_ model: QuantizedModel) throws(FormatError) {
        if let transform = model.onlineTransforms.first {
            let knob = transform == "kv_cache" ? "remove kv_cache from the recipe" : "set \(transform): false in the rotation stage (fused R1/R2 rotations export)"
            throw .exportUnsupported(
                path: model.path, tensor: "runtime.\(transform)",
                detail: "llama.cpp has no \(transform == "kv_cache" ? "Quanta low-bit KV cache" : "online Hadamard rotation"); \(knob)")
        }
        if let (module, scheme) = model.activations.sorted(by: { $0.key < $1.key }).first(where: { $0.value.bits < 8 }) {
            throw .exportUnsupported(
                path: model.path, tensor: module,
                detail: "\(scheme.bits)-bit activations cannot run in llama.cpp (it quantizes activations to 8 bits itself); use activations bits: 8 or none")
        }
    }

    static func addHyperparameters(_ writer: inout GGUFWriter, config: ModelConfig, architecture: String, path: String) throws(FormatError) {
        writer.add("general.architecture", .string(architecture))
        writer.add("general.type", .string("model"))
        writer.add("general.quantization_version", .uint32(2))
        let prefix = architecture + "."
        writer.add(prefix + "context_length", .uint32(UInt32(config.maxPositionEmbeddings)))
        writer.add(prefix + "embedding_length", .uint32(UInt32(config.hiddenSize)))
        writer.add(prefix + "block_count", .uint32(UInt32(config.layerCount)))
        writer.add(prefix + "feed_forward_length", .uint32(UInt32(config.intermediateSize)))
        writer.add(prefix + "attention.head_count", .uint32(UInt32(config.attentionHeads)))
        writer.add(prefix + "attention.head_count_kv", .uint32(UInt32(config.kvHeads)))
        writer.add(prefix + "rope.freq_base", .float32(Float(config.ropeTheta)))
        writer.add(prefix + "attention.layer_norm_rms_epsilon", .float32(Float(config.rmsNormEpsilon)))
        writer.add(prefix + "rope.dimension_count", .uint32(UInt32(config.headDimension)))
        writer.add(prefix + "vocab_size", .uint32(UInt32(config.vocabularySize)))
        if config.headDimension * config.attentionHeads != config.hiddenSize {
            writer.add(prefix + "attention.key_length", .uint32(UInt32(config.headDimension)))
            writer.add(prefix + "attention.value_length", .uint32(UInt32(config.headDimension)))
        }
        if let scaling = config.ropeScaling {
            guard scaling.ropeType == "linear" else {
                throw .exportUnsupported(
                    path: path, tensor: "config.json rope_scaling",
                    detail: "rope_type '\(scaling.ropeType)' is not exported yet (llama.cpp needs rope_freqs for llama3); only linear scaling is")
            }
            writer.add(prefix + "rope.scaling.type", .string("linear"))
            writer.add(prefix + "rope.scaling.factor", .float32(Float(scaling.factor)))
        }
    }

    static func entry(for tensor: ContainerTensor, name: String, rowOrder: [Int]?, options: Options, path: String)
        throws(FormatError) -> GGUFWriter.Entry
    {
        switch tensor.content {
        case .packed(let weights):
            return try packedEntry(weights, tensorName: tensor.name, name: name, rowOrder: rowOrder, options: options, path: path)
        case .sparse(let weights):
            // 2:4 sparse weights export dense: the pruned codes are zero points (zeros).
            switch weights.values {
            case .packed: return try packedEntry(
                try weights.densePacked(name: tensor.name), tensorName: tensor.name, name: name, rowOrder: rowOrder,
                options: options, path: path)
            case .float(let values):
                return denseEntry(weights.dequantize(), shape: tensor.shape, storedType: values.dtype, name: name, rowOrder: rowOrder, options: options)
            }
        case .dense(let values):
            let floats: [Float]
            do { floats = try values.floatValues() } catch { throw .invalidTensor(path: path, tensor: tensor.name, underlying: error) }
            return denseEntry(floats, shape: values.shape, storedType: values.dtype, name: name, rowOrder: rowOrder, options: options)
        }
    }

    static func packedEntry(
        _ weights: PackedWeights, tensorName: String, name: String, rowOrder: [Int]?, options: Options, path: String
    ) throws(FormatError) -> GGUFWriter.Entry {
        let candidates = GGMLBlockEncoder.candidates(for: weights)
        guard let first = candidates.first else {
            throw .exportUnsupported(
                path: path, tensor: tensorName,
                detail: "\(weights.label): " + (GGMLBlockEncoder.unsupportedReason(weights) ?? "no ggml type holds these codes"))
        }
        let type = weights.bits == 4 && !weights.symmetric && candidates.contains(options.asymmetricFourBit) ? options.asymmetricFourBit : first
        return GGUFWriter.Entry(
            name: name, type: type, shape: [weights.outputCount, weights.inputCount],
            data: GGMLBlockEncoder.encode(weights, as: type, rowOrder: rowOrder))
    }

    static func denseEntry(
        _ values: [Float], shape: [Int], storedType: DType, name: String, rowOrder: [Int]?, options: Options
    ) -> GGUFWriter.Entry {
        let isMatrix = shape.count == 2
        var type: GGMLType = isMatrix ? options.denseMatrixType ?? (storedType == .float16 ? .f16 : .f32) : .f32
        if type == .q8_0, (shape.last ?? 0) % GGMLBlockEncoder.blockElements != 0 { type = .f16 }
        // A Q/K bias moves with its rows; other vectors are one row.
        let rows = isMatrix ? shape[0] : (rowOrder == nil ? 1 : values.count)
        return GGUFWriter.Entry(
            name: name, type: type, shape: shape,
            data: GGMLBlockEncoder.encode(dense: values, rows: rows, columns: values.count / max(rows, 1), as: type, rowOrder: rowOrder))
    }

    /// The order of HF rows in llama.cpp's Q/K layout: GGUF row `h·d + 2j + t` is HF row
    /// `h·d + t·(d/2) + j` (`GGUFImporter.permuteRotaryRows`, direction `toGGUF`).
    static func rotaryRowOrder(rows: Int, heads: Int) -> [Int] {
        let headDimension = rows / heads
        let half = headDimension / 2
        var order = [Int](repeating: 0, count: rows)
        for head in 0..<heads {
            for pair in 0..<half {
                for member in 0..<2 { order[head * headDimension + 2 * pair + member] = head * headDimension + member * half + pair }
            }
        }
        return order
    }

    /// `general.file_type` (llama.cpp `llama_ftype`) of the most common linear type.
    static func fileType(_ tensors: [GGUFWriter.Entry]) -> UInt32 {
        let codes: [GGMLType: UInt32] = [.f32: 0, .f16: 1, .q4_0: 2, .q4_1: 3, .q8_0: 7, .q5_0: 8]
        let linears = tensors.filter { $0.name.hasPrefix("blk.") && $0.shape.count == 2 }
        let counts = Dictionary(grouping: linears, by: \.type).mapValues(\.count)
        let common = counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key.rawValue > $1.key.rawValue) }?.key ?? .f32
        return codes[common] ?? 0
    }
}
