import QuantaAlgorithms
import QuantaModel
import QuantaTensor

/// The rotations to fuse into a model (SpinQuant names): R1 on the residual stream, R2 per
/// attention head between v_proj and o_proj, R4 an online Hadamard before down_proj.
public struct RotationPlan: Sendable {
    /// R1, `hidden × hidden` orthogonal, or `nil`.
    public var residual: Matrix?
    /// R2, `headDimension × headDimension` orthogonal: none, one shared by every layer, or one
    /// per layer (learned rotations).
    public var perHead: [Matrix]
    /// R4: `down_proj` reads `H x` through `HadamardInputLinear`, its weight multiplied by `H`.
    public var onlineDownProjection: Bool

    public init(residual: Matrix? = nil, perHead: [Matrix] = [], onlineDownProjection: Bool = false) {
        self.residual = residual
        self.perHead = perHead
        self.onlineDownProjection = onlineDownProjection
    }

    /// Randomized Hadamard R1 and R2 (random signs from `seed`), as QuaRot and SpinQuant's
    /// initialization use, plus R4 when `onlineDownProjection`.
    public static func randomizedHadamard(
        hiddenSize: Int, headDimension: Int, seed: UInt64, onlineDownProjection: Bool
    ) throws(PipelineError) -> RotationPlan {
        var generator = RandomGenerator(seed: seed)
        do {
            return RotationPlan(
                residual: try Hadamard.randomHadamard(size: hiddenSize, generator: &generator),
                perHead: [try Hadamard.randomHadamard(size: headDimension, generator: &generator)],
                onlineDownProjection: onlineDownProjection)
        } catch {
            throw .unsupported(detail: "no Hadamard rotation for hidden size \(hiddenSize) / head dimension \(headDimension): \(error)")
        }
    }
}

/// Function-preserving model surgery for rotation-based quantization (wiring of
/// `RotationMath`): fold every RMSNorm gain into the linears that read it, then fuse a
/// `RotationPlan`. The FP model's logits are unchanged up to float rounding; a tied head
/// becomes its own weight (the final norm's gain and R1 make it differ from the embedding).
///
/// Provenance: SliceGPT / QuaRot §4 (norm folding and R1), SpinQuant §3.1 (R1, R2, R4).
public enum ModelRotation {
    /// Folds the input, post-attention and final norm gains into q/k/v, gate/up and the head;
    /// every norm gain becomes 1.
    public static func foldNorms(_ model: inout TransformerModel) throws(PipelineError) {
        for index in model.layers.indices {
            var layer = model.layers[index]
            let inputGain = layer.inputNorm.weight
            layer.attention.queryProjection = try scaled(layer.attention.queryProjection, inputGain, "\(layer.name).self_attn.q_proj")
            layer.attention.keyProjection = try scaled(layer.attention.keyProjection, inputGain, "\(layer.name).self_attn.k_proj")
            layer.attention.valueProjection = try scaled(layer.attention.valueProjection, inputGain, "\(layer.name).self_attn.v_proj")
            let feedForwardGain = layer.postAttentionNorm.weight
            layer.feedForward.gateProjection = try scaled(layer.feedForward.gateProjection, feedForwardGain, "\(layer.name).mlp.gate_proj")
            layer.feedForward.upProjection = try scaled(layer.feedForward.upProjection, feedForwardGain, "\(layer.name).mlp.up_proj")
            layer.inputNorm.weight = ones(inputGain.count)
            layer.postAttentionNorm.weight = ones(feedForwardGain.count)
            model.layers[index] = layer
        }
        model.head = try scaled(model.head, model.finalNorm.weight, "lm_head")
        model.finalNorm.weight = ones(model.finalNorm.weight.count)
    }

    /// Fuses `plan` into a model whose norms are folded (`foldNorms` first; checked).
    public static func rotate(_ model: inout TransformerModel, plan: RotationPlan) throws(PipelineError) {
        let gains = model.layers.flatMap { $0.inputNorm.weight + $0.postAttentionNorm.weight } + model.finalNorm.weight
        guard !(plan.residual != nil && gains.contains(where: { $0 != 1 })) else {
            throw .unsupported(detail: "rotating the residual stream needs folded norms; call foldNorms first")
        }
        guard [0, 1, model.layers.count].contains(plan.perHead.count) else {
            throw .unsupported(
                detail: "\(plan.perHead.count) per-head rotations for \(model.layers.count) layers; give none, one, or one per layer")
        }
        do {
            if let rotation = plan.residual {
                model.embedding = try BLAS.multiply(model.embedding, rotation)
                model.head = try transformed(model.head, "lm_head") { try RotationMath.rotatingInputs(of: $0, by: rotation) }
            }
            for index in model.layers.indices {
                var layer = model.layers[index]
                try rotate(&layer, plan: plan)
                model.layers[index] = layer
            }
        } catch let error as PipelineError {
            throw error
        } catch {
            throw .unsupported(detail: "rotation failed: \(error)")
        }
    }

    private static func rotate(_ layer: inout DecoderLayer, plan: RotationPlan) throws {
        let name = layer.name
        if let rotation = plan.residual {
            let reads: (Matrix) throws -> Matrix = { try RotationMath.rotatingInputs(of: $0, by: rotation) }
            let writes: (Matrix) throws -> Matrix = { try RotationMath.rotatingOutputs(of: $0, by: rotation) }
            layer.attention.queryProjection = try transformed(layer.attention.queryProjection, "\(name).self_attn.q_proj", reads)
            layer.attention.keyProjection = try transformed(layer.attention.keyProjection, "\(name).self_attn.k_proj", reads)
            layer.attention.valueProjection = try transformed(layer.attention.valueProjection, "\(name).self_attn.v_proj", reads)
            layer.attention.outputProjection = try transformed(
                layer.attention.outputProjection, "\(name).self_attn.o_proj", writes, outputRotation: rotation)
            layer.feedForward.gateProjection = try transformed(layer.feedForward.gateProjection, "\(name).mlp.gate_proj", reads)
            layer.feedForward.upProjection = try transformed(layer.feedForward.upProjection, "\(name).mlp.up_proj", reads)
            layer.feedForward.downProjection = try transformed(
                layer.feedForward.downProjection, "\(name).mlp.down_proj", writes, outputRotation: rotation)
        }
        if !plan.perHead.isEmpty {
            let rotation = plan.perHead.count == 1 ? plan.perHead[0] : plan.perHead[layer.index]
            layer.attention.valueProjection = try transformed(
                layer.attention.valueProjection, "\(name).self_attn.v_proj",
                { try RotationMath.rotatingOutputBlocks(of: $0, by: rotation) }, outputRotation: rotation)
            layer.attention.outputProjection = try transformed(
                layer.attention.outputProjection, "\(name).self_attn.o_proj") { try RotationMath.rotatingInputBlocks(of: $0, by: rotation) }
        }
        if plan.onlineDownProjection {
            let down = try transformed(layer.feedForward.downProjection, "\(name).mlp.down_proj") { weight in
                var rotated = weight
                try Hadamard.transformRows(of: &rotated)  // each row w ← H w, i.e. W · H (H symmetric)
                return rotated
            }
            layer.feedForward.downProjection = try HadamardInputLinear(inner: down)
        }
    }

    // MARK: - Helpers

    /// `edit` applied to the dense weight of `linear`; a bias is multiplied by
    /// `outputRotation` (per block of its size) when the edit rotates outputs.
    private static func transformed(
        _ linear: any LinearOperator, _ name: String, _ edit: (Matrix) throws -> Matrix, outputRotation: Matrix? = nil
    ) throws -> DenseLinear {
        guard let dense = linear as? DenseLinear else {
            throw PipelineError.unsupported(
                detail: "\(name) is not a full-precision linear; rotations are fused before any quantization stage")
        }
        var bias = dense.bias
        if let values = bias, let rotation = outputRotation {
            let biasRows = try Matrix(rows: values.count / rotation.rows, columns: rotation.rows, values: values)
            bias = try BLAS.multiply(biasRows, rotation).values
        }
        return try DenseLinear(weight: try edit(dense.weight), bias: bias, name: name)
    }

    private static func scaled(_ linear: any LinearOperator, _ gains: [Float], _ name: String) throws(PipelineError) -> DenseLinear {
        do {
            return try transformed(linear, name) { RotationMath.scalingColumns(of: $0, by: gains) }
        } catch let error as PipelineError {
            throw error
        } catch {
            throw .unsupported(detail: "\(name): \(error)")
        }
    }

    private static func ones(_ count: Int) -> [Float] { [Float](repeating: 1, count: count) }
}
