import Foundation
import QuantaFormats
import QuantaModel
import QuantaTensor

/// A tiny LLaMA (2 layers, hidden 16, 4 heads / 2 KV heads, MLP 24, vocab 40) with seeded
/// random weights, for pipeline tests. `outlierChannels` makes every fifth norm gain 8×
/// larger (activation outliers for the smoothing tests).
func tinyModelCheckpoint(seed: UInt64 = 1, kvHeads: Int = 2, outlierChannels: Bool = false) throws -> ModelCheckpoint {
    let config = ModelConfig(
        hiddenSize: 16, intermediateSize: 24, layerCount: 2, attentionHeads: 4, kvHeads: kvHeads,
        maxPositionEmbeddings: 64, vocabularySize: 40, tieWordEmbeddings: true)
    var generator = RandomGenerator(seed: seed)
    var tensors: [NamedTensor] = []
    for name in LlamaTensorLayout.expectedNames(for: config) {
        let shape = LlamaTensorLayout.expectedShape(of: name, for: config)!
        let count = shape.reduce(1, *)
        let values: [Float] =
            name.hasSuffix("norm.weight")
            ? (0..<count).map { index in
                outlierChannels
                    ? (index % 5 == 0 ? 8 : 1) * (1 + 0.3 * Float(generator.nextNormal())) : 1 + 0.1 * Float(generator.nextNormal())
            }
            : (0..<count).map { _ in 0.3 * Float(generator.nextNormal()) }
        tensors.append(NamedTensor(name: name, tensor: try Tensor(shape: shape, values: values)))
    }
    return ModelCheckpoint(config: config, tensors: tensors)
}

/// `count` windows of `length` random token ids below 40.
func tinyWindows(count: Int, length: Int, seed: UInt64 = 2) -> [[Int]] {
    var generator = RandomGenerator(seed: seed)
    return (0..<count).map { _ in (0..<length).map { _ in generator.nextInt(below: 40) } }
}

/// Mean squared difference of the final hidden states of two models over `windows`.
func outputError(_ model: TransformerModel, _ reference: TransformerModel, windows: [[Int]]) throws -> Double {
    var sum = 0.0
    var count = 0
    for window in windows {
        let left = try model.forward(tokens: window)
        let right = try reference.forward(tokens: window)
        for (a, b) in zip(left.values, right.values) {
            sum += Double((a - b) * (a - b))
            count += 1
        }
    }
    return sum / Double(count)
}

/// The mean cross-entropy of each row's next token in `window` under `logits` (rows =
/// positions), in double precision: the reference the rotation learner's loss is checked against.
func meanNextTokenCrossEntropy(_ logits: Matrix, _ window: [Int]) -> Double {
    var total = 0.0
    for row in 0..<(window.count - 1) {
        let values = (0..<logits.columns).map { Double(logits[row, $0]) }
        let maximum = values.max()!
        total += log(values.map { exp($0 - maximum) }.reduce(0, +)) + maximum - values[window[row + 1]]
    }
    return total / Double(window.count - 1)
}
