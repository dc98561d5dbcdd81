import QuantaTensor

/// Mask selection from per-weight importance scores (higher = more important): the part
/// magnitude pruning and Wanda share.
///
/// Provenance: locuslab/wanda `lib/prune.py` — N:M: for every `ii % prune_m == 0`,
/// `topk(score[:, ii:ii+m], prune_n, largest=False)` is pruned; unstructured: per output row
/// the first `int(columns · ratio)` entries of a stable ascending sort (`prune_wanda`), or
/// per matrix every score `≤` the `int(count · ratio)`-th smallest (`prune_magnitude`).
/// Ties prune the lower input index first (what a stable sort does).
public enum SparsityMask {
    /// The group unstructured pruning compares scores within.
    public enum Comparison: Sendable, Equatable {
        /// Each output row loses `int(columns · ratio)` weights (Wanda).
        case perRow
        /// One threshold over the whole matrix (magnitude pruning).
        case perMatrix
    }

    /// `true` where a weight is kept, for `scores` `[rows × columns]` row-major.
    public static func kept(
        scores: [Float], rows: Int, columns: Int, pattern: SparsityPattern, comparison: Comparison = .perRow
    ) -> [Bool] {
        precondition(scores.count == rows * columns, "one score per weight")
        var kept = [Bool](repeating: true, count: scores.count)
        switch pattern {
        case .structured(let keep, let groupSize):
            let pruneCount = groupSize - keep
            var order = [Int](repeating: 0, count: groupSize)
            for row in 0..<rows {
                for start in stride(from: row * columns, to: (row + 1) * columns, by: groupSize) {
                    let width = min(groupSize, (row + 1) * columns - start)
                    smallestFirst(scores, start: start, count: width, into: &order)
                    for index in order.prefix(min(pruneCount, width)) { kept[start + index] = false }
                }
            }
        case .unstructured(let ratio):
            switch comparison {
            case .perRow:
                let pruneCount = Int(Double(columns) * ratio)
                for row in 0..<rows {
                    let start = row * columns
                    let order = (0..<columns).sorted { isLess(scores[start + $0], $0, scores[start + $1], $1) }
                    for index in order.prefix(pruneCount) { kept[start + index] = false }
                }
            case .perMatrix:
                guard !scores.isEmpty, ratio > 0 else { return kept }
                let threshold = scores.sorted()[min(Int(Double(scores.count) * ratio), scores.count - 1)]
                for index in scores.indices where scores[index] <= threshold { kept[index] = false }
            }
        }
        return kept
    }

    /// Indices `0..<count` of `scores[start...]` in ascending order of score, ties by index.
    static func smallestFirst(_ scores: [Float], start: Int, count: Int, into order: inout [Int]) {
        for index in 0..<count { order[index] = index }
        // Insertion sort: groups are tiny (M ≤ 64).
        for position in 1..<max(count, 1) {
            let current = order[position]
            var slot = position
            while slot > 0, isLess(scores[start + current], current, scores[start + order[slot - 1]], order[slot - 1]) {
                order[slot] = order[slot - 1]
                slot -= 1
            }
            order[slot] = current
        }
    }

    /// Score order with ties broken by index (NaN sorts first: it is never worth keeping).
    static func isLess(_ a: Float, _ indexA: Int, _ b: Float, _ indexB: Int) -> Bool {
        if a.isNaN || b.isNaN { return a.isNaN && (!b.isNaN || indexA < indexB) }
        return a < b || (a == b && indexA < indexB)
    }

    /// `weight` with the entries where `kept` is false set to zero.
    public static func applied(_ kept: [Bool], to weight: Matrix) -> Matrix {
        var values = weight.values
        for index in values.indices where !kept[index] { values[index] = 0 }
        return Matrix(rows: weight.rows, columns: weight.columns, exactly: values)
    }
}

/// Magnitude pruning: keep the weights of largest `|w|`.
///
/// Provenance: the magnitude baseline of E. Frantar, D. Alistarh, "SparseGPT", ICML 2023, §5
/// and M. Sun et al., "Wanda", ICLR 2024, §4 (locuslab/wanda `prune_magnitude`: N:M per row
/// over consecutive inputs; unstructured with one threshold per matrix).
public enum MagnitudePruning {
    public static func prune(weight: Matrix, pattern: SparsityPattern) throws(AlgorithmError) -> PrunedWeight {
        try pattern.validate()
        try RoundToNearest.checkFinite(weight, name: "weight")
        let kept = SparsityMask.kept(
            scores: weight.values.map(abs), rows: weight.rows, columns: weight.columns, pattern: pattern,
            comparison: .perMatrix)
        return PrunedWeight(pattern: pattern, values: SparsityMask.applied(kept, to: weight), kept: kept)
    }
}

/// Wanda: prune by `|W_ij| · ‖X_j‖₂`, the weight times the norm of its input feature over the
/// calibration tokens, compared within each output row; no weight update.
///
/// Provenance: M. Sun, Z. Liu, A. Bair, J. Z. Kolter, "A Simple and Effective Pruning Approach
/// for Large Language Models", ICLR 2024, §3 (Eq. 1, per-output comparison group) and
/// locuslab/wanda `prune_wanda` (`W_metric = |W| · sqrt(scaler_row)`).
public enum WandaPruning {
    /// - Parameter inputSquaredNorms: per input feature, the (averaged) sum of squares over
    ///   the calibration tokens (`InputNormAccumulator`); only ratios between features matter.
    public static func prune(weight: Matrix, inputSquaredNorms: [Float], pattern: SparsityPattern)
        throws(AlgorithmError) -> PrunedWeight
    {
        try pattern.validate()
        guard inputSquaredNorms.count == weight.columns else {
            throw .shapeMismatch(
                detail: "weight has \(weight.columns) inputs but \(inputSquaredNorms.count) input norms were collected")
        }
        try RoundToNearest.checkFinite(weight, name: "weight")
        let norms = inputSquaredNorms.map { $0.squareRoot() }
        var scores = weight.values
        for row in 0..<weight.rows {
            for column in 0..<weight.columns {
                scores[row * weight.columns + column] = abs(scores[row * weight.columns + column]) * norms[column]
            }
        }
        let kept = SparsityMask.kept(
            scores: scores, rows: weight.rows, columns: weight.columns, pattern: pattern, comparison: .perRow)
        return PrunedWeight(pattern: pattern, values: SparsityMask.applied(kept, to: weight), kept: kept)
    }
}
