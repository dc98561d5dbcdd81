import Foundation
import QuantaModel
import QuantaTensor

/// KL divergence of a model's next-token distribution from a reference model's, over the
/// same windows and scored positions as a perplexity protocol (llama.cpp's
/// `--kl-divergence`: mean KLD and "same top p", i.e. top-1 agreement).
public struct DivergenceResult: Sendable, Equatable {
    public var protocolName: PerplexityProtocol
    public var context: Int
    public var windows: Int
    public var tokensScored: Int
    /// Mean over scored positions of KL(P_reference ‖ P_model), in nats.
    public var meanKLDivergence: Double
    /// Largest per-position KL divergence.
    public var maximumKLDivergence: Double
    /// Fraction of positions where both models' most likely token agree.
    public var topOneAgreement: Double
    public var referencePerplexity: Double
    public var modelPerplexity: Double
    public var seconds: Double
}

public struct DivergenceEvaluator: Sendable {
    public var perplexity: PerplexityEvaluator

    public init(perplexity: PerplexityEvaluator) {
        self.perplexity = perplexity
    }

    /// Runs both models over the windows of `tokens`. Memory: one window of reference
    /// log-probabilities (scored positions × vocabulary floats).
    public func evaluate(
        model: any LanguageModel, reference: any LanguageModel, tokens: [Int], textPath: String = "text",
        progress: EvaluationProgress? = nil
    ) throws -> DivergenceResult {
        guard model.vocabularySize == reference.vocabularySize else {
            throw RuntimeError.vocabularyMismatch(reference: reference.vocabularySize, model: model.vocabularySize)
        }
        let context = perplexity.context
        let windows = try perplexity.windowCount(tokenCount: tokens.count, model: model, textPath: textPath)
        _ = try perplexity.windowCount(tokenCount: tokens.count, model: reference, textPath: textPath)
        let scored = perplexity.protocolName.scoredPositions(context: context)
        let vocabulary = model.vocabularySize
        let start = DispatchTime.now().uptimeNanoseconds
        var totals = (divergence: 0.0, maximum: 0.0, agreements: 0, referenceNLL: 0.0, modelNLL: 0.0, count: 0)
        var referenceLogProbabilities = [Float](repeating: 0, count: scored.count * vocabulary)
        var referenceArgmax = [Int](repeating: 0, count: scored.count)
        for window in 0..<windows {
            let windowTokens = Array(tokens[(window * context)..<((window + 1) * context)])
            try reference.logits(for: windowTokens, rowsPerBlock: perplexity.rowsPerBlock) { rows, logits in
                LogSoftmax.forEachScoredRow(of: logits, rows: rows, scored: scored) { position, row in
                    let logSumExp = Float(LogSoftmax.logSumExp(row))
                    let slot = position - scored.lowerBound
                    for index in 0..<vocabulary {
                        referenceLogProbabilities[slot * vocabulary + index] = row[index] - logSumExp
                    }
                    referenceArgmax[slot] = LogSoftmax.argmax(row)
                    totals.referenceNLL -= Double(row[windowTokens[position + 1]] - logSumExp)
                }
            }
            try model.logits(for: windowTokens, rowsPerBlock: perplexity.rowsPerBlock) { rows, logits in
                LogSoftmax.forEachScoredRow(of: logits, rows: rows, scored: scored) { position, row in
                    let logSumExp = Float(LogSoftmax.logSumExp(row))
                    let slot = position - scored.lowerBound
                    var divergence = 0.0
                    for index in 0..<vocabulary {
                        let referenceLog = referenceLogProbabilities[slot * vocabulary + index]
                        let probability = expf(referenceLog)
                        if probability > 0 {
                            divergence += Double(probability * (referenceLog - (row[index] - logSumExp)))
                        }
                    }
                    totals.divergence += divergence
                    totals.maximum = max(totals.maximum, divergence)
                    if LogSoftmax.argmax(row) == referenceArgmax[slot] { totals.agreements += 1 }
                    totals.modelNLL -= Double(row[windowTokens[position + 1]] - logSumExp)
                    totals.count += 1
                }
            }
            progress?(window + 1, windows, PerplexityEvaluator.seconds(since: start))
        }
        let count = Double(totals.count)
        return DivergenceResult(
            protocolName: perplexity.protocolName, context: context, windows: windows, tokensScored: totals.count,
            meanKLDivergence: totals.divergence / count, maximumKLDivergence: totals.maximum,
            topOneAgreement: Double(totals.agreements) / count, referencePerplexity: exp(totals.referenceNLL / count),
            modelPerplexity: exp(totals.modelNLL / count), seconds: PerplexityEvaluator.seconds(since: start))
    }
}
