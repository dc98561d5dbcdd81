import Foundation

/// The `tokenizer.ggml.*` metadata of a byte-level BPE tokenizer (`tokenizer.ggml.model =
/// gpt2`), built from Hugging Face `tokenizer.json` and `tokenizer_config.json`: the inverse of
/// `GGUFTokenizerBuilder`. Keys and token types as llama.cpp `llama-vocab.cpp` reads them
/// (1 normal, 3 control, 4 user-defined, 5 unused).
enum GGUFTokenizerMetadata {
    /// The llama.cpp pre-tokenizer names whose Hugging Face form `GGUFTokenizerBuilder`
    /// knows; `tokenizer.json`'s `pre_tokenizer` must equal one of them.
    static let preTokenizerNames = ["smollm", "llama-bpe", "qwen2", "gpt-2"]

    static func entries(
        tokenizer: Data, tokenizerConfig: Data?, config: ModelConfig, path: String
    ) throws(FormatError) -> [GGUFMetadataEntry] {
        let tokenizerPath = path + " (tokenizer.json)"
        let json = try JSONValue.parse(tokenizer, path: tokenizerPath)
        let settings = try tokenizerConfig.map { (data) throws(FormatError) in
            try JSONValue.parse(data, path: path + " (tokenizer_config.json)")
        } ?? .object([])
        guard let model = json["model"], model["type"]?.stringValue == "BPE",
            json["decoder"]?["type"]?.stringValue == "ByteLevel"
        else {
            throw .invalidField(
                path: tokenizerPath, field: "model.type",
                detail: "only byte-level BPE tokenizers (model BPE with a ByteLevel decoder) export to GGUF so far")
        }
        guard case .object(let vocabulary)? = model["vocab"] else { throw .missingField(path: tokenizerPath, field: "model.vocab") }
        let size = config.vocabularySize
        var tokens = [String?](repeating: nil, count: size)
        var types = [Int32](repeating: 1, count: size)
        func place(_ text: String, _ id: Int64?, field: String) throws(FormatError) {
            guard let id, id >= 0, id < size else {
                throw .invalidField(path: tokenizerPath, field: field, detail: "id of '\(text)' is outside the vocabulary of \(size)")
            }
            tokens[Int(id)] = text
        }
        for (text, id) in vocabulary { try place(text, id.integerValue, field: "model.vocab") }
        if case .array(let added)? = json["added_tokens"] {
            for token in added {
                guard let text = token["content"]?.stringValue else { continue }
                let id = token["id"]?.integerValue
                try place(text, id, field: "added_tokens")
                types[Int(id!)] = token["special"] == .bool(true) ? 3 : 4
            }
        }
        // Ids the tokenizer never produces (a vocabulary padded to the embedding) are unused.
        for id in 0..<size where tokens[id] == nil {
            tokens[id] = "[PAD\(id)]"
            types[id] = 5
        }
        var merges: [GGUFValue] = []
        if case .array(let items)? = model["merges"] {
            for (index, item) in items.enumerated() {
                if let text = item.stringValue {
                    merges.append(.string(text))
                } else if case .array(let pair) = item, pair.count == 2, let first = pair[0].stringValue,
                    let second = pair[1].stringValue
                {
                    merges.append(.string(first + " " + second))
                } else {
                    throw .invalidField(path: tokenizerPath, field: "model.merges", detail: "entry \(index) is neither 'a b' nor [a, b]")
                }
            }
        }
        let pre = try preTokenizerName(json["pre_tokenizer"] ?? .null, path: tokenizerPath)
        var entries: [GGUFMetadataEntry] = [
            .init(key: "tokenizer.ggml.model", value: .string("gpt2")),
            .init(key: "tokenizer.ggml.pre", value: .string(pre)),
            .init(key: "tokenizer.ggml.tokens", value: .array(.string, tokens.map { .string($0 ?? "") })),
            .init(key: "tokenizer.ggml.token_type", value: .array(.int32, types.map { .int32($0) })),
            .init(key: "tokenizer.ggml.merges", value: .array(.string, merges)),
        ]
        func id(of key: String) -> Int? {
            let value = settings[key]
            let text = value?.stringValue ?? value?["content"]?.stringValue
            return text.flatMap { text in tokens.firstIndex { $0 == text } }
        }
        let specials: [(String, Int?)] = [
            ("bos_token_id", config.bosTokenId ?? id(of: "bos_token")),
            ("eos_token_id", config.eosTokenIds.first ?? id(of: "eos_token")),
            ("unknown_token_id", model["unk_token"]?.stringValue.flatMap { text in tokens.firstIndex { $0 == text } }),
            ("padding_token_id", config.padTokenId ?? id(of: "pad_token")),
        ]
        for (key, value) in specials {
            if let value { entries.append(.init(key: "tokenizer.ggml." + key, value: .uint32(UInt32(value)))) }
        }
        entries.append(.init(key: "tokenizer.ggml.add_bos_token", value: .bool(settings["add_bos_token"] == .bool(true))))
        // llama-perplexity and chat both need add_eos false; no byte-level BPE model adds EOS.
        entries.append(.init(key: "tokenizer.ggml.add_eos_token", value: .bool(false)))
        if let template = settings["chat_template"]?.stringValue {
            entries.append(.init(key: "tokenizer.chat_template", value: .string(template)))
        }
        return entries
    }

    /// The llama.cpp name of a Hugging Face pre-tokenizer, compared by content (key order
    /// ignored) with the form `GGUFTokenizerBuilder` writes for each name.
    static func preTokenizerName(_ preTokenizer: JSONValue, path: String) throws(FormatError) -> String {
        let target = canonical(preTokenizer)
        for name in preTokenizerNames {
            let builderName = name == "gpt-2" ? "default" : name
            if canonical(GGUFTokenizerBuilder.preTokenizer(builderName)) == target { return name }
        }
        throw .invalidField(
            path: path, field: "pre_tokenizer",
            detail: "is not one llama.cpp names here (\(preTokenizerNames.joined(separator: ", "))); llama.cpp would split text differently")
    }

    /// `value` with every object's members sorted by key.
    static func canonical(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let members): .object(members.map { ($0.0, canonical($0.1)) }.sorted { $0.0 < $1.0 })
        case .array(let items): .array(items.map(canonical))
        default: value
        }
    }
}
