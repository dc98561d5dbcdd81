import Foundation
import QuantaModel

/// What a generation produced and how fast.
public struct GenerationResult: Sendable {
    public var promptTokens: Int
    public var generatedTokens: [Int]
    public var text: String
    public var prefillTokensPerSecond: Double
    public var decodeTokensPerSecond: Double
}

/// Decodes token by token with the KV cache: one prefill over the prompt, then one
/// incremental step per generated token; stops at the tokenizer's end-of-sequence token.
public struct TextGenerator {
    public let model: TransformerModel
    public let tokenizer: Tokenizer
    public var sampler: Sampler

    public init(model: TransformerModel, tokenizer: Tokenizer, sampler: Sampler) {
        self.model = model
        self.tokenizer = tokenizer
        self.sampler = sampler
    }

    /// Generates up to `maxTokens` after `prompt`, streaming decoded text pieces to `emit`.
    public mutating func generate(prompt: String, maxTokens: Int, emit: (String) -> Void = { _ in }) throws
        -> GenerationResult
    {
        let promptIds = tokenizer.encode(prompt)
        guard !promptIds.isEmpty else { throw ModelError.emptyInput(detail: "the prompt is empty; give some text") }
        guard promptIds.count + maxTokens <= model.contextLength else {
            throw ModelError.contextTooLong(requested: promptIds.count + maxTokens, maximum: model.contextLength)
        }
        var cache: KVCache? = model.makeCache(capacity: promptIds.count + maxTokens)
        let start = DispatchTime.now().uptimeNanoseconds
        var logits = try model.nextTokenLogits(tokens: promptIds, cache: &cache)
        let prefillEnd = DispatchTime.now().uptimeNanoseconds
        var generated: [Int] = []
        var emittedText = ""
        let stopTokens = Set([tokenizer.eosTokenId].compactMap { $0 })
        while generated.count < maxTokens {
            let next = logits.withUnsafeBufferPointer { sampler.next(from: $0) }
            if stopTokens.contains(next) { break }
            generated.append(next)
            // Decode the whole continuation so multi-byte characters split over tokens come out whole.
            let text = tokenizer.decode(generated, skipSpecialTokens: true)
            if text.hasPrefix(emittedText), !text.hasSuffix("\u{FFFD}") {
                emit(String(text.dropFirst(emittedText.count)))
                emittedText = text
            }
            if generated.count == maxTokens { break }
            logits = try model.nextTokenLogits(tokens: [next], cache: &cache)
        }
        let end = DispatchTime.now().uptimeNanoseconds
        let prefillSeconds = Double(prefillEnd - start) / 1e9
        let decodeSeconds = Double(end - prefillEnd) / 1e9
        return GenerationResult(
            promptTokens: promptIds.count, generatedTokens: generated,
            text: tokenizer.decode(generated, skipSpecialTokens: true),
            prefillTokensPerSecond: Double(promptIds.count) / max(prefillSeconds, 1e-9),
            decodeTokensPerSecond: Double(max(generated.count - 1, 0)) / max(decodeSeconds, 1e-9))
    }
}
