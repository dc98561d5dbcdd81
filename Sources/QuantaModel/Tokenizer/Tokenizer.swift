import Foundation
import QuantaFormats

/// A byte-level BPE tokenizer loaded from a Hugging Face `tokenizer.json` (the format of the
/// `tokenizers` library) or from a GGUF's tokenizer metadata. Encoding follows the
/// `tokenizers` pipeline (tokenizers/src/tokenizer/mod.rs, `encode_single_sequence`): added
/// tokens are extracted from the raw text, the rest is normalized (where normalized added
/// tokens are extracted again), pre-tokenized into words, and each word is merged by the BPE
/// model; the post-processor adds special tokens on request. Ids equal those of `tokenizers`.
public struct Tokenizer: Sendable {
    let model: BytePairModel
    let normalizer: TokenNormalizer?
    let preTokenizer: PreTokenizer?
    let postProcessor: PostProcessor
    let decoder: TokenDecoder?
    let addedTokens: [AddedToken]
    let addedTokensById: [Int: AddedToken]
    let addedTokensByContent: [String: Int]
    /// Matches added tokens with `normalized: false` in the raw text.
    let rawMatcher: AddedTokenMatcher
    /// Matches added tokens with `normalized: true` in the normalized text.
    let normalizedMatcher: AddedTokenMatcher
    let alphabet = ByteLevelAlphabet()

    /// Ids + 1 of the largest id in the vocabulary or the added tokens.
    public let vocabularySize: Int
    /// The beginning-of-sequence token id (tokenizer_config.json `bos_token`), if known.
    public let bosTokenId: Int?
    /// The end-of-sequence token id (tokenizer_config.json `eos_token`), if known.
    public let eosTokenId: Int?
    /// The padding token id (tokenizer_config.json `pad_token`), if known.
    public let padTokenId: Int?

    /// Parses `tokenizer.json` bytes and, optionally, `tokenizer_config.json` bytes (special
    /// tokens). `path` names the source in errors.
    public init(tokenizerJSON: Data, tokenizerConfig: Data? = nil, path: String = "tokenizer.json") throws(ModelError) {
        let root: JSONValue
        do {
            root = try JSONValue.parse(tokenizerJSON, path: path)
        } catch {
            throw .invalidTokenizer(path: path, detail: error.errorDescription ?? "not valid JSON")
        }
        guard case .object = root else { throw .invalidTokenizer(path: path, detail: "the top level must be an object") }
        model = try BytePairModel.parse(try TokenizerJSON.member(root, "model", field: "tokenizer", path: path), path: path)
        normalizer = try TokenNormalizer.parse(root["normalizer"] ?? .null, field: "normalizer", path: path)
        preTokenizer = try PreTokenizer.parse(root["pre_tokenizer"] ?? .null, field: "pre_tokenizer", path: path)
        postProcessor = try PostProcessor.parse(root["post_processor"] ?? .null, field: "post_processor", path: path)
        decoder = try TokenDecoder.parse(root["decoder"] ?? .null, field: "decoder", path: path)

        var added: [AddedToken] = []
        if let list = root["added_tokens"], list != .null {
            guard case .array(let items) = list else {
                throw .invalidTokenizer(path: path, detail: "added_tokens must be an array")
            }
            for (index, item) in items.enumerated() {
                added.append(try AddedToken.parse(item, field: "added_tokens[\(index)]", path: path))
            }
        }
        addedTokens = added
        addedTokensById = Dictionary(added.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
        addedTokensByContent = Dictionary(added.map { ($0.content, $0.id) }, uniquingKeysWith: { $1 })
        rawMatcher = AddedTokenMatcher(tokens: added.filter { !$0.normalized })
        let normalizer = normalizer
        normalizedMatcher = AddedTokenMatcher(tokens: added.filter(\.normalized)) { normalizer?.apply($0[...]) ?? $0 }
        vocabularySize = max(model.tokens.count, (added.map(\.id).max() ?? -1) + 1)

        var special: [String: Int] = [:]
        if let tokenizerConfig {
            let configPath = (path as NSString).deletingLastPathComponent.isEmpty
                ? "tokenizer_config.json" : (path as NSString).deletingLastPathComponent + "/tokenizer_config.json"
            let config: JSONValue
            do {
                config = try JSONValue.parse(tokenizerConfig, path: configPath)
            } catch {
                throw .invalidTokenizer(path: configPath, detail: error.errorDescription ?? "not valid JSON")
            }
            for key in ["bos_token", "eos_token", "pad_token"] {
                guard let value = config[key], value != .null else { continue }
                guard let content = value.stringValue ?? value["content"]?.stringValue else {
                    throw .invalidTokenizer(path: configPath, detail: "\(key) must be a string or an object with 'content'")
                }
                guard let id = addedTokensByContent[content] ?? model.vocabulary[Array(content.utf8)] else {
                    throw .invalidTokenizer(path: configPath, detail: "\(key) '\(content)' is not in the vocabulary")
                }
                special[key] = id
            }
        }
        bosTokenId = special["bos_token"]
        eosTokenId = special["eos_token"]
        padTokenId = special["pad_token"]
    }

    /// The ids of `text`. With `addSpecialTokens`, the post-processor's template (e.g. a BOS
    /// token) is applied, as `tokenizers`' `encode(text, add_special_tokens=True)` does.
    public func encode(_ text: String, addSpecialTokens: Bool = false) -> [Int] {
        let scalars = Array(text.unicodeScalars)
        var ids: [Int] = []
        ids.reserveCapacity(scalars.count / 3)
        var cache: [[Unicode.Scalar]: [Int]] = [:]
        for segment in rawMatcher.split(scalars[...]) {
            switch segment {
            case .token(let id): ids.append(id)
            case .text(let raw):
                let normalized = normalizer.map { $0.apply(raw)[...] } ?? raw
                for part in normalizedMatcher.split(normalized) {
                    switch part {
                    case .token(let id): ids.append(id)
                    case .text(let piece): encodePlain(piece, into: &ids, cache: &cache)
                    }
                }
            }
        }
        return addSpecialTokens ? postProcessor.apply(ids) : ids
    }

    /// Pre-tokenizes and merges text that holds no added token.
    private func encodePlain(
        _ text: ArraySlice<Unicode.Scalar>, into ids: inout [Int], cache: inout [[Unicode.Scalar]: [Int]]
    ) {
        guard !text.isEmpty else { return }
        let words = preTokenizer?.apply([text], alphabet: alphabet) ?? [text]
        for word in words { model.encode(word, into: &ids, cache: &cache) }
    }

    /// The words the normalizer and pre-tokenizer make of `text` (no added-token extraction),
    /// as `tokenizers`' `pre_tokenizer.pre_tokenize_str` shows them: after `ByteLevel`, in
    /// byte-level scalars (a space is `Ġ`).
    public func preTokenize(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        let normalized = normalizer.map { $0.apply(scalars[...])[...] } ?? scalars[...]
        guard !normalized.isEmpty else { return [] }
        let words = preTokenizer?.apply([normalized], alphabet: alphabet) ?? [normalized]
        return words.map { word in
            var string = ""
            string.unicodeScalars.append(contentsOf: word)
            return string
        }
    }

    /// The text of `ids`. Unknown ids are skipped; with `skipSpecialTokens`, so are special
    /// added tokens. Without a decoder, tokens are joined by spaces (as `tokenizers` does).
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        var tokens: [String] = []
        tokens.reserveCapacity(ids.count)
        for id in ids {
            if let added = addedTokensById[id] {
                if skipSpecialTokens && added.special { continue }
                tokens.append(added.content)
            } else if let token = token(forId: id) {
                tokens.append(token)
            }
        }
        guard let decoder else { return tokens.joined(separator: " ") }
        return decoder.decode(tokens, alphabet: alphabet).joined()
    }

    /// The id of a token's text (added tokens first, then the vocabulary).
    public func id(forToken token: String) -> Int? {
        addedTokensByContent[token] ?? model.vocabulary[Array(token.utf8)]
    }

    /// The text of token `id`, or nil outside the vocabulary.
    public func token(forId id: Int) -> String? {
        if let added = addedTokensById[id] { return added.content }
        guard id >= 0, id < model.tokens.count else { return nil }
        return model.tokens[id]
    }

    /// Whether `id` is a special added token (e.g. `<|endoftext|>`).
    public func isSpecialToken(_ id: Int) -> Bool {
        addedTokensById[id]?.special ?? false
    }
}
