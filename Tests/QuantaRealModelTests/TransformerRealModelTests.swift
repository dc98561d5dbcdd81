import Foundation
import QuantaFormats
import QuantaModel
import QuantaTensor
import Testing

/// The reference transformer on SmolLM2-135M-Instruct against transformers 5.24 in float32
/// (fixture: shared/fixtures/smollm2-reference.json `logits.plain` / `logits.chat`, computed
/// on the same GGUF dequantized to float32 with Q/K rows un-permuted).
@Suite(.serialized) struct TransformerRealModelTests {
    static let model: Result<TransformerModel, any Error> = Result {
        try TransformerModel(checkpoint: try RealModelEnvironment.checkpoint.get())
    }

    static func integers(_ value: JSONValue?) -> [Int] {
        guard case .array(let items) = value else { return [] }
        return items.compactMap { $0.integerValue.map(Int.init) }
    }

    static func doubles(_ value: JSONValue?) -> [Double] {
        guard case .array(let items) = value else { return [] }
        return items.compactMap(\.doubleValue)
    }

    @Test(arguments: ["plain", "chat"]) func logitsMatchTransformers(prompt: String) throws {
        let model = try Self.model.get()
        let fixture = try RealModelEnvironment.fixture("smollm2-reference.json")["logits"]![prompt]!
        let ids = Self.integers(fixture["ids"])
        #expect(!ids.isEmpty)
        var noCache: KVCache? = nil
        let logits = try model.logits(tokens: ids, cache: &noCache)

        // Arg-max at every position.
        let argmax = (0..<ids.count).map { TransformerModel.argmax(logits.row($0)) }
        #expect(argmax == Self.integers(fixture["argmax_per_position"]))

        // Last position: top-10 ids in order, their logits and the logsumexp to 1e-3 relative.
        let last = Array(logits.row(ids.count - 1))
        let top = last.indices.sorted { last[$0] > last[$1] }.prefix(10)
        #expect(Array(top) == Self.integers(fixture["last_top10_ids"]))
        var largestError = 0.0
        for (id, expected) in zip(Self.integers(fixture["last_top10_ids"]), Self.doubles(fixture["last_top10_logits"])) {
            let error = abs(Double(last[id]) - expected) / abs(expected)
            largestError = max(largestError, error)
            #expect(error < 1e-3, "logit of \(id): \(last[id]) vs \(expected)")
        }
        let maximum = Double(last.max()!)
        let logSumExp = maximum + log(last.reduce(0.0) { $0 + exp(Double($1) - maximum) })
        let expectedLogSumExp = fixture["last_logsumexp"]!.doubleValue!
        let logSumExpError = abs(logSumExp - expectedLogSumExp) / abs(expectedLogSumExp)
        #expect(logSumExpError < 1e-3, "logsumexp \(logSumExp) vs \(expectedLogSumExp)")
        print("TransformerRealModelTests \(prompt): top-10 logits max relative error \(largestError), logsumexp \(logSumExpError)")
    }

    @Test(arguments: ["plain", "chat"]) func greedyDecodingMatchesTransformers(prompt: String) throws {
        let model = try Self.model.get()
        let fixture = try RealModelEnvironment.fixture("smollm2-reference.json")["logits"]![prompt]!
        // transformers `generate` stops at eos_token_id (2, `<|im_end|>`), as the chat case does.
        let generated = try model.greedyTokens(
            prompt: Self.integers(fixture["ids"]), count: 12, stopTokens: Set(model.config.eosTokenIds))
        #expect(generated == Self.integers(fixture["greedy_12_ids"]))
    }
}
