import Foundation

/// Builds Hugging Face `tokenizer.json`, `tokenizer_config.json` and `generation_config.json`
/// from a GGUF's `tokenizer.ggml.*` metadata, for byte-level BPE (`tokenizer.ggml.model` =
/// `gpt2`). The pre-tokenizer follows llama.cpp's `tokenizer.ggml.pre` (llama-vocab.cpp) in
/// the form Hugging Face `tokenizers` uses for the same models.
enum GGUFTokenizerBuilder {
    /// The three files' bytes.
    struct Files {
        var tokenizer: Data
        var tokenizerConfig: Data
        var generationConfig: Data
    }

    /// LLaMA-3's pre-tokenizer split pattern (tokenizer.json of Meta-Llama-3, llama.cpp `LLAMA3`).
    static let llama3Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    /// Qwen2's pattern: LLaMA-3's with single digits (llama.cpp `QWEN2`).
    static let qwen2Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// The token types of `tokenizer.ggml.token_type` that become added tokens:
    /// control (3) and user-defined (4), both marked special.
    static let addedTokenTypes: Set<Int> = [3, 4]

    /// The files, or nil when the GGUF carries no tokenizer. Only `gpt2` is supported.
    static func build(from file: GGUFFile, config: ModelConfig) throws(FormatError) -> Files? {
        guard let model = try file.string("tokenizer.ggml.model") else { return nil }
        guard model == "gpt2" else {
            throw .invalidField(
                path: file.path, field: "tokenizer.ggml.model",
                detail: "'\(model)' is not supported; only byte-level BPE ('gpt2') converts to tokenizer.json")
        }
        guard let tokens = try file.strings("tokenizer.ggml.tokens") else {
            throw .missingField(path: file.path, field: "tokenizer.ggml.tokens")
        }
        let types = try file.integers("tokenizer.ggml.token_type") ?? []
        guard types.isEmpty || types.count == tokens.count else {
            throw .invalidField(
                path: file.path, field: "tokenizer.ggml.token_type",
                detail: "\(types.count) entries for \(tokens.count) tokens")
        }
        var merges: [JSONValue] = []
        for (index, merge) in (try file.strings("tokenizer.ggml.merges") ?? []).enumerated() {
            let parts = merge.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, !parts[1].contains(" ") else {
                throw .invalidField(
                    path: file.path, field: "tokenizer.ggml.merges", detail: "entry \(index) '\(merge)' is not 'a b'")
            }
            merges.append(.array([.string(String(parts[0])), .string(String(parts[1]))]))
        }
        func token(_ key: String) throws(FormatError) -> String? {
            guard let id = try file.integer(key) else { return nil }
            guard tokens.indices.contains(id) else {
                throw .invalidField(path: file.path, field: key, detail: "token id \(id) is outside the vocabulary of \(tokens.count)")
            }
            return tokens[id]
        }
        let bos = try token("tokenizer.ggml.bos_token_id")
        let eos = try token("tokenizer.ggml.eos_token_id")
        let unknown = try token("tokenizer.ggml.unknown_token_id")
        let padding = try token("tokenizer.ggml.padding_token_id")
        let addBos = try file.bool("tokenizer.ggml.add_bos_token") ?? false
        let addEos = try file.bool("tokenizer.ggml.add_eos_token") ?? false
        let pre = try file.string("tokenizer.ggml.pre") ?? "default"

        var vocabulary: [(String, JSONValue)] = []
        var seen = Set<String>()
        var added: [JSONValue] = []
        var addedDecoder: [(String, JSONValue)] = []
        for (id, text) in tokens.enumerated() {
            if seen.insert(text).inserted { vocabulary.append((text, .integer(Int64(id)))) }
            guard !types.isEmpty, addedTokenTypes.contains(types[id]) else { continue }
            let properties: [(String, JSONValue)] = [
                ("content", .string(text)), ("single_word", .bool(false)), ("lstrip", .bool(false)),
                ("rstrip", .bool(false)), ("normalized", .bool(false)), ("special", .bool(true)),
            ]
            added.append(.object([("id", .integer(Int64(id)))] + properties))
            addedDecoder.append((String(id), .object(properties)))
        }

        let byteLevel: JSONValue = .object([
            ("type", .string("ByteLevel")), ("add_prefix_space", .bool(true)), ("trim_offsets", .bool(false)),
            ("use_regex", .bool(true)),
        ])
        var postProcessor = byteLevel
        if addBos, let bos, let bosId = try file.integer("tokenizer.ggml.bos_token_id") {
            postProcessor = .object([
                ("type", .string("Sequence")),
                ("processors", .array([byteLevel, templateProcessing(bos: bos, id: bosId)])),
            ])
        }
        let tokenizer: JSONValue = .object([
            ("version", .string("1.0")), ("truncation", .null), ("padding", .null),
            ("added_tokens", .array(added)), ("normalizer", .null),
            ("pre_tokenizer", preTokenizer(pre)),
            ("post_processor", postProcessor),
            ("decoder", .object([
                ("type", .string("ByteLevel")), ("add_prefix_space", .bool(true)), ("trim_offsets", .bool(true)),
                ("use_regex", .bool(true)),
            ])),
            ("model", .object([
                ("type", .string("BPE")), ("dropout", .null), ("unk_token", unknown.map(JSONValue.string) ?? .null),
                ("continuing_subword_prefix", .null), ("end_of_word_suffix", .null), ("fuse_unk", .bool(false)),
                ("byte_fallback", .bool(false)),
                // llama.cpp's LLAMA3 pre-tokenizer sets ignore_merges, as Llama-3's tokenizer.json does.
                ("ignore_merges", .bool(pre == "llama-bpe" || pre == "llama3")),
                ("vocab", .object(vocabulary)), ("merges", .array(merges)),
            ])),
        ])

        func optionalString(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        var tokenizerConfig: [(String, JSONValue)] = [
            ("add_bos_token", .bool(addBos)), ("add_eos_token", .bool(addEos)),
            ("added_tokens_decoder", .object(addedDecoder)),
            ("bos_token", optionalString(bos)), ("clean_up_tokenization_spaces", .bool(false)),
            ("eos_token", optionalString(eos)), ("model_max_length", .integer(Int64(config.maxPositionEmbeddings))),
            ("pad_token", optionalString(padding)),
            // The fast tokenizer class reads tokenizer.json as is (GPT2Tokenizer would drop Digits).
            ("tokenizer_class", .string("PreTrainedTokenizerFast")), ("unk_token", optionalString(unknown)),
        ]
        if let template = try file.string("tokenizer.chat_template") {
            tokenizerConfig.insert(("chat_template", .string(template)), at: 3)
        }
        var generation: [(String, JSONValue)] = [("_from_model_config", .bool(true))]
        if let id = config.bosTokenId { generation.append(("bos_token_id", .integer(Int64(id)))) }
        if let id = config.eosTokenIds.first { generation.append(("eos_token_id", .integer(Int64(id)))) }
        if let id = config.padTokenId { generation.append(("pad_token_id", .integer(Int64(id)))) }
        return Files(
            tokenizer: Data(tokenizer.serialized(pretty: false).utf8),
            tokenizerConfig: Data(JSONValue.object(tokenizerConfig).serialized().utf8),
            generationConfig: Data(JSONValue.object(generation).serialized().utf8))
    }

    /// The pre-tokenizer for llama.cpp's `tokenizer.ggml.pre` name.
    static func preTokenizer(_ pre: String) -> JSONValue {
        func byteLevel(useRegex: Bool) -> JSONValue {
            .object([
                ("type", .string("ByteLevel")), ("add_prefix_space", .bool(false)), ("trim_offsets", .bool(true)),
                ("use_regex", .bool(useRegex)),
            ])
        }
        func split(_ pattern: String) -> JSONValue {
            .object([
                ("type", .string("Split")), ("pattern", .object([("Regex", .string(pattern))])),
                ("behavior", .string("Isolated")), ("invert", .bool(false)),
            ])
        }
        func sequence(_ items: [JSONValue]) -> JSONValue {
            .object([("type", .string("Sequence")), ("pretokenizers", .array(items))])
        }
        switch pre {
        case "smollm":
            return sequence([
                .object([("type", .string("Digits")), ("individual_digits", .bool(true))]), byteLevel(useRegex: true),
            ])
        case "llama-bpe", "llama3": return sequence([split(llama3Pattern), byteLevel(useRegex: false)])
        case "qwen2": return sequence([split(qwen2Pattern), byteLevel(useRegex: false)])
        default: return byteLevel(useRegex: true)
        }
    }

    /// A post-processor that prepends the BOS token (as Llama-3's tokenizer.json does).
    static func templateProcessing(bos: String, id: Int) -> JSONValue {
        func special(_ name: String) -> JSONValue {
            .object([("SpecialToken", .object([("id", .string(name)), ("type_id", .integer(0))]))])
        }
        func sequence(_ name: String, _ typeId: Int64) -> JSONValue {
            .object([("Sequence", .object([("id", .string(name)), ("type_id", .integer(typeId))]))])
        }
        return .object([
            ("type", .string("TemplateProcessing")),
            ("single", .array([special(bos), sequence("A", 0)])),
            ("pair", .array([special(bos), sequence("A", 0), special(bos), sequence("B", 1)])),
            ("special_tokens", .object([
                (bos, .object([("id", .string(bos)), ("ids", .array([.integer(Int64(id))])), ("tokens", .array([.string(bos)]))])),
            ])),
        ])
    }
}
