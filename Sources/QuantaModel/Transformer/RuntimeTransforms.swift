import QuantaFormats
import QuantaTensor

/// What a quantized model's graph adds at run time beyond its stored weights: the online
/// Hadamard rotations (R4 before `down_proj`, R3 on queries and keys) and the low-bit KV
/// cache. Stored as `runtime` (`RuntimeMetadata`) in `quantization.json` and in a
/// container's provenance.
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

    /// The stored form (`RuntimeMetadata`, the one schema of `runtime`).
    public var metadata: RuntimeMetadata {
        RuntimeMetadata(
            onlineDownProjection: onlineDownProjection, onlineQueryKey: queryKeyRotation,
            keyValueCache: keyValueCache.map {
                RuntimeMetadata.KeyValueCache(bits: $0.bits, groupSize: $0.groupSize, symmetric: $0.symmetric, clipRatio: Double($0.clipRatio))
            })
    }

    /// The graph form of stored metadata; an invalid KV cache spec is an error.
    public init(metadata: RuntimeMetadata) throws(ModelError) {
        self.init(onlineDownProjection: metadata.onlineDownProjection, queryKeyRotation: metadata.onlineQueryKey)
        if let cache = metadata.keyValueCache {
            keyValueCache = try KeyValueQuantizer(
                bits: cache.bits, groupSize: cache.groupSize, symmetric: cache.symmetric, clipRatio: Float(cache.clipRatio))
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
