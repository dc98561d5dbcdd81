import QuantaFormats
import QuantaTensor

/// What a quantized model's graph adds at run time beyond its stored weights: the online
/// Hadamard rotations (R4 before `down_proj`, R3 on queries and keys) and the low-bit KV
/// cache. Stored as `runtime` in `quantization.json` and in a container's provenance:
///
///     {"online_down_proj": true, "online_query_key": true,
///      "kv_cache": {"bits": 4, "group_size": 64, "symmetric": false, "clip_ratio": 1.0}}
///
/// Provenance: SpinQuant (Liu et al., ICLR 2025) §3.1 (R3, R4); QuaRot (Ashkboos et al.,
/// NeurIPS 2024) §4 (online Hadamards, KV cache quantization).
public struct RuntimeTransforms: Sendable, Equatable {
    /// R4: every `down_proj` reads `H x`; its stored weight is already `W · H`.
    public var onlineDownProjection: Bool
    /// R3: an orthonormal Hadamard over each head's queries and keys after the rotary embedding.
    public var queryKeyRotation: Bool
    /// The low-bit KV cache, or `nil` for float keys and values.
    public var keyValueCache: KeyValueQuantizer?

    public init(onlineDownProjection: Bool = false, queryKeyRotation: Bool = false, keyValueCache: KeyValueQuantizer? = nil) {
        self.onlineDownProjection = onlineDownProjection
        self.queryKeyRotation = queryKeyRotation
        self.keyValueCache = keyValueCache
    }

    /// Whether the graph is the plain one.
    public var isEmpty: Bool { !onlineDownProjection && !queryKeyRotation && keyValueCache == nil }

    public var metadata: JSONValue {
        var members: [(String, JSONValue)] = [
            ("online_down_proj", .bool(onlineDownProjection)), ("online_query_key", .bool(queryKeyRotation)),
        ]
        if let cache = keyValueCache {
            members.append(
                ("kv_cache", .object([
                    ("bits", .integer(Int64(cache.bits))), ("group_size", .integer(Int64(cache.groupSize))),
                    ("symmetric", .bool(cache.symmetric)), ("clip_ratio", .number(Double(cache.clipRatio))),
                ])))
        }
        return .object(members)
    }

    /// Reads the metadata form; errors name `path` and the field.
    public init(metadata: JSONValue, path: String) throws(ModelError) {
        func flag(_ key: String) throws(ModelError) -> Bool {
            guard let value = metadata[key] else { return false }
            guard case .bool(let flag) = value else {
                throw .invalidConfiguration(field: "\(path): runtime.\(key)", detail: "must be true or false")
            }
            return flag
        }
        self.init(onlineDownProjection: try flag("online_down_proj"), queryKeyRotation: try flag("online_query_key"))
        if let cache = metadata["kv_cache"] {
            guard let bits = cache["bits"]?.integerValue, let groupSize = cache["group_size"]?.integerValue else {
                throw .invalidConfiguration(
                    field: "\(path): runtime.kv_cache", detail: "needs integer bits and group_size; rewrite the file with `quanta quantize`")
            }
            var symmetric = false
            if case .bool(let value)? = cache["symmetric"] { symmetric = value }
            let clipRatio = Float(cache["clip_ratio"]?.doubleValue ?? 1)
            keyValueCache = try KeyValueQuantizer(bits: Int(bits), groupSize: Int(groupSize), symmetric: symmetric, clipRatio: clipRatio)
        }
    }
}

extension TransformerModel {
    /// Installs `transforms` on every layer: wraps each `down_proj` not yet wrapped in
    /// `HadamardInputLinear` (its weight must already be `W · H`), turns on R3 and the KV cache
    /// quantizer. Throws when a size has no Hadamard transform or a group does not tile a head.
    public mutating func install(_ transforms: RuntimeTransforms) throws(ModelError) {
        for index in layers.indices {
            if transforms.onlineDownProjection, !(layers[index].feedForward.downProjection is HadamardInputLinear) {
                layers[index].feedForward.downProjection = try HadamardInputLinear(inner: layers[index].feedForward.downProjection)
            }
            if transforms.queryKeyRotation { try layers[index].attention.enableQueryKeyRotation() }
            if let cache = transforms.keyValueCache { try layers[index].attention.enableKeyValueQuantization(cache) }
        }
    }
}
