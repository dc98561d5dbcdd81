import QuantaTensor

/// A linear layer whose input rows pass through the orthonormal Hadamard transform first:
/// `y = (H x) · W'`, with `W' = W · H` stored, so `y = x · Wᵀ` exactly in real arithmetic.
/// The transform spreads activation outliers over all features before a quantized `W'` (and
/// quantized activations) see them: the online rotation R4 before `down_proj`.
///
/// Provenance: S. Ashkboos et al., "QuaRot" (NeurIPS 2024) §4 (online Hadamard before the
/// down projection); Z. Liu et al., "SpinQuant" (ICLR 2025) §3.1 (R4). Sizes `b · 2^k`
/// (1536 = 12 · 128) use `Hadamard`'s Paley base matrices.
public struct HadamardInputLinear: LinearOperator {
    /// The layer applied to the transformed input (its weight already multiplied by `H`).
    public var inner: any LinearOperator

    public var inputCount: Int { inner.inputCount }
    public var outputCount: Int { inner.outputCount }

    /// Wraps `inner`, whose weight must already be `W · H`. Throws if `inputCount` has no
    /// supported Hadamard size.
    public init(inner: any LinearOperator) throws(ModelError) {
        guard Hadamard.factorization(size: inner.inputCount) != nil else {
            throw .invalidConfiguration(
                field: "online Hadamard input size",
                detail: "an online Hadamard needs an input size b · 2^k with b in \(Hadamard.supportedBaseOrders); got \(inner.inputCount)")
        }
        self.inner = inner
    }

    public func apply(input: UnsafePointer<Float>, rows: Int, output: UnsafeMutablePointer<Float>) {
        let columns = inputCount
        guard rows > 0 else { return }
        var rotated = [Float](UnsafeBufferPointer(start: input, count: rows * columns))
        rotated.withUnsafeMutableBufferPointer { buffer in
            for row in 0..<rows {
                // The size was checked at init, so the transform cannot fail.
                try? Hadamard.transform(UnsafeMutableBufferPointer(rebasing: buffer[(row * columns)..<((row + 1) * columns)]))
            }
            inner.apply(input: buffer.baseAddress!, rows: rows, output: output)
        }
    }
}
