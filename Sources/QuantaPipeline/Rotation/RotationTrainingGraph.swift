import Foundation
import QuantaAlgorithms
import QuantaModel
import QuantaTensor

/// Bridges the model graph (`QuantaModel`) and the differentiable layer pass
/// (`DecoderBackward`) that rotation learning trains through.
public enum RotationTrainingGraph {
    /// The dense weights of `layer` as `DecoderLayerWeights`; throws if a linear is not dense
    /// (rotations are learned before quantization).
    public static func weights(of layer: DecoderLayer) throws(PipelineError) -> DecoderLayerWeights {
        func dense(_ linear: any LinearOperator, _ suffix: String) throws(PipelineError) -> Matrix {
            guard let dense = linear as? DenseLinear, dense.bias == nil else {
                throw .unsupported(detail: "\(layer.name).\(suffix) must be a full-precision linear without bias to learn rotations")
            }
            return dense.weight
        }
        return DecoderLayerWeights(
            query: try dense(layer.attention.queryProjection, "self_attn.q_proj"),
            key: try dense(layer.attention.keyProjection, "self_attn.k_proj"),
            value: try dense(layer.attention.valueProjection, "self_attn.v_proj"),
            output: try dense(layer.attention.outputProjection, "self_attn.o_proj"),
            gate: try dense(layer.feedForward.gateProjection, "mlp.gate_proj"),
            up: try dense(layer.feedForward.upProjection, "mlp.up_proj"),
            down: try dense(layer.feedForward.downProjection, "mlp.down_proj"),
            inputGain: layer.inputNorm.weight, postAttentionGain: layer.postAttentionNorm.weight)
    }

    /// Head counts, norm epsilon and the rotary tables of positions `0..<tokens`.
    public static func geometry(of layer: DecoderLayer, tokens: Int) -> DecoderLayerGeometry {
        let attention = layer.attention
        let frequencies = attention.rotary.inverseFrequencies
        var cosine: [Float] = []
        var sine: [Float] = []
        cosine.reserveCapacity(tokens * frequencies.count)
        sine.reserveCapacity(tokens * frequencies.count)
        for position in 0..<tokens {
            for frequency in frequencies {
                let angle = Float(position) * frequency
                cosine.append(cos(angle))
                sine.append(sin(angle))
            }
        }
        return DecoderLayerGeometry(
            heads: attention.heads, kvHeads: attention.kvHeads, headDimension: attention.headDimension,
            epsilon: layer.inputNorm.epsilon, cosine: cosine, sine: sine)
    }
}
