import QuantaTensor

/// The float simulation of an integer W·A linear (symmetric per-channel weights, activations
/// quantized per token or per tensor) computed so that it equals the integer kernels bit for
/// bit: activation codes and weight codes are multiplied as floats by sgemm over chunks of
/// inputs short enough that every partial sum is an integer below 2^24 (float32 holds it
/// exactly in any summation order), the chunks are added in Double (exact), and the scales
/// are applied with the integer kernels' epilogue, `Float(Σ) · (xScale · wScale) + b` — so
/// W8A8 on 1536 inputs (sums up to 2^24.6) is exact too.
///
/// Multiplying dequantized values instead (`ActivationQuantizedLinear`) rounds differently by
/// ~1e-6, and low-bit activation rounding downstream turns such differences into different
/// codes (exact ties are common after a 4-bit KV cache): a W4A4KV4 model computed both ways
/// differed by 7.8% in perplexity. With this form the container's integer path and its
/// simulation agree exactly.
public struct IntegerSimulatedLinear: LinearOperator {
    /// Weight codes `q − zero` as floats, `[outputCount × inputCount]`.
    public let weightCodes: Matrix
    /// One scale per output row.
    public let weightScales: [Float]
    public let bias: [Float]?
    public let activation: ActivationScheme

    public var inputCount: Int { weightCodes.columns }
    public var outputCount: Int { weightCodes.rows }

    /// Inputs per sgemm whose integer sums stay below 2^24 (`max|q_w| · max|q_a|` per term).
    public let chunkColumns: Int

    /// `nil` when the scales or bias do not match the weight's rows.
    public init?(weightCodes: Matrix, weightScales: [Float], bias: [Float]?, activation: ActivationScheme) {
        let largestWeight = weightCodes.values.reduce(0) { max($0, abs($1)) }
        guard weightScales.count == weightCodes.rows, bias.map({ $0.count == weightCodes.rows }) ?? true else { return nil }
        let largestTerm = max(Double(largestWeight) * Double(activation.maximumMagnitude), 1)
        chunkColumns = max(1, min(weightCodes.columns, Int((16_777_215 / largestTerm).rounded(.down))))
        self.weightCodes = weightCodes
        self.weightScales = weightScales
        self.bias = bias
        self.activation = activation
    }

    public func apply(input: UnsafePointer<Float>, rows: Int, output: UnsafeMutablePointer<Float>) {
        guard rows > 0 else { return }
        let columns = inputCount
        let magnitude = activation.maximumMagnitude
        var codes = [Float](repeating: 0, count: rows * columns)
        var scales = [Float](repeating: 0, count: rows)
        for row in 0..<rows {
            let values = input + row * columns
            let scale = activation.scale(ofRow: values, count: columns)
            scales[row] = scale
            for column in 0..<columns {
                codes[row * columns + column] = ActivationScheme.code(values[column], scale: scale, magnitude: magnitude)
            }
        }
        let outputs = outputCount
        var sums = [Double](repeating: 0, count: chunkColumns < columns ? rows * outputs : 0)
        codes.withUnsafeBufferPointer { activationCodes in
            weightCodes.values.withUnsafeBufferPointer { weights in
                for start in stride(from: 0, to: columns, by: chunkColumns) {
                    // Shapes are consistent by construction, so the product cannot fail.
                    try? BLAS.gemm(
                        transposeA: false, transposeB: true, rows: rows, columns: outputs, inner: min(chunkColumns, columns - start),
                        alpha: 1, a: activationCodes.baseAddress! + start, leadingDimensionA: columns,
                        b: weights.baseAddress! + start, leadingDimensionB: columns, beta: 0, c: output, leadingDimensionC: outputs)
                    if !sums.isEmpty { for index in sums.indices { sums[index] += Double(output[index]) } }
                }
            }
        }
        // The exact integer sum, rounded once to float as the kernels' `Float(Int32)` does.
        for index in sums.indices { output[index] = Float(sums[index]) }
        for row in 0..<rows {
            for column in 0..<outputs {
                let value = output[row * outputs + column] * (scales[row] * weightScales[column])
                output[row * outputs + column] = bias.map { value + $0[column] } ?? value
            }
        }
    }
}
