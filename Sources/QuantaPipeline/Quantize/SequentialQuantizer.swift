import Foundation
import QuantaAlgorithms
import QuantaModel
import QuantaTensor

/// Runs a recipe over a model decoder layer by decoder layer (the GPTQ paper's sequential
/// scheme, §4 "Implementation"; llm-compressor's sequential pipeline): the calibration
/// activations entering a layer are the outputs of the already *quantized* layers before it.
///
/// Inside a layer, linears are quantized in true-sequential order — q/k/v, then o, then
/// gate/up, then down — each group's Hessian taken from inputs computed with the groups
/// before it already quantized, so one staged pass over the calibration set serves the whole
/// layer. With `true_sequential: false` (the reference code's default) every Hessian comes
/// from the full-precision layer and the quantized layer is run afterwards to propagate.
/// Memory: the calibration hidden states plus one intermediate per sample.
public struct SequentialQuantizer {
    public var recipe: Recipe
    public var plan: LayerPlan
    public var context: ComputeContext
    /// Receives progress lines (the caller decides where they go).
    public var log: (String) -> Void

    public init(recipe: Recipe, plan: LayerPlan, context: ComputeContext, log: @escaping (String) -> Void = { _ in }) {
        self.recipe = recipe
        self.plan = plan
        self.context = context
        self.log = log
    }

    /// Quantizes `model` in place with calibration `windows` (token ids; unused when every
    /// targeted linear uses a data-free algorithm).
    public func run(model: inout TransformerModel, windows: [[Int]]) throws -> QuantizationOutcome {
        let start = DispatchTime.now().uptimeNanoseconds
        let calibrated = plan.needsCalibration(recipe: recipe)
        var hidden: [Matrix] = []
        if calibrated {
            guard !windows.isEmpty else { throw PipelineError.unsupported(detail: "GPTQ needs calibration windows; give --calibration") }
            for window in windows { try model.validate(tokens: window) }
        }
        let runtime = try runtimeTransforms(headDimension: model.config.headDimension)
        try rotate(model: &model, windows: windows, runtime: runtime)
        if calibrated { hidden = windows.map { model.embed($0) } }
        let trueSequential = recipe.stages.allSatisfy { $0.gptq?.trueSequential ?? $0.sparsity?.trueSequential ?? true }
        var records: [QuantizationRecord] = []
        var pruned: [PruningRecord] = []
        for index in model.layers.indices {
            var layer = model.layers[index]
            if calibrated {
                records += try quantizeCalibrated(
                    layer: &layer, hidden: &hidden, trueSequential: trueSequential, pruned: &pruned)
            } else {
                for group in LayerPlan.sequentialGroups.indices {
                    records += try quantize(group: group, of: &layer, statistics: LayerStatistics(), pruned: &pruned)
                }
            }
            model.layers[index] = layer
            let elapsed = Self.seconds(since: start)
            let remaining = elapsed / Double(index + 1) * Double(model.layers.count - index - 1)
            log(String(format: "layer %d/%d done  %.1f s elapsed, ETA %.0f s", index + 1, model.layers.count, elapsed, remaining))
        }
        var outcome = QuantizationOutcome(records: records, seconds: Self.seconds(since: start), pruned: pruned)
        if !transformStages.isEmpty { outcome.transformedTensors = try Self.transformedTensors(of: model) }
        if recipe.rotation != nil { outcome.transformedTensors = try Self.rotatedTensors(of: model) }
        outcome.runtime = runtime
        return outcome
    }

    private func quantizeCalibrated(
        layer: inout DecoderLayer, hidden: inout [Matrix], trueSequential: Bool, pruned: inout [PruningRecord]
    ) throws -> [QuantizationRecord] {
        try transform(layer: &layer, hidden: hidden)
        var records: [QuantizationRecord] = []
        var pending: [(group: Int, statistics: LayerStatistics)] = []
        /// Statistics of `inputs` for `group` that its algorithms need; quantizes now
        /// (true-sequential) or later.
        func handle(_ group: Int, _ inputs: [Matrix]) throws {
            var statistics = try collectStatistics(group: group, layer: layer, inputs: inputs)
            statistics.inputMaximum = Self.absoluteMaximum(inputs)
            if trueSequential {
                records += try quantize(group: group, of: &layer, statistics: statistics, pruned: &pruned)
            } else {
                pending.append((group, statistics))
            }
        }
        let rows = hidden.first?.rows ?? 0
        let positions = 0..<rows
        let original = trueSequential ? [] : hidden
        let attentionInputs = hidden.map { layer.inputNorm.apply($0) }
        try handle(0, attentionInputs)
        var noCache: KVCache.Layer? = nil
        let attended = attentionInputs.map {
            layer.attention.attended($0, positions: positions, cache: &noCache, context: context)
        }
        try handle(1, attended)
        for sample in hidden.indices {
            DecoderLayer.addInPlace(layer.attention.outputProjection.apply(attended[sample]), to: &hidden[sample])
        }
        let feedForwardInputs = hidden.map { layer.postAttentionNorm.apply($0) }
        try handle(2, feedForwardInputs)
        let activations = feedForwardInputs.map { layer.feedForward.activation($0, context: context) }
        // An R4 down_proj's weight reads H x: its statistics are those of the transformed input.
        try handle(3, layer.feedForward.downProjection is HadamardInputLinear ? try activations.map(Self.hadamardRows) : activations)
        if trueSequential {
            for sample in hidden.indices {
                DecoderLayer.addInPlace(layer.feedForward.downProjection.apply(activations[sample]), to: &hidden[sample])
            }
            return records
        }
        for (group, statistics) in pending {
            records += try quantize(group: group, of: &layer, statistics: statistics, pruned: &pruned)
        }
        hidden = original
        for sample in hidden.indices {
            var noLayerCache: KVCache? = nil
            layer.forward(hidden: &hidden[sample], positions: positions, cache: &noLayerCache, context: context)
        }
        return records
    }

    /// What the algorithms of one group of linears need from their inputs.
    struct LayerStatistics {
        /// `H = (2/n) Σ x xᵀ` (GPTQ, SparseGPT).
        var hessian: Matrix?
        /// Per input feature, the mean over samples of `Σ x²` (Wanda).
        var inputNorms: [Float]?
        /// `max |x|` over the inputs (static per-tensor activation scales).
        var inputMaximum: Float?
    }

    /// The statistics over the samples' inputs of `group` that its linears' algorithms use.
    private func collectStatistics(group: Int, layer: DecoderLayer, inputs: [Matrix]) throws -> LayerStatistics {
        let names = LayerPlan.sequentialGroups[group].map { "\(layer.name).\($0)" }
        let algorithms = Set(names.compactMap { plan.assignments[$0].map { recipe.stages[$0].algorithm } })
        var statistics = LayerStatistics()
        guard let columns = inputs.first?.columns else { return statistics }
        if !algorithms.isDisjoint(with: [.gptq, .sparsegpt]) {
            var accumulator = HessianAccumulator(inputSize: columns)
            for input in inputs { try accumulator.add(input) }
            statistics.hessian = try accumulator.finalized(layer: names.joined(separator: ", "))
        }
        if algorithms.contains(.wanda) {
            var accumulator = InputNormAccumulator(inputSize: columns)
            for input in inputs { try accumulator.add(input) }
            statistics.inputNorms = try accumulator.finalized(layer: names.joined(separator: ", "))
        }
        return statistics
    }

    private func quantize(
        group: Int, of layer: inout DecoderLayer, statistics: LayerStatistics, pruned: inout [PruningRecord]
    ) throws -> [QuantizationRecord] {
        let hessian = statistics.hessian
        let inputMaximum = statistics.inputMaximum
        var records: [QuantizationRecord] = []
        for suffix in LayerPlan.sequentialGroups[group] {
            let name = "\(layer.name).\(suffix)"
            guard let stageIndex = plan.assignments[name] else { continue }
            let stage = recipe.stages[stageIndex]
            let path = DecoderLayer.linearPath(suffix)
            // An R4 down_proj: quantize the `W · H` it wraps and keep the online Hadamard.
            let online = layer[keyPath: path] as? HadamardInputLinear
            guard let dense = (online?.inner ?? layer[keyPath: path]) as? DenseLinear else {
                throw PipelineError.unsupported(detail: "\(name) is already quantized; a linear can be quantized by one stage only")
            }
            let start = DispatchTime.now().uptimeNanoseconds
            if stage.algorithm.prunes {
                let outcome = try prune(
                    dense: dense, name: name, stage: stage, stageIndex: stageIndex, statistics: statistics, start: start)
                layer[keyPath: path] = outcome.linear
                if let record = outcome.quantized { records.append(record) }
                if let record = outcome.pruned { pruned.append(record) }
                continue
            }
            var loss = 0.0
            var dampening: Double?
            var quantized: QuantizedWeight
            switch stage.algorithm {
            case .rtn, .magnitude, .wanda, .sparsegpt, .rotation:
                quantized = try RoundToNearest.quantize(weight: dense.weight, scheme: stage.scheme)
            case .absmax:
                quantized = try AbsmaxQuantization.quantize(
                    weight: dense.weight, bits: stage.scheme.bits, perTensor: stage.activationAware.perTensor)
            case .smoothquant, .awq:
                continue
            case .gptq:
                guard let hessian else { throw AlgorithmError.noCalibrationData(layer: name) }
                let knobs = stage.gptq ?? GPTQKnobs()
                let result = try GPTQSolver.quantize(
                    weight: dense.weight, hessian: hessian, scheme: stage.scheme, blockSize: knobs.blockSize,
                    dampening: knobs.dampening, actOrder: knobs.actOrder, context: context, layer: name
                ) { retry in
                    log("\(name): \(retry.reason); retrying with dampening \(retry.nextFraction)")
                }
                quantized = result.quantized
                loss = result.loss
                if result.deadInputs > 0 {
                    log("\(name): \(result.deadInputs) of \(dense.weight.columns) inputs never active in calibration; their weights are zeroed")
                }
                dampening = result.dampeningFraction
            }
            // Packed formats store f16 scales; simulate exactly what they will hold.
            quantized = quantized.withHalfPrecisionScales()
            let activation = stage.activationAware.activations.map { Self.calibrated($0, inputMaximum: inputMaximum) }
            let simulated = try Self.simulatedLinear(
                DenseLinear(weight: quantized.dequantized, bias: dense.bias, name: name), weight: quantized, activation: activation)
            layer[keyPath: path] = online == nil ? simulated : try HadamardInputLinear(inner: simulated)
            let seconds = Self.seconds(since: start)
            records.append(
                QuantizationRecord(
                    name: name, stage: stageIndex, algorithm: stage.algorithm, weight: quantized, loss: loss,
                    dampening: dampening, seconds: seconds, activation: activation))
        }
        return records
    }

    /// `x · H` for every row of `matrix` (the input an R4 `down_proj` weight sees).
    static func hadamardRows(_ matrix: Matrix) throws -> Matrix {
        var rotated = matrix
        try Hadamard.transformRows(of: &rotated)
        return rotated
    }

    static func seconds(since start: UInt64) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}

extension DecoderLayer {
    /// The writable path of the linear `suffix` (`self_attn.q_proj` …) in this layer.
    static func linearPath(_ suffix: String) -> WritableKeyPath<DecoderLayer, any LinearOperator> {
        switch suffix {
        case "self_attn.q_proj": \.attention.queryProjection
        case "self_attn.k_proj": \.attention.keyProjection
        case "self_attn.v_proj": \.attention.valueProjection
        case "self_attn.o_proj": \.attention.outputProjection
        case "mlp.gate_proj": \.feedForward.gateProjection
        case "mlp.up_proj": \.feedForward.upProjection
        default: \.feedForward.downProjection
        }
    }
}
