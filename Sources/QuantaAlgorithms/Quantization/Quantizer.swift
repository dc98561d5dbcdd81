import Foundation
import QuantaTensor

/// The per-output-row quantization parameters of one group of input columns.
public struct GroupParameters: Sendable, Equatable {
    /// One scale per output row (float32).
    public var scales: [Float]
    /// One integer zero point per output row, in `0 … maximumCode`.
    public var zeroPoints: [UInt8]

    public init(scales: [Float], zeroPoints: [UInt8]) {
        precondition(scales.count == zeroPoints.count, "one zero point per scale")
        self.scales = scales
        self.zeroPoints = zeroPoints
    }
}

/// Uniform integer quantization with a scale and an integer zero point: pure functions.
///
/// Parameters follow GPTQ's `quant.py` `Quantizer.find_params` exactly
/// (github.com/IST-DASLab/gptq):
/// - asymmetric: `xmin = min(min(x), 0)`, `xmax = max(max(x), 0)`; when both are zero they
///   become −1 and +1; `scale = (xmax − xmin) / maxq`, `zero = round(−xmin / scale)`;
/// - symmetric: `xmax = max(|xmin|, xmax)`, and `xmin = −xmax` when `xmin < 0`;
///   `zero = (maxq + 1) / 2`;
/// - `q = clamp(round(x / scale) + zero, 0, maxq)` with round-half-to-even (`torch.round`),
///   and the dequantized value is `scale · (q − zero)` in float32, in that order.
///
/// The MSE clipping search follows llm-compressor `observers/mse.py`: the observed range is
/// shrunk by `p = 1 − i/grid`, parameters are recomputed from the shrunk range with the rules
/// above, and each row keeps the parameters with the smallest `Σ |Q(x) − x|^norm`.
public enum Quantizer {
    /// GPTQ `find_params` on the observed range `[minimum, maximum]` of one row.
    @inlinable
    public static func rangeParameters(
        minimum: Float, maximum: Float, maximumCode: Int, symmetric: Bool
    ) -> (scale: Float, zeroPoint: Float) {
        var low = Swift.min(minimum, 0)
        var high = Swift.max(maximum, 0)
        if symmetric {
            high = Swift.max(abs(low), high)
            if low < 0 { low = -high }
        }
        if low == 0 && high == 0 {
            low = -1
            high = 1
        }
        let maxq = Float(maximumCode)
        let scale = (high - low) / maxq
        let zeroPoint = symmetric ? (maxq + 1) / 2 : (-low / scale).rounded(.toNearestOrEven)
        return (scale, Swift.min(Swift.max(zeroPoint, 0), maxq))
    }

    /// The integer code of `value`: `clamp(round(value / scale) + zeroPoint, 0, maxq)`,
    /// rounding half to even. NaN maps to 0 (callers reject non-finite weights up front).
    @inlinable
    public static func code(_ value: Float, scale: Float, zeroPoint: Float, maximumCode: Float) -> Float {
        let shifted = (value / scale).rounded(.toNearestOrEven) + zeroPoint
        let clamped = Swift.min(Swift.max(shifted, 0), maximumCode)
        return clamped.isNaN ? 0 : clamped
    }

    /// `scale · (code − zeroPoint)` in float32.
    @inlinable
    public static func dequantize(code: Float, scale: Float, zeroPoint: Float) -> Float {
        scale * (code - zeroPoint)
    }

    /// Quantize-dequantize (`quant.py` `quantize`).
    @inlinable
    public static func fakeQuantize(_ value: Float, scale: Float, zeroPoint: Float, maximumCode: Float) -> Float {
        dequantize(
            code: code(value, scale: scale, zeroPoint: zeroPoint, maximumCode: maximumCode), scale: scale,
            zeroPoint: zeroPoint)
    }

    /// The parameters of every output row of `weight` over input `columns` (one group),
    /// min-max or with the scheme's clipping search.
    public static func groupParameters(
        of weight: Matrix, columns: Range<Int>, scheme: QuantizationScheme, importance: [Float]? = nil
    ) -> GroupParameters {
        precondition(columns.lowerBound >= 0 && columns.upperBound <= weight.columns, "group columns out of range")
        return weight.values.withUnsafeBufferPointer { values in
            groupParameters(
                values: values, rowStride: weight.columns, rows: weight.rows, columns: columns, scheme: scheme,
                importance: importance)
        }
    }

    /// The parameters of rows `0..<rows` of row-major storage (`rowStride` elements per row)
    /// over `columns`. `values` is only read during the call.
    static func groupParameters(
        values: UnsafeBufferPointer<Float>, rowStride: Int, rows: Int, columns: Range<Int>,
        scheme: QuantizationScheme, importance: [Float]? = nil
    ) -> GroupParameters {
        let maximumCode = scheme.maximumCode
        var minima = [Float](repeating: 0, count: rows)
        var maxima = [Float](repeating: 0, count: rows)
        var scales = [Float](repeating: 0, count: rows)
        var zeroPoints = [Float](repeating: 0, count: rows)
        for row in 0..<rows {
            var low = Float.infinity
            var high = -Float.infinity
            let start = row * rowStride
            for column in columns {
                let value = values[start + column]
                low = Swift.min(low, value)
                high = Swift.max(high, value)
            }
            if columns.isEmpty { (low, high) = (0, 0) }
            minima[row] = Swift.min(low, 0)
            maxima[row] = Swift.max(high, 0)
            (scales[row], zeroPoints[row]) = rangeParameters(
                minimum: minima[row], maximum: maxima[row], maximumCode: maximumCode, symmetric: scheme.symmetric)
        }
        if case .meanSquaredError(let search) = scheme.clipping {
            searchClipping(
                values: values, rowStride: rowStride, columns: columns, minima: minima, maxima: maxima,
                scheme: scheme, search: search, scales: &scales, zeroPoints: &zeroPoints)
        }
        if scheme.clipping == .ggml, scheme.symmetric {
            for row in 0..<rows {
                let start = row * rowStride
                let slice = UnsafeBufferPointer(rebasing: values[(start + columns.lowerBound)..<(start + columns.upperBound)])
                if let scale = weightedScale(slice, importance: importance.map { Array($0[columns]) }, bits: scheme.bits) {
                    scales[row] = scale
                }
            }
        }
        return GroupParameters(scales: scales, zeroPoints: zeroPoints.map { UInt8($0) })
    }

    /// llm-compressor's MSE observer on min-max ranges: for `i < stepCount`, shrink every
    /// row's range by `p = 1 − i/grid`, fake-quantize, and keep per row the parameters with the
    /// smallest `Σ |Q(x) − x|^norm`; stop when no row improved `patience` steps in a row.
    /// The first step (`p = 1`) is plain min-max, so the result is never worse than it.
    static func searchClipping(
        values: UnsafeBufferPointer<Float>, rowStride: Int, columns: Range<Int>, minima: [Float], maxima: [Float],
        scheme: QuantizationScheme, search: QuantizationScheme.MeanSquaredErrorSearch,
        scales: inout [Float], zeroPoints: inout [Float]
    ) {
        let rows = minima.count
        let maximumCode = scheme.maximumCode
        let maxq = Float(maximumCode)
        let norm = Float(search.norm)
        var best = [Double](repeating: .greatestFiniteMagnitude, count: rows)
        var stepsWithoutImprovement = 0
        for step in 0..<search.stepCount {
            let shrink = Float(1 - Double(step) / Double(search.grid))
            var improved = false
            for row in 0..<rows {
                let (scale, zeroPoint) = rangeParameters(
                    minimum: shrink * minima[row], maximum: shrink * maxima[row], maximumCode: maximumCode,
                    symmetric: scheme.symmetric)
                var error = 0.0
                let start = row * rowStride
                for column in columns {
                    let value = values[start + column]
                    let difference = abs(
                        fakeQuantize(value, scale: scale, zeroPoint: zeroPoint, maximumCode: maxq) - value)
                    error += Double(norm == 2 ? difference * difference : pow(difference, norm))
                }
                if error < best[row] {
                    best[row] = error
                    scales[row] = scale
                    zeroPoints[row] = zeroPoint
                    improved = true
                }
            }
            if improved {
                stepsWithoutImprovement = 0
            } else {
                stepsWithoutImprovement += 1
                if stepsWithoutImprovement >= search.patience { break }
            }
        }
    }

    /// llama.cpp's `make_qx_quants` (ggml-quants.c, `rmse_type = 1`): with `n = 2^(bits−1)`
    /// and `m` the value of largest magnitude, codes `l = clamp(round(s·x), −n, n−1)` for the
    /// inverse scales `s = −(n + k/10) / m`, k = 0, ±1 … ±9, each fitted by weighted least
    /// squares (`Σ w·x·l / Σ w·l²`); the fit with the largest `(Σ w·x·l)² / Σ w·l²` (the
    /// smallest weighted error) wins. `w` is the column importance (GPTQ: the Hessian
    /// diagonal; measured on SmolLM2 W4 g32 a little better than llama.cpp's
    /// `importance · sqrt(σ² + x²)`), or `x²` without importance. The result may be negative
    /// (the extreme value lands on code −n); nil for an all-zero group (min-max stays).
    public static func weightedScale(_ values: UnsafeBufferPointer<Float>, importance: [Float]?, bits: Int) -> Float? {
        let levels = Float(1 << (bits - 1))
        var extreme: Float = 0
        for value in values where abs(value) > abs(extreme) { extreme = value }
        guard abs(extreme) > 1e-15, extreme.isFinite else { return nil }
        let weights: [Float] = values.indices.map { index in
            let value = values[index]
            guard let importance else { return value * value }
            return importance[index]
        }
        func fit(_ inverse: Float) -> (sumValueCode: Float, sumCodeSquared: Float) {
            var sumValueCode: Float = 0
            var sumCodeSquared: Float = 0
            for index in values.indices {
                let code = Swift.min(Swift.max((inverse * values[index]).rounded(.toNearestOrAwayFromZero), -levels), levels - 1)
                sumValueCode += weights[index] * values[index] * code
                sumCodeSquared += weights[index] * code * code
            }
            return (sumValueCode, sumCodeSquared)
        }
        var (sumValueCode, sumCodeSquared) = fit(-levels / extreme)
        var scale = sumCodeSquared > 0 ? sumValueCode / sumCodeSquared : 0
        var best = scale * sumValueCode
        for step in -9...9 where step != 0 {
            (sumValueCode, sumCodeSquared) = fit(-(levels + 0.1 * Float(step)) / extreme)
            if sumCodeSquared > 0, sumValueCode * sumValueCode > best * sumCodeSquared {
                scale = sumValueCode / sumCodeSquared
                best = scale * sumValueCode
            }
        }
        return scale != 0 && scale.isFinite ? scale : nil
    }
}
