/// `config.json` values from GGUF metadata (keys as in llama.cpp `llm_arch.cpp` LLM_KV_NAMES).
extension GGUFImporter {
    /// The architectures this importer accepts (`general.architecture`).
    public static let supportedArchitectures: Set<String> = ["llama", "mistral", "qwen2"]

    /// The Hugging Face model config described by the file's metadata and tensor table.
    ///
    /// Special token ids come from `tokenizer.ggml.*`: for SmolLM2 the GGUF says bos 1
    /// (`<|im_start|>`), eos 2 and pad 2 (`<|im_end|>`), the same as the model's Hugging Face
    /// config, so the GGUF values are used as they are.
    public static func config(from file: GGUFFile) throws(FormatError) -> ModelConfig {
        guard let architecture = file.architecture else {
            throw .missingField(path: file.path, field: "general.architecture")
        }
        guard supportedArchitectures.contains(architecture) else {
            throw .invalidField(
                path: file.path, field: "general.architecture",
                detail: "'\(architecture)' is not supported; expected one of \(supportedArchitectures.sorted())")
        }
        func required(_ suffix: String) throws(FormatError) -> Int {
            let key = "\(architecture).\(suffix)"
            guard let value = try file.integer(key) else { throw .missingField(path: file.path, field: key) }
            guard value > 0 else { throw .invalidField(path: file.path, field: key, detail: "must be positive, got \(value)") }
            return value
        }
        let hiddenSize = try required("embedding_length")
        let attentionHeads = try required("attention.head_count")
        let kvHeads = try file.integer("\(architecture).attention.head_count_kv") ?? attentionHeads
        let keyLength = try file.integer("\(architecture).attention.key_length")
        let rotaryDimensions = try file.integer("\(architecture).rope.dimension_count")
        let headDimension = keyLength ?? rotaryDimensions ?? hiddenSize / attentionHeads

        let embedding = file.tensor(named: "token_embd.weight")
        let declaredVocabulary = try file.integer("\(architecture).vocab_size")
        let tokenCount = try file.strings("tokenizer.ggml.tokens")?.count
        let vocabularySize = declaredVocabulary ?? tokenCount ?? embedding?.shape.first
        guard let vocabularySize else { throw .missingField(path: file.path, field: "\(architecture).vocab_size") }
        if let rows = embedding?.shape.first, rows != vocabularySize {
            throw .shapeMismatch(
                path: file.path, tensor: "token_embd.weight",
                detail: "\(rows) rows but the vocabulary has \(vocabularySize) tokens")
        }

        var config = ModelConfig(
            modelType: architecture, hiddenSize: hiddenSize,
            intermediateSize: try required("feed_forward_length"), layerCount: try required("block_count"),
            attentionHeads: attentionHeads, kvHeads: kvHeads, headDimension: headDimension,
            maxPositionEmbeddings: try file.integer("\(architecture).context_length") ?? 2048,
            rmsNormEpsilon: try file.double("\(architecture).attention.layer_norm_rms_epsilon") ?? 1e-5,
            ropeTheta: try file.double("\(architecture).rope.freq_base") ?? 10_000,
            ropeScaling: try ropeScaling(file, architecture: architecture),
            vocabularySize: vocabularySize,
            tieWordEmbeddings: file.tensor(named: "output.weight") == nil,
            attentionBias: file.tensor(named: "blk.0.attn_q.bias") != nil,
            bosTokenId: try file.integer("tokenizer.ggml.bos_token_id"),
            eosTokenIds: try file.integer("tokenizer.ggml.eos_token_id").map { [$0] } ?? [],
            padTokenId: try file.integer("tokenizer.ggml.padding_token_id"))
        config.mlpBias = file.tensor(named: "blk.0.ffn_up.bias") != nil
        do { try config.validate(path: file.path) } catch {
            // Name the GGUF key the value came from, not the config.json field it became.
            guard case .invalidField(let path, let field, let detail) = error, let key = metadataKeys[field] else { throw error }
            throw .invalidField(path: path, field: "\(architecture).\(key)", detail: detail)
        }
        return config
    }

    /// The GGUF metadata key (after the architecture prefix) behind each config field.
    static let metadataKeys: [String: String] = [
        "hidden_size": "embedding_length", "intermediate_size": "feed_forward_length", "num_hidden_layers": "block_count",
        "num_attention_heads": "attention.head_count", "num_key_value_heads": "attention.head_count_kv",
        "head_dim": "attention.key_length (or rope.dimension_count)", "max_position_embeddings": "context_length",
        "rms_norm_eps": "attention.layer_norm_rms_epsilon", "rope_theta": "rope.freq_base", "vocab_size": "vocab_size",
    ]

    /// `rope.scaling.type` / `.factor` / `.original_context_length`, or the legacy
    /// `rope.scale_linear`; nil when absent or `none`.
    static func ropeScaling(_ file: GGUFFile, architecture: String) throws(FormatError) -> RopeScaling? {
        let prefix = "\(architecture).rope.scaling"
        if let type = try file.string("\(prefix).type"), type != "none" {
            guard let factor = try file.double("\(prefix).factor") else {
                throw .missingField(path: file.path, field: "\(prefix).factor")
            }
            return RopeScaling(
                ropeType: type, factor: factor,
                originalMaxPositionEmbeddings: try file.integer("\(prefix).original_context_length"))
        }
        if let factor = try file.double("\(architecture).rope.scale_linear"), factor != 1 {
            return RopeScaling(ropeType: "linear", factor: factor)
        }
        return nil
    }
}
