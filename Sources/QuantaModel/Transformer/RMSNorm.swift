import QuantaTensor

/// Root-mean-square layer norm, computed in float32 like HF `LlamaRMSNorm.forward`:
/// `weight · x · rsqrt(mean(x²) + eps)`.
///
/// Provenance: B. Zhang and R. Sennrich, "Root Mean Square Layer Normalization",
/// NeurIPS 2019, eq. (4); transformers `modeling_llama.py` `LlamaRMSNorm`.
public struct RMSNorm: Sendable, Equatable {
    /// The per-feature gain.
    public var weight: [Float]
    /// `rms_norm_eps`.
    public var epsilon: Float

    public init(weight: [Float], epsilon: Float) {
        self.weight = weight
        self.epsilon = epsilon
    }

    /// Normalizes each row of `input` (`rows × weight.count`) into `output`.
    public func apply(_ input: Matrix, into output: inout Matrix) {
        precondition(input.columns == weight.count && output.rows == input.rows && output.columns == input.columns,
                     "RMSNorm shape mismatch")
        let columns = input.columns
        input.values.withUnsafeBufferPointer { source in
            output.values.withUnsafeMutableBufferPointer { destination in
                weight.withUnsafeBufferPointer { gain in
                    for row in 0..<input.rows {
                        VectorKernels.rmsNorm(
                            source.baseAddress! + row * columns, weight: gain.baseAddress!,
                            output: destination.baseAddress! + row * columns, count: columns, epsilon: epsilon)
                    }
                }
            }
        }
    }

    /// The normalized rows of `input` as a new matrix.
    public func apply(_ input: Matrix) -> Matrix {
        var output = Matrix(rows: input.rows, columns: input.columns)
        apply(input, into: &output)
        return output
    }
}
