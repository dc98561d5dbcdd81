import QuantaTensor

/// Anything that gives next-token logits for a window of tokens: the FP reference model,
/// simulated-quantized and packed models alike. Perplexity and KL divergence are measured
/// through this protocol only.
public protocol LanguageModel {
    var vocabularySize: Int { get }
    /// The longest window the model supports (`max_position_embeddings`).
    var contextLength: Int { get }

    /// Runs `tokens` as one fresh window (positions 0..<count, no cache) and hands the
    /// logits to `body` in consecutive blocks of at most `rowsPerBlock` rows, so callers
    /// never need the whole `count × vocabularySize` matrix. `rows` are the positions of
    /// the block; `logits` is `rows.count × vocabularySize`.
    func logits(
        for tokens: [Int], rowsPerBlock: Int, _ body: (_ rows: Range<Int>, _ logits: Matrix) throws -> Void
    ) throws
}
