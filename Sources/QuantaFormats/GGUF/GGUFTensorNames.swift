/// The llama.cpp ↔ Hugging Face tensor name table of LLaMA-family models (llama, mistral,
/// qwen2), as data in one place. Names as in gguf-py `tensor_mapping.py` / llama.cpp
/// `llm_arch.cpp` (`LLM_TENSOR_NAMES`).
public enum GGUFTensorNames {
    /// Whole-model tensors: GGUF name → Hugging Face name.
    public static let global: [String: String] = [
        "token_embd.weight": "model.embed_tokens.weight",
        "output_norm.weight": "model.norm.weight",
        "output.weight": "lm_head.weight",
    ]

    /// Per-layer tensors without the `blk.N.` / `model.layers.N.` prefix and the
    /// `.weight`/`.bias` suffix: GGUF name → Hugging Face name.
    public static let layer: [String: String] = [
        "attn_norm": "input_layernorm",
        "ffn_norm": "post_attention_layernorm",
        "attn_q": "self_attn.q_proj",
        "attn_k": "self_attn.k_proj",
        "attn_v": "self_attn.v_proj",
        "attn_output": "self_attn.o_proj",
        "ffn_gate": "mlp.gate_proj",
        "ffn_up": "mlp.up_proj",
        "ffn_down": "mlp.down_proj",
    ]

    /// The Hugging Face name of a GGUF tensor name and its layer index, or nil if unknown.
    public static func huggingFaceName(for name: String) -> (name: String, layer: Int?)? {
        if let mapped = global[name] { return (mapped, nil) }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "blk", let layerIndex = Int(parts[1]), layerIndex >= 0,
            String(layerIndex) == parts[1], parts[3] == "weight" || parts[3] == "bias",
            let mapped = layer[String(parts[2])]
        else { return nil }
        return ("model.layers.\(layerIndex).\(mapped).\(parts[3])", layerIndex)
    }

    /// The GGUF name of a Hugging Face tensor name, or nil if unknown (the inverse of
    /// `huggingFaceName(for:)`).
    public static func ggufName(for name: String) -> String? {
        if let mapped = global.first(where: { $0.value == name })?.key { return mapped }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "model", parts[1] == "layers", let layerIndex = Int(parts[2]), layerIndex >= 0,
            String(layerIndex) == parts[2], parts[5] == "weight" || parts[5] == "bias",
            let mapped = layer.first(where: { $0.value == "\(parts[3]).\(parts[4])" })?.key
        else {
            // Norms have one component: model.layers.N.input_layernorm.weight.
            guard parts.count == 5, parts[0] == "model", parts[1] == "layers", let layerIndex = Int(parts[2]),
                String(layerIndex) == parts[2], parts[4] == "weight" || parts[4] == "bias",
                let mapped = layer.first(where: { $0.value == String(parts[3]) })?.key
            else { return nil }
            return "blk.\(layerIndex).\(mapped).\(parts[4])"
        }
        return "blk.\(layerIndex).\(mapped).\(parts[5])"
    }
}
