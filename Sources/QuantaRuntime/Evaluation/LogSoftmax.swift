/// Row-wise log-softmax pieces, computed in f32 like PyTorch's cross-entropy with the sum
/// of exponentials accumulated in f64 for stability over large vocabularies.
import QuantaTensor

enum LogSoftmax {
    /// log Σ exp(row) with max subtraction.
    static func logSumExp(_ row: UnsafeBufferPointer<Float>) -> Double {
        var maximum = -Float.infinity
        for value in row where value > maximum { maximum = value }
        guard maximum.isFinite else { return Double(maximum) }
        var sum: Float = 0
        var partial: Double = 0
        for (index, value) in row.enumerated() {
            sum += expf(value - maximum)
            if index & 1023 == 1023 {
                partial += Double(sum)
                sum = 0
            }
        }
        return Double(maximum) + log(partial + Double(sum))
    }

    /// Calls `body` with each scored position of a block of logits and that position's row.
    static func forEachScoredRow(
        of logits: Matrix, rows: Range<Int>, scored: Range<Int>, _ body: (Int, UnsafeBufferPointer<Float>) -> Void
    ) {
        let vocabulary = logits.columns
        logits.values.withUnsafeBufferPointer { values in
            for position in rows where scored.contains(position) {
                let start = (position - rows.lowerBound) * vocabulary
                body(position, UnsafeBufferPointer(rebasing: values[start..<(start + vocabulary)]))
            }
        }
    }

    /// The index of the largest value (first one on ties).
    static func argmax(_ row: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        for index in row.indices where row[index] > row[best] { best = index }
        return best
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
