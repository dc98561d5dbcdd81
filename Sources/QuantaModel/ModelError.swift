import Foundation

/// Errors of the model layer (tokenizer, transformer). Messages say what to do next.
public enum ModelError: LocalizedError, Equatable {
    case invalidTokenizer(path: String, detail: String)
    case missingTokenizer(path: String)
    case invalidText(path: String, detail: String)
    case missingWeight(name: String)
    case weightShapeMismatch(name: String, expected: [Int], actual: [Int])
    case tokenOutOfRange(token: Int, vocabularySize: Int)
    case contextTooLong(requested: Int, maximum: Int)
    case emptyInput(detail: String)
    case invalidConfiguration(field: String, detail: String)
    case nonFiniteWeight(name: String, index: Int, value: Float)

    public var errorDescription: String? {
        switch self {
        case .invalidTokenizer(let path, let detail):
            "\(path): invalid tokenizer: \(detail)"
        case .missingTokenizer(let path):
            "\(path): no tokenizer.json; convert the model with `quanta convert` (which writes one) or copy the model's tokenizer.json there"
        case .invalidText(let path, let detail):
            "\(path): \(detail)"
        case .missingWeight(let name):
            "the checkpoint lacks weight '\(name)'; it is incomplete"
        case .weightShapeMismatch(let name, let expected, let actual):
            "weight '\(name)' has shape \(actual) but the config implies \(expected)"
        case .tokenOutOfRange(let token, let vocabularySize):
            "token id \(token) is outside the vocabulary (0..<\(vocabularySize)); the tokenizer does not belong to this model"
        case .contextTooLong(let requested, let maximum):
            "a window of \(requested) tokens exceeds the model's context of \(maximum) (max_position_embeddings); use a smaller --context"
        case .emptyInput(let detail):
            detail
        case .invalidConfiguration(let field, let detail):
            "config.json field '\(field)': \(detail); fix the model's config"
        case .nonFiniteWeight(let name, let index, let value):
            "weight '\(name)' holds \(value) at element \(index); the model file is corrupt or was saved after a diverged run — reconvert or re-export it"
        }
    }
}
