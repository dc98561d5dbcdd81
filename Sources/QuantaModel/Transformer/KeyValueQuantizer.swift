import QuantaTensor

/// Simulated low-bit KV cache: keys (after the rotary embedding and any R3 Hadamard) and
/// values are rounded to `bits`-bit integers per group of `groupSize` features of a head
/// (asymmetric min-max with an integer zero point, or symmetric absmax), optionally with the
/// range shrunk by `clipRatio`, and used dequantized — what a packed KV cache returns.
///
/// Provenance: QuaRot (Ashkboos et al., NeurIPS 2024) §4 "KV cache quantization"
/// (asymmetric, per head, group size = head dimension, clip ratio 0.95 in its code);
/// SpinQuant (Liu et al., ICLR 2025) §4 (KV 4-bit asymmetric, per head).
public struct KeyValueQuantizer: Sendable, Equatable {
    public var bits: Int
    /// Features per quantization group; must divide the head dimension.
    public var groupSize: Int
    public var symmetric: Bool
    /// Fraction of the min-max range kept (1 = no clipping).
    public var clipRatio: Float

    public init(bits: Int, groupSize: Int, symmetric: Bool = false, clipRatio: Float = 1) throws(ModelError) {
        guard (2...8).contains(bits) else {
            throw .invalidConfiguration(field: "kv_cache.bits", detail: "\(bits) bits; use 2 to 8")
        }
        guard groupSize > 0 else {
            throw .invalidConfiguration(field: "kv_cache.group_size", detail: "\(groupSize); use a positive divisor of the head dimension")
        }
        guard clipRatio > 0, clipRatio <= 1 else {
            throw .invalidConfiguration(field: "kv_cache.clip_ratio", detail: "\(clipRatio); use a value in (0, 1]")
        }
        self.bits = bits
        self.groupSize = groupSize
        self.symmetric = symmetric
        self.clipRatio = clipRatio
    }

    /// Rounds every group of `groupSize` consecutive values of `values` in place.
    public func fakeQuantize(_ values: UnsafeMutableBufferPointer<Float>) {
        precondition(values.count % groupSize == 0, "KV rows must be whole quantization groups")
        let levels = Float((1 << bits) - 1)
        for start in stride(from: 0, to: values.count, by: groupSize) {
            var minimum = Float.infinity
            var maximum = -Float.infinity
            for index in start..<(start + groupSize) {
                minimum = min(minimum, values[index])
                maximum = max(maximum, values[index])
            }
            if symmetric {
                let limit = max(abs(minimum), abs(maximum)) * clipRatio
                let half = Float((1 << (bits - 1)) - 1)
                let scale = limit > 0 ? limit / half : 1
                for index in start..<(start + groupSize) {
                    values[index] = scale * min(max((values[index] / scale).rounded(), -half - 1), half)
                }
            } else {
                minimum *= clipRatio
                maximum *= clipRatio
                let scale = maximum > minimum ? (maximum - minimum) / levels : 1
                let zero = (-minimum / scale).rounded()
                for index in start..<(start + groupSize) {
                    let code = min(max((values[index] / scale).rounded() + zero, 0), levels)
                    values[index] = scale * (code - zero)
                }
            }
        }
    }

    /// `fakeQuantize` over a whole matrix (rows of heads × head dimension).
    public func fakeQuantize(_ matrix: inout Matrix) {
        matrix.values.withUnsafeMutableBufferPointer { fakeQuantize($0) }
    }
}
