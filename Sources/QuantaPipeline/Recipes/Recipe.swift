import Foundation
import QuantaAlgorithms

/// A quantization recipe: ordered stages, each an algorithm with its scheme, the layers it
/// targets and its knobs. One YAML file per recipe under `recipes/`:
///
///     name: w4a16-gptq-g128
///     description: GPTQ, 4-bit weights in groups of 128
///     stages:
///       - algorithm: gptq
///         scheme: {bits: 4, group_size: 128, symmetric: false}
///         block_size: 128
///         dampening: 0.01
///         act_order: none        # none | static | dynamic
///
/// Unknown keys, keys that do not belong to the stage's algorithm, and wrong types are
/// errors naming the line.
public struct Recipe: Codable, Sendable, Equatable {
    public var name: String
    public var description: String?
    public var stages: [RecipeStage]
    /// The run-time low-bit KV cache (`KeyValueCacheKnobs`), or `nil` for a float cache.
    public var kvCache: KeyValueCacheKnobs?

    public init(name: String, description: String? = nil, stages: [RecipeStage], kvCache: KeyValueCacheKnobs? = nil) {
        self.name = name
        self.description = description
        self.stages = stages
        self.kvCache = kvCache
    }

    enum CodingKeys: String, CodingKey {
        case name, description, stages
        case kvCache = "kv_cache"
    }

    /// The `rotation` stage, if any (validation keeps it first and unique).
    public var rotation: RotationKnobs? { stages.first?.rotation }

    /// Reads and validates a recipe file.
    public static func load(path: String) throws(PipelineError) -> Recipe {
        let recipe = try StrictYAMLDecoder().decode(Recipe.self, path: path)
        try recipe.validate(path: path)
        return recipe
    }

    /// Parses and validates recipe text.
    public static func parse(_ text: String, path: String) throws(PipelineError) -> Recipe {
        let recipe = try StrictYAMLDecoder().decode(Recipe.self, from: text, path: path)
        try recipe.validate(path: path)
        return recipe
    }

    public func validate(path: String) throws(PipelineError) {
        guard !stages.isEmpty else {
            throw .invalidValue(path: path, line: nil, field: "stages", detail: "a recipe needs at least one stage")
        }
        try kvCache?.validate(path: path)
        try validateRotation(path: path)
        for (index, stage) in stages.enumerated() {
            let field = "stages[\(index)]"
            if let rotation = stage.rotation {
                try rotation.validate(path: path, field: field)
                continue
            }
            do { try stage.scheme.validate() } catch {
                throw .invalidValue(path: path, line: nil, field: field + ".scheme", detail: error.errorDescription ?? "\(error)")
            }
            for pattern in stage.targets + stage.ignore {
                do { _ = try LayerPattern(pattern) } catch {
                    throw .invalidValue(path: path, line: nil, field: field, detail: error.errorDescription ?? "")
                }
            }
            if let sparsity = stage.sparsity {
                try sparsity.validate(path: path, field: field)
            }
            if let gptq = stage.gptq {
                guard (1...65_536).contains(gptq.blockSize) else {
                    throw .invalidValue(path: path, line: nil, field: field + ".block_size", detail: "must be between 1 and 65536, got \(gptq.blockSize)")
                }
                guard gptq.dampening > 0, gptq.dampening < 1 else {
                    throw .invalidValue(
                        path: path, line: nil, field: field + ".dampening", detail: "must be in (0, 1), got \(gptq.dampening)")
                }
            }
            try stage.validateActivationAware(path: path, field: field)
        }
    }

    /// The recipe as JSON, stored with outputs for provenance.
    public func encodedJSON() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return (try? encoder.encode(self)) ?? Data()
    }
}

/// One stage of a recipe.
public struct RecipeStage: Codable, Sendable, Equatable {
    public enum Algorithm: String, Codable, Sendable, CaseIterable {
        case rtn
        case gptq
        /// Symmetric absmax round-to-nearest (SmoothQuant's int8 weight quantizer).
        case absmax
        /// SmoothQuant smoothing (a transform: folds scales, quantizes nothing).
        case smoothquant
        /// AWQ scale and clipping search (a transform: folds scales, clips weights).
        case awq
        /// Pruning (`Sparsity/`): keep the largest `|w|`; data-free.
        case magnitude
        /// Pruning by `|w| · ‖x‖₂` from calibration input norms.
        case wanda
        /// Pruning with OBS updates from the Hessian, optionally quantizing jointly.
        case sparsegpt
        /// QuaRot / SpinQuant rotation of the whole model (`RotationKnobs`); first stage only.
        case rotation

        /// Whether the stage quantizes weights (otherwise it only transforms them).
        public var quantizesWeights: Bool { !isTransform && self != .rotation }
        /// Whether the stage is a function-preserving transform applied before quantization.
        public var isTransform: Bool { self == .smoothquant || self == .awq }
        /// Whether the stage prunes (its knobs are in `RecipeStage.sparsity`).
        public var prunes: Bool { self == .magnitude || self == .wanda || self == .sparsegpt }
    }

    public var algorithm: Algorithm
    public var scheme: QuantizationScheme
    /// Layers the stage applies to (see `LayerPattern`). Default: every decoder linear.
    public var targets: [String]
    /// Layers to leave alone, same syntax. Embeddings and `lm_head` are never quantized.
    public var ignore: [String]
    /// GPTQ knobs (present exactly when `algorithm` is `gptq`).
    public var gptq: GPTQKnobs?
    /// Knobs of the activation-aware stages (`smoothquant`, `awq`, `absmax`) and the run-time
    /// activation quantization of quantizing stages (see `RecipeStage+ActivationAware.swift`).
    public var activationAware = ActivationAwareKnobs()
    /// Pruning knobs (present exactly when `algorithm.prunes`). For a pruning stage `scheme`
    /// is the joint quantization scheme when `sparsity.quantization` is set and unused
    /// otherwise.
    public var sparsity: SparsityKnobs?
    /// Rotation knobs (present exactly when `algorithm` is `rotation`; `scheme` is unused).
    public var rotation: RotationKnobs?

    public init(
        algorithm: Algorithm, scheme: QuantizationScheme, targets: [String] = ["Linear"], ignore: [String] = [],
        gptq: GPTQKnobs? = nil, activationAware: ActivationAwareKnobs = ActivationAwareKnobs()
    ) {
        self.algorithm = algorithm
        self.scheme = scheme
        self.targets = targets
        self.ignore = ignore
        self.gptq = algorithm == .gptq ? (gptq ?? GPTQKnobs()) : nil
        self.activationAware = activationAware
        self.sparsity = nil
    }

    /// A pruning stage (`magnitude`, `wanda` or `sparsegpt`).
    public init(algorithm: Algorithm, sparsity: SparsityKnobs, targets: [String] = ["Linear"], ignore: [String] = []) {
        precondition(algorithm.prunes, "\(algorithm) is not a pruning algorithm")
        self.algorithm = algorithm
        self.scheme = sparsity.quantization ?? SparsityKnobs.unusedScheme
        self.targets = targets
        self.ignore = ignore
        self.gptq = nil
        self.sparsity = sparsity
    }

    /// A `rotation` stage (whole model, no scheme).
    public init(rotation: RotationKnobs) {
        self.algorithm = .rotation
        self.scheme = SparsityKnobs.unusedScheme
        self.targets = ["Linear"]
        self.ignore = []
        self.rotation = rotation
    }

    enum CodingKeys: String, CodingKey {
        case algorithm, scheme, targets, ignore
        case blockSize = "block_size"
        case dampening
        case actOrder = "act_order"
        case trueSequential = "true_sequential"
        case alpha
        case gridSize = "grid_size"
        case duoScaling = "duo_scaling"
        case clip
        case searchSamples = "search_samples"
        case perTensor = "per_tensor"
        case activations
        case sparsity
        case mode, seed, steps, momentum, samples
        case onlineDownProjection = "online_down_proj"
        case onlineQueryKey = "online_query_key"
        case learningRate = "learning_rate"
        case sequenceLength = "sequence_length"
        case batchSize = "batch_size"
        case learnResidual = "learn_residual"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        algorithm = try container.decode(Algorithm.self, forKey: .algorithm)
        if algorithm == .rotation {
            (scheme, targets, ignore, gptq, sparsity) = (SparsityKnobs.unusedScheme, ["Linear"], [], nil, nil)
            rotation = try RotationKnobs(from: container)
            return
        }
        targets = try container.decodeIfPresent([String].self, forKey: .targets) ?? ["Linear"]
        ignore = try container.decodeIfPresent([String].self, forKey: .ignore) ?? []
        if algorithm.prunes {
            gptq = nil
            let knobs = try SparsityKnobs(algorithm: algorithm, from: container)
            sparsity = knobs
            scheme = knobs.quantization ?? SparsityKnobs.unusedScheme
            return
        }
        sparsity = nil
        scheme =
            algorithm == .smoothquant
            ? try container.decodeIfPresent(QuantizationScheme.self, forKey: .scheme) ?? Self.smoothingScheme
            : try container.decode(QuantizationScheme.self, forKey: .scheme)
        activationAware = try ActivationAwareKnobs(algorithm: algorithm, container: container)
        switch algorithm {
        case .rtn, .absmax, .smoothquant, .awq, .magnitude, .wanda, .sparsegpt, .rotation:
            gptq = nil
        case .gptq:
            let defaults = GPTQKnobs()
            gptq = GPTQKnobs(
                blockSize: try container.decodeIfPresent(Int.self, forKey: .blockSize) ?? defaults.blockSize,
                dampening: try container.decodeIfPresent(Double.self, forKey: .dampening) ?? defaults.dampening,
                actOrder: try container.decodeIfPresent(ActOrder.self, forKey: .actOrder) ?? defaults.actOrder,
                trueSequential: try container.decodeIfPresent(Bool.self, forKey: .trueSequential) ?? defaults.trueSequential)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(algorithm, forKey: .algorithm)
        if let rotation {
            try rotation.encode(into: &container)
            return
        }
        if let sparsity {
            try container.encode(targets, forKey: .targets)
            try container.encode(ignore, forKey: .ignore)
            try sparsity.encode(algorithm: algorithm, into: &container)
            return
        }
        try container.encode(scheme, forKey: .scheme)
        try container.encode(targets, forKey: .targets)
        try container.encode(ignore, forKey: .ignore)
        if let gptq {
            try container.encode(gptq.blockSize, forKey: .blockSize)
            try container.encode(gptq.dampening, forKey: .dampening)
            try container.encode(gptq.actOrder, forKey: .actOrder)
            try container.encode(gptq.trueSequential, forKey: .trueSequential)
        }
        try activationAware.encode(algorithm: algorithm, into: &container)
    }
}

/// GPTQ's knobs, with the reference defaults (block 128, dampening 0.01 of the mean
/// diagonal) and true-sequential order inside each decoder layer.
public struct GPTQKnobs: Codable, Sendable, Equatable {
    public var blockSize = 128
    public var dampening = 0.01
    /// Act-order (`none`, `static`, `dynamic`; see `ActOrder`).
    public var actOrder = ActOrder.none
    /// Quantize q/k/v, then o, then gate/up, then down, each from inputs of the partly
    /// quantized layer; `false` takes every Hessian from the full-precision layer.
    public var trueSequential = true

    public init(blockSize: Int = 128, dampening: Double = 0.01, actOrder: ActOrder = .none, trueSequential: Bool = true) {
        self.blockSize = blockSize
        self.dampening = dampening
        self.actOrder = actOrder
        self.trueSequential = trueSequential
    }
}
