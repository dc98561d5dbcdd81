/// The Hugging Face tensor names of a LLaMA-family checkpoint: the one table that says
/// which tensors a config needs.
public enum LlamaTensorLayout {
    /// Per-layer weight names under `model.layers.N.`.
    public static let layerWeights = [
        "input_layernorm.weight",
        "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.o_proj.weight",
        "post_attention_layernorm.weight",
        "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight",
    ]

    /// Names every checkpoint of `config` must hold, in canonical order.
    public static func expectedNames(for config: ModelConfig) -> [String] {
        var names = ["model.embed_tokens.weight"]
        for layer in 0..<config.layerCount {
            let prefix = "model.layers.\(layer)."
            for weight in layerWeights {
                names.append(prefix + weight)
                if config.attentionBias, weight.hasPrefix("self_attn."), weight != "self_attn.o_proj.weight" {
                    names.append(prefix + weight.replacingOccurrences(of: ".weight", with: ".bias"))
                }
            }
        }
        names.append("model.norm.weight")
        if !config.tieWordEmbeddings { names.append("lm_head.weight") }
        return names
    }

    /// The expected shape of `name` under `config`, if it is a known tensor.
    public static func expectedShape(of name: String, for config: ModelConfig) -> [Int]? {
        let hidden = config.hiddenSize
        let queryWidth = config.attentionHeads * config.headDimension
        let keyValueWidth = config.kvHeads * config.headDimension
        let suffix = name.split(separator: ".").suffix(2).joined(separator: ".")
        switch suffix {
        case "embed_tokens.weight", "lm_head.weight": return [config.vocabularySize, hidden]
        case "input_layernorm.weight", "post_attention_layernorm.weight", "norm.weight": return [hidden]
        case "q_proj.weight": return [queryWidth, hidden]
        case "k_proj.weight", "v_proj.weight": return [keyValueWidth, hidden]
        case "q_proj.bias": return [queryWidth]
        case "k_proj.bias", "v_proj.bias": return [keyValueWidth]
        case "o_proj.weight": return [hidden, queryWidth]
        case "gate_proj.weight", "up_proj.weight": return [config.intermediateSize, hidden]
        case "down_proj.weight": return [hidden, config.intermediateSize]
        default: return nil
        }
    }

    /// Drops tensors that carry no weights (rotary caches) and a tied `lm_head.weight`.
    /// This is the only place checkpoint names are mapped.
    public static func sanitize(_ tensors: [NamedTensor], config: ModelConfig) -> [NamedTensor] {
        tensors.filter { item in
            if item.name.hasSuffix("rotary_emb.inv_freq") { return false }
            if config.tieWordEmbeddings, item.name == "lm_head.weight" { return false }
            return true
        }
    }

    /// Checks that `tensors` are exactly the expected set with the expected shapes and
    /// returns them in canonical order.
    public static func assign(_ tensors: [NamedTensor], config: ModelConfig, path: String) throws(FormatError)
        -> [NamedTensor]
    {
        var byName: [String: NamedTensor] = [:]
        for item in tensors {
            guard byName.updateValue(item, forKey: item.name) == nil else {
                throw .duplicateTensor(path: path, tensor: item.name)
            }
        }
        let expected = expectedNames(for: config)
        let expectedSet = Set(expected)
        if let unexpected = tensors.first(where: { !expectedSet.contains($0.name) }) {
            throw .unexpectedTensor(path: path, tensor: unexpected.name)
        }
        var ordered: [NamedTensor] = []
        ordered.reserveCapacity(expected.count)
        for name in expected {
            guard let item = byName[name] else { throw .missingTensor(path: path, tensor: name) }
            if let shape = expectedShape(of: name, for: config), shape != item.tensor.shape {
                throw .shapeMismatch(path: path, tensor: name, detail: "shape \(item.tensor.shape) but config.json implies \(shape)")
            }
            guard item.tensor.dtype.isFloatingPoint else {
                throw .unsupportedDType(path: path, tensor: name, dtype: item.tensor.dtype.rawValue)
            }
            ordered.append(item)
        }
        return ordered
    }
}
