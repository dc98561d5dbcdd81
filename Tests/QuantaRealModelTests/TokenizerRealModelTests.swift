import Foundation
import QuantaFormats
import QuantaModel
import Testing

/// The SmolLM2 tokenizer (built from the GGUF metadata) must give exactly the ids of Hugging
/// Face `tokenizers` 0.23.3 (fixture: shared/fixtures/smollm2-reference.json).
@Suite(.serialized) struct TokenizerRealModelTests {
    static func tokenizer() throws -> Tokenizer {
        try Tokenizer(checkpoint: try RealModelEnvironment.checkpoint.get(), path: try RealModelEnvironment.ggufPath())
    }

    static func sha256(_ ids: [Int]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids { withUnsafeBytes(of: Int32(id).littleEndian) { bytes.append(contentsOf: $0) } }
        return bytes.withUnsafeBytes { SHA256.hexDigest($0) }
    }

    @Test func wikiTextTestFileMatchesTokenizers() throws {
        let expected = try RealModelEnvironment.fixture("smollm2-reference.json")["perplexity_fp32"]!["test_file"]!
        let text = try TextFile.read(path: RealModelEnvironment.sharedPath + "/data/wikitext-2-raw/wiki.test.raw")
        let ids = try Self.tokenizer().encode(text)
        #expect(ids.count == Int(expected["total_tokens"]!.integerValue!))
        #expect(Self.sha256(ids) == expected["token_ids_sha256_int32le"]!.stringValue!)
        if case .array(let first) = expected["first_12_ids"] {
            #expect(Array(ids.prefix(12)) == first.map { Int($0.integerValue!) })
        }
    }

    @Test func calibrationFileMatchesTokenizers() throws {
        let expected = try RealModelEnvironment.fixture("smollm2-reference.json")["calibration_file"]!
        let text = try TextFile.read(path: RealModelEnvironment.sharedPath + "/data/wikitext-2/valid.txt")
        let ids = try Self.tokenizer().encode(text)
        #expect(ids.count == Int(expected["total_tokens"]!.integerValue!))
        #expect(Self.sha256(ids) == expected["token_ids_sha256_int32le"]!.stringValue!)
    }

    @Test func fixtureStrings() throws {
        let tokenizer = try Self.tokenizer()
        let strings = try RealModelEnvironment.fixture("smollm2-reference.json")["tokenizer"]!["strings"]!
        for name in ["unicode", "newlines"] {
            let entry = strings[name]!
            guard case .array(let ids) = entry["ids"] else { continue }
            let text = entry["text"]!.stringValue!
            #expect(tokenizer.encode(text) == ids.map { Int($0.integerValue!) }, "\(name)")
            #expect(tokenizer.decode(tokenizer.encode(text)) == text)
        }
        // The stored ids of `numbers_spaces` are llama.cpp's; `tokenizers` (the reference) gives
        // these (tokenizers 0.23.3, Tokenizer.from_file(smollm2-tokenizer.json).encode(text).ids):
        let numbers = strings["numbers_spaces"]!["text"]!.stringValue!
        #expect(tokenizer.encode(numbers) == [
            788, 216, 34, 32, 34, 36, 16916, 436, 216, 35, 30, 33, 36, 33, 37, 41, 43, 256, 1296, 256, 5600, 28, 216, 33, 28,
            34, 35, 36, 28, 37, 38, 39, 3723, 216, 284, 333, 41, 41, 30, 37, 21, 216, 1112,
        ])
    }

    @Test func ggufAndFixtureTokenizerAgree() throws {
        let fromGGUF = try Tokenizer(gguf: GGUFFile(path: try RealModelEnvironment.ggufPath()))
        let fixture = try Tokenizer.load(modelPath: try RealModelEnvironment.ggufPath())
        let json = try Data(contentsOf: URL(fileURLWithPath: RealModelEnvironment.sharedPath + "/fixtures/smollm2-tokenizer.json"))
        let reference = try Tokenizer(tokenizerJSON: json)
        let text = "Hello <|im_start|>user\nWhat is 12+30?<|im_end|>\n"
        #expect(fromGGUF.encode(text) == reference.encode(text))
        #expect(fixture.encode(text) == reference.encode(text))
        #expect(fromGGUF.vocabularySize == 49152)
        #expect(fromGGUF.id(forToken: "<|im_start|>") == 1)
        #expect(fromGGUF.bosTokenId != nil && fromGGUF.eosTokenId != nil)
    }
}
