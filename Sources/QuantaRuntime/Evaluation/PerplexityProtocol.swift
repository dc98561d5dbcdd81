/// How text is cut into windows and which positions are scored.
///
/// - `gptq`: non-overlapping windows of `context` tokens (tail dropped), every position
///   predicts the next token (context − 1 scored per window); ppl = exp(mean NLL).
///   As IST-DASLab/gptq `llama_eval` and most papers (default context 2048).
/// - `llamacpp`: chunks of `context` tokens, only the second half scored: logits at
///   positions context/2 … context−2 predict the next token (context − 1 − context/2 per
///   chunk), as llama.cpp `tools/perplexity/perplexity.cpp` (default context 512).
public enum PerplexityProtocol: String, Sendable, CaseIterable, Codable {
    case gptq
    case llamacpp

    public var defaultContext: Int {
        switch self {
        case .gptq: 2048
        case .llamacpp: 512
        }
    }

    /// Positions whose logits are scored against the following token, for a window of `context`.
    public func scoredPositions(context: Int) -> Range<Int> {
        switch self {
        case .gptq: 0..<(context - 1)
        case .llamacpp: (context / 2)..<(context - 1)
        }
    }

    /// The minimum window size that scores at least one token.
    public var minimumContext: Int {
        switch self {
        case .gptq: 2
        case .llamacpp: 4
        }
    }
}
