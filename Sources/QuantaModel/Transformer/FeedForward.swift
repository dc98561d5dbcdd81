import QuantaTensor

/// The SwiGLU MLP of LLaMA-family blocks (HF `LlamaMLP`):
/// `down_proj(silu(gate_proj(x)) · up_proj(x))`.
///
/// Provenance: N. Shazeer, "GLU Variants Improve Transformer", 2020, eq. (6) (FFN_SwiGLU).
public struct FeedForward: Sendable {
    public var gateProjection: any LinearOperator
    public var upProjection: any LinearOperator
    public var downProjection: any LinearOperator

    public init(gateProjection: any LinearOperator, upProjection: any LinearOperator, downProjection: any LinearOperator) {
        precondition(gateProjection.outputCount == upProjection.outputCount, "gate_proj and up_proj widths differ")
        precondition(gateProjection.inputCount == upProjection.inputCount, "gate_proj and up_proj inputs differ")
        precondition(downProjection.inputCount == gateProjection.outputCount, "down_proj input must be the MLP width")
        self.gateProjection = gateProjection
        self.upProjection = upProjection
        self.downProjection = downProjection
    }

    /// The MLP output for `normalized` (`rows × hidden`); `observeDownInput` receives the
    /// `down_proj` input (`rows × intermediate`).
    func forward(_ normalized: Matrix, context: ComputeContext, observeDownInput: ((Matrix) -> Void)?) -> Matrix {
        let activation = self.activation(normalized, context: context)
        observeDownInput?(activation)
        return downProjection.apply(activation)
    }

    /// silu(gate_proj(x)) · up_proj(x) (`rows × intermediate`): the input of `down_proj`.
    public func activation(_ normalized: Matrix, context: ComputeContext) -> Matrix {
        var gate = gateProjection.apply(normalized)
        let up = upProjection.apply(normalized)
        let width = gate.columns
        gate.values.withUnsafeMutableBufferPointer { gateBuffer in
            up.values.withUnsafeBufferPointer { upBuffer in
                let gateBase = SharedPointer(gateBuffer.baseAddress!)
                let upBase = SharedPointer(UnsafeMutablePointer(mutating: upBuffer.baseAddress!))
                // Small batches (decoding) stay on the calling thread.
                let rowContext = normalized.rows < 16 ? ComputeContext.serial() : context
                rowContext.parallelFor(0..<normalized.rows) { rowRange in
                    let offset = rowRange.lowerBound * width
                    VectorKernels.siluMultiply(
                        gate: gateBase.base + offset, up: upBase.base + offset, count: rowRange.count * width)
                }
            }
        }
        return gate
    }
}
