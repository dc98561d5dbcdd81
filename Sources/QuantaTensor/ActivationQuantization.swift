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

    /// Integer width: 8 (the int8 runtime path) or 4…8 in simulation.
    public var bits: Int
    public var granularity: Granularity
    /// The static scale (`perTensor` only; set by calibration).
    public var staticScale: Float?

    public init(bits: Int = 8, granularity: Granularity = .perToken, staticScale: Float? = nil) {
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
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            bits: try container.decodeIfPresent(Int.self, forKey: .bits) ?? 8,
            granularity: try container.decodeIfPresent(Granularity.self, forKey: .granularity) ?? .perToken,
            staticScale: try container.decodeIfPresent(Float.self, forKey: .staticScale))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(bits, forKey: .bits)
        try container.encode(granularity, forKey: .granularity)
        try container.encodeIfPresent(staticScale, forKey: .staticScale)
    }

    /// Quantize-dequantizes `rows` rows of `columns` values in place.
    public func fakeQuantize(_ values: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
        let magnitude = maximumMagnitude
        switch granularity {
        case .perToken:
            for row in 0..<rows {
                let start = values + row * columns
                var largest: Float = 0
                for column in 0..<columns { largest = max(largest, abs(start[column])) }
                let scale = max(largest, Self.minimumRange) / magnitude
                Self.fakeQuantize(start, count: columns, scale: scale, magnitude: magnitude)
            }
        case .perTensor:
            let scale = max(staticScale ?? Self.minimumRange, Float.leastNormalMagnitude)
            Self.fakeQuantize(values, count: rows * columns, scale: scale, magnitude: magnitude)
        }
    }

    /// `clamp(round(x / scale), −magnitude, magnitude) · scale` element-wise.
    @inlinable
    static func fakeQuantize(_ values: UnsafeMutablePointer<Float>, count: Int, scale: Float, magnitude: Float) {
        for index in 0..<count {
            let code = min(max((values[index] / scale).rounded(.toNearestOrEven), -magnitude), magnitude)
            values[index] = code * scale
        }
    }
}
