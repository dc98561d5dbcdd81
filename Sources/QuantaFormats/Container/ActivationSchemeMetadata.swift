import QuantaTensor

/// The activation spec of a linear as stored in `quantization.json` (per tensor, key
/// `activation`) and in a container's provenance (`activations`, by module name):
/// `{"bits": 8, "granularity": "per_token"}` or `{"bits": 8, "granularity": "per_tensor",
/// "static_scale": 0.0123}`.
extension ActivationScheme {
    public var metadata: JSONValue {
        var members: [(String, JSONValue)] = [
            ("bits", .integer(Int64(bits))), ("granularity", .string(granularity.rawValue)),
        ]
        if let staticScale { members.append(("static_scale", .number(Double(staticScale)))) }
        if clipRatio != 1 { members.append(("clip_ratio", .number(Double(clipRatio)))) }
        return .object(members)
    }

    /// Reads the metadata form; throws `invalidJSON`-style errors naming `path`.
    public init(metadata: JSONValue, path: String) throws(FormatError) {
        guard let bits = metadata["bits"]?.integerValue, (2...8).contains(bits),
            let granularityName = metadata["granularity"]?.stringValue,
            let granularity = Granularity(rawValue: granularityName)
        else {
            throw .invalidField(
                path: path, field: "activation",
                detail: "\(metadata.serialized(pretty: false)) needs bits 2…8 and granularity per_token or per_tensor")
        }
        let staticScale = metadata["static_scale"]?.doubleValue.map { Float($0) }
        if granularity == .perTensor, staticScale == nil {
            throw .invalidField(path: path, field: "activation", detail: "a per_tensor activation spec needs static_scale")
        }
        let clipRatio = Float(metadata["clip_ratio"]?.doubleValue ?? 1)
        guard clipRatio > 0, clipRatio <= 1 else {
            throw .invalidField(path: path, field: "activation", detail: "clip_ratio \(clipRatio) must be in (0, 1]")
        }
        self.init(bits: Int(bits), granularity: granularity, staticScale: staticScale, clipRatio: clipRatio)
    }
}
