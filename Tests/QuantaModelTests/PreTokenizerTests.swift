import Foundation
import QuantaFormats
import QuantaModel
import Testing

/// Pre-tokenizer splits. Expected pieces computed once with Hugging Face `tokenizers` 0.23.3:
/// `pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True).pre_tokenize_str(s)` and
/// `pre_tokenizers.Split(Regex(pattern), "isolated").pre_tokenize_str(s)` for the LLaMA-3 and
/// Qwen2 patterns (GGUFTokenizerBuilder.llama3Pattern / qwen2Pattern).
@Suite struct PreTokenizerTests {
    static func tokenizer(_ preTokenizer: JSONValue) throws -> Tokenizer {
        try TinyTokenizer.tokenizer(TinyTokenizer.document(merges: [], extra: [], added: [], preTokenizer: preTokenizer))
    }

    static func split(_ pattern: String) -> JSONValue {
        .object([
            ("type", .string("Split")), ("pattern", .object([("Regex", .string(pattern))])),
            ("behavior", .string("Isolated")), ("invert", .bool(false)),
        ])
    }

    static let llama3 =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2 =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    @Test func gpt2RegexMatchesTokenizers() throws {
        let tokenizer = try Self.tokenizer(TinyTokenizer.byteLevel(addPrefixSpace: false))
        let cases: [(String, [String])] = [
            ("I'm can't we'll they'd she's you're I've O'Neil 'S",
             ["I", "'m", "Ġcan", "'t", "Ġwe", "'ll", "Ġthey", "'d", "Ġshe", "'s", "Ġyou", "'re", "ĠI", "'ve", "ĠO", "'", "Neil", "Ġ'", "S"]),
            ("a  b   1  22\n\n  x", ["a", "Ġ", "Ġb", "ĠĠ", "Ġ1", "Ġ", "Ġ22", "ĊĊĠ", "Ġx"]),
            ("line\r\nnext\tTab \t end  ", ["line", "č", "Ċ", "next", "ĉ", "Tab", "Ġĉ", "Ġend", "ĠĠ"]),
            ("Héllo naïve e\u{301}cole 你好 🤗🤗 x²³ Ⅻ",
             ["HÃ©llo", "ĠnaÃ¯ve", "Ġe", "Ìģ", "cole", "Ġä½łå¥½", "ĠðŁ¤ĹðŁ¤Ĺ", "Ġx", "Â²Â³", "Ġâħ«"]),
            ("   ", ["ĠĠĠ"]),
            ("x \u{A0}y\u{3000}z", ["x", "Ġ", "Âł", "y", "ãĢĢ", "z"]),
            ("", []),
        ]
        for (text, expected) in cases { #expect(tokenizer.preTokenize(text) == expected, "\(text.debugDescription)") }
    }

    static let splitInputs = [
        "I'M can'T we'LL x'Re 'S", "a  b   1  22\n\n  x", "line\r\nnext\tTab \t end  \r\n\r\n",
        "12345 x1234567!!\n\n)\n", "Héllo naïve e\u{301}cole 你好 🤗🤗 x²³ Ⅻ", " \u{A0}y\u{3000}z ,,. ?!\n",
        "\thello -world \n\tfoo",
    ]

    @Test func llama3PatternMatchesTokenizers() throws {
        let tokenizer = try Self.tokenizer(Self.split(Self.llama3))
        let expected: [[String]] = [
            ["I", "'M", " can", "'T", " we", "'LL", " x", "'Re", " '", "S"],
            ["a", " ", " b", "  ", " ", "1", " ", " ", "22", "\n\n", " ", " x"],
            ["line", "\r\n", "next", "\tTab", " \t", " end", "  \r\n\r\n"],
            ["123", "45", " x", "123", "456", "7", "!!\n\n", ")\n"],
            ["Héllo", " naïve", " e", "\u{301}cole", " 你好", " 🤗🤗", " x", "²³", " ", "Ⅻ"],
            [" ", "\u{A0}y", "\u{3000}z", " ,,.", " ?!\n"],
            ["\thello", " -", "world", " \n", "\tfoo"],
        ]
        for (text, pieces) in zip(Self.splitInputs, expected) {
            #expect(tokenizer.preTokenize(text) == pieces, "\(text.debugDescription)")
        }
    }

    @Test func qwen2PatternMatchesTokenizers() throws {
        let tokenizer = try Self.tokenizer(Self.split(Self.qwen2))
        let expected: [[String]] = [
            ["I", "'M", " can", "'T", " we", "'LL", " x", "'Re", " '", "S"],
            ["a", " ", " b", "  ", " ", "1", " ", " ", "2", "2", "\n\n", " ", " x"],
            ["line", "\r\n", "next", "\tTab", " \t", " end", "  \r\n\r\n"],
            ["1", "2", "3", "4", "5", " x", "1", "2", "3", "4", "5", "6", "7", "!!\n\n", ")\n"],
            ["Héllo", " naïve", " e", "\u{301}cole", " 你好", " 🤗🤗", " x", "²", "³", " ", "Ⅻ"],
            [" ", "\u{A0}y", "\u{3000}z", " ,,.", " ?!\n"],
            ["\thello", " -", "world", " \n", "\tfoo"],
        ]
        for (text, pieces) in zip(Self.splitInputs, expected) {
            #expect(tokenizer.preTokenize(text) == pieces, "\(text.debugDescription)")
        }
    }

    @Test func splitBehaviorsOnALiteral() throws {
        // pre_tokenizers.Split(" ", behavior).pre_tokenize_str("a  b c ")
        let expected: [(String, [String])] = [
            ("Removed", ["a", "b", "c"]), ("Isolated", ["a", " ", " ", "b", " ", "c", " "]),
            ("MergedWithPrevious", ["a ", " ", "b ", "c "]), ("MergedWithNext", ["a", " ", " b", " c", " "]),
            ("Contiguous", ["a", "  ", "b", " ", "c", " "]),
        ]
        for (behavior, pieces) in expected {
            let tokenizer = try Self.tokenizer(.object([
                ("type", .string("Split")), ("pattern", .object([("String", .string(" "))])),
                ("behavior", .string(behavior)), ("invert", .bool(false)),
            ]))
            #expect(tokenizer.preTokenize("a  b c ") == pieces, "\(behavior)")
        }
    }
}
