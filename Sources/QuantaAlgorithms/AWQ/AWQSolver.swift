import Foundation
import QuantaTensor

/// Activation-aware weight quantization: the pure math of the per-channel scale search
/// and the weight-clipping search.
///
/// Scale search (`searchScales`): for `α = i / gridSize`, `i = 0 … gridSize−1`, take
/// `s = mean|x|^α` (clamped at 1e-4), or with `duoScaling` `mean|x|^α / (mean ŵ^(1−α) + 1e-4)`
/// where `ŵ = |W| / max|W|` per quantization group, normalise `s /= √(max s · min s)`,
/// quantize `W · diag(s)` and rescale by `1/s`, and keep the `s` whose module output
/// error (a caller's closure) is smallest.
///
/// Clipping search (`searchClipping`): per output row and group, shrink the symmetric
/// range `±max|W|` by `1 − i / clipGrid` for `i < maxShrink · clipGrid`, clamp, quantize,
/// and keep the range with the smallest mean squared error of the group's partial
/// products `X_g · W_gᵀ` over the sampled tokens.
///
/// Provenance: J. Lin et al., "AWQ: Activation-aware Weight Quantization for LLM
/// Compression and Acceleration", MLSys 2024, §3.2 eq. (4)–(5); mit-han-lab/llm-awq
/// `awq/quantize/auto_scale.py` `_search_module_scale` and `auto_clip.py`
/// `auto_clip_layer`; `duo_scaling` from casper-hansen/AutoAWQ `quantizer.py`.
public enum AWQSolver {
    /// The result of the scale search of one group.
    public struct ScaleSearch: Sendable {
        /// The chosen per-input-channel scales (multiply the linears' columns, divide the
        /// predecessor).
        public var scales: [Float]
        /// The chosen exponent.
        public var alpha: Double
        /// The output error with those scales, and with `α = 0` (no scaling, `s = 1` up to
        /// the normalisation).
        public var loss: Double
        public var lossHistory: [Double]
    }

    /// The candidate scales for exponent `alpha`.
    public static func candidateScales(
        activationMean: [Float], weightMean: [Float]?, alpha: Double
    ) -> [Float] {
        var scales = [Float](repeating: 0, count: activationMean.count)
        for index in scales.indices {
            var value = pow(Double(activationMean[index]), alpha)
            if let weightMean { value /= pow(Double(weightMean[index]), 1 - alpha) + 1e-4 }
            scales[index] = Float(max(value, 1e-4))
        }
        let largest = Double(scales.max() ?? 1)
        let smallest = Double(scales.min() ?? 1)
        let normaliser = Float((largest * smallest).squareRoot())
        return scales.map { $0 / normaliser }
    }

    /// `mean_i (|W_ij| / max_{j' in group(j)} |W_ij'|)` over every row of every weight
    /// (AutoAWQ's `w_mean` for `duo_scaling`).
    public static func normalizedWeightMean(_ weights: [Matrix], scheme: QuantizationScheme) -> [Float] {
        guard let columns = weights.first?.columns else { return [] }
        var sums = [Double](repeating: 0, count: columns)
        var rows = 0
        for weight in weights {
            rows += weight.rows
            for row in 0..<weight.rows {
                for group in 0..<scheme.groupCount(columns: columns) {
                    let range = scheme.groupColumns(group, columns: columns)
                    var largest: Float = 0
                    for column in range { largest = max(largest, abs(weight.values[row * columns + column])) }
                    for column in range {
                        sums[column] += Double(abs(weight.values[row * columns + column]) / (largest + 1e-6))
                    }
                }
            }
        }
        return sums.map { Float($0 / Double(max(rows, 1))) }
    }

    /// `Q(W · diag(s)) · diag(1/s)`: the weight the quantized, scaled layer computes with.
    public static func scaledQuantized(_ weight: Matrix, scales: [Float], scheme: QuantizationScheme) throws(AlgorithmError)
        -> Matrix
    {
        var scaled = weight
        ChannelScaling.multiplyColumns(&scaled, by: scales)
        var quantized = try RoundToNearest.quantize(weight: scaled, scheme: scheme).dequantized
        ChannelScaling.divideColumns(&quantized, by: scales)
        return quantized
    }

    /// Grid search of the scales of one group of linears sharing an input.
    ///
    /// - Parameters:
    ///   - activationMean: `mean|x_j|` of the group's input.
    ///   - weights: the group's weights.
    ///   - loss: the module output error when the group computes with the given weights
    ///     (in the order of `weights`).
    public static func searchScales(
        activationMean: [Float], weights: [Matrix], scheme: QuantizationScheme, gridSize: Int, duoScaling: Bool,
        loss: ([Matrix]) throws -> Double
    ) throws -> ScaleSearch {
        guard gridSize >= 1 else { throw AlgorithmError.invalidInput(detail: "AWQ grid size must be at least 1") }
        let weightMean = duoScaling ? normalizedWeightMean(weights, scheme: scheme) : nil
        var best: ScaleSearch?
        var history: [Double] = []
        for step in 0..<gridSize {
            let alpha = Double(step) / Double(gridSize)
            let scales = candidateScales(activationMean: activationMean, weightMean: weightMean, alpha: alpha)
            var candidates: [Matrix] = []
            for weight in weights { candidates.append(try scaledQuantized(weight, scales: scales, scheme: scheme)) }
            let error = try loss(candidates)
            history.append(error)
            if error < (best?.loss ?? .infinity) {
                best = ScaleSearch(scales: scales, alpha: alpha, loss: error, lossHistory: [])
            }
        }
        guard var result = best else {
            throw AlgorithmError.invalidInput(detail: "AWQ scale search found no finite loss; check the calibration data")
        }
        result.lossHistory = history
        return result
    }

    /// The best clipping magnitude per output row and group (`rows × groupCount`) for
    /// `weight` given the sampled input tokens `inputs` (`tokens × columns`).
    public static func searchClipping(
        weight: Matrix, inputs: Matrix, scheme: QuantizationScheme, grid: Int = 20, maxShrink: Double = 0.5
    ) throws -> Matrix {
        guard inputs.columns == weight.columns else {
            throw AlgorithmError.shapeMismatch(detail: "clip search inputs have \(inputs.columns) columns, weight \(weight.columns)")
        }
        let rows = weight.rows
        let columns = weight.columns
        let tokens = inputs.rows
        let groupCount = scheme.groupCount(columns: columns)
        var result = Matrix(rows: rows, columns: groupCount)
        for group in 0..<groupCount {
            let range = scheme.groupColumns(group, columns: columns)
            let width = range.count
            let groupInputs = submatrix(inputs, columns: range)
            let groupWeight = submatrix(weight, columns: range)
            var maxima = [Float](repeating: 0, count: rows)
            for row in 0..<rows {
                for column in 0..<width { maxima[row] = max(maxima[row], abs(groupWeight.values[row * width + column])) }
            }
            let original = try BLAS.multiply(groupInputs, groupWeight, transposeB: true)  // tokens × rows
            var bestError = [Double](repeating: 1e9, count: rows)
            var bestMaximum = maxima
            let groupScheme = QuantizationScheme(
                bits: scheme.bits, groupSize: nil, symmetric: scheme.symmetric, clipping: .none)
            for step in 0..<Int(maxShrink * Double(grid)) {
                let factor = 1 - Float(step) / Float(grid)
                var clamped = groupWeight
                for row in 0..<rows {
                    let limit = maxima[row] * factor
                    for column in 0..<width {
                        let index = row * width + column
                        clamped.values[index] = min(max(clamped.values[index], -limit), limit)
                    }
                }
                let quantized = try RoundToNearest.quantize(weight: clamped, scheme: groupScheme).dequantized
                let output = try BLAS.multiply(groupInputs, quantized, transposeB: true)
                var errors = [Double](repeating: 0, count: rows)
                for token in 0..<tokens {
                    for row in 0..<rows {
                        let difference = Double(output.values[token * rows + row] - original.values[token * rows + row])
                        errors[row] += difference * difference
                    }
                }
                for row in 0..<rows where errors[row] / Double(max(tokens, 1)) < bestError[row] {
                    bestError[row] = errors[row] / Double(max(tokens, 1))
                    bestMaximum[row] = maxima[row] * factor
                }
            }
            for row in 0..<rows { result.values[row * groupCount + group] = bestMaximum[row] }
        }
        return result
    }

    /// `weight` with each row's group `g` clamped to `±maxima[row, g]` (llm-awq `apply_clip`).
    public static func clip(_ weight: Matrix, maxima: Matrix, scheme: QuantizationScheme) -> Matrix {
        var result = weight
        let columns = weight.columns
        for group in 0..<maxima.columns {
            for row in 0..<weight.rows {
                let limit = maxima.values[row * maxima.columns + group]
                for column in scheme.groupColumns(group, columns: columns) {
                    let index = row * columns + column
                    result.values[index] = min(max(result.values[index], -limit), limit)
                }
            }
        }
        return result
    }

    static func submatrix(_ matrix: Matrix, columns range: Range<Int>) -> Matrix {
        var values = [Float](repeating: 0, count: matrix.rows * range.count)
        for row in 0..<matrix.rows {
            for (offset, column) in range.enumerated() {
                values[row * range.count + offset] = matrix.values[row * matrix.columns + column]
            }
        }
        return Matrix(rows: matrix.rows, columns: range.count, exactly: values)
    }
}
