import QuantaAlgorithms
import QuantaModel
import QuantaTensor

extension SequentialQuantizer {
    /// A pruned linear and its record: a `QuantizationRecord` when the stage also quantized
    /// (SparseGPT with a scheme), a `PruningRecord` otherwise.
    struct PruningOutcome {
        var linear: DenseLinear
        var quantized: QuantizationRecord?
        var pruned: PruningRecord?
    }

    /// Runs pruning stage `stage` on one linear (`Sparsity/`: magnitude, Wanda, SparseGPT).
    func prune(
        dense: DenseLinear, name: String, stage: RecipeStage, stageIndex: Int, statistics: LayerStatistics,
        start: UInt64
    ) throws -> PruningOutcome {
        guard let knobs = stage.sparsity else {
            throw PipelineError.unsupported(detail: "\(name): stage \(stageIndex) prunes but has no sparsity knobs")
        }
        try knobs.pattern.checkColumns(dense.weight.columns, layer: name)
        var loss = 0.0
        var dampening: Double?
        var weight: PrunedWeight
        var quantized: QuantizedWeight?
        switch stage.algorithm {
        case .wanda:
            guard let norms = statistics.inputNorms else { throw AlgorithmError.noCalibrationData(layer: name) }
            weight = try WandaPruning.prune(weight: dense.weight, inputSquaredNorms: norms, pattern: knobs.pattern)
        case .sparsegpt:
            guard let hessian = statistics.hessian else { throw AlgorithmError.noCalibrationData(layer: name) }
            let result = try SparseGPTSolver.prune(
                weight: dense.weight, hessian: hessian, pattern: knobs.pattern, scheme: knobs.quantization,
                blockSize: knobs.blockSize, dampening: knobs.dampening, context: context, layer: name
            ) { retry in
                log("\(name): \(retry.reason); retrying with dampening \(retry.nextFraction)")
            }
            if result.deadInputs > 0 {
                log("\(name): \(result.deadInputs) of \(dense.weight.columns) inputs never active in calibration; their weights are zeroed")
            }
            weight = result.pruned
            quantized = result.quantized
            loss = result.loss
            dampening = result.dampeningFraction
        default:
            weight = try MagnitudePruning.prune(weight: dense.weight, pattern: knobs.pattern)
        }
        if let joint = quantized {
            // Packed formats store f16 scales; pruned weights keep code = zero point, hence 0.
            let half = joint.withHalfPrecisionScales()
            let linear = try DenseLinear(weight: half.dequantized, bias: dense.bias, name: name)
            let record = QuantizationRecord(
                name: name, stage: stageIndex, algorithm: stage.algorithm, weight: half, loss: loss,
                dampening: dampening, seconds: Self.seconds(since: start), sparsity: knobs.pattern)
            return PruningOutcome(linear: linear, quantized: record, pruned: nil)
        }
        let linear = try DenseLinear(weight: weight.values, bias: dense.bias, name: name)
        let record = PruningRecord(
            name: name, stage: stageIndex, algorithm: stage.algorithm, weight: weight, loss: loss,
            dampening: dampening, seconds: Self.seconds(since: start))
        return PruningOutcome(linear: linear, quantized: nil, pruned: record)
    }
}
