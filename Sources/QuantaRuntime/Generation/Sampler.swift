import Foundation
import QuantaTensor

/// Chooses the next token from a row of logits: greedy (argmax) at temperature 0,
/// otherwise softmax sampling at `temperature`, optionally restricted to the `topK` most
/// likely tokens and the smallest set whose probability reaches `topP`.
public struct Sampler: Sendable {
    public var temperature: Float
    public var topK: Int?
    public var topP: Float?
    private var generator: RandomGenerator

    public init(temperature: Float = 0, topK: Int? = nil, topP: Float? = nil, seed: UInt64 = 0) throws(RuntimeError) {
        guard temperature >= 0, temperature.isFinite else {
            throw .invalidOption(name: "temperature", detail: "must be a finite number ≥ 0, got \(temperature)")
        }
        if let topK, topK < 1 { throw .invalidOption(name: "top-k", detail: "must be at least 1") }
        if let topP, !(topP > 0 && topP <= 1) { throw .invalidOption(name: "top-p", detail: "must be in (0, 1]") }
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        generator = RandomGenerator(seed: seed)
    }

    /// The next token id.
    public mutating func next(from logits: UnsafeBufferPointer<Float>) -> Int {
        if temperature == 0 { return Self.argmax(logits) }
        var candidates = Array(logits.indices)
        if let topK, topK < candidates.count {
            candidates.sort { logits[$0] > logits[$1] }
            candidates.removeSubrange(topK...)
        }
        let maximum = candidates.map { logits[$0] }.max() ?? 0
        var weights = candidates.map { Double(expf((logits[$0] - maximum) / temperature)) }
        if let topP, topP < 1 {
            let order = weights.indices.sorted { weights[$0] > weights[$1] }
            let total = weights.reduce(0, +)
            var kept = Set<Int>()
            var cumulative = 0.0
            for index in order {
                kept.insert(index)
                cumulative += weights[index] / total
                if cumulative >= Double(topP) { break }
            }
            for index in weights.indices where !kept.contains(index) { weights[index] = 0 }
        }
        let total = weights.reduce(0, +)
        var threshold = generator.nextDouble() * total
        for (index, weight) in weights.enumerated() {
            threshold -= weight
            if threshold < 0 { return candidates[index] }
        }
        return candidates[weights.lastIndex { $0 > 0 } ?? 0]
    }

    static func argmax(_ logits: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        for index in logits.indices where logits[index] > logits[best] { best = index }
        return best
    }
}
