import Foundation
import QuantaFormats
import QuantaModel
import Testing

/// Invalid tokenizer files and texts fail with messages naming the file and the field.
@Suite struct TokenizerErrorTests {
    static let path = "/models/tiny/tokenizer.json"

    @Test func unknownModelType() {
        let message = TinyTokenizer.loadError(TinyTokenizer.document(modelOverrides: [("type", .string("WordPiece"))]))
        #expect(message?.contains(Self.path) == true)
        #expect(message?.contains("model.type 'WordPiece'") == true)
    }

    @Test func unknownPreTokenizer() {
        let message = TinyTokenizer.loadError(TinyTokenizer.document(preTokenizer: .object([
            ("type", .string("Sequence")), ("pretokenizers", .array([.object([("type", .string("Whitespace"))])])),
        ])))
        #expect(message?.contains(Self.path) == true)
        #expect(message?.contains("pre_tokenizer.pretokenizers[0].type 'Whitespace'") == true)
    }

    @Test func unknownSplitPattern() {
        let message = TinyTokenizer.loadError(TinyTokenizer.document(preTokenizer: .object([
            ("type", .string("Split")), ("pattern", .object([("Regex", .string("\\w+"))])),
            ("behavior", .string("Isolated")), ("invert", .bool(false)),
        ])))
        #expect(message?.contains("pre_tokenizer.pattern.Regex '\\w+' is not supported") == true)
    }

    @Test func mergeWithUnknownToken() {
        let message = TinyTokenizer.loadError(TinyTokenizer.document(merges: [.string("a b"), .string("q zz")]))
        #expect(message?.contains(Self.path) == true)
        #expect(message?.contains("model.merges[1]") == true && message?.contains("'zz'") == true)
        let unmerged = TinyTokenizer.loadError(TinyTokenizer.document(merges: [.string("x y")]))
        #expect(unmerged?.contains("'xy', which is not in model.vocab") == true)
    }

    @Test func unsupportedNormalizer() {
        let message = TinyTokenizer.loadError(TinyTokenizer.document(normalizer: .object([("type", .string("Lowercase"))])))
        #expect(message?.contains("normalizer.type 'Lowercase'") == true)
    }

    @Test func notJSON() {
        #expect(throws: ModelError.self) {
            try Tokenizer(tokenizerJSON: Data("{\"model\": ".utf8), path: Self.path)
        }
    }

    @Test func invalidUTF8NamesTheOffset() throws {
        let path = NSTemporaryDirectory() + "quanta-text-\(UUID().uuidString).txt"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data([0x61, 0x62, 0x0D, 0x0A, 0xC3, 0xA9, 0xFF, 0x63]).write(to: URL(fileURLWithPath: path))
        #expect(throws: ModelError.invalidText(
            path: path, detail: "invalid UTF-8 at byte offset 6; convert the file to UTF-8 (e.g. iconv) first")) {
            try TextFile.read(path: path)
        }
        try Data([0x61, 0x0D, 0x0A, 0xC3, 0xA9]).write(to: URL(fileURLWithPath: path))
        #expect(try TextFile.read(path: path) == "a\r\n\u{E9}")
        #expect(try TextFile.read(path: path).unicodeScalars.count == 4)  // CR LF kept
    }

    @Test func directoryWithoutTokenizer() throws {
        let directory = NSTemporaryDirectory() + "quanta-empty-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(throws: ModelError.missingTokenizer(path: directory)) { try Tokenizer.load(modelPath: directory) }
        try Data(TinyTokenizer.document().serialized().utf8).write(
            to: URL(fileURLWithPath: directory + "/tokenizer.json"))
        #expect(try Tokenizer.load(modelPath: directory).encode("abc") == [256, 99])
    }
}

@Suite struct TokenizerBoundsTests {
    /// A token id indexes a dense table: a huge one is an error, not a 16 GB allocation.
    @Test func hugeTokenIdsAreErrors() {
        let vocabulary = #"{"version":"1.0","model":{"type":"BPE","vocab":{"a":0,"b":2000000000},"merges":[]}}"#
        #expect(throws: ModelError.self) { _ = try Tokenizer(tokenizerJSON: Data(vocabulary.utf8)) }
        let added = #"{"version":"1.0","added_tokens":[{"id":2000000000,"content":"<x>"}],"model":{"type":"BPE","vocab":{"a":0},"merges":[]}}"#
        #expect(throws: ModelError.self) { _ = try Tokenizer(tokenizerJSON: Data(added.utf8)) }
    }
}
