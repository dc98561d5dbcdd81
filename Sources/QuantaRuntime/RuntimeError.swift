import Foundation

/// Errors of evaluation and generation. Messages say what to do next.
public enum RuntimeError: LocalizedError, Equatable {
    case textTooShort(path: String, tokens: Int, needed: Int, detail: String)
    case invalidOption(name: String, detail: String)
    case vocabularyMismatch(reference: Int, model: Int)
    /// A packed linear's layout or component buffers disagree with docs/packed-weights.md.
    case invalidPackedWeight(name: String, detail: String)

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
        }
    }
}
