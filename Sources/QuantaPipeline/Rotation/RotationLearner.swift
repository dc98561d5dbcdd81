import Foundation
import QuantaAlgorithms
import QuantaModel
import QuantaTensor

/// Learns the residual rotation R1 and per-layer head rotations R2 of a norm-folded model by
/// minimizing the next-token cross-entropy of the *quantized* network on calibration windows,
/// with Cayley SGD on the orthogonal group (SpinQuant). Weights (and optionally activations)
/// are fake-quantized in the forward pass; gradients pass through the quantizers unchanged
/// (straight-through estimator). The FP weights never change — only the rotations.
///
/// Gradients: every rotated weight is a product with R1 or R2, so `dL/dR` sums one term per
/// use — a reader `W·R` gives `Wᵀ·dW'`, a writer `Rᵀ·W` gives `W·dW'ᵀ`, the embedding rows
/// `E[t]·R` give `E[t]ᵀ·dX₀`, and the head `W_h·R` gives `(dlogits·W_h)ᵀ·n`.
///
/// Provenance: Z. Liu et al., "SpinQuant: LLM Quantization with Learned Rotations", ICLR 2025,
/// §3.2 (objective, Cayley SGD on the Stiefel manifold, R1 and per-layer R2).
public struct RotationLearner {
    let embedding: Matrix
    let head: Matrix
    let finalGain: [Float]
    let epsilon: Float
    let layers: [DecoderLayer]
    let weights: [DecoderLayerWeights]
    /// Fake quantization of every rotated decoder weight (`nil`: full precision).
    public var weightQuantizer: ((Matrix) throws -> Matrix)?
    /// Fake quantization at each site of the decoder (linear inputs, keys, values; `nil`: full
    /// precision). With `onlineDownProjection` the down-projection input arrives Hadamard-
    /// transformed, with `queryKeyRotation` the keys per head, as the deployed model sees them.
    public var quantizer: DecoderSiteQuantizer?
    /// R4: `down_proj` weights are quantized as `W·H` and its inputs as `H x` (exact in float;
    /// only the quantization sees the Hadamard domain).
    public var onlineDownProjection = false
    /// R3: keys are quantized in the per-head Hadamard domain.
    public var queryKeyRotation = false

    /// A learner over `model`, whose norms must be folded and whose linears dense.
    public init(model: TransformerModel) throws(PipelineError) {
        guard let head = model.head as? DenseLinear else {
            throw .unsupported(detail: "lm_head must be a full-precision linear to learn rotations")
        }
        let gains = model.layers.flatMap { $0.inputNorm.weight + $0.postAttentionNorm.weight }
        guard gains.allSatisfy({ $0 == 1 }) else {
            throw .unsupported(detail: "learning rotations needs folded norms; call ModelRotation.foldNorms first")
        }
        embedding = model.embedding
        self.head = head.weight
        finalGain = model.finalNorm.weight
        epsilon = model.finalNorm.epsilon
        layers = model.layers
        var weights: [DecoderLayerWeights] = []
        for layer in model.layers { weights.append(try RotationTrainingGraph.weights(of: layer)) }
        self.weights = weights
    }

    /// The mean next-token cross-entropy of `window` under rotations `residual` (R1) and
    /// `perHead` (one R2 per layer), with the gradients of both.
    public func lossAndGradients(window: [Int], residual: Matrix, perHead: [Matrix]) throws
        -> (loss: Double, residual: Matrix, perHead: [Matrix])
    {
        try lossAndGradients(windows: [window], residual: residual, perHead: perHead)
    }

    /// The loss and gradients averaged over `windows` (a mini-batch): the rotated, quantized
    /// weights are built once, each window runs forward and backward, and the weight
    /// gradients are summed before the (window-independent) products that turn them into
    /// R1/R2 gradients — so a batch costs little more than its forward/backward passes.
    public func lossAndGradients(windows: [[Int]], residual: Matrix, perHead: [Matrix]) throws
        -> (loss: Double, residual: Matrix, perHead: [Matrix])
    {
        precondition(perHead.count == layers.count, "one R2 per layer")
        precondition(!windows.isEmpty && windows.allSatisfy { $0.count >= 2 }, "windows need two tokens each")
        let siteQuantizer = deployedQuantizer
        var rotated: [DecoderLayerWeights] = []
        var intermediates: [(value: Matrix, output: Matrix)] = []
        for index in layers.indices {
            let original = weights[index]
            let quantize: (Matrix) throws -> Matrix = { try weightQuantizer?($0) ?? $0 }
            let valueRotated = try BLAS.multiply(original.value, residual)
            let outputRotated = try BLAS.multiply(residual, transposeA: true, original.output)
            rotated.append(DecoderLayerWeights(
                query: try quantize(try BLAS.multiply(original.query, residual)),
                key: try quantize(try BLAS.multiply(original.key, residual)),
                value: try quantize(try RotationMath.rotatingOutputBlocks(of: valueRotated, by: perHead[index])),
                output: try quantize(try RotationMath.rotatingInputBlocks(of: outputRotated, by: perHead[index])),
                gate: try quantize(try BLAS.multiply(original.gate, residual)),
                up: try quantize(try BLAS.multiply(original.up, residual)),
                down: try quantizeDown(try BLAS.multiply(residual, transposeA: true, original.down)),
                inputGain: original.inputGain, postAttentionGain: original.postAttentionGain))
            intermediates.append((valueRotated, outputRotated))
        }
        let rotatedHead = try BLAS.multiply(head, residual)
        let share = 1 / Float(windows.count)
        var loss = 0.0
        var residualGradient = Matrix(rows: residual.rows, columns: residual.columns)
        var layerGradients: [DecoderLayerGradients?] = Array(repeating: nil, count: layers.count)
        for window in windows {
            let tokens = window.count
            let tokenRows = try Matrix(
                rows: tokens, columns: embedding.columns,
                values: window.flatMap { embedding.values[($0 * embedding.columns)..<(($0 + 1) * embedding.columns)] })
            var hidden = try BLAS.multiply(tokenRows, residual)
            var tapes: [DecoderLayerTape] = []
            // Rotary tables for this window, built once per layer and reused by the backward pass.
            let geometries = layers.map { RotationTrainingGraph.geometry(of: $0, tokens: tokens) }
            for index in layers.indices {
                let (output, tape) = try DecoderBackward.forward(
                    hidden, weights: rotated[index], geometry: geometries[index], quantizer: siteQuantizer)
                hidden = output
                tapes.append(tape)
            }
            let (normalized, scales) = DecoderBackward.rmsNorm(hidden, gain: finalGain, epsilon: epsilon)
            var logits = try BLAS.multiply(normalized, rotatedHead, transposeB: true)
            let (windowLoss, logitGradient) = Self.crossEntropy(&logits, targets: Array(window.dropFirst()))
            loss += windowLoss / Double(windows.count)
            add(try BLAS.multiply(try BLAS.multiply(logitGradient, head), transposeA: true, normalized), to: &residualGradient, scale: share)
            let normalizedGradient = try BLAS.multiply(logitGradient, rotatedHead)
            var hiddenGradient = DecoderBackward.rmsNormBackward(normalizedGradient, input: hidden, scale: scales, gain: finalGain).0
            for index in layers.indices.reversed() {
                let (inputGradient, gradients) = try DecoderBackward.backward(
                    hiddenGradient, tape: tapes[index], weights: rotated[index], geometry: geometries[index])
                hiddenGradient = inputGradient
                layerGradients[index] = layerGradients[index].map { $0.adding(gradients, scale: share) } ?? gradients.scaled(by: share)
            }
            add(try BLAS.multiply(tokenRows, transposeA: true, hiddenGradient), to: &residualGradient, scale: share)
        }
        var perHeadGradients = perHead.map { Matrix(rows: $0.rows, columns: $0.columns) }
        for index in layers.indices {
            guard let gradients = layerGradients[index] else { continue }
            let original = weights[index]
            let r2 = perHead[index]
            // Readers W·R1.
            for (weight, gradient) in [
                (original.query, gradients.query), (original.key, gradients.key), (original.gate, gradients.gate),
                (original.up, gradients.up),
            ] {
                add(try BLAS.multiply(weight, transposeA: true, gradient), to: &residualGradient)
            }
            // v: V' = blocks(R2ᵀ)·(Wv·R1).
            let valueGradient = try RotationMath.rotatingOutputBlocks(of: gradients.value, by: r2.transposed())
            add(try BLAS.multiply(original.value, transposeA: true, valueGradient), to: &residualGradient)
            add(try Self.blockProducts(intermediates[index].value, gradients.value, block: r2.rows, rowsBlocks: true), to: &perHeadGradients[index])
            // o: O' = (R1ᵀ·Wo)·blocks(R2).
            let outputGradient = try RotationMath.rotatingInputBlocks(of: gradients.output, by: r2.transposed())
            add(try BLAS.multiply(original.output, outputGradient, transposeB: true), to: &residualGradient)
            add(try Self.blockProducts(intermediates[index].output, gradients.output, block: r2.rows, rowsBlocks: false), to: &perHeadGradients[index])
            // down: R1ᵀ·Wd.
            add(try BLAS.multiply(original.down, gradients.down, transposeB: true), to: &residualGradient)
        }
        return (loss, residualGradient, perHeadGradients)
    }

    /// The down-projection weight as the deployed model quantizes it: in the Hadamard domain
    /// with R4 (`Q(W·H)·H`, so the float product is unchanged), directly otherwise.
    func quantizeDown(_ weight: Matrix) throws -> Matrix {
        guard let weightQuantizer else { return weight }
        guard onlineDownProjection else { return try weightQuantizer(weight) }
        var rotated = weight
        try Hadamard.transformRows(of: &rotated)
        var quantized = try weightQuantizer(rotated)
        try Hadamard.transformRows(of: &quantized)
        return quantized
    }

    /// `quantizer` with the online Hadamards around the sites they precede (also around its
    /// gradient adjustment: `H` is symmetric and orthonormal, its own transpose and inverse).
    var deployedQuantizer: DecoderSiteQuantizer? {
        guard let quantizer else { return nil }
        let (down, key) = (onlineDownProjection, queryKeyRotation)
        let headDimension = layers.first?.attention.headDimension ?? 1
        return { matrix, site in
            let hadamard = (site == .downProjectionInput && down) || (site == .key && key)
            guard hadamard else { return quantizer(&matrix, site) }
            // Sizes were checked when the plan was built; a failure leaves the values unrotated.
            let width = site == .key ? headDimension : matrix.columns
            try? Self.transformBlocks(&matrix, width: width)
            let adjustment = quantizer(&matrix, site)
            try? Self.transformBlocks(&matrix, width: width)
            guard let adjustment else { return nil }
            return { gradient in
                try? Self.transformBlocks(&gradient, width: width)
                adjustment(&gradient)
                try? Self.transformBlocks(&gradient, width: width)
            }
        }
    }

    /// The orthonormal Hadamard of every `width`-wide block of every row.
    static func transformBlocks(_ matrix: inout Matrix, width: Int) throws {
        var blocks = try Matrix(rows: matrix.values.count / width, columns: width, values: matrix.values)
        try Hadamard.transformRows(of: &blocks)
        matrix.values = blocks.values
    }

    /// Runs `steps` Cayley SGD steps from `initial` (R1 and one R2 per layer, or one shared
    /// R2 that is copied per layer), each on the next `batchSize` of `windows` (cycling), the
    /// learning rate decayed linearly to zero when `linearDecay` (SpinQuant's schedule);
    /// returns the learned plan and the loss of every step.
    public func train(
        windows: [[Int]], initial: RotationPlan, steps: Int, learningRate: Float, momentum: Float,
        batchSize: Int = 1, linearDecay: Bool = false, learnsResidual: Bool = true, log: (String) -> Void = { _ in }
    ) throws -> (plan: RotationPlan, losses: [Double]) {
        guard var residual = initial.residual, !initial.perHead.isEmpty, !windows.isEmpty else {
            throw PipelineError.unsupported(detail: "rotation learning starts from an R1, an R2 and calibration windows")
        }
        var perHead = initial.perHead.count == 1 ? Array(repeating: initial.perHead[0], count: layers.count) : initial.perHead
        var residualOptimizer = try CayleySGD(learningRate: learningRate, momentum: momentum)
        var perHeadOptimizers = try perHead.map { _ in try CayleySGD(learningRate: learningRate, momentum: momentum) }
        var losses: [Double] = []
        for step in 0..<steps {
            let batch = (0..<max(batchSize, 1)).map { windows[(step * max(batchSize, 1) + $0) % windows.count] }
            let (loss, residualGradient, perHeadGradients) = try lossAndGradients(
                windows: batch, residual: residual, perHead: perHead)
            losses.append(loss)
            if linearDecay {
                let rate = learningRate * Float(steps - step) / Float(steps)
                residualOptimizer.learningRate = rate
                for index in perHeadOptimizers.indices { perHeadOptimizers[index].learningRate = rate }
            }
            if learnsResidual { try residualOptimizer.step(rotation: &residual, gradient: residualGradient) }
            for index in perHead.indices {
                try perHeadOptimizers[index].step(rotation: &perHead[index], gradient: perHeadGradients[index])
            }
            log(String(format: "rotation step %d/%d  loss %.4f", step + 1, steps, loss))
        }
        return (RotationPlan(residual: residual, perHead: perHead, onlineDownProjection: initial.onlineDownProjection), losses)
    }

    // MARK: - Helpers

    /// Mean cross-entropy of rows `0..<targets.count` of `logits` against `targets`; `logits`
    /// becomes the gradient (`(softmax − onehot) / count`, zero for rows without a target).
    static func crossEntropy(_ logits: inout Matrix, targets: [Int]) -> (Double, Matrix) {
        var loss = 0.0
        let columns = logits.columns
        let count = Float(targets.count)
        for row in 0..<logits.rows {
            guard row < targets.count else {
                for column in 0..<columns { logits[row, column] = 0 }
                continue
            }
            var maximum = -Float.infinity
            for column in 0..<columns { maximum = max(maximum, logits[row, column]) }
            var sum: Double = 0
            for column in 0..<columns { sum += Double(exp(logits[row, column] - maximum)) }
            loss += log(sum) + Double(maximum) - Double(logits[row, targets[row]])
            for column in 0..<columns {
                logits[row, column] = Float(Double(exp(logits[row, column] - maximum)) / sum) / count
            }
            logits[row, targets[row]] -= 1 / count
        }
        return (loss / Double(targets.count), logits)
    }

    /// `Σ_b A_bᵀ·G_b`-style products per head block: with `rowsBlocks`, `A_b·G_bᵀ` over row
    /// blocks (v_proj: `dR2 += M_b·dV'_bᵀ`); otherwise `A_bᵀ·G_b` over column blocks (o_proj:
    /// `dR2 += N_bᵀ·dO'_b`).
    static func blockProducts(_ a: Matrix, _ g: Matrix, block: Int, rowsBlocks: Bool) throws -> Matrix {
        var result = Matrix(rows: block, columns: block)
        if rowsBlocks {
            for start in stride(from: 0, to: a.rows, by: block) {
                let left = try Matrix(rows: block, columns: a.columns, values: Array(a.values[(start * a.columns)..<((start + block) * a.columns)]))
                let right = try Matrix(rows: block, columns: g.columns, values: Array(g.values[(start * g.columns)..<((start + block) * g.columns)]))
                add(try BLAS.multiply(left, right, transposeB: true), to: &result)
            }
        } else {
            for start in stride(from: 0, to: a.columns, by: block) {
                var left = Matrix(rows: a.rows, columns: block)
                var right = Matrix(rows: g.rows, columns: block)
                for row in 0..<a.rows {
                    for column in 0..<block {
                        left[row, column] = a[row, start + column]
                        right[row, column] = g[row, start + column]
                    }
                }
                add(try BLAS.multiply(left, transposeA: true, right), to: &result)
            }
        }
        return result
    }
}

private func add(_ source: Matrix, to target: inout Matrix, scale: Float = 1) {
    for index in target.values.indices { target.values[index] += scale * source.values[index] }
}

extension DecoderLayerGradients {
    /// Every weight gradient times `scale` (gain gradients are not used here and dropped).
    func scaled(by scale: Float) -> DecoderLayerGradients {
        func times(_ matrix: Matrix) -> Matrix {
            var result = matrix
            for index in result.values.indices { result.values[index] *= scale }
            return result
        }
        return DecoderLayerGradients(
            query: times(query), key: times(key), value: times(value), output: times(output), gate: times(gate),
            up: times(up), down: times(down), inputGain: [], postAttentionGain: [])
    }

    /// `self + scale · other`, weight gradients only.
    func adding(_ other: DecoderLayerGradients, scale: Float) -> DecoderLayerGradients {
        func sum(_ left: Matrix, _ right: Matrix) -> Matrix {
            var result = left
            add(right, to: &result, scale: scale)
            return result
        }
        return DecoderLayerGradients(
            query: sum(query, other.query), key: sum(key, other.key), value: sum(value, other.value),
            output: sum(output, other.output), gate: sum(gate, other.gate), up: sum(up, other.up),
            down: sum(down, other.down), inputGain: [], postAttentionGain: [])
    }
}
