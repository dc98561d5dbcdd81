import QuantaTensor

/// Symmetric absmax round-to-nearest weight quantization, SmoothQuant's W8 quantizer:
/// `scale = max|W| / (2^(bits−1) − 1)` per tensor or per output channel, codes
/// `round(W / scale)` in `[−(2^(bits−1) − 1), 2^(bits−1) − 1]` (so int8 never uses −128).
///
/// Stored as a `QuantizedWeight` with unsigned codes offset by the zero point `2^(bits−1)`
/// (128 for int8): `dequantized = scale · (code − 128)`; a per-tensor scale is repeated on
/// every row.
///
/// Provenance: SmoothQuant (Xiao et al., ICML 2023) §3; reference `fake_quant.py`
/// `quantize_weight_per_tensor_absmax` / `quantize_weight_per_channel_absmax`.
public enum AbsmaxQuantization {
    public static func quantize(weight: Matrix, bits: Int, perTensor: Bool) throws(AlgorithmError) -> QuantizedWeight {
        let scheme = QuantizationScheme(bits: bits, groupSize: nil, symmetric: true)
        try scheme.validate()
        try RoundToNearest.checkFinite(weight, name: "weight")
        let rows = weight.rows
        let columns = weight.columns
        let magnitude = Float((1 << (bits - 1)) - 1)
        let zeroPoint = UInt8(1 << (bits - 1))
        var rowMaxima = [Float](repeating: 0, count: rows)
        for row in 0..<rows {
            var largest: Float = 0
            for column in 0..<columns { largest = max(largest, abs(weight.values[row * columns + column])) }
            rowMaxima[row] = largest
        }
        if perTensor {
            let largest = rowMaxima.max() ?? 0
            rowMaxima = [Float](repeating: largest, count: rows)
        }
        let scales = rowMaxima.map { max($0, 1e-5) / magnitude }
        var codes = [UInt8](repeating: zeroPoint, count: rows * columns)
        var dequantized = [Float](repeating: 0, count: rows * columns)
        for row in 0..<rows {
            let scale = scales[row]
            for column in 0..<columns {
                let index = row * columns + column
                let code = min(max((weight.values[index] / scale).rounded(.toNearestOrEven), -magnitude), magnitude)
                codes[index] = UInt8(Int(code) + Int(zeroPoint))
                dequantized[index] = Quantizer.dequantize(
                    code: Float(codes[index]), scale: scale, zeroPoint: Float(zeroPoint))
            }
        }
        return QuantizedWeight(
            scheme: scheme, dequantized: Matrix(rows: rows, columns: columns, exactly: dequantized), codes: codes,
            scales: Matrix(rows: rows, columns: 1, exactly: scales),
            zeroPoints: [UInt8](repeating: zeroPoint, count: rows), groupIndex: [Int](repeating: 0, count: columns))
    }
}
