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

    /// The largest code, `2^bits − 1`; codes are stored unsigned in `0 … maximumCode`.
    public var maximumCode: Int { (1 << bits) - 1 }

    /// Quantizes the `groupSize` values at `values` to unsigned codes and returns the group's
    /// scale and zero point, with `value ≈ scale · (code − zero)` (`dequantized`).
    /// Asymmetric: min-max range (times `clipRatio`), `zero = round(−min / scale)` (any
    /// integer, not clamped, as QuaRot's reference), `code = clamp(round(x / scale) + zero,
    /// 0, 2^bits − 1)`. Symmetric: absmax (times `clipRatio`) over `2^(bits−1) − 1` levels,
    /// signed codes in `−2^(bits−1) … 2^(bits−1) − 1` stored with the offset `zero = 2^(bits−1)`.
    @inlinable
    public func quantizeGroup(_ values: UnsafePointer<Float>, into codes: UnsafeMutablePointer<UInt8>) -> (
        scale: Float, zero: Float
    ) {
        var minimum = Float.infinity
        var maximum = -Float.infinity
        for index in 0..<groupSize {
            minimum = min(minimum, values[index])
            maximum = max(maximum, values[index])
        }
        if symmetric {
            let limit = max(abs(minimum), abs(maximum)) * clipRatio
            let half = Float((1 << (bits - 1)) - 1)
            let scale = limit > 0 ? limit / half : 1
            let offset = half + 1
            for index in 0..<groupSize {
                // max(lower, NaN) is lower: a non-finite activation gives a code, not a trap.
                codes[index] = UInt8(min(half, max(-offset, (values[index] / scale).rounded())) + offset)
            }
            return (scale, offset)
        }
        let levels = Float(maximumCode)
        minimum *= clipRatio
        maximum *= clipRatio
        let scale = maximum > minimum ? (maximum - minimum) / levels : 1
        let zero = (-minimum / scale).rounded()
        for index in 0..<groupSize {
            codes[index] = UInt8(min(levels, max(0, (values[index] / scale).rounded() + zero)))
        }
        return (scale, zero)
    }

    /// The value a code stands for: `scale · (code − zero)` (exact integer difference, one rounding).
    @inlinable @inline(__always)
    public static func dequantized(_ code: UInt8, scale: Float, zero: Float) -> Float {
        scale * (Float(code) - zero)
    }

    /// Rounds every group of `groupSize` consecutive values of `values` in place: what a
    /// packed KV cache (`KVCache` with this quantizer) returns for them, bit for bit.
    public func fakeQuantize(_ values: UnsafeMutableBufferPointer<Float>) {
        precondition(values.count % groupSize == 0, "KV rows must be whole quantization groups")
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: groupSize) { codes in
            for start in stride(from: 0, to: values.count, by: groupSize) {
                let group = values.baseAddress! + start
                let (scale, zero) = quantizeGroup(group, into: codes.baseAddress!)
                for index in 0..<groupSize { group[index] = Self.dequantized(codes[index], scale: scale, zero: zero) }
            }
        }
    }

    /// `fakeQuantize` over a whole matrix (rows of heads × head dimension).
    public func fakeQuantize(_ matrix: inout Matrix) {
        matrix.values.withUnsafeMutableBufferPointer { fakeQuantize($0) }
    }
}
