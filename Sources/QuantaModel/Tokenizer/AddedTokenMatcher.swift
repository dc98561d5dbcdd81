import QuantaFormats

/// An entry of tokenizer.json's `added_tokens`.
struct AddedToken: Sendable {
    var id: Int
    var content: String
    var singleWord: Bool
    var leftStrip: Bool
    var rightStrip: Bool
    var normalized: Bool
    var special: Bool

    static func parse(_ value: JSONValue, field: String, path: String) throws(ModelError) -> AddedToken {
        let special = try TokenizerJSON.bool(value, "special", default: false, field: field, path: path)
        let id = try TokenizerJSON.integer(value, "id", field: field, path: path)
        guard id < ModelConfig.Limits.vocabulary else {
            throw .invalidTokenizer(path: path, detail: "\(field).id \(id) is not below \(ModelConfig.Limits.vocabulary)")
        }
        return AddedToken(
            id: id,
            content: try TokenizerJSON.string(value, "content", field: field, path: path),
            singleWord: try TokenizerJSON.bool(value, "single_word", default: false, field: field, path: path),
            leftStrip: try TokenizerJSON.bool(value, "lstrip", default: false, field: field, path: path),
            rightStrip: try TokenizerJSON.bool(value, "rstrip", default: false, field: field, path: path),
            // Special tokens are not normalized unless they say so (AddedToken::from).
            normalized: try TokenizerJSON.bool(value, "normalized", default: !special, field: field, path: path),
            special: special)
    }
}

/// A piece of input text after added-token extraction.
enum TextSegment {
    case text(ArraySlice<Unicode.Scalar>)
    case token(Int)
}

/// Finds added tokens in text before pre-tokenization: leftmost-longest matches (the
/// Aho-Corasick `LeftmostLongest` search of tokenizers/src/tokenizer/added_vocabulary.rs),
/// honouring `single_word` (no word character, Rust regex `\w`, on either side), `lstrip` and
/// `rstrip` (the match absorbs adjacent White_Space).
struct AddedTokenMatcher: Sendable {
    /// Patterns (as scalars) and their tokens, grouped by first scalar.
    private let candidates: [Unicode.Scalar: [(pattern: [Unicode.Scalar], token: AddedToken)]]

    /// A matcher for `tokens`, whose patterns are their contents passed through `transform`.
    init(tokens: [AddedToken], transform: ([Unicode.Scalar]) -> [Unicode.Scalar] = { $0 }) {
        var candidates: [Unicode.Scalar: [(pattern: [Unicode.Scalar], token: AddedToken)]] = [:]
        for token in tokens {
            let pattern = transform(Array(token.content.unicodeScalars))
            guard let first = pattern.first else { continue }
            candidates[first, default: []].append((pattern, token))
        }
        for key in candidates.keys { candidates[key]!.sort { $0.pattern.count > $1.pattern.count } }
        self.candidates = candidates
    }

    var isEmpty: Bool { candidates.isEmpty }

    /// `text` cut into plain text and added tokens.
    func split(_ text: ArraySlice<Unicode.Scalar>) -> [TextSegment] {
        guard !candidates.isEmpty else { return [.text(text)] }
        var segments: [TextSegment] = []
        var startOffset = text.startIndex
        var index = text.startIndex
        while index < text.endIndex {
            guard let options = candidates[text[index]],
                let found = options.first(where: { option in
                    index + option.pattern.count <= text.endIndex
                        && text[index..<(index + option.pattern.count)].elementsEqual(option.pattern)
                })
            else {
                index += 1
                continue
            }
            var start = index
            var stop = index + found.pattern.count
            let token = found.token
            // The search resumes after the raw match, whatever stripping adds.
            index = stop
            if token.singleWord {
                let wordBefore = start > text.startIndex && ScalarClass.isWordCharacter(text[start - 1])
                let wordAfter = stop < text.endIndex && ScalarClass.isWordCharacter(text[stop])
                if wordBefore || wordAfter { continue }
            }
            if token.leftStrip {
                var newStart = start
                while newStart > text.startIndex, ScalarClass.isWhitespace(text[newStart - 1]) { newStart -= 1 }
                start = max(newStart, startOffset)
            }
            if token.rightStrip {
                while stop < text.endIndex, ScalarClass.isWhitespace(text[stop]) { stop += 1 }
            }
            if startOffset < start { segments.append(.text(text[startOffset..<start])) }
            segments.append(.token(token.id))
            startOffset = stop
        }
        if startOffset < text.endIndex { segments.append(.text(text[startOffset..<text.endIndex])) }
        return segments
    }
}
