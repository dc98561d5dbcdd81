import QuantaTensor

/// The outcome of `SparseGPTSolver.prune`.
public struct SparseGPTResult: Sendable, Equatable {
    /// The pruned (and updated) weight with its mask; with joint quantization the values
    /// are the dequantized ones.
    public var pruned: PrunedWeight
    /// With joint quantization: codes and parameters (a pruned weight's code is its row's
    /// zero point, so it dequantizes to exactly 0).
    public var quantized: QuantizedWeight?
    /// `Σ (w − q)² / (2 · U_cc²)` as the reference reports it.
    public var loss: Double
    public var dampeningFraction: Double
    public var deadInputs: Int
}

/// SparseGPT: one-shot pruning with OBS weight updates, optionally quantizing in the same pass.
///
/// Provenance: E. Frantar, D. Alistarh, "SparseGPT: Massive Language Models Can Be Accurately
/// Pruned in One-Shot", ICML 2023, Algorithm 1 (§3.3 adaptive mask selection per block of
/// `B_s` columns, §3.4 N:M: the mask chosen per group of M columns, §3.5 joint quantization)
/// and the reference `SparseGPT.fasterprune` (github.com/IST-DASLab/sparsegpt, sparsegpt.py):
/// the Hessian, dead inputs, dampening and `U = chol(H⁻¹)ᵀ` are GPTQ's (`GPTQSolver`); the
/// column loop is GPTQ's lazy batch with pruned weights' targets set to 0. Joint quantization
/// fits the quantizer on the dense weight before pruning (`quantizer.find_params(W)` ahead of
/// the loop), per channel, with the scales rounded to f16 up front; with groups (our extension) a group's parameters are fitted on the
/// weights as they stand when the group starts, as GPTQ does.
public enum SparseGPTSolver {
    public static func prune(
        weight: Matrix, hessian: Matrix, pattern: SparsityPattern, scheme: QuantizationScheme? = nil,
        blockSize: Int = 128, dampening: Double = 0.01, context: ComputeContext = .serial(),
        precision: FactorizationPrecision = .double, layer: String = "weight",
        onRetry: (DampeningRetry) -> Void = { _ in }
    ) throws(AlgorithmError) -> SparseGPTResult {
        try pattern.validate()
        try scheme?.validate()
        try GPTQSolver.checkInputs(weight: weight, hessian: hessian, blockSize: blockSize, dampening: dampening, layer: layer)
        try pattern.checkColumns(weight.columns, layer: layer)
        let rows = weight.rows
        let columns = weight.columns
        if case .structured(_, let groupSize) = pattern, blockSize % groupSize != 0 {
            throw .invalidInput(detail: "\(layer): block size \(blockSize) must be a multiple of the N:M group \(groupSize)")
        }

        var groups: [GroupParameters?] = [nil]
        var groupOfPosition = [Int](repeating: 0, count: columns)
        if let scheme {
            groups = [GroupParameters?](repeating: nil, count: scheme.groupCount(columns: columns))
            if scheme.groupSize == nil, columns > 0 {
                // Packed formats store f16 scales: quantize against exactly those, so the error
                // compensation sees the values the model will hold (rounding them afterwards
                // cost 11% perplexity on SmolLM2 2:4 + W4 per-channel).
                var parameters = Quantizer.groupParameters(of: weight, columns: 0..<columns, scheme: scheme)
                parameters.scales = parameters.scales.map { Float(Float16($0)) }
                groups[0] = parameters
            }
            if let groupSize = scheme.groupSize { groupOfPosition = (0..<columns).map { $0 / groupSize } }
        }
        let (work, dampedSource, deadInputs) = GPTQSolver.zeroingDeadInputs(weight: weight, hessian: hessian)
        let factorization = try GPTQSolver.inverseFactor(
            of: dampedSource, dampening: dampening, precision: precision, layer: layer, onRetry: onRetry)
        let solution = GPTQSolver.lazyBatchQuantize(
            work: work, factor: factorization.factor, scheme: scheme, blockSize: blockSize, groups: groups,
            groupOfPosition: groupOfPosition, dynamicGroups: true, pruning: pattern, context: context)
        let values = Matrix(rows: rows, columns: columns, exactly: solution.dequantized)
        let kept = solution.kept ?? [Bool](repeating: true, count: rows * columns)
        var quantized: QuantizedWeight?
        if let scheme {
            let (scales, zeroPoints) = GPTQSolver.parameterTables(solution.groups, rows: rows)
            quantized = QuantizedWeight(
                scheme: scheme, dequantized: values, codes: solution.codes, scales: scales, zeroPoints: zeroPoints,
                groupIndex: groupOfPosition)
        }
        return SparseGPTResult(
            pruned: PrunedWeight(pattern: pattern, values: values, kept: kept), quantized: quantized,
            loss: solution.loss, dampeningFraction: factorization.fraction, deadInputs: deadInputs)
    }
}
