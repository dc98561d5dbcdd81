import QuantaFormats

/// How a `Split` pre-tokenizer treats the matches of its pattern
/// (`SplitDelimiterBehavior`, tokenizers/src/tokenizer/normalizer.rs).
enum SplitBehavior: String, Sendable {
    case removed = "Removed"
    case isolated = "Isolated"
    case mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext"
    case contiguous = "Contiguous"

    /// Turns the pattern's matches in `text` into pieces. `matches` are sorted and disjoint.
    func split(
        _ text: ArraySlice<Unicode.Scalar>, matches: [Range<Int>], invert: Bool,
        into output: inout [ArraySlice<Unicode.Scalar>]
    ) {
        // The text as alternating spans (match or not) that cover it, as `find_matches` gives.
        var spans: [(range: Range<Int>, isMatch: Bool)] = []
        var position = text.startIndex
        for match in matches where !match.isEmpty {
            if position < match.lowerBound { spans.append((position..<match.lowerBound, invert)) }
            spans.append((match, !invert))
            position = match.upperBound
        }
        if position < text.endIndex { spans.append((position..<text.endIndex, invert)) }

        var pieces: [Range<Int>] = []
        switch self {
        case .removed:
            pieces = spans.filter { !$0.isMatch }.map(\.range)
        case .isolated:
            pieces = spans.map(\.range)
        case .mergedWithPrevious:
            var previousMatch = false
            for span in spans {
                if span.isMatch, !previousMatch, let last = pieces.last {
                    pieces[pieces.count - 1] = last.lowerBound..<span.range.upperBound
                } else {
                    pieces.append(span.range)
                }
                previousMatch = span.isMatch
            }
        case .mergedWithNext:
            var previousMatch = false
            for span in spans.reversed() {
                if span.isMatch, !previousMatch, let last = pieces.last {
                    pieces[pieces.count - 1] = span.range.lowerBound..<last.upperBound
                } else {
                    pieces.append(span.range)
                }
                previousMatch = span.isMatch
            }
            pieces.reverse()
        case .contiguous:
            var previousMatch = false
            for span in spans {
                if span.isMatch == previousMatch, let last = pieces.last {
                    pieces[pieces.count - 1] = last.lowerBound..<span.range.upperBound
                } else {
                    pieces.append(span.range)
                }
                previousMatch = span.isMatch
            }
        }
        for piece in pieces where !piece.isEmpty { output.append(text[piece]) }
    }
}

/// The `pre_tokenizer` of a tokenizer.json: splits normalized text into words
/// (tokenizers/src/pre_tokenizers/{byte_level,digits,split,sequence}.rs).
indirect enum PreTokenizer: Sendable {
    /// Optional leading space, optional GPT-2 regex split, then every byte to its scalar.
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    /// Numbers (Rust `char::is_numeric`) isolated one by one, or in contiguous runs.
    case digits(individual: Bool)
    case split(pattern: SplitPattern, behavior: SplitBehavior, invert: Bool)
    case sequence([PreTokenizer])

    /// Parses the `pre_tokenizer` member; `null` gives nil.
    static func parse(_ value: JSONValue, field: String, path: String) throws(ModelError) -> PreTokenizer? {
        if value == .null { return nil }
        let type = try TokenizerJSON.string(value, "type", field: field, path: path)
        switch type {
        case "ByteLevel":
            return .byteLevel(
                addPrefixSpace: try TokenizerJSON.bool(value, "add_prefix_space", default: true, field: field, path: path),
                useRegex: try TokenizerJSON.bool(value, "use_regex", default: true, field: field, path: path))
        case "Digits":
            return .digits(
                individual: try TokenizerJSON.bool(value, "individual_digits", default: false, field: field, path: path))
        case "Split":
            guard let pattern = value["pattern"] else {
                throw .invalidTokenizer(path: path, detail: "\(field).pattern is missing")
            }
            let splitPattern: SplitPattern
            if let source = pattern["Regex"]?.stringValue {
                guard let known = SplitPattern(regex: source) else {
                    throw .invalidTokenizer(
                        path: path,
                        detail: "\(field).pattern.Regex '\(source)' is not supported; only the GPT-2, LLaMA-3 and Qwen2 patterns are")
                }
                splitPattern = known
            } else if let literal = pattern["String"]?.stringValue {
                splitPattern = .literal(Array(literal.unicodeScalars))
            } else {
                throw .invalidTokenizer(path: path, detail: "\(field).pattern must be {\"Regex\": …} or {\"String\": …}")
            }
            let behaviorName = try TokenizerJSON.string(value, "behavior", field: field, path: path)
            guard let behavior = SplitBehavior(rawValue: behaviorName) else {
                throw .invalidTokenizer(path: path, detail: "\(field).behavior '\(behaviorName)' is not supported")
            }
            return .split(
                pattern: splitPattern, behavior: behavior,
                invert: try TokenizerJSON.bool(value, "invert", default: false, field: field, path: path))
        case "Sequence":
            let items = try TokenizerJSON.array(value, "pretokenizers", field: field, path: path)
            var steps: [PreTokenizer] = []
            for (index, item) in items.enumerated() {
                if let step = try parse(item, field: "\(field).pretokenizers[\(index)]", path: path) { steps.append(step) }
            }
            return .sequence(steps)
        default:
            throw .invalidTokenizer(
                path: path,
                detail: "\(field).type '\(type)' is not supported (supported: ByteLevel, Digits, Split, Sequence)")
        }
    }

    /// Splits every piece of `pieces`.
    func apply(_ pieces: [ArraySlice<Unicode.Scalar>], alphabet: ByteLevelAlphabet) -> [ArraySlice<Unicode.Scalar>] {
        var output: [ArraySlice<Unicode.Scalar>] = []
        output.reserveCapacity(pieces.count)
        switch self {
        case .sequence(let steps):
            return steps.reduce(pieces) { $1.apply($0, alphabet: alphabet) }
        case .byteLevel(let addPrefixSpace, let useRegex):
            for var piece in pieces {
                if addPrefixSpace, piece.first != " " { piece = ([" "] + piece)[...] }
                if useRegex {
                    var index = piece.startIndex
                    while index < piece.endIndex {
                        let end = SplitPattern.gpt2MatchEnd(piece, at: index)
                        output.append(alphabet.map(piece[index..<end])[...])
                        index = end
                    }
                } else {
                    output.append(alphabet.map(piece)[...])
                }
            }
        case .digits(let individual):
            for piece in pieces {
                var matches: [Range<Int>] = []
                for index in piece.indices where ScalarClass.isNumber(piece[index]) { matches.append(index..<(index + 1)) }
                (individual ? SplitBehavior.isolated : .contiguous).split(
                    piece, matches: matches, invert: false, into: &output)
            }
        case .split(let pattern, let behavior, let invert):
            for piece in pieces {
                behavior.split(piece, matches: pattern.matches(in: piece), invert: invert, into: &output)
            }
        }
        return output
    }
}
