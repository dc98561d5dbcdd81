import Foundation
import QuantaAlgorithms
import QuantaFormats
import QuantaModel
import QuantaTensor

/// The recipe's `rotation` stage and `kv_cache` inside the sequential run: before the layer
/// loop the whole model is norm-folded and rotated (randomized Hadamard R1/R2, or R1/R2
/// learned with Cayley SGD on the quantized model's loss), R4 wraps every `down_proj`; the
/// run-time parts (R3, R4, KV cache) are recorded for the writers and the runtime.
extension SequentialQuantizer {
    /// What the quantized model adds at run time: R3/R4 from the rotation stage and the
    /// recipe's KV cache (group size defaulting to the head dimension).
    func runtimeTransforms(headDimension: Int) throws -> RuntimeTransforms {
        var transforms = RuntimeTransforms()
        if let rotation = recipe.rotation {
            transforms.onlineDownProjection = rotation.onlineDownProjection
            transforms.queryKeyRotation = rotation.queryKeyRotation
        }
        if let cache = recipe.kvCache {
            transforms.keyValueCache = try KeyValueQuantizer(
                bits: cache.bits, groupSize: cache.groupSize ?? headDimension, symmetric: cache.symmetric,
                clipRatio: Float(cache.clipRatio))
        }
        return transforms
    }

    /// Folds the norms and fuses the rotation stage's R1, R2 (and R4) into `model`; learns R1/R2
    /// from `windows` in `learned` mode. Does nothing without a rotation stage.
    func rotate(model: inout TransformerModel, windows: [[Int]], runtime: RuntimeTransforms) throws {
        guard let knobs = recipe.rotation else { return }
        let start = DispatchTime.now().uptimeNanoseconds
        let attention = model.layers[0].attention
        try ModelRotation.foldNorms(&model)
        var plan = try RotationPlan.randomizedHadamard(
            hiddenSize: model.hiddenSize, headDimension: attention.headDimension, seed: knobs.seed,
            onlineDownProjection: knobs.onlineDownProjection)
        if knobs.mode == .learned {
            plan = try learnedPlan(model: model, start: plan, windows: windows, knobs: knobs, runtime: runtime)
        }
        try ModelRotation.rotate(&model, plan: plan)
        log(String(format: "rotation (%@, R1 %d×%d, R2 %d×%d%@%@): %.1f s", knobs.mode.rawValue, model.hiddenSize,
                   model.hiddenSize, attention.headDimension, attention.headDimension,
                   knobs.onlineDownProjection ? ", online R4" : "", knobs.queryKeyRotation ? ", online R3" : "",
                   Self.seconds(since: start)))
    }

    /// SpinQuant: R1 and per-layer R2 trained from `start` to minimize the cross-entropy of the
    /// model as the first quantizing stage will quantize it (weights by round-to-nearest with
    /// its scheme, its activations per token, the KV cache), with R3/R4 in place.
    private func learnedPlan(
        model: TransformerModel, start: RotationPlan, windows: [[Int]], knobs: RotationKnobs, runtime: RuntimeTransforms
    ) throws -> RotationPlan {
        guard let stage = recipe.stages.first(where: { $0.algorithm.quantizesWeights }) else {
            throw PipelineError.unsupported(detail: "learned rotations need a quantizing stage after the rotation")
        }
        let samples = windows.prefix(knobs.samples).map { Array($0.prefix(knobs.sequenceLength)) }
        guard !samples.isEmpty else {
            throw PipelineError.unsupported(detail: "learned rotations need calibration windows; give --calibration")
        }
        let learner = try RotationLearner(model: model, quantizingAs: stage, runtime: runtime, knobs: knobs)
        log("learning rotations: \(knobs.steps) steps of \(knobs.batchSize) over \(samples.count) windows of \(samples[0].count) tokens")
        let (plan, losses) = try learner.train(
            windows: samples, initial: start, steps: knobs.steps, learningRate: Float(knobs.learningRate),
            momentum: Float(knobs.momentum), batchSize: knobs.batchSize, linearDecay: true,
            learnsResidual: knobs.learnsResidual, log: log)
        if let first = losses.first, let last = losses.last {
            log(String(format: "rotation loss %.4f → %.4f (training windows)", first, last))
        }
        // A calibration window the training did not see, before and after: whether it generalizes.
        if windows.count > samples.count {
            let heldOut = Array(windows[samples.count].prefix(knobs.sequenceLength))
            let before = try learner.loss(window: heldOut, plan: start)
            let after = try learner.loss(window: heldOut, plan: plan)
            log(String(format: "rotation held-out window loss %.4f → %.4f", before, after))
        }
        return plan
    }

    /// Every dense tensor of a rotated model the writers must replace or add: the embedding,
    /// the (now untied) head, every norm gain and every linear left in full precision (an R4
    /// `down_proj`'s stored weight is `W · H`).
    static func rotatedTensors(of model: TransformerModel) throws -> [NamedTensor] {
        guard let head = model.head as? DenseLinear else {
            throw PipelineError.unsupported(detail: "lm_head must stay in full precision in a rotated model")
        }
        return [
            NamedTensor(name: "model.embed_tokens.weight", tensor: try model.embedding.tensor()),
            NamedTensor(name: "model.norm.weight", tensor: try Tensor(shape: [model.finalNorm.weight.count], values: model.finalNorm.weight)),
            NamedTensor(name: "lm_head.weight", tensor: try head.weight.tensor()),
        ] + (try transformedTensors(of: model))
    }
}

extension RotationLearner {
    /// The quantized model's loss on `window` under `plan` (one shared R2 is used for every layer).
    public func loss(window: [Int], plan: RotationPlan) throws -> Double {
        guard let residual = plan.residual, let first = plan.perHead.first else {
            throw PipelineError.unsupported(detail: "a rotation plan for the learner needs R1 and R2")
        }
        let perHead = plan.perHead.count == 1 ? Array(repeating: first, count: layers.count) : plan.perHead
        return try lossAndGradients(window: window, residual: residual, perHead: perHead).loss
    }

    /// A learner whose loss is that of the deployed quantized model: activations per token at
    /// `stage`'s bits (static scales do not exist while the rotation changes), the KV cache of
    /// `runtime`, R3/R4 as `knobs` say, and weights rounded to `stage`'s scheme by
    /// round-to-nearest (min-max ranges — the clipping search would dominate each step — with
    /// f16 scales as stored). Except before GPTQ with quantized activations or KV cache: then
    /// the weights stay in full precision while learning, as SpinQuant does for its GPTQ
    /// results (rotations fitted to RTN weights leave GPTQ less to do; on SmolLM2 W4A4KV4 such
    /// a rotation gave 62.3 where Hadamard gave 53.8, first 2 windows).
    public init(
        model: TransformerModel, quantizingAs stage: RecipeStage, runtime: RuntimeTransforms, knobs: RotationKnobs
    ) throws {
        try self.init(model: model)
        let quantizesActivations = stage.activationAware.activations != nil || runtime.keyValueCache != nil
        if !(stage.algorithm == .gptq && quantizesActivations) {
            var scheme = stage.scheme
            scheme.clipping = .none
            weightQuantizer = { try RoundToNearest.quantize(weight: $0, scheme: scheme).withHalfPrecisionScales().dequantized }
        }
        let activation = stage.activationAware.activations.map {
            ActivationScheme(bits: $0.bits, granularity: .perToken, clipRatio: $0.clipRatio)
        }
        let cache = runtime.keyValueCache
        if activation != nil || cache != nil {
            quantizer = { matrix, site in
                switch site {
                case .key, .value:
                    cache?.fakeQuantize(&matrix)
                    return nil
                case .attentionInput, .outputProjectionInput, .feedForwardInput, .downProjectionInput:
                    guard let activation else { return nil }
                    return Self.quantizePerToken(&matrix, activation)
                }
            }
        }
        onlineDownProjection = knobs.onlineDownProjection
        queryKeyRotation = knobs.queryKeyRotation
    }

    /// Per-token symmetric fake quantization of `matrix` (`y = s · round(x / s)`,
    /// `s = max|x| / m`) and its gradient beyond the straight-through identity: through the
    /// scale, `∂y_i/∂x_k = (q_i − x_i/s) · sign(x_k) / m` for the `k` that sets `max|x|` (as
    /// LSQ-style quantizers with a data-dependent scale differentiate it). Without that term
    /// the gradient never sees the rounding error the rotation is meant to shrink.
    ///
    /// Provenance: S. Esser et al., "Learned Step Size Quantization", ICLR 2020, eq. (3) (the
    /// gradient through the scale with a straight-through round).
    public static func quantizePerToken(_ matrix: inout Matrix, _ activation: ActivationScheme)
        -> @Sendable (inout Matrix) -> Void
    {
        let (rows, columns) = (matrix.rows, matrix.columns)
        let magnitude = activation.maximumMagnitude
        var errors = Matrix(rows: rows, columns: columns)
        var largestColumns = [Int](repeating: 0, count: rows)
        for row in 0..<rows {
            var largest: Float = 0
            for column in 0..<columns where abs(matrix[row, column]) > largest {
                largest = abs(matrix[row, column])
                largestColumns[row] = column
            }
            // s = max(c · max|x|, 1e-5) / m, so ∂s/∂x_k = c · sign(x_k) / m.
            let scale = max(activation.clipRatio * largest, ActivationScheme.minimumRange) / magnitude
            let sign: Float = matrix[row, largestColumns[row]] < 0 ? -1 : 1
            let slope = activation.clipRatio * sign / magnitude
            for column in 0..<columns {
                let ratio = matrix[row, column] / scale
                let code = ActivationScheme.code(matrix[row, column], scale: scale, magnitude: magnitude)
                if activation.clipRatio * largest > ActivationScheme.minimumRange { errors[row, column] = (code - ratio) * slope }
                matrix[row, column] = code * scale
            }
        }
        return { [errors, largestColumns] gradient in
            for row in 0..<rows {
                var extra: Float = 0
                for column in 0..<columns { extra += gradient[row, column] * errors[row, column] }
                gradient[row, largestColumns[row]] += extra
            }
        }
    }
}
