import Foundation
import QuantaModel
import QuantaRuntime
import QuantaTensor
import Testing

/// A context-free model: every position gets the same logits, so perplexities and
/// divergences have closed forms.
struct UnigramModel: LanguageModel {
    var logitsRow: [Float]
    var contextLength = 64
    var vocabularySize: Int { logitsRow.count }

    func logits(for tokens: [Int], rowsPerBlock: Int, _ body: (Range<Int>, Matrix) throws -> Void) throws {
        var start = 0
        while start < tokens.count {
            let end = min(tokens.count, start + rowsPerBlock)
            let values = (start..<end).flatMap { _ in logitsRow }
            try body(start..<end, try Matrix(rows: end - start, columns: vocabularySize, values: values))
            start = end
        }
    }

    func logProbability(_ token: Int) -> Double {
        let logSumExp = log(logitsRow.reduce(0.0) { $0 + exp(Double($1)) })
        return Double(logitsRow[token]) - logSumExp
    }
}

@Suite struct PerplexityEvaluatorTests {
    let model = UnigramModel(logitsRow: [0.5, -1, 2, 0.25])
    let tokens = (0..<100).map { ($0 * 7 + $0 / 3) % 4 }

    /// Mean NLL over the targets of positions `scored` in each of `windows` windows of `context`.
    func expectedMeanNLL(context: Int, windows: Int, scored: Range<Int>) -> Double {
        var sum = 0.0
        for window in 0..<windows {
            for position in scored { sum -= model.logProbability(tokens[window * context + position + 1]) }
        }
        return sum / Double(windows * scored.count)
    }

    @Test func gptqProtocolScoresEveryPosition() throws {
        let result = try PerplexityEvaluator(protocolName: .gptq, context: 16).evaluate(model: model, tokens: tokens)
        #expect(result.windows == 6)
        #expect(result.tokensScored == 6 * 15)
        let expected = exp(expectedMeanNLL(context: 16, windows: 6, scored: 0..<15))
        #expect(abs(result.perplexity - expected) < 1e-6 * expected)
        #expect(result.windowMeanNLL.count == 6)
    }

    @Test func llamacppProtocolScoresTheSecondHalf() throws {
        var evaluator = PerplexityEvaluator(protocolName: .llamacpp, context: 16, windowLimit: 3)
        evaluator.rowsPerBlock = 5
        let result = try evaluator.evaluate(model: model, tokens: tokens)
        #expect(result.windows == 3)
        #expect(result.tokensScored == 3 * 7)
        let expected = exp(expectedMeanNLL(context: 16, windows: 3, scored: 8..<15))
        #expect(abs(result.perplexity - expected) < 1e-6 * expected)
        #expect(result.standardError > 0)
    }

    @Test func blockSizeDoesNotChangeTheResult() throws {
        var small = PerplexityEvaluator(protocolName: .gptq, context: 32)
        small.rowsPerBlock = 3
        let large = PerplexityEvaluator(protocolName: .gptq, context: 32)
        #expect(try small.evaluate(model: model, tokens: tokens).perplexity
            == large.evaluate(model: model, tokens: tokens).perplexity)
    }

    @Test func textShorterThanOneWindowIsAnError() {
        #expect(throws: RuntimeError.textTooShort(path: "t.txt", tokens: 10, needed: 16, detail: "one window of --context 16")) {
            try PerplexityEvaluator(protocolName: .gptq, context: 16).evaluate(model: model, tokens: Array(tokens[0..<10]), textPath: "t.txt")
        }
    }

    @Test func contextBeyondTheModelIsAnError() {
        #expect(throws: ModelError.contextTooLong(requested: 128, maximum: 64)) {
            try PerplexityEvaluator(protocolName: .gptq, context: 128).evaluate(model: model, tokens: tokens)
        }
        #expect(throws: RuntimeError.self) {
            try PerplexityEvaluator(protocolName: .llamacpp, context: 2).evaluate(model: model, tokens: tokens)
        }
    }

    @Test func divergenceOfIdenticalModelsIsZero() throws {
        let evaluator = DivergenceEvaluator(perplexity: PerplexityEvaluator(protocolName: .llamacpp, context: 16))
        let result = try evaluator.evaluate(model: model, reference: model, tokens: tokens)
        #expect(abs(result.meanKLDivergence) < 1e-7)
        #expect(result.topOneAgreement == 1)
        #expect(result.referencePerplexity == result.modelPerplexity)
    }

    @Test func divergenceMatchesClosedForm() throws {
        let other = UnigramModel(logitsRow: [0.5, 1, -2, 0.25])
        let evaluator = DivergenceEvaluator(perplexity: PerplexityEvaluator(protocolName: .gptq, context: 20))
        let result = try evaluator.evaluate(model: other, reference: model, tokens: tokens)
        var expected = 0.0
        for token in 0..<4 {
            let p = model.logProbability(token)
            expected += exp(p) * (p - other.logProbability(token))
        }
        #expect(abs(result.meanKLDivergence - expected) < 1e-5)
        #expect(result.topOneAgreement == 0)  // argmax 2 vs 1
        #expect(result.tokensScored == 5 * 19)
    }

    @Test func divergenceNeedsTheSameVocabulary() {
        let evaluator = DivergenceEvaluator(perplexity: PerplexityEvaluator(protocolName: .gptq, context: 16))
        #expect(throws: RuntimeError.vocabularyMismatch(reference: 4, model: 3)) {
            try evaluator.evaluate(model: UnigramModel(logitsRow: [0, 1, 2]), reference: model, tokens: tokens)
        }
    }
}

@Suite struct NonFiniteLogitTests {
    @Test func nonFiniteLogitsAreAnErrorNotANaNPerplexity() throws {
        let model = UnigramModel(logitsRow: [0, 1, .nan, 2])
        let evaluator = PerplexityEvaluator(protocolName: .llamacpp, context: 16)
        #expect(throws: RuntimeError.self) {
            _ = try evaluator.evaluate(model: model, tokens: Array(repeating: 1, count: 40))
        }
    }
}
