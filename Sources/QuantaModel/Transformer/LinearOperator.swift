import QuantaTensor

/// A linear layer `y = x · Wᵀ (+ b)` as the transformer sees it: the seam where dense,
/// simulated-quantized, packed int4, W8A8 and sparse kernels plug in. Implementations pick
/// their own matrix-matrix path (prefill, `rows > 1`) and matrix-vector path (decoding,
/// `rows == 1`) inside `apply`.
public protocol LinearOperator: Sendable {
    /// Input features per row (the weight's column count).
    var inputCount: Int { get }
    /// Output features per row (the weight's row count).
    var outputCount: Int { get }

    /// Computes `output[rows × outputCount] = input[rows × inputCount] · Wᵀ (+ bias)`, both
    /// row-major and densely packed. `output` is overwritten (not accumulated into) and must
    /// not overlap `input`. `rows` may be 0.
    func apply(input: UnsafePointer<Float>, rows: Int, output: UnsafeMutablePointer<Float>)
}

extension LinearOperator {
    /// `input · Wᵀ (+ bias)` as a new matrix; `input.columns` must equal `inputCount`.
    public func apply(_ input: Matrix) -> Matrix {
        precondition(input.columns == inputCount, "linear layer expects \(inputCount) input columns, got \(input.columns)")
        var output = Matrix(rows: input.rows, columns: outputCount)
        guard input.rows > 0 else { return output }
        input.values.withUnsafeBufferPointer { source in
            output.values.withUnsafeMutableBufferPointer { destination in
                apply(input: source.baseAddress!, rows: input.rows, output: destination.baseAddress!)
            }
        }
        return output
    }
}
