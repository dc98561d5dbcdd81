import Foundation
import QuantaFormats
import QuantaModel
import QuantaTensor

/// A tiny in-code LLaMA-family model with seeded random weights, and a naive reference
/// forward pass (scalar loops, `Double` accumulation) written straight from the HF
/// `modeling_llama.py` equations, to check the fast implementation against.
enum TinyTransformer {
    /// 2 layers, hidden 16, 4 heads / 2 KV heads (head_dim 4), MLP 24, vocabulary 32.
    static func config(
        tied: Bool = true, attentionBias: Bool = false, ropeScaling: RopeScaling? = nil, maxPositions: Int = 64
    ) -> ModelConfig {
        ModelConfig(
            modelType: attentionBias ? "qwen2" : "llama", hiddenSize: 16, intermediateSize: 24, layerCount: 2,
            attentionHeads: 4, kvHeads: 2, maxPositionEmbeddings: maxPositions, rmsNormEpsilon: 1e-5,
            ropeTheta: 10_000, ropeScaling: ropeScaling, vocabularySize: 32, tieWordEmbeddings: tied,
            attentionBias: attentionBias)
    }

    /// Every tensor `config` needs, uniform in [-0.5, 0.5) (norm gains around 1), seeded.
    static func checkpoint(config: ModelConfig, seed: UInt64 = 7) -> ModelCheckpoint {
        var generator = RandomGenerator(seed: seed)
        let tensors = LlamaTensorLayout.expectedNames(for: config).map { name -> NamedTensor in
            let shape = LlamaTensorLayout.expectedShape(of: name, for: config)!
            let count = shape.reduce(1, *)
            var values = generator.uniformValues(count: count, in: -0.5..<0.5)
            if name.hasSuffix("norm.weight") { values = values.map { 1 + $0 } }
            return NamedTensor(name: name, tensor: try! Tensor(shape: shape, values: values))
        }
        return ModelCheckpoint(config: config, tensors: tensors)
    }

    static func tokens(count: Int, seed: UInt64 = 3, vocabulary: Int = 32) -> [Int] {
        var generator = RandomGenerator(seed: seed)
        return (0..<count).map { _ in generator.nextInt(below: vocabulary) }
    }

    /// The largest error of decoding `tokens` from an empty cache of `capacity` in chunks of
    /// `sizes` against the rows of `full` (the logits of the whole window), over all chunks.
    static func chunkedDecodingError(
        _ model: TransformerModel, tokens: [Int], full: Matrix, sizes: [Int], capacity: Int
    ) throws -> Double {
        var cache: KVCache? = model.makeCache(capacity: capacity)
        var start = 0
        var largest = 0.0
        let width = full.columns
        for size in sizes {
            let rows = try model.logits(tokens: Array(tokens[start..<(start + size)]), cache: &cache)
            let expected = try Matrix(rows: size, columns: width, values: Array(full.values[(start * width)..<((start + size) * width)]))
            largest = max(largest, maximumError(rows, expected))
            start += size
        }
        return largest
    }

    /// The largest `|a − b| / max(1, |b|)` over two equal-shape matrices.
    static func maximumError(_ a: Matrix, _ b: Matrix) -> Double {
        precondition(a.rows == b.rows && a.columns == b.columns)
        var largest = 0.0
        for index in a.values.indices {
            let reference = Double(b.values[index])
            largest = max(largest, abs(Double(a.values[index]) - reference) / max(1, abs(reference)))
        }
        return largest
    }
}

/// The naive reference: HF `LlamaForCausalLM.forward` without cache, every sum in `Double`.
struct ReferenceTransformer {
    let config: ModelConfig
    let weights: [String: [Double]]
    /// `inv_freq` per rotary pair (scaling already applied by the caller if wanted).
    let inverseFrequencies: [Double]

    init(checkpoint: ModelCheckpoint, inverseFrequencies: [Double]? = nil) {
        config = checkpoint.config
        var weights: [String: [Double]] = [:]
        for item in checkpoint.tensors { weights[item.name] = try! item.tensor.floatValues().map(Double.init) }
        self.weights = weights
        let dimension = checkpoint.config.headDimension
        let theta = checkpoint.config.ropeTheta
        self.inverseFrequencies =
            inverseFrequencies
            ?? (0..<(dimension / 2)).map { 1 / pow(theta, Double(2 * $0) / Double(dimension)) }
    }

    /// `x · Wᵀ (+ b)` for a row.
    func linear(_ x: [Double], _ name: String, bias: Bool = false) -> [Double] {
        let weight = weights[name + ".weight"]!
        let inputs = x.count
        let outputs = weight.count / inputs
        return (0..<outputs).map { row in
            var sum = bias ? weights[name + ".bias"]![row] : 0
            for column in 0..<inputs { sum += weight[row * inputs + column] * x[column] }
            return sum
        }
    }

    func rmsNorm(_ x: [Double], _ name: String) -> [Double] {
        let weight = weights[name]!
        let meanSquare = x.reduce(0) { $0 + $1 * $1 } / Double(x.count)
        let inverse = 1 / (meanSquare + config.rmsNormEpsilon).squareRoot()
        return x.indices.map { weight[$0] * x[$0] * inverse }
    }

    func rotate(_ x: [Double], heads: Int, position: Int) -> [Double] {
        let dimension = config.headDimension
        let half = dimension / 2
        var result = x
        for head in 0..<heads {
            for index in 0..<half {
                let angle = Double(position) * inverseFrequencies[index]
                let first = x[head * dimension + index]
                let second = x[head * dimension + half + index]
                result[head * dimension + index] = first * cos(angle) - second * sin(angle)
                result[head * dimension + half + index] = second * cos(angle) + first * sin(angle)
            }
        }
        return result
    }

    /// Logits for every position of `tokens`, as `count × vocab` floats.
    func logits(_ tokens: [Int]) -> Matrix {
        let hiddenSize = config.hiddenSize
        let dimension = config.headDimension
        let heads = config.attentionHeads
        let kvHeads = config.kvHeads
        let embedding = weights["model.embed_tokens.weight"]!
        var hidden = tokens.map { token in Array(embedding[(token * hiddenSize)..<((token + 1) * hiddenSize)]) }
        let bias = config.attentionBias
        for layer in 0..<config.layerCount {
            let prefix = "model.layers.\(layer)."
            let normalized = hidden.map { rmsNorm($0, prefix + "input_layernorm.weight") }
            let queries = normalized.enumerated().map { position, x in
                rotate(linear(x, prefix + "self_attn.q_proj", bias: bias), heads: heads, position: position)
            }
            let keys = normalized.enumerated().map { position, x in
                rotate(linear(x, prefix + "self_attn.k_proj", bias: bias), heads: kvHeads, position: position)
            }
            let values = normalized.map { linear($0, prefix + "self_attn.v_proj", bias: bias) }
            for position in tokens.indices {
                var attended = [Double](repeating: 0, count: heads * dimension)
                for head in 0..<heads {
                    let group = head / (heads / kvHeads)
                    var scores = (0...position).map { other in
                        var dot = 0.0
                        for index in 0..<dimension {
                            dot += queries[position][head * dimension + index] * keys[other][group * dimension + index]
                        }
                        return dot / Double(dimension).squareRoot()
                    }
                    let largest = scores.max()!
                    scores = scores.map { exp($0 - largest) }
                    let total = scores.reduce(0, +)
                    for other in 0...position {
                        for index in 0..<dimension {
                            attended[head * dimension + index] +=
                                scores[other] / total * values[other][group * dimension + index]
                        }
                    }
                }
                let output = linear(attended, prefix + "self_attn.o_proj")
                for index in 0..<hiddenSize { hidden[position][index] += output[index] }
            }
            for position in tokens.indices {
                let x = rmsNorm(hidden[position], prefix + "post_attention_layernorm.weight")
                let gate = linear(x, prefix + "mlp.gate_proj")
                let up = linear(x, prefix + "mlp.up_proj")
                let activated = gate.indices.map { gate[$0] / (1 + exp(-gate[$0])) * up[$0] }
                let output = linear(activated, prefix + "mlp.down_proj")
                for index in 0..<hiddenSize { hidden[position][index] += output[index] }
            }
        }
        let headName = config.tieWordEmbeddings ? "model.embed_tokens" : "lm_head"
        let rows = hidden.map { linear(rmsNorm($0, "model.norm.weight"), headName) }
        return try! Matrix(rows.map { $0.map(Float.init) })
    }
}

/// Records every observation.
final class RecordingObserver: ForwardObserver {
    var observations: [ForwardObservation] = []
    func observe(_ observation: ForwardObservation) { observations.append(observation) }
}
