import Foundation
import QuantaTensor

/// Imports a LLaMA-family GGUF (architectures `llama`, `mistral`, `qwen2`) as a Hugging Face
/// checkpoint: float32 tensors under HF names with llama.cpp's Q/K row permutation undone,
/// `config.json` values from the metadata, and the tokenizer files.
public enum GGUFImporter {
    /// Architectures whose Q/K rows convert_hf_to_gguf.py permuted (`LlamaModel.permute`).
    static let permutedArchitectures: Set<String> = ["llama", "mistral"]

    /// Dequantizes and renames every tensor, undoes the Q/K permutation, builds the config
    /// and tokenizer files. Unknown tensor names are errors.
    public static func importCheckpoint(_ file: GGUFFile) throws(FormatError) -> ModelCheckpoint {
        let config = try config(from: file)
        let architecture = config.modelType
        var tensors: [NamedTensor] = []
        tensors.reserveCapacity(file.tensors.count)
        for tensor in file.tensors {
            guard let mapped = GGUFTensorNames.huggingFaceName(for: tensor.name) else {
                throw .unexpectedTensor(path: file.path, tensor: tensor.name)
            }
            if let layer = mapped.layer, layer >= config.layerCount {
                throw .unexpectedTensor(path: file.path, tensor: tensor.name)
            }
            // Shapes are checked against the config before anything is dequantized.
            if let expected = LlamaTensorLayout.expectedShape(of: mapped.name, for: config), tensor.shape != expected {
                throw .shapeMismatch(
                    path: file.path, tensor: tensor.name, detail: "shape \(tensor.shape), but the metadata implies \(expected)")
            }
            var heads: Int?
            if permutedArchitectures.contains(architecture) {
                if mapped.name.contains(".self_attn.q_proj.") { heads = config.attentionHeads }
                if mapped.name.contains(".self_attn.k_proj.") { heads = config.kvHeads }
            }
            let converted: Tensor
            if let heads {
                let values = try file.floatValues(of: tensor)
                converted = try rotaryRowsTensor(values, tensor: tensor, heads: heads, path: file.path)
            } else {
                converted = try file.floatTensor(named: tensor.name)
            }
            tensors.append(NamedTensor(name: mapped.name, tensor: converted))
        }
        let tokenizerFiles = try GGUFTokenizerBuilder.build(from: file, config: config)
        return ModelCheckpoint(
            config: config, tensors: try LlamaTensorLayout.assign(tensors, config: config, path: file.path), tokenizer: tokenizerFiles?.tokenizer,
            tokenizerConfig: tokenizerFiles?.tokenizerConfig, generationConfig: tokenizerFiles?.generationConfig)
    }

    /// The Hugging Face `tokenizer.json` and `tokenizer_config.json` bytes built from the GGUF's
    /// `tokenizer.ggml.*` metadata, without importing tensors; nil when it has no tokenizer.
    public static func tokenizerFiles(from file: GGUFFile) throws(FormatError) -> (tokenizer: Data, tokenizerConfig: Data)? {
        guard let files = try GGUFTokenizerBuilder.build(from: file, config: config(from: file)) else { return nil }
        return (files.tokenizer, files.tokenizerConfig)
    }

    /// Imports the GGUF file at `path`.
    public static func importCheckpoint(path: String) throws(FormatError) -> ModelCheckpoint {
        try importCheckpoint(GGUFFile(path: path))
    }

    private static func rotaryRowsTensor(_ values: [Float], tensor: GGUFTensor, heads: Int, path: String)
        throws(FormatError) -> Tensor
    {
        let rows = tensor.shape.first ?? 1
        guard heads > 0, rows > 0, rows % (2 * heads) == 0 else {
            throw .shapeMismatch(
                path: path, tensor: tensor.name,
                detail: "\(rows) rows cannot be split into \(heads) heads of rotary pairs")
        }
        let storage = TensorStorage(byteCount: values.count * 4) { bytes in
            values.withUnsafeBufferPointer { source in
                permuteRotaryRows(
                    source, into: bytes.bindMemory(to: Float.self), rows: rows, heads: heads, direction: .toHuggingFace)
            }
        }
        do {
            return try Tensor(dtype: .float32, shape: tensor.shape, storage: storage)
        } catch {
            throw .invalidTensor(path: path, tensor: tensor.name, underlying: error)
        }
    }

    /// Which way `permuteRotaryRows` moves rows.
    public enum RotaryDirection: Sendable {
        /// HF rotate_half layout → llama.cpp interleaved layout (convert_hf_to_gguf.py `permute`).
        case toGGUF
        /// llama.cpp interleaved layout → HF rotate_half layout (the inverse).
        case toHuggingFace
    }

    /// Moves whole rows of a `rows × (count / rows)` matrix (or a bias, one value per row)
    /// between the HF and llama.cpp Q/K layouts. convert_hf_to_gguf.py `permute` is
    /// `w.reshape(heads, 2, rows/heads/2, …).swapaxes(1, 2)`: HF row `h·d + t·(d/2) + j`
    /// becomes GGUF row `h·d + 2j + t` (d = rows/heads, t ∈ {0, 1}); the inverse maps back.
    public static func permuteRotaryRows(
        _ source: UnsafeBufferPointer<Float>, into destination: UnsafeMutableBufferPointer<Float>, rows: Int,
        heads: Int, direction: RotaryDirection
    ) {
        precondition(heads > 0 && rows % (2 * heads) == 0, "rows must split into heads of rotary pairs")
        precondition(source.count == destination.count && source.count % rows == 0, "buffer sizes must match")
        guard let input = source.baseAddress, let output = destination.baseAddress, rows > 0 else { return }
        let columns = source.count / rows
        let headDimension = rows / heads
        let half = headDimension / 2
        for head in 0..<heads {
            for pair in 0..<half {
                for member in 0..<2 {
                    let huggingFaceRow = head * headDimension + member * half + pair
                    let ggufRow = head * headDimension + 2 * pair + member
                    let (from, to) = direction == .toHuggingFace ? (ggufRow, huggingFaceRow) : (huggingFaceRow, ggufRow)
                    (output + to * columns).update(from: input + from * columns, count: columns)
                }
            }
        }
    }
}
