import QuantaAlgorithms
import QuantaTensor

/// Knobs of the activation-aware stages, decoded only for the algorithm they belong to
/// (any other key is an unknown-key error):
///
///     - algorithm: smoothquant      # SmoothQuant smoothing (Xiao et al. 2023)
///       alpha: 0.5                  # migration strength in [0, 1]
///     - algorithm: awq              # AWQ search (Lin et al. 2024); scheme = search grid
///       scheme: {bits: 4, group_size: 128}
///       grid_size: 20               # α = 0, 1/20, … 19/20
///       duo_scaling: false          # also divide by mean|ŵ|^(1−α)
///       clip: true                  # llm-awq's clipping search (skips q/k)
///       search_samples: 8           # windows the scale search runs on (default all)
///     - algorithm: absmax           # symmetric absmax RTN (int8 weights)
///       scheme: {bits: 8, symmetric: true}
///       per_tensor: true            # one scale per tensor instead of per output channel
///       activations: {bits: 8, granularity: per_token}   # rtn | gptq | absmax
public struct ActivationAwareKnobs: Sendable, Equatable {
    /// SmoothQuant's α.
    public var alpha = 0.5
    /// AWQ's number of α grid points.
    public var gridSize = 20
    /// AWQ's `duo_scaling`.
    public var duoScaling = false
    /// AWQ's clipping search.
    public var clip = true
    /// AWQ: calibration windows the scale search runs the module on (`nil`: all, as
    /// llm-awq). The statistics and the clipping search always use every window.
    public var searchSamples: Int?
    /// `absmax`: one scale per tensor.
    public var perTensor = false
    /// Run-time activation quantization of the stage's linears (quantizing stages only).
    public var activations: ActivationScheme?

    public init(
        alpha: Double = 0.5, gridSize: Int = 20, duoScaling: Bool = false, clip: Bool = true, perTensor: Bool = false,
        activations: ActivationScheme? = nil
    ) {
        self.alpha = alpha
        self.gridSize = gridSize
        self.duoScaling = duoScaling
        self.clip = clip
        self.perTensor = perTensor
        self.activations = activations
    }

    typealias Keys = RecipeStage.CodingKeys

    init(algorithm: RecipeStage.Algorithm, container: KeyedDecodingContainer<Keys>) throws {
        switch algorithm {
        case .smoothquant:
            alpha = try container.decodeIfPresent(Double.self, forKey: .alpha) ?? alpha
        case .awq:
            gridSize = try container.decodeIfPresent(Int.self, forKey: .gridSize) ?? gridSize
            duoScaling = try container.decodeIfPresent(Bool.self, forKey: .duoScaling) ?? duoScaling
            clip = try container.decodeIfPresent(Bool.self, forKey: .clip) ?? clip
            searchSamples = try container.decodeIfPresent(Int.self, forKey: .searchSamples)
        case .absmax:
            perTensor = try container.decodeIfPresent(Bool.self, forKey: .perTensor) ?? perTensor
        case .rtn, .gptq, .magnitude, .wanda, .sparsegpt, .rotation:
            break
        }
        if algorithm.quantizesWeights {
            activations = try container.decodeIfPresent(ActivationScheme.self, forKey: .activations)
        }
    }

    func encode(algorithm: RecipeStage.Algorithm, into container: inout KeyedEncodingContainer<Keys>) throws {
        switch algorithm {
        case .smoothquant:
            try container.encode(alpha, forKey: .alpha)
        case .awq:
            try container.encode(gridSize, forKey: .gridSize)
            try container.encode(duoScaling, forKey: .duoScaling)
            try container.encode(clip, forKey: .clip)
            try container.encodeIfPresent(searchSamples, forKey: .searchSamples)
        case .absmax:
            try container.encode(perTensor, forKey: .perTensor)
        case .rtn, .gptq, .magnitude, .wanda, .sparsegpt, .rotation:
            break
        }
        if let activations { try container.encode(activations, forKey: .activations) }
    }
}

extension RecipeStage {
    /// The scheme a `smoothquant` stage records when none is given (it quantizes nothing).
    static let smoothingScheme = QuantizationScheme(bits: 8, groupSize: nil, symmetric: true)

    /// Checks the activation-aware knobs; errors name the field.
    func validateActivationAware(path: String, field: String) throws(PipelineError) {
        let knobs = activationAware
        switch algorithm {
        case .smoothquant:
            guard knobs.alpha.isFinite, (0...1).contains(knobs.alpha) else {
                throw .invalidValue(
                    path: path, line: nil, field: field + ".alpha",
                    detail: "must be in [0, 1] (the share of the activation range moved into the weights), got \(knobs.alpha)")
            }
        case .awq:
            guard (1...10_000).contains(knobs.gridSize) else {
                throw .invalidValue(path: path, line: nil, field: field + ".grid_size", detail: "must be between 1 and 10000, got \(knobs.gridSize)")
            }
            if let samples = knobs.searchSamples, !(1...CalibrationSpec.maximumTokens).contains(samples) {
                throw .invalidValue(path: path, line: nil, field: field + ".search_samples", detail: "must be between 1 and \(CalibrationSpec.maximumTokens), got \(samples)")
            }
        case .absmax:
            guard scheme.symmetric, scheme.groupSize == nil else {
                throw .invalidValue(
                    path: path, line: nil, field: field + ".scheme",
                    detail: "absmax quantization is symmetric and per channel or per tensor: use symmetric: true, group_size: -1")
            }
        case .rtn, .gptq, .magnitude, .wanda, .sparsegpt, .rotation:
            break
        }
        if let activations = knobs.activations {
            guard activations.clipRatio > 0, activations.clipRatio <= 1 else {
                throw .invalidValue(
                    path: path, line: nil, field: field + ".activations.clip_ratio",
                    detail: "must be in (0, 1] (the share of each token's max|x| the range keeps), got \(activations.clipRatio)")
            }
            guard (4...8).contains(activations.bits) else {
                throw .invalidValue(
                    path: path, line: nil, field: field + ".activations.bits", detail: "\(activations.bits) is not supported; use 4 to 8")
            }
            guard activations.staticScale == nil else {
                throw .invalidValue(
                    path: path, line: nil, field: field + ".activations.static_scale",
                    detail: "static scales come from calibration; remove the key")
            }
        }
    }
}
