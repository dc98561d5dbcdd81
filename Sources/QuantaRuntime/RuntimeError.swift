import Foundation

/// Errors of evaluation and generation. Messages say what to do next.
public enum RuntimeError: LocalizedError, Equatable {
    case textTooShort(path: String, tokens: Int, needed: Int, detail: String)
    case invalidOption(name: String, detail: String)
    case vocabularyMismatch(reference: Int, model: Int)
    /// A packed linear's layout or component buffers disagree with docs/packed-weights.md.
    case invalidPackedWeight(name: String, detail: String)
    /// The model produced infinite or NaN logits (overflowing activations).
    case nonFiniteOutput(window: Int, position: Int)

    public var errorDescription: String? {
        switch self {
        case .textTooShort(let path, let tokens, let needed, let detail):
            "\(path): \(tokens) tokens, but \(detail) needs at least \(needed); use a longer text or a smaller --context"
        case .invalidOption(let name, let detail):
            "--\(name): \(detail)"
        case .vocabularyMismatch(let reference, let model):
            "the reference model has \(reference) logits per token but the model has \(model); compare models that share a tokenizer"
        case .invalidPackedWeight(let name, let detail):
            "\(name): \(detail); repack the weights following docs/packed-weights.md"
        case .nonFiniteOutput(let window, let position):
            "the model's logits are infinite or NaN at window \(window), position \(position): activations overflowed; check the model with `quanta inspect --verify` and evaluate it with --activations float"
        }
    }
}
