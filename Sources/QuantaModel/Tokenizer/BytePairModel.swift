import QuantaFormats

/// The `BPE` model of a tokenizer.json: a vocabulary and ranked merges
/// (Sennrich et al. 2016, "Neural Machine Translation of Rare Words with Subword Units";
/// tokenizers/src/models/bpe/{model,word}.rs). Words are merged pair by pair, always the
/// pair of lowest rank first and the leftmost of equal ranks, which is the order the
/// `tokenizers` priority queue produces.
struct BytePairModel: Sendable {
    /// A merge: its rank (position in `merges`) and the id of the merged token.
    struct Merge: Sendable {
        var rank: Int32
        var merged: Int32
    }

    /// Token text (UTF-8, compared byte for byte) → id.
    let vocabulary: [[UInt8]: Int]
    /// Id → token text; nil for ids that the vocabulary skips.
    let tokens: [String?]
    /// Ids of single-scalar tokens, the initial symbols of a word.
    let scalarIds: [Unicode.Scalar: Int]
    /// (left id, right id) packed as `left << 32 | right` → merge.
    let merges: [UInt64: Merge]
    /// Whether a word that is itself a token skips merging (`ignore_merges`).
    let ignoreMerges: Bool
    /// Whether unknown scalars become `<0xXX>` byte tokens (`byte_fallback`).
    let byteFallback: Bool
    let unknownId: Int?
    let fuseUnknown: Bool

    static func parse(_ model: JSONValue, path: String) throws(ModelError) -> BytePairModel {
        let field = "model"
        let type = try TokenizerJSON.optionalString(model, "type", field: field, path: path) ?? "BPE"
        guard type == "BPE" else {
            throw .invalidTokenizer(path: path, detail: "model.type '\(type)' is not supported; only byte-level BPE is")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let affix = try TokenizerJSON.optionalString(model, key, field: field, path: path), !affix.isEmpty {
                throw .invalidTokenizer(path: path, detail: "model.\(key) '\(affix)' is not supported")
            }
        }
        if let dropout = model["dropout"]?.doubleValue, dropout > 0 {
            throw .invalidTokenizer(path: path, detail: "model.dropout \(dropout) is not supported (tokenization must be deterministic)")
        }
        var vocabulary: [[UInt8]: Int] = [:]
        var tokens: [String?] = []
        var scalarIds: [Unicode.Scalar: Int] = [:]
        for (token, value) in try TokenizerJSON.object(model, "vocab", field: field, path: path) {
            // Ids index a dense table: bounded like a config's vocab_size.
            guard let id = value.integerValue, id >= 0, id < ModelConfig.Limits.vocabulary else {
                throw .invalidTokenizer(
                    path: path, detail: "model.vocab['\(token)'] must be an integer id in 0..<\(ModelConfig.Limits.vocabulary)")
            }
            let id32 = Int(id)
            vocabulary[Array(token.utf8)] = id32
            if id32 >= tokens.count { tokens.append(contentsOf: repeatElement(nil, count: id32 + 1 - tokens.count)) }
            tokens[id32] = token
            let scalars = token.unicodeScalars
            if scalars.count == 1 { scalarIds[scalars.first!] = id32 }
        }

        var merges: [UInt64: Merge] = [:]
        let entries = try TokenizerJSON.array(model, "merges", field: field, path: path)
        merges.reserveCapacity(entries.count)
        for (rank, entry) in entries.enumerated() {
            let pair: (String, String)
            switch entry {
            case .string(let text):
                // "a b": the first space separates the two tokens (tokenizers' legacy format).
                let parts = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw .invalidTokenizer(path: path, detail: "model.merges[\(rank)] '\(text)' is not 'a b'")
                }
                pair = (String(parts[0]), String(parts[1]))
            case .array(let items) where items.count == 2 && items.allSatisfy { $0.stringValue != nil }:
                pair = (items[0].stringValue!, items[1].stringValue!)
            default:
                throw .invalidTokenizer(path: path, detail: "model.merges[\(rank)] must be 'a b' or [a, b]")
            }
            func id(_ token: String) throws(ModelError) -> Int {
                guard let id = vocabulary[Array(token.utf8)] else {
                    throw .invalidTokenizer(
                        path: path, detail: "model.merges[\(rank)] refers to '\(token)', which is not in model.vocab")
                }
                return id
            }
            let left = try id(pair.0)
            let right = try id(pair.1)
            let merged = try id(pair.0 + pair.1)
            let key = UInt64(left) << 32 | UInt64(right)
            // The first (lowest-ranked) occurrence of a pair wins, as in tokenizers.
            if merges[key] == nil { merges[key] = Merge(rank: Int32(rank), merged: Int32(merged)) }
        }

        var unknownId: Int?
        if let unknown = try TokenizerJSON.optionalString(model, "unk_token", field: field, path: path) {
            guard let id = vocabulary[Array(unknown.utf8)] else {
                throw .invalidTokenizer(path: path, detail: "model.unk_token '\(unknown)' is not in model.vocab")
            }
            unknownId = id
        }
        return BytePairModel(
            vocabulary: vocabulary, tokens: tokens, scalarIds: scalarIds, merges: merges,
            ignoreMerges: try TokenizerJSON.bool(model, "ignore_merges", default: false, field: field, path: path),
            byteFallback: try TokenizerJSON.bool(model, "byte_fallback", default: false, field: field, path: path),
            unknownId: unknownId,
            fuseUnknown: try TokenizerJSON.bool(model, "fuse_unk", default: false, field: field, path: path))
    }

    /// Appends the ids of one pre-tokenized word to `ids`, through `cache`.
    func encode(_ word: ArraySlice<Unicode.Scalar>, into ids: inout [Int], cache: inout [[Unicode.Scalar]: [Int]]) {
        let key = Array(word)
        if let cached = cache[key] {
            ids.append(contentsOf: cached)
            return
        }
        let result = encodeUncached(word)
        cache[key] = result
        ids.append(contentsOf: result)
    }

    /// The ids of one word.
    func encodeUncached(_ word: ArraySlice<Unicode.Scalar>) -> [Int] {
        if ignoreMerges {
            var text = String.UnicodeScalarView()
            text.append(contentsOf: word)
            if let id = vocabulary[Array(String(text).utf8)] { return [id] }
        }
        var symbols: [Int] = []
        symbols.reserveCapacity(word.count)
        var previousUnknown = false
        for scalar in word {
            if let id = scalarIds[scalar] {
                symbols.append(id)
                previousUnknown = false
                continue
            }
            if byteFallback {
                let byteIds = UTF8.encode(scalar)!.map { vocabulary[Array(byteToken($0).utf8)] }
                if byteIds.allSatisfy({ $0 != nil }) {
                    symbols.append(contentsOf: byteIds.map { $0! })
                    previousUnknown = false
                    continue
                }
            }
            // Without an unknown token the scalar is dropped, as tokenizers does.
            guard let unknownId else { continue }
            if !(fuseUnknown && previousUnknown) { symbols.append(unknownId) }
            previousUnknown = true
        }
        return merge(symbols)
    }

    /// Applies merges to `symbols` until none applies: lowest rank first, leftmost on ties.
    func merge(_ symbols: [Int]) -> [Int] {
        var symbols = symbols
        while symbols.count > 1 {
            var bestRank = Int32.max
            var bestIndex = -1
            var bestMerged: Int32 = 0
            for index in 0..<(symbols.count - 1) {
                let key = UInt64(symbols[index]) << 32 | UInt64(symbols[index + 1])
                if let merge = merges[key], merge.rank < bestRank {
                    bestRank = merge.rank
                    bestIndex = index
                    bestMerged = merge.merged
                }
            }
            if bestIndex < 0 { break }
            symbols[bestIndex] = Int(bestMerged)
            symbols.remove(at: bestIndex + 1)
        }
        return symbols
    }

    /// The byte-fallback token for `byte`: `<0x0A>`.
    func byteToken(_ byte: UInt8) -> String {
        let hex = String(byte, radix: 16, uppercase: true)
        return "<0x" + (hex.count == 1 ? "0" + hex : hex) + ">"
    }
}
