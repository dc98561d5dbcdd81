/// The regular expressions of byte-level BPE pre-tokenizers, each implemented as a
/// hand-written scanner that reproduces the leftmost, first-alternative-wins (backtracking)
/// match of Oniguruma on Unicode scalars. Unknown patterns are rejected when the tokenizer is
/// loaded rather than approximated.
enum SplitPattern: Sendable, Equatable {
    /// GPT-2's pattern, used by the `ByteLevel` pre-tokenizer with `use_regex`
    /// (tokenizers/src/pre_tokenizers/byte_level.rs; OpenAI gpt-2 encoder.py).
    case gpt2
    /// LLaMA-3's pattern (Meta-Llama-3 tokenizer.json; llama.cpp `LLAMA3`): numbers in
    /// groups of up to three.
    case llama3
    /// Qwen2's pattern: LLaMA-3's with single digits (Qwen2 tokenizer.json; llama.cpp `QWEN2`).
    case qwen2
    /// A literal string (`{"String": ...}` patterns).
    case literal([Unicode.Scalar])

    static let gpt2Source = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let llama3Source =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Source =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// The scanner for a `Regex` pattern's source text, or nil when it is not one we know.
    init?(regex source: String) {
        switch source {
        case Self.gpt2Source: self = .gpt2
        case Self.llama3Source: self = .llama3
        case Self.qwen2Source: self = .qwen2
        default: return nil
        }
    }

    /// The non-overlapping matches in `text`, leftmost first (what `find_iter` gives).
    func matches(in text: ArraySlice<Unicode.Scalar>) -> [Range<Int>] {
        var result: [Range<Int>] = []
        switch self {
        case .literal(let needle):
            guard !needle.isEmpty else { return [] }
            var index = text.startIndex
            while index + needle.count <= text.endIndex {
                if text[index..<(index + needle.count)].elementsEqual(needle) {
                    result.append(index..<(index + needle.count))
                    index += needle.count
                } else {
                    index += 1
                }
            }
        case .gpt2, .llama3, .qwen2:
            // Every scalar is covered by some alternative, so matches tile the text.
            var index = text.startIndex
            while index < text.endIndex {
                let end = self == .gpt2 ? Self.gpt2MatchEnd(text, at: index) : Self.llama3MatchEnd(
                    text, at: index, maximumDigits: self == .llama3 ? 3 : 1)
                result.append(index..<end)
                index = end
            }
        }
        return result
    }

    /// The end of the first index in `start..<end` whose scalar does not satisfy `predicate`.
    @inline(__always)
    private static func run(
        _ text: ArraySlice<Unicode.Scalar>, from start: Int, limit: Int? = nil, _ predicate: (Unicode.Scalar) -> Bool
    ) -> Int {
        var index = start
        let end = limit.map { min($0, text.endIndex) } ?? text.endIndex
        while index < end, predicate(text[index]) { index += 1 }
        return index
    }

    /// `\s+(?!\S)|\s+` at a whitespace scalar: the run minus its last scalar when a
    /// non-space follows and the run is longer than one, else the whole run.
    @inline(__always)
    private static func whitespaceEnd(_ text: ArraySlice<Unicode.Scalar>, at start: Int) -> Int {
        let end = run(text, from: start, ScalarClass.isWhitespace)
        return end < text.endIndex && end - start > 1 ? end - 1 : end
    }

    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    static func gpt2MatchEnd(_ text: ArraySlice<Unicode.Scalar>, at start: Int) -> Int {
        let first = text[start]
        if first == "'", start + 1 < text.endIndex {
            let second = text[start + 1]
            if second == "s" || second == "t" || second == "m" || second == "d" { return start + 2 }
            if start + 2 < text.endIndex {
                let third = text[start + 2]
                if (second == "r" && third == "e") || (second == "v" && third == "e") || (second == "l" && third == "l") {
                    return start + 3
                }
            }
        }
        // ` ?X+` for the three classes: the optional space is taken only when X follows it.
        let body = first == " " && start + 1 < text.endIndex ? start + 1 : start
        let scalar = text[body]
        if ScalarClass.isLetter(scalar) { return run(text, from: body + 1, ScalarClass.isLetter) }
        if ScalarClass.isNumber(scalar) { return run(text, from: body + 1, ScalarClass.isNumber) }
        if !ScalarClass.isWhitespace(scalar) { return run(text, from: body + 1, ScalarClass.isOther) }
        return whitespaceEnd(text, at: start)
    }

    /// LLaMA-3 / Qwen2: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,k}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
    static func llama3MatchEnd(_ text: ArraySlice<Unicode.Scalar>, at start: Int, maximumDigits: Int) -> Int {
        let first = text[start]
        if first == "'", start + 1 < text.endIndex {
            // Case-insensitive: Oniguruma folds U+017F (long s) to `s` as well.
            let second = lowercased(text[start + 1])
            if second == "s" || second == "t" || second == "m" || second == "d" { return start + 2 }
            if start + 2 < text.endIndex {
                let third = lowercased(text[start + 2])
                if (second == "r" && third == "e") || (second == "v" && third == "e") || (second == "l" && third == "l") {
                    return start + 3
                }
            }
        }
        if ScalarClass.isLetter(first) { return run(text, from: start + 1, ScalarClass.isLetter) }
        let firstIsNumber = ScalarClass.isNumber(first)
        if !firstIsNumber, !ScalarClass.isLineBreak(first), start + 1 < text.endIndex,
            ScalarClass.isLetter(text[start + 1])
        {
            return run(text, from: start + 2, ScalarClass.isLetter)
        }
        if firstIsNumber { return run(text, from: start + 1, limit: start + maximumDigits, ScalarClass.isNumber) }
        let body = first == " " && start + 1 < text.endIndex ? start + 1 : start
        if ScalarClass.isOther(text[body]) {
            let end = run(text, from: body + 1, ScalarClass.isOther)
            return run(text, from: end, ScalarClass.isLineBreak)
        }
        // Here `first` is whitespace. `\s*[\r\n]+`: up to the last line break of the run.
        let runEnd = run(text, from: start, ScalarClass.isWhitespace)
        var index = runEnd
        while index > start {
            if ScalarClass.isLineBreak(text[index - 1]) { return index }
            index -= 1
        }
        return runEnd < text.endIndex && runEnd - start > 1 ? runEnd - 1 : runEnd
    }

    /// Simple case folding for the contraction letters.
    @inline(__always)
    private static func lowercased(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        if scalar.value >= 0x41 && scalar.value <= 0x5A { return Unicode.Scalar(scalar.value | 0x20)! }
        if scalar.value == 0x17F { return "s" }
        return scalar
    }
}
