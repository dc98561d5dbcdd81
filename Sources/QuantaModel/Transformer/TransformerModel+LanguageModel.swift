import QuantaTensor

extension TransformerModel: LanguageModel {
    public var contextLength: Int { config.maxPositionEmbeddings }

    /// One fresh window (no cache); the head runs on `rowsPerBlock` rows at a time so a
    /// 2048-token window never holds `2048 × vocab` logits at once.
    public func logits(
        for tokens: [Int], rowsPerBlock: Int, _ body: (_ rows: Range<Int>, _ logits: Matrix) throws -> Void
    ) throws {
        precondition(rowsPerBlock > 0, "rowsPerBlock must be positive")
        let hidden = try forward(tokens: tokens)
        for start in stride(from: 0, to: hidden.rows, by: rowsPerBlock) {
            let rows = start..<min(start + rowsPerBlock, hidden.rows)
            try body(rows, logits(hidden: hidden, rows: rows))
        }
    }
}
