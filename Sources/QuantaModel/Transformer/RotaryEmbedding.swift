import Foundation
import QuantaFormats
import QuantaTensor

/// Rotary position embeddings in the Hugging Face `rotate_half` layout: the first and second
/// halves of each head are the two coordinates of each rotated pair.
///
/// Provenance: J. Su et al., "RoFormer: Enhanced Transformer with Rotary Position
/// Embedding", 2021, eq. (34); transformers `modeling_llama.py` `LlamaRotaryEmbedding`,
/// `rotate_half` and `apply_rotary_pos_emb` (`q·cos + rotate_half(q)·sin`), and
/// `modeling_rope_utils.py` for the scaling variants.
public struct RotaryEmbedding: Sendable, Equatable {
    /// How positions map to angles beyond the plain `rope_theta` frequencies.
    public enum Scaling: Sendable, Equatable {
        /// `rope_scaling: null` or `rope_type: default`.
        case none
        /// `linear`: every frequency divided by `factor` (positions / factor).
        case linear(factor: Double)
        /// `dynamic` (NTK-aware): the base grows once a window exceeds
        /// `originalMaxPositions` (`_compute_dynamic_ntk_parameters`).
        case dynamic(factor: Double, originalMaxPositions: Int)
        /// `llama3`: low frequencies divided by `factor`, high ones kept, a smooth blend
        /// between (`_compute_llama3_parameters`).
        case llama3(factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double, originalMaxPositions: Int)
    }

    /// Rotated dimensions per head (even).
    public let headDimension: Int
    /// `rope_theta`.
    public let base: Double
    public let scaling: Scaling
    /// `inv_freq` for windows within the original context (`headDimension / 2` values).
    public let inverseFrequencies: [Float]

    public init(headDimension: Int, base: Double, scaling: Scaling = .none) {
        precondition(headDimension > 0 && headDimension % 2 == 0, "rotary head dimension must be positive and even")
        self.headDimension = headDimension
        self.base = base
        self.scaling = scaling
        self.inverseFrequencies = Self.frequencies(headDimension: headDimension, base: base, scaling: scaling, sequenceLength: 0)
    }

    /// The scaling described by a config's `rope_scaling` (throws for unknown types or
    /// missing llama3 fields).
    public init(config: ModelConfig) throws(ModelError) {
        let scaling: Scaling
        if let settings = config.ropeScaling {
            switch settings.ropeType {
            case "default": scaling = .none
            case "linear": scaling = .linear(factor: settings.factor)
            case "dynamic":
                scaling = .dynamic(
                    factor: settings.factor,
                    originalMaxPositions: settings.originalMaxPositionEmbeddings ?? config.maxPositionEmbeddings)
            case "llama3":
                guard let low = settings.lowFrequencyFactor, let high = settings.highFrequencyFactor, high > low,
                    let original = settings.originalMaxPositionEmbeddings, original > 0
                else {
                    throw .invalidConfiguration(
                        field: "rope_scaling",
                        detail: "llama3 needs low_freq_factor < high_freq_factor and original_max_position_embeddings")
                }
                scaling = .llama3(
                    factor: settings.factor, lowFrequencyFactor: low, highFrequencyFactor: high, originalMaxPositions: original)
            default:
                throw .invalidConfiguration(
                    field: "rope_scaling", detail: "rope_type '\(settings.ropeType)' is not supported (linear, dynamic, llama3)")
            }
        } else {
            scaling = .none
        }
        self.init(headDimension: config.headDimension, base: config.ropeTheta, scaling: scaling)
    }

    /// `inv_freq` as HF computes it: `1 / base^(2i/d)` rounded to float32, then scaled.
    /// `sequenceLength` matters only for `dynamic` (the longest position + 1 of the window).
    public static func frequencies(headDimension: Int, base: Double, scaling: Scaling, sequenceLength: Int) -> [Float] {
        var effectiveBase = base
        if case .dynamic(let factor, let original) = scaling, sequenceLength > original {
            // base · ((factor · seq / original) − (factor − 1)) ^ (d / (d − 2))
            let dimension = Double(headDimension)
            effectiveBase = base * pow(factor * Double(sequenceLength) / Double(original) - (factor - 1), dimension / (dimension - 2))
        }
        let plain: [Float] = (0..<(headDimension / 2)).map { index in
            Float(1 / pow(effectiveBase, Double(2 * index) / Double(headDimension)))
        }
        switch scaling {
        case .none, .dynamic:
            return plain
        case .linear(let factor):
            return plain.map { Float(Double($0) / factor) }
        case .llama3(let factor, let lowFactor, let highFactor, let original):
            let lowWavelength = Double(original) / lowFactor
            let highWavelength = Double(original) / highFactor
            return plain.map { frequencyFloat in
                let frequency = Double(frequencyFloat)
                let wavelength = 2 * Double.pi / frequency
                if wavelength < highWavelength { return frequencyFloat }  // high frequency: kept
                if wavelength > lowWavelength { return Float(frequency / factor) }  // low frequency: scaled
                let smooth = (Double(original) / wavelength - lowFactor) / (highFactor - lowFactor)
                return Float((1 - smooth) * frequency / factor + smooth * frequency)
            }
        }
    }

    /// The frequencies for a window ending at `sequenceLength` (differs from
    /// `inverseFrequencies` only for `dynamic` beyond the original context).
    public func inverseFrequencies(sequenceLength: Int) -> [Float] {
        if case .dynamic(_, let original) = scaling, sequenceLength > original {
            return Self.frequencies(headDimension: headDimension, base: base, scaling: scaling, sequenceLength: sequenceLength)
        }
        return inverseFrequencies
    }

    /// cos and sin tables for `positions`, each `positions.count × headDimension / 2`
    /// (angle = float32(position · inv_freq), as HF's float32 matmul).
    public func table(positions: Range<Int>) -> (cosine: [Float], sine: [Float]) {
        let frequencies = inverseFrequencies(sequenceLength: positions.upperBound)
        let half = headDimension / 2
        var cosine = [Float](repeating: 0, count: positions.count * half)
        var sine = cosine
        for (row, position) in positions.enumerated() {
            for index in 0..<half {
                let angle = Double(Float(position) * frequencies[index])
                cosine[row * half + index] = Float(cos(angle))
                sine[row * half + index] = Float(sin(angle))
            }
        }
        return (cosine, sine)
    }

    /// Rotates `heads` heads in each of `rows` rows of `values` (row stride `rowStride`)
    /// in place, using the `table(positions:)` rows 0..<rows.
    static func rotate(
        _ values: UnsafeMutablePointer<Float>, rows: Int, rowStride: Int, heads: Int, headDimension: Int,
        cosine: UnsafePointer<Float>, sine: UnsafePointer<Float>
    ) {
        let half = headDimension / 2
        for row in 0..<rows {
            let cosineRow = cosine + row * half
            let sineRow = sine + row * half
            for head in 0..<heads {
                let first = values + row * rowStride + head * headDimension
                let second = first + half
                // rotate_half: (x1, x2) → (x1·cos − x2·sin, x2·cos + x1·sin)
                for index in 0..<half {
                    let x1 = first[index]
                    let x2 = second[index]
                    first[index] = x1 * cosineRow[index] - x2 * sineRow[index]
                    second[index] = x2 * cosineRow[index] + x1 * sineRow[index]
                }
            }
        }
    }
}
