import Foundation
import QuantaFormats
import QuantaModel
import Testing

/// Encoding and decoding with tiny in-code tokenizers. Expected ids come from Hugging Face
/// `tokenizers` 0.23.3 (`Tokenizer.from_str` on the same JSON, `encode(s).ids`).
@Suite struct TokenizerTests {
    @Test func mergesApplyLowestRankFirst() throws {
        #expect(try TinyTokenizer.tokenizer().encode("abc") == [256, 99])
        let reversed = TinyTokenizer.document(merges: [.string("b c"), .string("a b")])
        #expect(try TinyTokenizer.tokenizer(reversed).encode("abc") == [97, 257])
        // Merges given as [a, b] pairs rank the same way.
        let pairs = TinyTokenizer.document(merges: [.array([.string("b"), .string("c")]), .array([.string("a"), .string("b")])])
        #expect(try TinyTokenizer.tokenizer(pairs).encode("abc") == [97, 257])
        // A merged token that is merged again: "Ġ t" (rank 2), "h e" (3), "Ġt he" (4).
        #expect(try TinyTokenizer.tokenizer().encode(" the") == [260])
    }

    @Test func everyByteMapsToItsToken() throws {
        let tokenizer = try TinyTokenizer.tokenizer(TinyTokenizer.document(merges: [], extra: [], added: []))
        // Scalars whose UTF-8 covers every byte that valid UTF-8 can hold: ASCII, every 2-, 3-
        // and 4-byte lead byte, every continuation byte.
        var scalars = (0..<0x80).map { Unicode.Scalar($0)! }
        scalars += (0x80..<0x800).map { Unicode.Scalar($0)! }
        scalars += [0x800, 0x1000, 0x2000, 0x3000, 0x4000, 0x5000, 0x6000, 0x7000, 0x8000, 0x9000, 0xA000, 0xB000, 0xC000, 0xD000,
            0xE000, 0xF000, 0x10000, 0x40000, 0x80000, 0xC0000, 0x100000].map { Unicode.Scalar($0)! }
        var text = ""
        text.unicodeScalars.append(contentsOf: scalars)
        let bytes = Array(text.utf8).map(Int.init)
        #expect(Set(bytes).count == 256 - 13)  // C0, C1, F5…FF never occur in UTF-8
        #expect(tokenizer.encode(text) == bytes)
        #expect(tokenizer.decode(bytes) == text)
        for byte in 0..<256 { #expect(tokenizer.id(forToken: TinyTokenizer.alphabet[byte]) == byte) }
        #expect(tokenizer.token(forId: 32) == "\u{120}")
        #expect(tokenizer.token(forId: 10) == "\u{10A}")
        // Bytes that are not UTF-8 decode to U+FFFD, as `String::from_utf8_lossy` gives.
        #expect(tokenizer.decode([0xFF]) == "\u{FFFD}")
    }

    @Test func addedTokensAreSplitBeforePreTokenization() throws {
        let tokenizer = try TinyTokenizer.tokenizer()
        #expect(tokenizer.encode("x <|end|> the") == [120, 32, 262, 260])
        #expect(tokenizer.encode("x<|end|>the") == [120, 262, 116, 259])
        // lstrip + rstrip: the token absorbs the spaces on both sides.
        #expect(tokenizer.encode("a  <mask>  b") == [97, 263, 98])
        // single_word: "cd" matches only between non-word characters.
        #expect(tokenizer.encode("cd x") == [264, 32, 120])
        #expect(tokenizer.encode("xcd cd") == [120, 99, 100, 32, 264])
        #expect(tokenizer.decode([120, 262, 116, 259]) == "x<|end|>the")
        #expect(tokenizer.decode([120, 262, 116, 259], skipSpecialTokens: true) == "xthe")
        #expect(tokenizer.isSpecialToken(262) && !tokenizer.isSpecialToken(264))
        #expect(tokenizer.id(forToken: "<mask>") == 263)
        #expect(tokenizer.vocabularySize == 265)
    }

    @Test func digitsAreIsolatedBeforeMerging() throws {
        let tokenizer = try TinyTokenizer.tokenizer()
        #expect(tokenizer.encode("the a123 12") == [116, 259, 32, 97, 49, 50, 51, 32, 49, 50])
        #expect(tokenizer.encode("a12b") == [97, 49, 50, 98])
        // Without Digits the "1 2" merge applies.
        let plain = TinyTokenizer.document(preTokenizer: TinyTokenizer.byteLevel(addPrefixSpace: false))
        #expect(try TinyTokenizer.tokenizer(plain).encode("a12b") == [97, 261, 98])
        // Digits splits on Rust's char::is_numeric (Nd, Nl, No); contiguous runs when not individual.
        let runs = TinyTokenizer.document(preTokenizer: .object([
            ("type", .string("Digits")), ("individual_digits", .bool(false)),
        ]))
        #expect(try TinyTokenizer.tokenizer(runs).preTokenize("ab12 3x²Ⅻ٣") == ["ab", "12", " ", "3", "x", "²Ⅻ٣"])
        let single = TinyTokenizer.document(preTokenizer: .object([
            ("type", .string("Digits")), ("individual_digits", .bool(true)),
        ]))
        #expect(
            try TinyTokenizer.tokenizer(single).preTokenize("ab12 3x²Ⅻ٣") == ["ab", "1", "2", " ", "3", "x", "²", "Ⅻ", "٣"])
    }

    @Test func prefixSpaceAndTemplateAddBos() throws {
        let prefixed = TinyTokenizer.document(
            merges: [], extra: [], added: [], preTokenizer: TinyTokenizer.byteLevel(addPrefixSpace: true))
        let tokenizer = try TinyTokenizer.tokenizer(prefixed)
        #expect(tokenizer.encode("hi") == [32, 104, 105])
        #expect(tokenizer.encode(" hi") == [32, 104, 105])

        let bos: JSONValue = .object([("SpecialToken", .object([("id", .string("<|end|>")), ("type_id", .integer(0))]))])
        let sequence: JSONValue = .object([("Sequence", .object([("id", .string("A")), ("type_id", .integer(0))]))])
        let template: JSONValue = .object([
            ("type", .string("Sequence")),
            ("processors", .array([
                TinyTokenizer.byteLevel(addPrefixSpace: false),
                .object([
                    ("type", .string("TemplateProcessing")), ("single", .array([bos, sequence])),
                    ("special_tokens", .object([("<|end|>", .object([("id", .string("<|end|>")), ("ids", .array([.integer(262)]))]))])),
                ]),
            ])),
        ])
        let config: JSONValue = .object([
            ("bos_token", .string("<|end|>")), ("eos_token", .object([("content", .string("<mask>"))])),
        ])
        let withTemplate = try TinyTokenizer.tokenizer(TinyTokenizer.document(postProcessor: template), config: config)
        #expect(withTemplate.encode("abc", addSpecialTokens: true) == [262, 256, 99])
        #expect(withTemplate.encode("abc") == [256, 99])
        #expect(withTemplate.bosTokenId == 262)
        #expect(withTemplate.eosTokenId == 263)
        #expect(withTemplate.padTokenId == nil)
    }

    @Test func decodeRoundTripsText() throws {
        let tokenizer = try TinyTokenizer.tokenizer()
        for text in ["Héllo wörld — naïve café, 你好世界 🤗 Ελληνικά", "line\r\nnext\tTab  end\n\n", " the abc 123 <|end|>"] {
            #expect(tokenizer.decode(tokenizer.encode(text)) == text)
        }
    }

    @Test func normalizersApplyBeforePreTokenization() throws {
        let nfc = TinyTokenizer.document(normalizer: .object([
            ("type", .string("Sequence")), ("normalizers", .array([.object([("type", .string("NFC"))])])),
        ]))
        let tokenizer = try TinyTokenizer.tokenizer(nfc)
        #expect(tokenizer.encode("e\u{301}") == tokenizer.encode("\u{E9}"))
        #expect(tokenizer.encode("\u{E9}") == [0xC3, 0xA9])
        let nfkc = TinyTokenizer.document(normalizer: .object([("type", .string("NFKC"))]))
        #expect(try TinyTokenizer.tokenizer(nfkc).encode("\u{FB01}") == [102, 105])  // ﬁ → fi
    }

    @Test func ignoreMergesTakesWholeWords() throws {
        // "abc" is not a token, but with ignore_merges "bc" is taken whole although "a b" ranks first.
        let document = TinyTokenizer.document(extra: TinyTokenizer.extraTokens + ["xbc"], modelOverrides: [
            ("ignore_merges", .bool(true)),
        ])
        let tokenizer = try TinyTokenizer.tokenizer(document)
        #expect(tokenizer.encode("xbc") == [265])
        #expect(tokenizer.encode("abc") == [256, 99])
    }

    @Test func byteFallbackDecodes() throws {
        let document = TinyTokenizer.document(
            extra: TinyTokenizer.extraTokens + ["<0xE2>", "<0x82>", "<0xAC>"], preTokenizer: .null, modelOverrides: [("byte_fallback", .bool(true))])
        var json = document
        if case .object(var members) = json {
            members = members.map { $0.0 == "decoder" ? ($0.0, .object([("type", .string("ByteFallback"))])) : $0 }
            json = .object(members)
        }
        let tokenizer = try TinyTokenizer.tokenizer(json)
        // "€" is no single-scalar token here (no ByteLevel mapping): it falls back to its bytes.
        #expect(tokenizer.encode("a€") == [97, 265, 266, 267])
        #expect(tokenizer.decode([265, 266, 267]) == "€")
    }
}
