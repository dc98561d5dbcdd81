import Foundation
import QuantaFormats
import QuantaModel

/// Tiny in-code tokenizer.json files: every byte of GPT-2's byte-level alphabet (id = byte)
/// plus a handful of merged tokens.
enum TinyTokenizer {
    /// GPT-2's `bytes_to_unicode()` scalars for bytes 0…255, pasted from Python
    /// (`''.join(bytes_to_unicode()[b] for b in range(256))`, OpenAI gpt-2 encoder.py).
    static let alphabet = Array(
        "\u{100}\u{101}\u{102}\u{103}\u{104}\u{105}\u{106}\u{107}\u{108}\u{109}\u{10A}\u{10B}\u{10C}\u{10D}\u{10E}\u{10F}\u{110}\u{111}\u{112}\u{113}\u{114}\u{115}\u{116}\u{117}\u{118}\u{119}\u{11A}\u{11B}\u{11C}\u{11D}\u{11E}\u{11F}\u{120}!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~\u{121}\u{122}\u{123}\u{124}\u{125}\u{126}\u{127}\u{128}\u{129}\u{12A}\u{12B}\u{12C}\u{12D}\u{12E}\u{12F}\u{130}\u{131}\u{132}\u{133}\u{134}\u{135}\u{136}\u{137}\u{138}\u{139}\u{13A}\u{13B}\u{13C}\u{13D}\u{13E}\u{13F}\u{140}\u{141}\u{142}\u{A1}\u{A2}\u{A3}\u{A4}\u{A5}\u{A6}\u{A7}\u{A8}\u{A9}\u{AA}\u{AB}\u{AC}\u{143}\u{AE}\u{AF}\u{B0}\u{B1}\u{B2}\u{B3}\u{B4}\u{B5}\u{B6}\u{B7}\u{B8}\u{B9}\u{BA}\u{BB}\u{BC}\u{BD}\u{BE}\u{BF}\u{C0}\u{C1}\u{C2}\u{C3}\u{C4}\u{C5}\u{C6}\u{C7}\u{C8}\u{C9}\u{CA}\u{CB}\u{CC}\u{CD}\u{CE}\u{CF}\u{D0}\u{D1}\u{D2}\u{D3}\u{D4}\u{D5}\u{D6}\u{D7}\u{D8}\u{D9}\u{DA}\u{DB}\u{DC}\u{DD}\u{DE}\u{DF}\u{E0}\u{E1}\u{E2}\u{E3}\u{E4}\u{E5}\u{E6}\u{E7}\u{E8}\u{E9}\u{EA}\u{EB}\u{EC}\u{ED}\u{EE}\u{EF}\u{F0}\u{F1}\u{F2}\u{F3}\u{F4}\u{F5}\u{F6}\u{F7}\u{F8}\u{F9}\u{FA}\u{FB}\u{FC}\u{FD}\u{FE}\u{FF}"
            .unicodeScalars.map { String($0) })

    /// Tokens after the 256 bytes: ids 256, 257, ….
    static let extraTokens = ["ab", "bc", "\u{120}t", "he", "\u{120}the", "12", "<|end|>", "<mask>", "cd"]

    static let addedTokens: [JSONValue] = [
        added(id: 262, "<|end|>", special: true),
        added(id: 263, "<mask>", leftStrip: true, rightStrip: true, special: true),
        added(id: 264, "cd", singleWord: true, special: false),
    ]

    static let smolPreTokenizer: JSONValue = .object([
        ("type", .string("Sequence")),
        ("pretokenizers", .array([
            .object([("type", .string("Digits")), ("individual_digits", .bool(true))]),
            byteLevel(addPrefixSpace: false),
        ])),
    ])

    static func byteLevel(addPrefixSpace: Bool) -> JSONValue {
        .object([
            ("type", .string("ByteLevel")), ("add_prefix_space", .bool(addPrefixSpace)),
            ("trim_offsets", .bool(true)), ("use_regex", .bool(true)),
        ])
    }

    static func added(
        id: Int, _ content: String, singleWord: Bool = false, leftStrip: Bool = false, rightStrip: Bool = false,
        special: Bool
    ) -> JSONValue {
        .object([
            ("id", .integer(Int64(id))), ("content", .string(content)), ("single_word", .bool(singleWord)),
            ("lstrip", .bool(leftStrip)), ("rstrip", .bool(rightStrip)), ("normalized", .bool(false)),
            ("special", .bool(special)),
        ])
    }

    /// A tokenizer.json document; `model` members can be overridden by `modelOverrides`.
    static func document(
        merges: [JSONValue] = defaultMerges, extra: [String] = extraTokens, added: [JSONValue] = addedTokens,
        normalizer: JSONValue = .null, preTokenizer: JSONValue = smolPreTokenizer, postProcessor: JSONValue = .null,
        modelOverrides: [(String, JSONValue)] = []
    ) -> JSONValue {
        var vocabulary: [(String, JSONValue)] = alphabet.enumerated().map { ($1, .integer(Int64($0))) }
        for (index, token) in extra.enumerated() { vocabulary.append((token, .integer(Int64(256 + index)))) }
        var model: [(String, JSONValue)] = [
            ("type", .string("BPE")), ("unk_token", .null), ("ignore_merges", .bool(false)),
            ("byte_fallback", .bool(false)), ("vocab", .object(vocabulary)), ("merges", .array(merges)),
        ]
        for (key, value) in modelOverrides {
            if let index = model.firstIndex(where: { $0.0 == key }) { model[index].1 = value } else { model.append((key, value)) }
        }
        return .object([
            ("version", .string("1.0")), ("added_tokens", .array(added)), ("normalizer", normalizer),
            ("pre_tokenizer", preTokenizer), ("post_processor", postProcessor),
            ("decoder", .object([("type", .string("ByteLevel"))])), ("model", .object(model)),
        ])
    }

    static let defaultMerges: [JSONValue] = ["a b", "b c", "\u{120} t", "h e", "\u{120}t he", "1 2"].map { .string($0) }

    static func tokenizer(_ document: JSONValue = document(), config: JSONValue? = nil) throws -> Tokenizer {
        try Tokenizer(
            tokenizerJSON: Data(document.serialized().utf8),
            tokenizerConfig: config.map { Data($0.serialized().utf8) }, path: "/models/tiny/tokenizer.json")
    }

    /// The error message that loading `document` gives, or nil when it loads.
    static func loadError(_ document: JSONValue) -> String? {
        do {
            _ = try tokenizer(document)
            return nil
        } catch {
            return (error as? LocalizedError)?.errorDescription ?? "\(error)"
        }
    }
}
