import Foundation
import QuantaFormats
import QuantaTensor

extension TransformerModel {
    /// Builds the model from a checkpoint in Hugging Face naming: every weight the config
    /// implies (`LlamaTensorLayout`) must be present with its shape; f16/bf16/f64 tensors
    /// are widened to float32. Extra tensors (rotary caches, a tied `lm_head.weight`) are
    /// ignored; loaders reject unexpected ones before this point.
    ///
    /// `linears` supplies ready-made operators (packed kernels) by module name
    /// (`model.layers.0.self_attn.q_proj`); their weights need not be in the checkpoint.
    public init(
        checkpoint: ModelCheckpoint, computeContext: ComputeContext = .serial(),
        linears: [String: any LinearOperator] = [:]
    ) throws(ModelError) {
        let config = checkpoint.config
        do {
            try config.validate(path: "config.json")
        } catch {
            throw .invalidConfiguration(field: "config", detail: error.errorDescription ?? "\(error)")
        }
        var byName: [String: Tensor] = [:]
        for item in checkpoint.tensors { byName[item.name] = item.tensor }

        func matrix(_ name: String) throws(ModelError) -> Matrix {
            let values = try vector(name)
            do {
                return try Matrix(rows: byName[name]!.shape[0], columns: byName[name]!.shape[1], values: values)
            } catch {
                throw .weightShapeMismatch(name: name, expected: byName[name]!.shape, actual: byName[name]!.shape)
            }
        }
        func vector(_ name: String) throws(ModelError) -> [Float] {
            let tensor = try checked(name)
            let values: [Float]
            do { values = try tensor.floatValues() } catch {
                throw .weightShapeMismatch(name: name, expected: tensor.shape, actual: tensor.shape)
            }
            if let index = values.firstIndex(where: { !$0.isFinite }) {
                throw .nonFiniteWeight(name: name, index: index, value: values[index])
            }
            return values
        }
        func checked(_ name: String) throws(ModelError) -> Tensor {
            guard let tensor = byName[name] else { throw .missingWeight(name: name) }
            let expected = LlamaTensorLayout.expectedShape(of: name, for: config) ?? tensor.shape
            guard tensor.shape == expected, tensor.dtype.isFloatingPoint else {
                throw .weightShapeMismatch(name: name, expected: expected, actual: tensor.shape)
            }
            return tensor
        }
        func linear(_ name: String, bias hasBias: Bool) throws(ModelError) -> any LinearOperator {
            if let supplied = linears[name] {
                let expected = LlamaTensorLayout.expectedShape(of: name + ".weight", for: config) ?? []
                guard [supplied.outputCount, supplied.inputCount] == expected else {
                    throw .weightShapeMismatch(
                        name: name + ".weight", expected: expected, actual: [supplied.outputCount, supplied.inputCount])
                }
                return supplied
            }
            return try DenseLinear(
                weight: matrix(name + ".weight"), bias: hasBias ? vector(name + ".bias") : nil, name: name + ".weight")
        }

        let epsilon = Float(config.rmsNormEpsilon)
        let rotary = try RotaryEmbedding(config: config)
        let embedding = try matrix("model.embed_tokens.weight")
        var layers: [DecoderLayer] = []
        layers.reserveCapacity(config.layerCount)
        for index in 0..<config.layerCount {
            let prefix = "model.layers.\(index)."
            let attention = SelfAttention(
                queryProjection: try linear(prefix + "self_attn.q_proj", bias: config.attentionBias),
                keyProjection: try linear(prefix + "self_attn.k_proj", bias: config.attentionBias),
                valueProjection: try linear(prefix + "self_attn.v_proj", bias: config.attentionBias),
                outputProjection: try linear(prefix + "self_attn.o_proj", bias: false),
                heads: config.attentionHeads, kvHeads: config.kvHeads, headDimension: config.headDimension,
                rotary: rotary)
            let feedForward = FeedForward(
                gateProjection: try linear(prefix + "mlp.gate_proj", bias: config.mlpBias),
                upProjection: try linear(prefix + "mlp.up_proj", bias: config.mlpBias),
                downProjection: try linear(prefix + "mlp.down_proj", bias: config.mlpBias))
            layers.append(
                DecoderLayer(
                    index: index,
                    inputNorm: RMSNorm(weight: try vector(prefix + "input_layernorm.weight"), epsilon: epsilon),
                    attention: attention,
                    postAttentionNorm: RMSNorm(weight: try vector(prefix + "post_attention_layernorm.weight"), epsilon: epsilon),
                    feedForward: feedForward))
        }
        let finalNorm = RMSNorm(weight: try vector("model.norm.weight"), epsilon: epsilon)
        let head: any LinearOperator =
            config.tieWordEmbeddings && linears["lm_head"] == nil
            ? try DenseLinear(weight: embedding, name: "model.embed_tokens.weight")
            : try linear("lm_head", bias: false)
        self.init(
            config: config, embedding: embedding, layers: layers, finalNorm: finalNorm, head: head,
            computeContext: computeContext)
    }
}
