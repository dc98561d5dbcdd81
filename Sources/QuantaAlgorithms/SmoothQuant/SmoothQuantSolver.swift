import Foundation
import QuantaTensor

/// SmoothQuant's smoothing factors: migrate activation outliers into the weights with
/// `s_j = max|X_j|^α / max|W_j|^(1−α)`, clamped below at 1e-5 (both maxima clamped at
/// 1e-5 first), then fold `1/s` into the predecessor and `s` into the linears
/// (`ChannelScaling`).
///
/// Provenance: G. Xiao et al., "SmoothQuant: Accurate and Efficient Post-Training
/// Quantization for Large Language Models", ICML 2023, §4 eq. (4); reference
/// `smoothquant/smooth.py` `smooth_ln_fcs`.
public enum SmoothQuantSolver {
    /// The smoothing factors for one group of linears reading the same input.
    ///
    /// - Parameters:
    ///   - activationMaximum: `max|X_j|` per input channel over the calibration tokens.
    ///   - weights: the group's weights (`out × in` each).
    ///   - alpha: the migration strength in `[0, 1]`.
    public static func scales(activationMaximum: [Float], weights: [Matrix], alpha: Double) throws(AlgorithmError)
        -> [Float]
    {
        guard alpha.isFinite, (0...1).contains(alpha) else {
            throw .invalidInput(detail: "SmoothQuant alpha must lie in [0, 1], got \(alpha)")
        }
        let weightMaximum = ChannelScaling.columnAbsoluteMaximum(weights)
        guard weightMaximum.count == activationMaximum.count else {
            throw .shapeMismatch(
                detail: "\(activationMaximum.count) activation channels for weights with \(weightMaximum.count) columns")
        }
        return zip(activationMaximum, weightMaximum).map { activation, weight in
            let numerator = pow(Double(max(activation, 1e-5)), alpha)
            let denominator = pow(Double(max(weight, 1e-5)), 1 - alpha)
            return Float(max(numerator / denominator, 1e-5))
        }
    }
}
