/// Which module feeds which linears inside a decoder layer: the per-architecture table the
/// activation-aware transforms (SmoothQuant, AWQ) use to fold per-channel scales into the
/// predecessor of each group of linears that share one input.
public struct ScalingMapping: Sendable, Equatable {
    /// What produces the group's input, and so absorbs `1/s`.
    public enum Predecessor: Sendable, Equatable {
        /// `input_layernorm` (its gain).
        case inputNorm
        /// `post_attention_layernorm` (its gain).
        case postAttentionNorm
        /// A linear of the same layer (its output rows); foldable only when its outputs
        /// are exactly the group's inputs.
        case linear(String)

        /// The module name suffix, for messages.
        public var name: String {
            switch self {
            case .inputNorm: "input_layernorm"
            case .postAttentionNorm: "post_attention_layernorm"
            case .linear(let suffix): suffix
            }
        }
    }

    /// The module whose output AWQ's scale search compares (llm-awq `module2inspect`).
    public enum Inspected: Sendable, Equatable {
        /// The whole attention block (q/k/v, attention, o_proj).
        case attention
        /// The whole MLP (gate/up, SiLU product, down_proj).
        case feedForward
        /// The group's linears themselves.
        case linears
    }

    public var predecessor: Predecessor
    /// Linear name suffixes (`self_attn.q_proj` …) reading the same input.
    public var linears: [String]
    /// The index of the group in `LayerPlan.sequentialGroups`.
    public var group: Int
    public var inspected: Inspected

    public init(predecessor: Predecessor, linears: [String], group: Int, inspected: Inspected) {
        self.predecessor = predecessor
        self.linears = linears
        self.group = group
        self.inspected = inspected
    }
}

/// The mapping tables, one per architecture family.
public enum ScalingMappings {
    /// LLaMA-family pre-norm blocks (LLaMA, Mistral, Qwen2, SmolLM2): llm-awq
    /// `auto_scale_block` for `LlamaDecoderLayer` and SmoothQuant `smooth_lm`. The
    /// `v_proj → o_proj` fold only exists without grouped-query attention (llm-awq checks
    /// `v_proj.weight.shape == o_proj.weight.shape`).
    public static let llama: [ScalingMapping] = [
        ScalingMapping(
            predecessor: .inputNorm, linears: ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"], group: 0,
            inspected: .attention),
        ScalingMapping(predecessor: .linear("self_attn.v_proj"), linears: ["self_attn.o_proj"], group: 1, inspected: .linears),
        ScalingMapping(
            predecessor: .postAttentionNorm, linears: ["mlp.gate_proj", "mlp.up_proj"], group: 2, inspected: .feedForward),
        ScalingMapping(predecessor: .linear("mlp.up_proj"), linears: ["mlp.down_proj"], group: 3, inspected: .linears),
    ]
}
