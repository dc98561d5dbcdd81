import QuantaTensor

/// Function-preserving per-input-channel rescaling of a group of linears that share one
/// input: the input channel `j` is divided by `s_j` in the predecessor (an RMSNorm gain,
/// or the output rows of the linear that produces the input) and the linears' columns `j`
/// are multiplied by `s_j`, so `(x / s) · (W · diag(s))ᵀ = x · Wᵀ`.
///
/// Provenance: SmoothQuant (Xiao et al., ICML 2023) §4 eq. (3) and `smooth.py`
/// `smooth_ln_fcs`; AWQ (Lin et al., MLSys 2024) §3.2 and llm-awq `auto_scale.py`
/// `scale_ln_fcs` / `scale_fc_fc`.
public enum ChannelScaling {
    /// `weight[:, j] *= scales[j]`.
    public static func multiplyColumns(_ weight: inout Matrix, by scales: [Float]) {
        scaleColumns(&weight, by: scales, dividing: false)
    }

    /// `weight[:, j] /= scales[j]`.
    public static func divideColumns(_ weight: inout Matrix, by scales: [Float]) {
        scaleColumns(&weight, by: scales, dividing: true)
    }

    static func scaleColumns(_ weight: inout Matrix, by scales: [Float], dividing: Bool) {
        precondition(scales.count == weight.columns, "one scale per input column")
        let columns = weight.columns
        weight.values.withUnsafeMutableBufferPointer { values in
            for row in 0..<weight.rows {
                let start = row * columns
                if dividing {
                    for column in 0..<columns { values[start + column] /= scales[column] }
                } else {
                    for column in 0..<columns { values[start + column] *= scales[column] }
                }
            }
        }
    }

    /// `gain[j] /= scales[j]` (an RMSNorm / LayerNorm gain).
    public static func divideGain(_ gain: inout [Float], by scales: [Float]) {
        precondition(scales.count == gain.count, "one scale per channel")
        for index in gain.indices { gain[index] /= scales[index] }
    }

    /// The predecessor linear's output rows `j` (and bias) divided by `scales[j]`. The
    /// scaled channels are the last `scales.count` rows, as llm-awq's `scale_fc_fc`.
    public static func divideRows(_ weight: inout Matrix, bias: inout [Float]?, by scales: [Float]) {
        precondition(scales.count <= weight.rows, "more scales than output rows")
        let columns = weight.columns
        let first = weight.rows - scales.count
        weight.values.withUnsafeMutableBufferPointer { values in
            for (offset, scale) in scales.enumerated() {
                let start = (first + offset) * columns
                for column in 0..<columns { values[start + column] /= scale }
            }
        }
        if bias != nil {
            for (offset, scale) in scales.enumerated() { bias![first + offset] /= scale }
        }
    }

    /// `max_i |W_ij|` per input column over every matrix in `weights` (SmoothQuant's
    /// weight scales, `cat(abs().max(dim=0)).max(dim=0)`).
    public static func columnAbsoluteMaximum(_ weights: [Matrix]) -> [Float] {
        guard let columns = weights.first?.columns else { return [] }
        var result = [Float](repeating: 0, count: columns)
        for weight in weights {
            precondition(weight.columns == columns, "the linears of a group share their input width")
            weight.values.withUnsafeBufferPointer { values in
                for row in 0..<weight.rows {
                    let start = row * columns
                    for column in 0..<columns { result[column] = max(result[column], abs(values[start + column])) }
                }
            }
        }
        return result
    }
}
