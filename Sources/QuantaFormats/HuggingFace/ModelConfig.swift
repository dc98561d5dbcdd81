import Foundation

/// Rotary-embedding scaling (`rope_scaling` in `config.json`): `linear`, `dynamic`, `llama3`.
public struct RopeScaling: Codable, Sendable, Equatable {
    public var ropeType: String
    public var factor: Double
    public var lowFrequencyFactor: Double?
    public var highFrequencyFactor: Double?
    public var originalMaxPositionEmbeddings: Int?

    public init(
        ropeType: String, factor: Double, lowFrequencyFactor: Double? = nil, highFrequencyFactor: Double? = nil,
        originalMaxPositionEmbeddings: Int? = nil
    ) {
        self.ropeType = ropeType
        self.factor = factor
        self.lowFrequencyFactor = lowFrequencyFactor
        self.highFrequencyFactor = highFrequencyFactor
        self.originalMaxPositionEmbeddings = originalMaxPositionEmbeddings
    }

    enum CodingKeys: String, CodingKey {
        case ropeType = "rope_type"
        case legacyType = "type"
        case factor
        case lowFrequencyFactor = "low_freq_factor"
        case highFrequencyFactor = "high_freq_factor"
        case originalMaxPositionEmbeddings = "original_max_position_embeddings"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        ropeType =
            try container.decodeIfPresent(String.self, forKey: .ropeType)
            ?? container.decode(String.self, forKey: .legacyType)
        factor = try container.decodeIfPresent(Double.self, forKey: .factor) ?? 1
        lowFrequencyFactor = try container.decodeIfPresent(Double.self, forKey: .lowFrequencyFactor)
        highFrequencyFactor = try container.decodeIfPresent(Double.self, forKey: .highFrequencyFactor)
        originalMaxPositionEmbeddings = try container.decodeIfPresent(Int.self, forKey: .originalMaxPositionEmbeddings)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(ropeType, forKey: .ropeType)
        try container.encode(factor, forKey: .factor)
        try container.encodeIfPresent(lowFrequencyFactor, forKey: .lowFrequencyFactor)
        try container.encodeIfPresent(highFrequencyFactor, forKey: .highFrequencyFactor)
        try container.encodeIfPresent(originalMaxPositionEmbeddings, forKey: .originalMaxPositionEmbeddings)
    }
}

/// The Hugging Face `config.json` of a LLaMA-family model (llama, mistral, qwen2).
public struct ModelConfig: Codable, Sendable, Equatable {
    public var architectures: [String]
    public var modelType: String
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layerCount: Int
    public var attentionHeads: Int
    public var kvHeads: Int
    public var headDimension: Int
    public var maxPositionEmbeddings: Int
    public var rmsNormEpsilon: Double
    public var ropeTheta: Double
    public var ropeScaling: RopeScaling?
    public var vocabularySize: Int
    public var tieWordEmbeddings: Bool
    public var attentionBias: Bool
    public var mlpBias: Bool
    public var hiddenActivation: String
    public var bosTokenId: Int?
    public var eosTokenIds: [Int]
    public var padTokenId: Int?
    public var torchDtype: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case architectures
        case modelType = "model_type"
        case hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size"
        case layerCount = "num_hidden_layers"
        case attentionHeads = "num_attention_heads"
        case kvHeads = "num_key_value_heads"
        case headDimension = "head_dim"
        case maxPositionEmbeddings = "max_position_embeddings"
        case rmsNormEpsilon = "rms_norm_eps"
        case ropeTheta = "rope_theta"
        case ropeScaling = "rope_scaling"
        case vocabularySize = "vocab_size"
        case tieWordEmbeddings = "tie_word_embeddings"
        case attentionBias = "attention_bias"
        case mlpBias = "mlp_bias"
        case hiddenActivation = "hidden_act"
        case bosTokenId = "bos_token_id"
        case eosTokenIds = "eos_token_id"
        case padTokenId = "pad_token_id"
        case torchDtype = "torch_dtype"
    }

    /// The architectures this code can run, by `model_type`.
    public static let supportedModelTypes: Set<String> = ["llama", "mistral", "qwen2"]

    public init(
        modelType: String = "llama", hiddenSize: Int, intermediateSize: Int, layerCount: Int, attentionHeads: Int,
        kvHeads: Int, headDimension: Int? = nil, maxPositionEmbeddings: Int = 2048, rmsNormEpsilon: Double = 1e-5,
        ropeTheta: Double = 10_000, ropeScaling: RopeScaling? = nil, vocabularySize: Int,
        tieWordEmbeddings: Bool = false, attentionBias: Bool = false, bosTokenId: Int? = nil,
        eosTokenIds: [Int] = [], padTokenId: Int? = nil
    ) {
        self.architectures = [Self.architectureName(modelType: modelType)]
        self.modelType = modelType
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layerCount = layerCount
        self.attentionHeads = attentionHeads
        self.kvHeads = kvHeads
        self.headDimension = headDimension ?? hiddenSize / max(attentionHeads, 1)
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.rmsNormEpsilon = rmsNormEpsilon
        self.ropeTheta = ropeTheta
        self.ropeScaling = ropeScaling
        self.vocabularySize = vocabularySize
        self.tieWordEmbeddings = tieWordEmbeddings
        self.attentionBias = attentionBias
        self.mlpBias = false
        self.hiddenActivation = "silu"
        self.bosTokenId = bosTokenId
        self.eosTokenIds = eosTokenIds
        self.padTokenId = padTokenId
        self.torchDtype = "float32"
    }

    static func architectureName(modelType: String) -> String {
        switch modelType {
        case "mistral": "MistralForCausalLM"
        case "qwen2": "Qwen2ForCausalLM"
        default: "LlamaForCausalLM"
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        modelType = try container.decode(String.self, forKey: .modelType)
        architectures =
            try container.decodeIfPresent([String].self, forKey: .architectures)
            ?? [Self.architectureName(modelType: modelType)]
        hiddenSize = try container.decode(Int.self, forKey: .hiddenSize)
        intermediateSize = try container.decode(Int.self, forKey: .intermediateSize)
        layerCount = try container.decode(Int.self, forKey: .layerCount)
        attentionHeads = try container.decode(Int.self, forKey: .attentionHeads)
        kvHeads = try container.decodeIfPresent(Int.self, forKey: .kvHeads) ?? attentionHeads
        headDimension =
            try container.decodeIfPresent(Int.self, forKey: .headDimension) ?? hiddenSize / max(attentionHeads, 1)
        maxPositionEmbeddings = try container.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? 2048
        rmsNormEpsilon = try container.decodeIfPresent(Double.self, forKey: .rmsNormEpsilon) ?? 1e-6
        ropeTheta = try container.decodeIfPresent(Double.self, forKey: .ropeTheta) ?? 10_000
        ropeScaling = try container.decodeIfPresent(RopeScaling.self, forKey: .ropeScaling)
        vocabularySize = try container.decode(Int.self, forKey: .vocabularySize)
        tieWordEmbeddings = try container.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? false
        attentionBias =
            try container.decodeIfPresent(Bool.self, forKey: .attentionBias) ?? (modelType == "qwen2")
        mlpBias = try container.decodeIfPresent(Bool.self, forKey: .mlpBias) ?? false
        hiddenActivation = try container.decodeIfPresent(String.self, forKey: .hiddenActivation) ?? "silu"
        bosTokenId = try container.decodeIfPresent(Int.self, forKey: .bosTokenId)
        if let single = try? container.decodeIfPresent(Int.self, forKey: .eosTokenIds) {
            eosTokenIds = [single]
        } else {
            eosTokenIds = try container.decodeIfPresent([Int].self, forKey: .eosTokenIds) ?? []
        }
        padTokenId = try container.decodeIfPresent(Int.self, forKey: .padTokenId)
        torchDtype = try container.decodeIfPresent(String.self, forKey: .torchDtype)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(architectures, forKey: .architectures)
        try container.encode(modelType, forKey: .modelType)
        try container.encode(hiddenSize, forKey: .hiddenSize)
        try container.encode(intermediateSize, forKey: .intermediateSize)
        try container.encode(layerCount, forKey: .layerCount)
        try container.encode(attentionHeads, forKey: .attentionHeads)
        try container.encode(kvHeads, forKey: .kvHeads)
        try container.encode(headDimension, forKey: .headDimension)
        try container.encode(maxPositionEmbeddings, forKey: .maxPositionEmbeddings)
        try container.encode(rmsNormEpsilon, forKey: .rmsNormEpsilon)
        try container.encode(ropeTheta, forKey: .ropeTheta)
        if let ropeScaling {
            try container.encode(ropeScaling, forKey: .ropeScaling)
        } else {
            try container.encodeNil(forKey: .ropeScaling)
        }
        try container.encode(vocabularySize, forKey: .vocabularySize)
        try container.encode(tieWordEmbeddings, forKey: .tieWordEmbeddings)
        try container.encode(attentionBias, forKey: .attentionBias)
        try container.encode(mlpBias, forKey: .mlpBias)
        try container.encode(hiddenActivation, forKey: .hiddenActivation)
        try container.encodeIfPresent(bosTokenId, forKey: .bosTokenId)
        if eosTokenIds.count == 1 {
            try container.encode(eosTokenIds[0], forKey: .eosTokenIds)
        } else if !eosTokenIds.isEmpty {
            try container.encode(eosTokenIds, forKey: .eosTokenIds)
        }
        try container.encodeIfPresent(padTokenId, forKey: .padTokenId)
        try container.encodeIfPresent(torchDtype, forKey: .torchDtype)
    }

    /// Bounds far above any released model: a corrupt or hostile header fails here, with
    /// the field named, instead of in an allocation sized by it.
    public enum Limits {
        public static let width = 1 << 17
        public static let layers = 1 << 12
        public static let heads = 1 << 12
        public static let headDimension = 1 << 12
        public static let vocabulary = 1 << 23
        public static let positions = 1 << 24
    }

    /// Checks the values that the transformer relies on (the one place every config read from
    /// `config.json`, GGUF metadata or a container header passes); errors name the field.
    public func validate(path: String) throws(FormatError) {
        func require(_ condition: Bool, _ field: CodingKeys, _ detail: String) throws(FormatError) {
            if !condition { throw .invalidField(path: path, field: field.rawValue, detail: detail) }
        }
        func requireCount(_ value: Int, _ field: CodingKeys, limit: Int) throws(FormatError) {
            try require((1...limit).contains(value), field, "must be between 1 and \(limit), got \(value)")
        }
        try require(
            Self.supportedModelTypes.contains(modelType), .modelType,
            "'\(modelType)' is not supported; supported: \(Self.supportedModelTypes.sorted().joined(separator: ", "))")
        try requireCount(hiddenSize, .hiddenSize, limit: Limits.width)
        try requireCount(intermediateSize, .intermediateSize, limit: Limits.width)
        try requireCount(layerCount, .layerCount, limit: Limits.layers)
        try requireCount(attentionHeads, .attentionHeads, limit: Limits.heads)
        try require(
            kvHeads > 0 && attentionHeads % kvHeads == 0, .kvHeads,
            "must divide num_attention_heads (\(attentionHeads)), got \(kvHeads)")
        try requireCount(headDimension, .headDimension, limit: Limits.headDimension)
        try require(headDimension % 2 == 0, .headDimension, "must be even, got \(headDimension)")
        try require(
            attentionHeads * headDimension <= Limits.width, .headDimension,
            "num_attention_heads × head_dim = \(attentionHeads * headDimension) exceeds \(Limits.width)")
        try requireCount(vocabularySize, .vocabularySize, limit: Limits.vocabulary)
        try requireCount(maxPositionEmbeddings, .maxPositionEmbeddings, limit: Limits.positions)
        try require(rmsNormEpsilon > 0 && rmsNormEpsilon < 1, .rmsNormEpsilon, "must be in (0, 1), got \(rmsNormEpsilon)")
        try require(ropeTheta > 0 && ropeTheta.isFinite, .ropeTheta, "must be positive and finite, got \(ropeTheta)")
        for id in [bosTokenId, padTokenId].compactMap({ $0 }) + eosTokenIds where !(0..<vocabularySize).contains(id) {
            throw .invalidField(path: path, field: "bos/eos/pad_token_id", detail: "token id \(id) is outside the vocabulary of \(vocabularySize)")
        }
        try require(hiddenActivation == "silu", .hiddenActivation, "only 'silu' is supported, got '\(hiddenActivation)'")
        if let scaling = ropeScaling {
            try require(
                ["linear", "dynamic", "llama3", "default"].contains(scaling.ropeType), .ropeScaling,
                "rope_type '\(scaling.ropeType)' is not supported (linear, dynamic, llama3)")
            try require(scaling.factor > 0 && scaling.factor.isFinite, .ropeScaling, "factor must be positive and finite")
            if let original = scaling.originalMaxPositionEmbeddings {
                try requireCount(original, .ropeScaling, limit: Limits.positions)
            }
        }
    }
}
