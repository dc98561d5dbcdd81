import Foundation
import QuantaTensor

/// Which weights of a matrix `[output × input]` may stay non-zero.
///
/// - `structured(kept:of:)` is N:M sparsity (NVIDIA's naming, "2:4"): in every output row,
///   each run of `groupSize` consecutive inputs (starting at input 0) keeps at most `kept`
///   non-zeros. The reference codes count the *pruned* weights instead (`prunen`/`prunem`
///   in IST-DASLab/sparsegpt, `prune_n`/`prune_m` in locuslab/wanda); 2:4 and 4:8 are the
///   same either way.
/// - `unstructured(ratio)` prunes the fraction `ratio` of the weights, the comparison
///   group (row, block or matrix) being the algorithm's choice.
///
/// Written in recipes as a string: `"2:4"`, `"4:8"`, or a ratio `"0.5"` / `"50%"`.
public enum SparsityPattern: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    case structured(kept: Int, of: Int)
    case unstructured(ratio: Double)

    /// 2:4, the pattern sparse tensor cores accelerate.
    public static let twoOfFour = SparsityPattern.structured(kept: 2, of: 4)

    /// Parses `"N:M"`, `"0.5"` or `"50%"`; throws `invalidInput` naming the text otherwise.
    public init(parsing text: String) throws(AlgorithmError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let parts = trimmed.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 2 {
            guard let kept = Int(parts[0]), let groupSize = Int(parts[1]) else {
                throw .invalidInput(detail: "sparsity '\(text)' is not N:M with integers (e.g. 2:4)")
            }
            self = .structured(kept: kept, of: groupSize)
        } else if trimmed.hasSuffix("%"), let percent = Double(trimmed.dropLast()) {
            self = .unstructured(ratio: percent / 100)
        } else if let ratio = Double(trimmed) {
            self = .unstructured(ratio: ratio)
        } else {
            throw .invalidInput(detail: "sparsity '\(text)' is neither N:M (e.g. 2:4) nor a ratio (e.g. 0.5 or 50%)")
        }
        try validate()
    }

    /// Throws `invalidInput` for `N ≥ M`, `N < 1`, or a ratio outside `[0, 1)`.
    public func validate() throws(AlgorithmError) {
        switch self {
        case .structured(let kept, let groupSize):
            guard kept >= 1, kept < groupSize, groupSize <= 64 else {
                throw .invalidInput(detail: "sparsity \(kept):\(groupSize) needs 1 ≤ N < M ≤ 64 (e.g. 2:4, 4:8)")
            }
        case .unstructured(let ratio):
            guard ratio.isFinite, ratio >= 0, ratio < 1 else {
                throw .invalidInput(detail: "unstructured sparsity \(ratio) must lie in [0, 1)")
            }
        }
    }

    /// The fraction of weights pruned.
    public var prunedFraction: Double {
        switch self {
        case .structured(let kept, let groupSize): Double(groupSize - kept) / Double(groupSize)
        case .unstructured(let ratio): ratio
        }
    }

    public var description: String {
        switch self {
        case .structured(let kept, let groupSize): "\(kept):\(groupSize)"
        case .unstructured(let ratio): "\(ratio)"
        }
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        self = try SparsityPattern(parsing: text)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// Throws `invalidInput` unless `columns` splits into whole groups of `M` (structured).
    public func checkColumns(_ columns: Int, layer: String) throws(AlgorithmError) {
        if case .structured(let kept, let groupSize) = self, columns % groupSize != 0 {
            throw .invalidInput(
                detail: "\(layer): \(columns) inputs do not split into groups of \(groupSize) for \(kept):\(groupSize) sparsity")
        }
    }
}

/// A pruned weight: the surviving values (zeros elsewhere) and which entries were kept.
public struct PrunedWeight: Sendable, Equatable {
    public var pattern: SparsityPattern
    /// The weight with pruned entries set to 0 (and, for SparseGPT, the others updated).
    public var values: Matrix
    /// `true` where a weight was kept, row-major like `values`.
    public var kept: [Bool]

    public init(pattern: SparsityPattern, values: Matrix, kept: [Bool]) {
        precondition(kept.count == values.rows * values.columns, "one mask entry per weight")
        self.pattern = pattern
        self.values = values
        self.kept = kept
    }

    /// The fraction of entries pruned.
    public var sparsity: Double {
        kept.isEmpty ? 0 : Double(kept.lazy.filter { !$0 }.count) / Double(kept.count)
    }
}
