import QuantaAlgorithms

/// The knobs of a pruning stage (`magnitude`, `wanda`, `sparsegpt`):
///
///     - algorithm: sparsegpt
///       sparsity: "2:4"          # N:M ("2:4", "4:8") or an unstructured ratio ("0.5", "50%")
///       block_size: 128          # sparsegpt only
///       dampening: 0.01          # sparsegpt only
///       true_sequential: false   # wanda, sparsegpt: statistics from the partly pruned layer
///       scheme: {bits: 4, group_size: null}   # sparsegpt only: prune and quantize jointly
///
/// Defaults follow the reference codes (IST-DASLab/sparsegpt `llama.py`, locuslab/wanda
/// `main.py`): block 128, dampening 0.01, and every statistic of a decoder layer taken from
/// its unpruned inputs (`true_sequential: false`), the pruned layer then run to feed the next.
public struct SparsityKnobs: Sendable, Equatable {
    public var pattern: SparsityPattern
    public var blockSize = 128
    public var dampening = 0.01
    public var trueSequential = false
    /// SparseGPT only: quantize the kept weights in the same pass with this scheme.
    public var quantization: QuantizationScheme?

    /// The `scheme` a pruning-only stage carries (never applied).
    public static let unusedScheme = QuantizationScheme(bits: 8)

    public init(
        pattern: SparsityPattern, blockSize: Int = 128, dampening: Double = 0.01, trueSequential: Bool = false,
        quantization: QuantizationScheme? = nil
    ) {
        self.pattern = pattern
        self.blockSize = blockSize
        self.dampening = dampening
        self.trueSequential = trueSequential
        self.quantization = quantization
    }

    /// Reads the keys `algorithm` accepts; any other key stays unread and is reported by the
    /// strict decoder as not belonging to the stage.
    init(algorithm: RecipeStage.Algorithm, from container: KeyedDecodingContainer<RecipeStage.CodingKeys>) throws {
        pattern = try container.decode(SparsityPattern.self, forKey: .sparsity)
        if algorithm != .magnitude {
            trueSequential = try container.decodeIfPresent(Bool.self, forKey: .trueSequential) ?? false
        }
        if algorithm == .sparsegpt {
            blockSize = try container.decodeIfPresent(Int.self, forKey: .blockSize) ?? 128
            dampening = try container.decodeIfPresent(Double.self, forKey: .dampening) ?? 0.01
            quantization = try container.decodeIfPresent(QuantizationScheme.self, forKey: .scheme)
        }
    }

    func encode(algorithm: RecipeStage.Algorithm, into container: inout KeyedEncodingContainer<RecipeStage.CodingKeys>)
        throws
    {
        try container.encode(pattern, forKey: .sparsity)
        if algorithm != .magnitude { try container.encode(trueSequential, forKey: .trueSequential) }
        if algorithm == .sparsegpt {
            try container.encode(blockSize, forKey: .blockSize)
            try container.encode(dampening, forKey: .dampening)
            try container.encodeIfPresent(quantization, forKey: .scheme)
        }
    }

    func validate(path: String, field: String) throws(PipelineError) {
        do { try pattern.validate() } catch {
            throw .invalidValue(path: path, line: nil, field: field + ".sparsity", detail: error.errorDescription ?? "")
        }
        guard blockSize >= 1 else {
            throw .invalidValue(path: path, line: nil, field: field + ".block_size", detail: "must be at least 1")
        }
        if case .structured(_, let groupSize) = pattern, blockSize % groupSize != 0 {
            throw .invalidValue(
                path: path, line: nil, field: field + ".block_size",
                detail: "\(blockSize) must be a multiple of the N:M group size \(groupSize)")
        }
        guard dampening > 0, dampening < 1 else {
            throw .invalidValue(path: path, line: nil, field: field + ".dampening", detail: "must be in (0, 1), got \(dampening)")
        }
    }
}
