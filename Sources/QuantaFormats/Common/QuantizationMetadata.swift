import Foundation
import QuantaTensor

/// What a quantized graph adds at run time beyond its weights, as stored in
/// `quantization.json` and in a container's provenance (`runtime`):
///
///     {"online_down_proj": true, "online_query_key": true,
///      "kv_cache": {"bits": 4, "group_size": 64, "symmetric": false, "clip_ratio": 1.0}}
///
/// `RuntimeTransforms` (QuantaModel) is the graph form of the same thing.
public struct RuntimeMetadata: Codable, Sendable, Equatable {
    public struct KeyValueCache: Codable, Sendable, Equatable {
        public var bits: Int
        public var groupSize: Int
        public var symmetric: Bool
        public var clipRatio: Double

        public init(bits: Int, groupSize: Int, symmetric: Bool, clipRatio: Double) {
            self.bits = bits
            self.groupSize = groupSize
            self.symmetric = symmetric
            self.clipRatio = clipRatio
        }

        enum CodingKeys: String, CodingKey {
            case bits, symmetric
            case groupSize = "group_size"
            case clipRatio = "clip_ratio"
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            bits = try container.decode(Int.self, forKey: .bits)
            groupSize = try container.decode(Int.self, forKey: .groupSize)
            symmetric = try container.decodeIfPresent(Bool.self, forKey: .symmetric) ?? false
            clipRatio = try container.decodeIfPresent(Double.self, forKey: .clipRatio) ?? 1
        }
    }

    /// R4: an online Hadamard before every `down_proj`.
    public var onlineDownProjection: Bool
    /// R3: an online Hadamard over each head's queries and keys.
    public var onlineQueryKey: Bool
    public var keyValueCache: KeyValueCache?

    public init(onlineDownProjection: Bool = false, onlineQueryKey: Bool = false, keyValueCache: KeyValueCache? = nil) {
        self.onlineDownProjection = onlineDownProjection
        self.onlineQueryKey = onlineQueryKey
        self.keyValueCache = keyValueCache
    }

    enum CodingKeys: String, CodingKey {
        case onlineDownProjection = "online_down_proj"
        case onlineQueryKey = "online_query_key"
        case keyValueCache = "kv_cache"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        onlineDownProjection = try container.decodeIfPresent(Bool.self, forKey: .onlineDownProjection) ?? false
        onlineQueryKey = try container.decodeIfPresent(Bool.self, forKey: .onlineQueryKey) ?? false
        keyValueCache = try container.decodeIfPresent(KeyValueCache.self, forKey: .keyValueCache)
    }

    /// The metadata keys of what a plain LLaMA graph lacks, in a fixed order; empty for the plain graph.
    public var onlineTransforms: [String] {
        (onlineDownProjection ? ["online_down_proj"] : []) + (onlineQueryKey ? ["online_query_key"] : [])
            + (keyValueCache == nil ? [] : ["kv_cache"])
    }
}

/// One quantized (or pruned) linear in `quantization.json`.
public struct QuantizedTensorMetadata: Codable, Sendable, Equatable {
    public var algorithm: String
    public var stage: Int
    /// Nil for pruning-only stages (the dense weight is the result).
    public var bits: Int?
    /// Nil: per channel.
    public var groupSize: Int?
    public var symmetric: Bool?
    public var shape: [Int]
    public var loss: Double
    public var dampening: Double?
    public var activation: ActivationScheme?
    public var sparsity: String?
    public var prunedFraction: Double?

    public init(
        algorithm: String, stage: Int, bits: Int? = nil, groupSize: Int? = nil, symmetric: Bool? = nil, shape: [Int],
        loss: Double, dampening: Double? = nil, activation: ActivationScheme? = nil, sparsity: String? = nil,
        prunedFraction: Double? = nil
    ) {
        self.algorithm = algorithm
        self.stage = stage
        self.bits = bits
        self.groupSize = groupSize
        self.symmetric = symmetric
        self.shape = shape
        self.loss = loss
        self.dampening = dampening
        self.activation = activation
        self.sparsity = sparsity
        self.prunedFraction = prunedFraction
    }

    enum CodingKeys: String, CodingKey {
        case algorithm, stage, bits, symmetric, shape, loss, dampening, activation, sparsity
        case groupSize = "group_size"
        case prunedFraction = "pruned_fraction"
    }
}

/// `quantization.json` of a simulated directory: written by `SimulatedModelWriter`, read by
/// `SimulatedDirectory`, the runtime and `quanta report` — this type is the one schema.
public struct QuantizationMetadata: Codable, Sendable {
    public static let formatName = "quanta-simulated-v1"

    public var format: String
    public var tool: String
    public var recipe: JSONValue
    public var calibration: JSONValue?
    public var bitsPerWeightLinears: Double
    /// The safetensors file of codes, scales, zero points and group indices.
    public var arrays: String
    /// By module name (`model.layers.0.mlp.up_proj`).
    public var tensors: [String: QuantizedTensorMetadata]
    public var runtime: RuntimeMetadata?

    public init(
        tool: String, recipe: JSONValue, calibration: JSONValue?, bitsPerWeightLinears: Double, arrays: String,
        tensors: [String: QuantizedTensorMetadata], runtime: RuntimeMetadata?
    ) {
        self.format = Self.formatName
        self.tool = tool
        self.recipe = recipe
        self.calibration = calibration
        self.bitsPerWeightLinears = bitsPerWeightLinears
        self.arrays = arrays
        self.tensors = tensors
        self.runtime = runtime
    }

    enum CodingKeys: String, CodingKey {
        case format, tool, recipe, calibration, arrays, tensors, runtime
        case bitsPerWeightLinears = "bits_per_weight_linears"
    }

    /// Reads and decodes `path`; errors name the file and the field.
    public static func read(path: String) throws(FormatError) -> QuantizationMetadata {
        guard let data = FileManager.default.contents(atPath: path) else { throw .fileNotFound(path: path) }
        return try decodeJSON(QuantizationMetadata.self, from: data, path: path)
    }

    /// Pretty JSON with sorted keys (byte-identical for identical results).
    public func encoded() -> Data { encodeJSON(self) }
}

/// The `provenance` object of a container header: the recipe and calibration that made it,
/// and what its graph needs at run time.
public struct ContainerProvenance: Codable, Sendable {
    public var recipe: JSONValue?
    public var bitsPerWeightLinears: Double?
    public var activations: [String: ActivationScheme]?
    public var runtime: RuntimeMetadata?
    public var calibration: JSONValue?

    public init(
        recipe: JSONValue?, bitsPerWeightLinears: Double?, activations: [String: ActivationScheme]?, runtime: RuntimeMetadata?,
        calibration: JSONValue?
    ) {
        self.recipe = recipe
        self.bitsPerWeightLinears = bitsPerWeightLinears
        self.activations = activations
        self.runtime = runtime
        self.calibration = calibration
    }

    enum CodingKeys: String, CodingKey {
        case recipe, activations, runtime, calibration
        case bitsPerWeightLinears = "bits_per_weight_linears"
    }

    /// The header's `provenance` value decoded; errors name `path`.
    public static func decode(_ value: JSONValue, path: String) throws(FormatError) -> ContainerProvenance {
        try decodeJSON(ContainerProvenance.self, from: Data(value.serialized(pretty: false).utf8), path: path + " (provenance)")
    }

    /// The header form.
    public var json: JSONValue {
        (try? JSONValue.parse(encodeJSON(self), path: "provenance")) ?? .object([])
    }
}

/// Decodes `type` from JSON bytes; errors name `path` and the field, as `ModelConfig.decode`.
func decodeJSON<Value: Decodable>(_ type: Value.Type, from data: Data, path: String) throws(FormatError) -> Value {
    _ = try JSONValue.parse(data, path: path)  // syntax errors with a byte offset
    do {
        return try JSONDecoder().decode(type, from: data)
    } catch let DecodingError.keyNotFound(key, context) {
        throw .missingField(path: path, field: codingPath(context.codingPath + [key]))
    } catch let DecodingError.typeMismatch(type, context) {
        throw .invalidField(path: path, field: codingPath(context.codingPath), detail: "expected \(type)")
    } catch let DecodingError.valueNotFound(type, context) {
        throw .invalidField(path: path, field: codingPath(context.codingPath), detail: "expected \(type), found null")
    } catch let DecodingError.dataCorrupted(context) {
        throw .invalidField(path: path, field: codingPath(context.codingPath), detail: context.debugDescription)
    } catch {
        throw .invalidJSON(path: path, detail: "\(error)")
    }
}

/// Pretty JSON with sorted keys.
func encodeJSON<Value: Encodable>(_ value: Value) -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    // Plain values (numbers, strings, arrays, objects) always encode.
    return (try? encoder.encode(value)) ?? Data()
}

func codingPath(_ path: [any CodingKey]) -> String {
    path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
}

extension JSONValue: Codable {
    /// Objects decode with their keys sorted (`Decoder` does not keep member order).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            let members = try container.decode([String: JSONValue].self)
            self = .object(members.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let items): try container.encode(items)
        case .object(let members): try container.encode(Dictionary(members, uniquingKeysWith: { first, _ in first }))
        }
    }
}
