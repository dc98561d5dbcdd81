import QuantaTensor

/// The weight edits that fuse orthogonal rotations into a LLaMA-style network without changing
/// its function (pure functions on `[out × in]` weights, PyTorch `nn.Linear` layout).
///
/// With the residual stream carried rotated, `h' = h · R` (`R` orthogonal), a linear that
/// *reads* the stream becomes `W · R` (since `(hR)(WR)ᵀ = h Wᵀ`) and one that *writes* it
/// becomes `Rᵀ · W` (so its output is `z · R`). An RMSNorm commutes with `R` once its gain is
/// folded into the readers' columns (`W · diag(g)`), because `‖hR‖ = ‖h‖`.
///
/// Provenance: S. Ashkboos et al., "SliceGPT" (ICLR 2024) §3 (computational invariance of
/// RMSNorm transformers) and "QuaRot" (NeurIPS 2024) §4; Z. Liu et al., "SpinQuant: LLM
/// Quantization with Learned Rotations" (ICLR 2025) §3.1, rotations R1 (residual) and R2
/// (per attention head on v_proj / o_proj).
public enum RotationMath {
    /// `W · diag(gains)`: a norm's gain folded into the linear that reads its output.
    public static func scalingColumns(of weight: Matrix, by gains: [Float]) -> Matrix {
        precondition(gains.count == weight.columns, "one gain per input column")
        var values = weight.values
        for row in 0..<weight.rows {
            for column in 0..<weight.columns { values[row * weight.columns + column] *= gains[column] }
        }
        return Matrix(rows: weight.rows, columns: weight.columns, exactly: values)
    }

    /// `W · R`: a linear reading the rotated stream.
    public static func rotatingInputs(of weight: Matrix, by rotation: Matrix) throws(TensorError) -> Matrix {
        try BLAS.multiply(weight, rotation)
    }

    /// `Rᵀ · W`: a linear writing the rotated stream.
    public static func rotatingOutputs(of weight: Matrix, by rotation: Matrix) throws(TensorError) -> Matrix {
        try BLAS.multiply(rotation, transposeA: true, weight)
    }

    /// `Rᵀ · W_b` for every block `b` of `rotation.rows` consecutive output rows (v_proj: each
    /// head's values come out rotated by `R`).
    public static func rotatingOutputBlocks(of weight: Matrix, by rotation: Matrix) throws(TensorError) -> Matrix {
        let block = rotation.rows
        guard block > 0, weight.rows % block == 0 else {
            throw .invalidArgument(operation: "rotatingOutputBlocks", detail: "\(weight.rows) rows are not whole blocks of \(block)")
        }
        var values = weight.values
        for start in stride(from: 0, to: weight.rows, by: block) {
            let slice = Matrix(
                rows: block, columns: weight.columns,
                exactly: Array(weight.values[(start * weight.columns)..<((start + block) * weight.columns)]))
            let rotated = try BLAS.multiply(rotation, transposeA: true, slice)
            values.replaceSubrange((start * weight.columns)..<((start + block) * weight.columns), with: rotated.values)
        }
        return Matrix(rows: weight.rows, columns: weight.columns, exactly: values)
    }

    /// `W_b · R` for every block `b` of `rotation.rows` consecutive input columns (o_proj: it
    /// reads each head's rotated output).
    public static func rotatingInputBlocks(of weight: Matrix, by rotation: Matrix) throws(TensorError) -> Matrix {
        let block = rotation.rows
        guard block > 0, weight.columns % block == 0 else {
            throw .invalidArgument(operation: "rotatingInputBlocks", detail: "\(weight.columns) columns are not whole blocks of \(block)")
        }
        // W_b · R for all blocks at once: view W as [(rows · blocks) × block].
        let reshaped = Matrix(rows: weight.rows * (weight.columns / block), columns: block, exactly: weight.values)
        let rotated = try BLAS.multiply(reshaped, rotation)
        return Matrix(rows: weight.rows, columns: weight.columns, exactly: rotated.values)
    }
}
