import QuantaTensor

/// A quantized weight matrix `[output × input]`: integer codes with per-row, per-group
/// scales and zero points, plus the dequantized floats the codes stand for.
///
/// Everything a packer needs to store it losslessly: element `(row, column)` dequantizes to
/// `scales[row, g] · (codes[row·columns + column] − zeroPoints[row·groupCount + g])` with
/// `g = groupIndex[column]`, which equals `dequantized[row, column]` bit for bit.
public struct QuantizedWeight: Sendable, Equatable {
    /// The scheme the weight was quantized with.
    public let scheme: QuantizationScheme
    /// The dequantized weights `[output × input]` (float32).
    public var dequantized: Matrix
    /// Codes in `0 … scheme.maximumCode`, row-major `[output × input]`, original column order.
    public var codes: [UInt8]
    /// Scales `[output × groupCount]`.
    public var scales: Matrix
    /// Integer zero points, row-major `[output × groupCount]`.
    public var zeroPoints: [UInt8]
    /// The group of each input column (GPTQ `g_idx`): `column / groupSize` unless act-order
    /// formed groups in permuted order (`ActOrder.dynamic`); all 0 for per-channel.
    public var groupIndex: [Int]
    /// For act-order: the input columns in the order they were quantized
    /// (`permutation[k]` is the original column processed k-th); `nil` otherwise.
    public var permutation: [Int]?

    public init(
        scheme: QuantizationScheme, dequantized: Matrix, codes: [UInt8], scales: Matrix, zeroPoints: [UInt8],
        groupIndex: [Int], permutation: [Int]? = nil
    ) {
        precondition(codes.count == dequantized.rows * dequantized.columns, "one code per weight")
        precondition(scales.rows == dequantized.rows && zeroPoints.count == scales.rows * scales.columns)
        precondition(groupIndex.count == dequantized.columns, "one group index per input column")
        self.scheme = scheme
        self.dequantized = dequantized
        self.codes = codes
        self.scales = scales
        self.zeroPoints = zeroPoints
        self.groupIndex = groupIndex
        self.permutation = permutation
    }

    /// Output rows.
    public var rows: Int { dequantized.rows }
    /// Input columns.
    public var columns: Int { dequantized.columns }
    /// Groups per output row.
    public var groupCount: Int { scales.columns }

    /// The weights rebuilt from codes, scales, zero points and `groupIndex` alone (the scalar
    /// reference a packed format's dequantizer must match).
    public func reconstructed() -> Matrix {
        var result = [Float](repeating: 0, count: rows * columns)
        for row in 0..<rows {
            for column in 0..<columns {
                let group = groupIndex[column]
                result[row * columns + column] = Quantizer.dequantize(
                    code: Float(codes[row * columns + column]), scale: scales.values[row * groupCount + group],
                    zeroPoint: Float(zeroPoints[row * groupCount + group]))
            }
        }
        return Matrix(rows: rows, columns: columns, exactly: result)
    }

    /// This weight with its scales rounded to IEEE half precision (how packed formats store
    /// them) and the dequantized weights recomputed from the rounded scales, so a packed
    /// model and its simulation agree exactly. Codes and zero points are unchanged.
    public func withHalfPrecisionScales() -> QuantizedWeight {
        var result = self
        result.scales.values = scales.values.map { Float(Float16($0)) }
        result.dequantized = result.reconstructed()
        return result
    }
}

extension QuantizedWeight {
    /// For a symmetric scheme with one group per row and no act-order permutation, the codes
    /// minus the zero point as a float `[rows × columns]` matrix (what integer kernels multiply);
    /// `nil` otherwise.
    public var symmetricPerChannelCodes: Matrix? {
        guard scheme.symmetric, groupCount == 1, permutation == nil else { return nil }
        var values = [Float](repeating: 0, count: codes.count)
        for row in 0..<rows {
            let zero = Float(zeroPoints[row])
            for column in 0..<columns { values[row * columns + column] = Float(codes[row * columns + column]) - zero }
        }
        return try? Matrix(rows: rows, columns: columns, values: values)
    }
}
