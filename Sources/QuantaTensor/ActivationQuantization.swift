/// How the input activations of a linear layer are quantized at run time (the "A8" of
/// W8A8): symmetric integers with scale `max|x| / (2^(bits−1) − 1)`, either computed per
/// token (row) as the activations arrive (dynamic) or one static scale per tensor fixed
/// from calibration.
///
/// Provenance: G. Xiao et al., "SmoothQuant", ICML 2023, §3 ("per-token" dynamic and
/// "per-tensor" static activation quantization); the reference `fake_quant.py`
/// `quantize_activation_per_token_absmax` (scale `max|x|.clamp(1e-5) / 127`, round half to
/// even, no clamp needed since `|x/scale| ≤ 127`).
public struct ActivationScheme: Sendable, Equatable, Hashable, Codable {
    public enum Granularity: String, Sendable, Codable, CaseIterable {
        /// One scale per token, computed from the token's own values at run time.
        case perToken = "per_token"
        /// One static scale per tensor, from the calibration absmax.
        case perTensor = "per_tensor"
    }

    /// Integer width, 2…8 (codes in ±(2^(bits−1) − 1)). The runtime's integer kernels
    /// (`Int8Linear`) take any of them; 4 is the "A4" of W4A4.
    public var bits: Int
    public var granularity: Granularity
    /// The static scale (`perTensor` only; set by calibration).
    public var staticScale: Float?
    /// Per token, the fraction of `max|x|` the range keeps (1: no clipping; QuaRot clips A4 at
    /// 0.9): values beyond it saturate at `±maximumMagnitude`.
    public var clipRatio: Float = 1

    public init(bits: Int = 8, granularity: Granularity = .perToken, staticScale: Float? = nil, clipRatio: Float = 1) {
        self.clipRatio = clipRatio
        self.bits = bits
        self.granularity = granularity
        self.staticScale = staticScale
    }

    /// The largest code magnitude, `2^(bits−1) − 1` (127 for int8).
    public var maximumMagnitude: Float { Float((1 << (bits - 1)) - 1) }

    /// The smallest absmax a scale is computed from (the reference's `clamp(min=1e-5)`).
    public static let minimumRange: Float = 1e-5

    enum CodingKeys: String, CodingKey {
        case bits, granularity
        case staticScale = "static_scale"
        case clipRatio = "clip_ratio"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            bits: try container.decodeIfPresent(Int.self, forKey: .bits) ?? 8,
            granularity: try container.decodeIfPresent(Granularity.self, forKey: .granularity) ?? .perToken,
            staticScale: try container.decodeIfPresent(Float.self, forKey: .staticScale),
            clipRatio: try container.decodeIfPresent(Float.self, forKey: .clipRatio) ?? 1)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(bits, forKey: .bits)
        try container.encode(granularity, forKey: .granularity)
        try container.encodeIfPresent(staticScale, forKey: .staticScale)
        if clipRatio != 1 { try container.encode(clipRatio, forKey: .clipRatio) }
    }

    /// The scale every row uses under `perTensor` (the static scale, kept positive), or nil
    /// for `perToken`. Shared by `fakeQuantize` and the integer kernels so both round alike.
    public var tensorScale: Float? {
        granularity == .perTensor ? max(staticScale ?? Self.minimumRange, Float.leastNormalMagnitude) : nil
    }

    /// The scale of one row: `tensorScale`, or per token
    /// `max(clipRatio · max|x|, 1e-5) / maximumMagnitude`.
    @inlinable
    public func scale(ofRow values: UnsafePointer<Float>, count: Int) -> Float {
        if let tensorScale { return tensorScale }
        var largest: Float = 0
        for index in 0..<count { largest = max(largest, abs(values[index])) }
        largest *= clipRatio
        return max(largest, Self.minimumRange) / maximumMagnitude
    }

    /// The integer code of `value` at `scale`: `clamp(round(value / scale), ±magnitude)`,
    /// rounding half to even. The one rounding rule of the simulation and the integer kernels.
    @inlinable @inline(__always)
    public static func code(_ value: Float, scale: Float, magnitude: Float) -> Float {
        // max(-m, NaN) is -m: a non-finite input yields a code instead of trapping on conversion.
        Swift.min(magnitude, Swift.max(-magnitude, (value / scale).rounded(.toNearestOrEven)))
    }

    /// Quantize-dequantizes `rows` rows of `columns` values in place.
    public func fakeQuantize(_ values: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
        let magnitude = maximumMagnitude
        for row in 0..<rows {
            let start = values + row * columns
            Self.fakeQuantize(start, count: columns, scale: scale(ofRow: start, count: columns), magnitude: magnitude)
        }
    }

    /// `clamp(round(x / scale), −magnitude, magnitude) · scale` element-wise.
    @inlinable
    static func fakeQuantize(_ values: UnsafeMutablePointer<Float>, count: Int, scale: Float, magnitude: Float) {
        for index in 0..<count { values[index] = code(values[index], scale: scale, magnitude: magnitude) * scale }
    }
}
