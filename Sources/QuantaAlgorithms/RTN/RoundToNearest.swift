import QuantaTensor

/// Round-to-nearest (RTN) weight quantization: every output row and group of input columns
/// gets min-max (or MSE-clipped) parameters and each weight is rounded independently.
///
/// Provenance: the "RTN" baseline of E. Frantar et al., "GPTQ", ICLR 2023, §5 (the
/// reference repository's `--nearest` path: `quantize(W, scale, zero, maxq)` with
/// `quant.py` parameters per group).
public enum RoundToNearest {
    /// Quantizes `weight` `[output × input]` with `scheme`, groups in column order.
    public static func quantize(weight: Matrix, scheme: QuantizationScheme) throws(AlgorithmError) -> QuantizedWeight {
        try scheme.validate()
        try checkFinite(weight, name: "weight")
        let rows = weight.rows
        let columns = weight.columns
        let groupCount = scheme.groupCount(columns: columns)
        let maxq = Float(scheme.maximumCode)
        // Plain arrays: element writes through `Matrix.values` (an observed property) would
        // copy the whole array each time.
        var dequantized = [Float](repeating: 0, count: rows * columns)
        var codes = [UInt8](repeating: 0, count: rows * columns)
        var scales = [Float](repeating: 0, count: rows * groupCount)
        var zeroPoints = [UInt8](repeating: 0, count: rows * groupCount)
        var groupIndex = [Int](repeating: 0, count: columns)
        for group in 0..<groupCount {
            let groupColumns = scheme.groupColumns(group, columns: columns)
            let parameters = Quantizer.groupParameters(of: weight, columns: groupColumns, scheme: scheme)
            for column in groupColumns { groupIndex[column] = group }
            for row in 0..<rows {
                let scale = parameters.scales[row]
                let zeroPoint = Float(parameters.zeroPoints[row])
                scales[row * groupCount + group] = scale
                zeroPoints[row * groupCount + group] = parameters.zeroPoints[row]
                for column in groupColumns {
                    let index = row * columns + column
                    let code = Quantizer.code(weight.values[index], scale: scale, zeroPoint: zeroPoint, maximumCode: maxq)
                    codes[index] = UInt8(code)
                    dequantized[index] = Quantizer.dequantize(code: code, scale: scale, zeroPoint: zeroPoint)
                }
            }
        }
        return QuantizedWeight(
            scheme: scheme, dequantized: Matrix(rows: rows, columns: columns, exactly: dequantized), codes: codes,
            scales: Matrix(rows: rows, columns: groupCount, exactly: scales), zeroPoints: zeroPoints,
            groupIndex: groupIndex)
    }

    /// Throws `invalidInput` when `matrix` holds a NaN or infinity.
    static func checkFinite(_ matrix: Matrix, name: String) throws(AlgorithmError) {
        if let index = matrix.values.firstIndex(where: { !$0.isFinite }) {
            throw .invalidInput(
                detail: "\(name) has a non-finite value at (\(index / max(matrix.columns, 1)), \(index % max(matrix.columns, 1)))")
        }
    }
}

extension Matrix {
    /// A matrix over `values`, whose count the caller guarantees to be `rows · columns`.
    init(rows: Int, columns: Int, exactly values: [Float]) {
        precondition(values.count == rows * columns, "\(rows)x\(columns) needs \(rows * columns) values")
        self = try! Matrix(rows: rows, columns: columns, values: values)
    }
}
