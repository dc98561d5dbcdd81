import Foundation
import QuantaModel
import QuantaTensor

/// The result of a perplexity run.
public struct PerplexityResult: Sendable, Equatable {
    public var protocolName: PerplexityProtocol
    public var context: Int
    public var windows: Int
    public var tokensScored: Int
    /// exp(mean NLL).
    public var perplexity: Double
    /// Standard error of the perplexity: ppl · sqrt(var(NLL) / (N − 1)), as llama.cpp reports.
    public var standardError: Double
    /// Mean NLL of each window, in order.
    public var windowMeanNLL: [Double]
    public var seconds: Double

    /// Tokens run through the model per second (windows × context / seconds).
    public var tokensPerSecond: Double { seconds > 0 ? Double(windows * context) / seconds : 0 }
}

/// Progress of a multi-window run: windows done, windows in all, seconds so far.
public typealias EvaluationProgress = (_ done: Int, _ total: Int, _ elapsed: Double) -> Void

/// Perplexity over any `LanguageModel` with a named protocol.
public struct PerplexityEvaluator: Sendable {
    public var protocolName: PerplexityProtocol
    public var context: Int
    /// Evaluate only the first `windowLimit` windows (nil: all).
    public var windowLimit: Int?
    /// Rows of logits handled at a time (bounds memory to rowsPerBlock × vocabulary floats).
    public var rowsPerBlock = 256

    public init(protocolName: PerplexityProtocol, context: Int? = nil, windowLimit: Int? = nil) {
        self.protocolName = protocolName
        self.context = context ?? protocolName.defaultContext
        self.windowLimit = windowLimit
    }

    /// Checks the options against `model` and the token count; returns the window count.
    public func windowCount(tokenCount: Int, model: any LanguageModel, textPath: String) throws -> Int {
        guard context >= protocolName.minimumContext else {
            throw RuntimeError.invalidOption(
                name: "context",
                detail: "must be at least \(protocolName.minimumContext) for the \(protocolName.rawValue) protocol")
        }
        if let windowLimit, windowLimit < 1 {
            throw RuntimeError.invalidOption(name: "windows", detail: "must be at least 1")
        }
        guard context <= model.contextLength else {
            throw ModelError.contextTooLong(requested: context, maximum: model.contextLength)
        }
        let available = tokenCount / context
        guard available >= 1 else {
            throw RuntimeError.textTooShort(
                path: textPath, tokens: tokenCount, needed: context, detail: "one window of --context \(context)")
        }
        return min(available, windowLimit ?? available)
    }

    /// Runs the evaluation over `tokens` (the whole tokenized text).
    public func evaluate(
        model: any LanguageModel, tokens: [Int], textPath: String = "text", progress: EvaluationProgress? = nil
    ) throws -> PerplexityResult {
        let windows = try windowCount(tokenCount: tokens.count, model: model, textPath: textPath)
        let scored = protocolName.scoredPositions(context: context)
        let start = DispatchTime.now().uptimeNanoseconds
        var windowMeans: [Double] = []
        var sum = 0.0
        var sumOfSquares = 0.0
        var count = 0
        for window in 0..<windows {
            let windowTokens = Array(tokens[(window * context)..<((window + 1) * context)])
            var windowSum = 0.0
            var nonFinite: Int?
            try model.logits(for: windowTokens, rowsPerBlock: rowsPerBlock) { rows, logits in
                LogSoftmax.forEachScoredRow(of: logits, rows: rows, scored: scored) { position, row in
                    let nll = LogSoftmax.logSumExp(row) - Double(row[windowTokens[position + 1]])
                    if !nll.isFinite, nonFinite == nil { nonFinite = position }
                    windowSum += nll
                    sumOfSquares += nll * nll
                }
            }
            if let nonFinite { throw RuntimeError.nonFiniteOutput(window: window, position: nonFinite) }
            sum += windowSum
            count += scored.count
            windowMeans.append(windowSum / Double(scored.count))
            progress?(window + 1, windows, Self.seconds(since: start))
        }
        let mean = sum / Double(count)
        let perplexity = exp(mean)
        let variance = max(0, sumOfSquares / Double(count) - mean * mean)
        let standardError = count > 1 ? perplexity * (variance / Double(count - 1)).squareRoot() : 0
        return PerplexityResult(
            protocolName: protocolName, context: context, windows: windows, tokensScored: count, perplexity: perplexity,
            standardError: standardError, windowMeanNLL: windowMeans, seconds: Self.seconds(since: start))
    }

    static func seconds(since start: UInt64) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}
