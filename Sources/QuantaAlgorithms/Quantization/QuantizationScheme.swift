/// How a weight matrix `[output × input]` is quantized: integer width, grouping along the
/// input dimension, symmetric or asymmetric grid, and the range (clipping) search.
///
/// Groups run along the input dimension (columns); each output row has its own scale and
/// zero point per group. A last group narrower than `groupSize` is allowed (576 columns
/// with groups of 128 are 4 × 128 + 64). `groupSize == nil` means one group per output
/// row (per-channel; GPTQ's `groupsize = -1`).
///
/// JSON / recipe keys are snake_case: `bits`, `group_size` (`null` or `-1` for
/// per-channel), `symmetric` (default `false`), `clipping` (`"none"`, `"mse"`, or an object
/// `{method: mse, grid, max_shrink, norm, patience}`; default none).
public struct QuantizationScheme: Codable, Sendable, Equatable, Hashable {
    /// Integer width of each code: 2 … 8 (packers support 2, 3, 4 and 8).
    public var bits: Int
    /// Input columns per group, or `nil` for one group per output row.
    public var groupSize: Int?
    /// Symmetric grid (zero point fixed at `2^(bits-1)`) instead of min-max with a zero point.
    public var symmetric: Bool
    /// The range search applied to each group's min-max range.
    public var clipping: Clipping

    /// A scheme; `groupSize` of `nil` or `-1` means per output channel. Call `validate()`
    /// before use (decoding validates).
    public init(bits: Int, groupSize: Int? = nil, symmetric: Bool = false, clipping: Clipping = .none) {
        self.bits = bits
        self.groupSize = groupSize == -1 ? nil : groupSize
        self.symmetric = symmetric
        self.clipping = clipping
    }

    /// The largest code, `2^bits − 1` (GPTQ's `maxq`).
    public var maximumCode: Int { (1 << bits) - 1 }

    /// The number of groups per output row for a matrix with `columns` input columns
    /// (the last one may be narrower).
    public func groupCount(columns: Int) -> Int {
        guard let groupSize else { return columns > 0 ? 1 : 0 }
        return (columns + groupSize - 1) / groupSize
    }

    /// The input columns of group `group` (in processing order) for `columns` columns.
    public func groupColumns(_ group: Int, columns: Int) -> Range<Int> {
        guard let groupSize else { return 0..<columns }
        return (group * groupSize)..<min((group + 1) * groupSize, columns)
    }

    /// Throws `AlgorithmError.invalidScheme` naming the first invalid field.
    public func validate() throws(AlgorithmError) {
        guard (2...8).contains(bits) else {
            throw .invalidScheme(field: "bits", detail: "\(bits) is not supported; use 2, 3, 4 or 8")
        }
        if let groupSize, groupSize <= 0 {
            throw .invalidScheme(
                field: "group_size", detail: "\(groupSize) must be positive (e.g. 32, 64, 128), or -1/null for per-channel")
        }
        try clipping.validate()
        if clipping == .ggml, !symmetric {
            throw .invalidScheme(field: "clipping", detail: "ggml's scale search is for symmetric schemes; set symmetric: true or use mse")
        }
    }

    // MARK: Codable

    enum CodingKeys: String, CodingKey {
        case bits
        case groupSize = "group_size"
        case symmetric
        case clipping
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            bits: try container.decode(Int.self, forKey: .bits),
            groupSize: try container.decodeIfPresent(Int.self, forKey: .groupSize),
            symmetric: try container.decodeIfPresent(Bool.self, forKey: .symmetric) ?? false,
            clipping: try container.decodeIfPresent(Clipping.self, forKey: .clipping) ?? .none)
        try validate()
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(bits, forKey: .bits)
        try container.encode(groupSize ?? -1, forKey: .groupSize)
        try container.encode(symmetric, forKey: .symmetric)
        try container.encode(clipping, forKey: .clipping)
    }
}

extension QuantizationScheme {
    /// The range search for each group's quantization parameters.
    public enum Clipping: Codable, Sendable, Equatable, Hashable {
        /// Plain min-max range (GPTQ `quant.py`).
        case none
        /// Shrink the range by factors `p = 1 − i/grid` for `i < max_shrink · grid` and keep,
        /// per output row, the parameters with the smallest `Σ |Q(x) − x|^norm`, stopping once
        /// no row improved for `patience` consecutive steps (llm-compressor
        /// `observers/mse.py`, defaults grid 100, max shrink 0.2, norm 2.4, patience 5).
        case meanSquaredError(MeanSquaredErrorSearch)
        /// llama.cpp's weighted scale search (`make_qx_quants`, the imatrix path of
        /// `quantize_row_q4_0`): the value of largest magnitude sets the sign, 19 candidate
        /// scales around `−max / 2^(b−1)`, each fitted by weighted least squares, the best kept.
        /// Symmetric schemes only; the weights are the calibration's importance (GPTQ: the
        /// Hessian diagonal, as llama-imatrix's Σx²), or `x²` without one. GPTQ then refits
        /// each group's scale to the codes it chose (weighted least squares).
        case ggml

        /// The MSE search with llm-compressor's defaults.
        public static var mse: Clipping { .meanSquaredError(MeanSquaredErrorSearch()) }

        /// Throws `invalidScheme` naming the invalid `clipping.*` field.
        public func validate() throws(AlgorithmError) {
            if case .meanSquaredError(let search) = self { try search.validate() }
        }

        enum CodingKeys: String, CodingKey {
            case method
        }

        public init(from decoder: any Decoder) throws {
            if let single = try? decoder.singleValueContainer(), let method = try? single.decode(String.self) {
                self = try Self.named(method, codingPath: decoder.codingPath)
                return
            }
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let method = try container.decode(String.self, forKey: .method)
            switch try Self.named(method, codingPath: decoder.codingPath) {
            case .none: self = .none
            case .meanSquaredError: self = .meanSquaredError(try MeanSquaredErrorSearch(from: decoder))
            case .ggml: self = .ggml
            }
        }

        static func named(_ method: String, codingPath: [any CodingKey]) throws -> Clipping {
            switch method {
            case "none": return .none
            case "mse": return .mse
            case "ggml": return .ggml
            default:
                throw AlgorithmError.invalidScheme(field: "clipping", detail: "unknown method '\(method)'; use none, mse or ggml")
            }
        }

        public func encode(to encoder: any Encoder) throws {
            switch self {
            case .none:
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode("none", forKey: .method)
            case .meanSquaredError(let search):
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode("mse", forKey: .method)
                try search.encode(to: encoder)
            case .ggml:
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode("ggml", forKey: .method)
            }
        }
    }

    /// Settings of the MSE range search (llm-compressor `observers/mse.py` observer kwargs).
    public struct MeanSquaredErrorSearch: Codable, Sendable, Equatable, Hashable {
        /// Grid resolution: shrink factors step by `1/grid`.
        public var grid: Int
        /// The largest fraction the range is shrunk by (exclusive): steps `i < maxShrink · grid`.
        public var maxShrink: Double
        /// The error exponent `p` in `Σ |Q(x) − x|^p`.
        public var norm: Double
        /// Stop after this many consecutive steps in which no row improved.
        public var patience: Int

        public init(grid: Int = 100, maxShrink: Double = 0.2, norm: Double = 2.4, patience: Int = 5) {
            self.grid = grid
            self.maxShrink = maxShrink
            self.norm = norm
            self.patience = patience
        }

        /// The number of shrink steps, `int(max_shrink · grid)` as in the reference.
        public var stepCount: Int { Int(maxShrink * Double(grid)) }

        /// Throws `invalidScheme` naming the invalid `clipping.*` field.
        public func validate() throws(AlgorithmError) {
            guard (1...10_000).contains(grid) else {
                throw .invalidScheme(field: "clipping.grid", detail: "\(grid) must be between 1 and 10000")
            }
            guard maxShrink.isFinite, maxShrink > 0, maxShrink < 1 else {
                throw .invalidScheme(field: "clipping.max_shrink", detail: "\(maxShrink) must lie in (0, 1)")
            }
            guard norm.isFinite, norm > 0 else {
                throw .invalidScheme(field: "clipping.norm", detail: "\(norm) must be a positive number")
            }
            guard patience > 0, patience <= 10_000 else {
                throw .invalidScheme(field: "clipping.patience", detail: "\(patience) must be between 1 and 10000")
            }
        }

        enum CodingKeys: String, CodingKey {
            case grid
            case maxShrink = "max_shrink"
            case norm
            case patience
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let defaults = MeanSquaredErrorSearch()
            self.init(
                grid: try container.decodeIfPresent(Int.self, forKey: .grid) ?? defaults.grid,
                maxShrink: try container.decodeIfPresent(Double.self, forKey: .maxShrink) ?? defaults.maxShrink,
                norm: try container.decodeIfPresent(Double.self, forKey: .norm) ?? defaults.norm,
                patience: try container.decodeIfPresent(Int.self, forKey: .patience) ?? defaults.patience)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(grid, forKey: .grid)
            try container.encode(maxShrink, forKey: .maxShrink)
            try container.encode(norm, forKey: .norm)
            try container.encode(patience, forKey: .patience)
        }
    }
}
