import QuantaAlgorithms

/// The knobs of a `rotation` stage (QuaRot / SpinQuant), which rotates the whole model before
/// any quantizing stage and must come first:
///
///     - algorithm: rotation
///       mode: learned            # hadamard (QuaRot, SpinQuant "had") | learned (SpinQuant)
///       seed: 0                  # random signs of the Hadamard R1/R2 (and learning's start)
///       online_down_proj: true   # R4: online Hadamard before every down_proj
///       online_query_key: true   # R3: online Hadamard on queries and keys after RoPE
///       steps: 32                # learned only: Cayley SGD steps, one window each
///       learning_rate: 1.5       # learned only (SpinQuant's default), decayed linearly to 0
///       momentum: 0              # learned only
///       samples: 32              # learned only: calibration windows cycled through
///       batch_size: 1            # learned only: windows per step (gradients averaged)
///       learn_residual: true     # learned only: false keeps the Hadamard R1, learns only R2
///       sequence_length: 256     # learned only: tokens of each window used
///
/// Learning fake-quantizes what the next quantizing stage will quantize — its `activations`,
/// the recipe's `kv_cache`, and its weight scheme by round-to-nearest with min-max ranges
/// (weights stay in full precision before GPTQ with quantized activations, as in SpinQuant;
/// see `RotationLearner.init(model:quantizingAs:runtime:knobs:)`). Rotations fitted to
/// min-max RTN weights want min-max ranges at quantization too: on SmolLM2 one gained nothing
/// under MSE clipping.
public struct RotationKnobs: Sendable, Equatable {
    public enum Mode: String, Codable, Sendable, CaseIterable {
        case hadamard
        case learned
    }

    public var mode = Mode.hadamard
    public var seed: UInt64 = 0
    public var onlineDownProjection = true
    public var queryKeyRotation = true
    public var steps = 32
    public var learningRate = 1.5
    public var momentum = 0.0
    public var samples = 32
    public var sequenceLength = 256
    public var batchSize = 1
    public var learnsResidual = true

    public init(mode: Mode = .hadamard, seed: UInt64 = 0, onlineDownProjection: Bool = true, queryKeyRotation: Bool = true) {
        self.mode = mode
        self.seed = seed
        self.onlineDownProjection = onlineDownProjection
        self.queryKeyRotation = queryKeyRotation
    }

    typealias Keys = RecipeStage.CodingKeys

    /// Reads the rotation keys; the learning keys only in `learned` mode (elsewhere they stay
    /// unread and the strict decoder reports them).
    init(from container: KeyedDecodingContainer<Keys>) throws {
        mode = try container.decodeIfPresent(Mode.self, forKey: .mode) ?? mode
        seed = try container.decodeIfPresent(UInt64.self, forKey: .seed) ?? seed
        onlineDownProjection = try container.decodeIfPresent(Bool.self, forKey: .onlineDownProjection) ?? onlineDownProjection
        queryKeyRotation = try container.decodeIfPresent(Bool.self, forKey: .onlineQueryKey) ?? queryKeyRotation
        guard mode == .learned else { return }
        steps = try container.decodeIfPresent(Int.self, forKey: .steps) ?? steps
        learningRate = try container.decodeIfPresent(Double.self, forKey: .learningRate) ?? learningRate
        momentum = try container.decodeIfPresent(Double.self, forKey: .momentum) ?? momentum
        samples = try container.decodeIfPresent(Int.self, forKey: .samples) ?? samples
        sequenceLength = try container.decodeIfPresent(Int.self, forKey: .sequenceLength) ?? sequenceLength
        batchSize = try container.decodeIfPresent(Int.self, forKey: .batchSize) ?? batchSize
        learnsResidual = try container.decodeIfPresent(Bool.self, forKey: .learnResidual) ?? learnsResidual
    }

    func encode(into container: inout KeyedEncodingContainer<Keys>) throws {
        try container.encode(mode, forKey: .mode)
        try container.encode(seed, forKey: .seed)
        try container.encode(onlineDownProjection, forKey: .onlineDownProjection)
        try container.encode(queryKeyRotation, forKey: .onlineQueryKey)
        guard mode == .learned else { return }
        try container.encode(steps, forKey: .steps)
        try container.encode(learningRate, forKey: .learningRate)
        try container.encode(momentum, forKey: .momentum)
        try container.encode(samples, forKey: .samples)
        try container.encode(sequenceLength, forKey: .sequenceLength)
        try container.encode(batchSize, forKey: .batchSize)
        try container.encode(learnsResidual, forKey: .learnResidual)
    }

    func validate(path: String, field: String) throws(PipelineError) {
        guard mode == .learned else { return }
        guard (1...100_000).contains(steps) else {
            throw .invalidValue(path: path, line: nil, field: field + ".steps", detail: "must be between 1 and 100000, got \(steps)")
        }
        guard learningRate > 0, learningRate.isFinite else {
            throw .invalidValue(path: path, line: nil, field: field + ".learning_rate", detail: "must be positive, got \(learningRate)")
        }
        guard (0..<1).contains(momentum) else {
            throw .invalidValue(path: path, line: nil, field: field + ".momentum", detail: "must be in [0, 1), got \(momentum)")
        }
        guard samples >= 1 else {
            throw .invalidValue(path: path, line: nil, field: field + ".samples", detail: "must be at least 1, got \(samples)")
        }
        guard batchSize >= 1, batchSize <= samples else {
            throw .invalidValue(
                path: path, line: nil, field: field + ".batch_size", detail: "must be 1 … samples (\(samples)), got \(batchSize)")
        }
        guard (2...CalibrationSpec.maximumSequenceLength).contains(sequenceLength) else {
            throw .invalidValue(
                path: path, line: nil, field: field + ".sequence_length",
                detail: "must be between 2 and \(CalibrationSpec.maximumSequenceLength) tokens, got \(sequenceLength)")
        }
        let (tokens, overflow) = samples.multipliedReportingOverflow(by: sequenceLength)
        guard !overflow, tokens <= CalibrationSpec.maximumTokens else {
            throw .invalidValue(
                path: path, line: nil, field: field + ".samples",
                detail: "\(samples) windows of \(sequenceLength) tokens exceed the limit of \(CalibrationSpec.maximumTokens) tokens")
        }
    }
}

/// The recipe's low-bit KV cache (top-level `kv_cache`), applied at run time:
///
///     kv_cache: {bits: 4, group_size: 64, symmetric: false, clip_ratio: 1.0}
///
/// `group_size` defaults to the head dimension (one group per head and token, as QuaRot).
public struct KeyValueCacheKnobs: Codable, Sendable, Equatable {
    public var bits: Int
    public var groupSize: Int?
    public var symmetric = false
    public var clipRatio = 1.0

    public init(bits: Int, groupSize: Int? = nil, symmetric: Bool = false, clipRatio: Double = 1) {
        self.bits = bits
        self.groupSize = groupSize
        self.symmetric = symmetric
        self.clipRatio = clipRatio
    }

    enum CodingKeys: String, CodingKey {
        case bits
        case groupSize = "group_size"
        case symmetric
        case clipRatio = "clip_ratio"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        bits = try container.decode(Int.self, forKey: .bits)
        groupSize = try container.decodeIfPresent(Int.self, forKey: .groupSize)
        symmetric = try container.decodeIfPresent(Bool.self, forKey: .symmetric) ?? false
        clipRatio = try container.decodeIfPresent(Double.self, forKey: .clipRatio) ?? 1
    }

    func validate(path: String) throws(PipelineError) {
        guard (2...8).contains(bits) else {
            throw .invalidValue(path: path, line: nil, field: "kv_cache.bits", detail: "\(bits) is not supported; use 2 to 8")
        }
        if let groupSize, groupSize < 1 {
            throw .invalidValue(path: path, line: nil, field: "kv_cache.group_size", detail: "must be at least 1, got \(groupSize)")
        }
        guard clipRatio > 0, clipRatio <= 1 else {
            throw .invalidValue(path: path, line: nil, field: "kv_cache.clip_ratio", detail: "must be in (0, 1], got \(clipRatio)")
        }
    }
}

extension Recipe {
    /// A `rotation` stage must be the first and only one, cover the whole model, precede a
    /// quantizing stage when it learns, and not be combined with the scaling transforms (their
    /// scales would have to commute with the rotations).
    func validateRotation(path: String) throws(PipelineError) {
        for (index, stage) in stages.enumerated() where stage.algorithm == .rotation {
            let field = "stages[\(index)]"
            guard index == 0 else {
                throw .invalidValue(path: path, line: nil, field: field, detail: "a rotation stage rotates the whole model and must be the first stage")
            }
            guard stage.targets == ["Linear"], stage.ignore.isEmpty else {
                throw .invalidValue(path: path, line: nil, field: field + ".targets", detail: "a rotation stage covers the whole model; remove targets/ignore")
            }
        }
        guard let rotation else { return }
        if let transform = stages.first(where: { $0.algorithm.isTransform || $0.algorithm.prunes }) {
            throw .invalidValue(
                path: path, line: nil, field: "stages",
                detail: "\(transform.algorithm.rawValue) cannot follow a rotation stage (its scales or masks assume unrotated weights); use rtn or gptq")
        }
        if rotation.mode == .learned, !stages.contains(where: { $0.algorithm.quantizesWeights }) {
            throw .invalidValue(
                path: path, line: nil, field: "stages[0].mode",
                detail: "learned rotations minimize the loss of the quantized model; add a quantizing stage (rtn or gptq) after the rotation")
        }
    }
}
