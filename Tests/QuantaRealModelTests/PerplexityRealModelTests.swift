import Foundation
import QuantaModel
import QuantaRuntime
import Testing

/// Perplexity of the imported SmolLM2 against the references measured with transformers
/// (shared/fixtures/smollm2-reference.json `perplexity_fp32`: per-window mean NLLs of the
/// gptq protocol and per-chunk mean NLLs of the llamacpp protocol). CI runs a prefix of the
/// windows; `make validate-fp` runs the full 10 windows / 80 chunks.
@Suite(.serialized) struct PerplexityRealModelTests {
    static let model: Result<TransformerModel, any Error> = Result {
        try TransformerModel(checkpoint: RealModelEnvironment.checkpoint.get())
    }

    static let testTokens: Result<[Int], any Error> = Result {
        let checkpoint = try RealModelEnvironment.checkpoint.get()
        let tokenizer = try Tokenizer(checkpoint: checkpoint, path: "SmolLM2")
        let text = try TextFile.read(path: RealModelEnvironment.sharedPath + "/data/wikitext-2-raw/wiki.test.raw")
        return tokenizer.encode(text)
    }

    static var windows: Int {
        Int(ProcessInfo.processInfo.environment["QUANTA_PPL_WINDOWS"] ?? "") ?? 2
    }

    func check(protocolName: PerplexityProtocol, windows: Int, key: String, nllKey: String) throws {
        let reference = try RealModelEnvironment.fixture("smollm2-reference.json")["perplexity_fp32"]![key]!
        guard case .array(let expectedNLL) = reference[nllKey] else {
            Issue.record("fixture lacks \(nllKey)")
            return
        }
        let evaluator = PerplexityEvaluator(protocolName: protocolName, windowLimit: windows)
        let result = try evaluator.evaluate(model: try Self.model.get(), tokens: try Self.testTokens.get())
        #expect(result.windows == windows)
        let expected = expectedNLL.prefix(windows).compactMap(\.doubleValue)
        for (index, (ours, theirs)) in zip(result.windowMeanNLL, expected).enumerated() {
            #expect(abs(ours - theirs) <= 1e-3 * theirs, "window \(index): NLL \(ours) vs transformers \(theirs)")
        }
        let expectedPerplexity = exp(expected.reduce(0, +) / Double(expected.count))
        #expect(abs(result.perplexity - expectedPerplexity) <= 1e-3 * expectedPerplexity,
                "ppl \(result.perplexity) vs \(expectedPerplexity)")
        if windows == 10 && protocolName == .gptq {
            #expect(abs(result.perplexity - reference["ppl"]!.doubleValue!) <= 1e-3 * 19.6868)
        }
    }

    @Test func gptqProtocolMatchesTransformers() throws {
        try check(protocolName: .gptq, windows: min(Self.windows, 10), key: "protocol_a_gptq", nllKey: "window_mean_nll")
    }

    @Test func llamacppProtocolMatchesTransformers() throws {
        try check(protocolName: .llamacpp, windows: min(Self.windows * 4, 80), key: "protocol_b_llamacpp", nllKey: "chunk_mean_nll")
    }

    @Test func wholeTestFileTokenCount() throws {
        let expected = try RealModelEnvironment.fixture("smollm2-reference.json")["perplexity_fp32"]!["test_file"]!
        #expect(try Self.testTokens.get().count == Int(expected["total_tokens"]!.integerValue!))
    }
}
