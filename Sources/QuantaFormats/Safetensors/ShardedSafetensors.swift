import Foundation
import QuantaTensor

/// A set of safetensors shards described by `model.safetensors.index.json`
/// (`{"metadata": {...}, "weight_map": {tensor: shard file}}`).
public struct ShardedSafetensors: Sendable {
    public let indexPath: String
    /// Shards in the order they are first named by the index.
    public let shards: [SafetensorsFile]

    public init(indexPath: String) throws(FormatError) {
        self.indexPath = indexPath
        let index = try JSONValue.read(path: indexPath)
        guard case .object(let weightMap) = index["weight_map"] else {
            throw .missingField(path: indexPath, field: "weight_map")
        }
        let directory = (indexPath as NSString).deletingLastPathComponent
        var shardNames: [String] = []
        var expected: [String: String] = [:]
        for (tensor, value) in weightMap {
            guard let shard = value.stringValue else {
                throw .invalidField(path: indexPath, field: "weight_map.\(tensor)", detail: "must be a file name")
            }
            guard !shard.contains("/"), !shard.hasPrefix(".") else {
                throw .invalidField(path: indexPath, field: "weight_map.\(tensor)", detail: "'\(shard)' must be a file in the same directory")
            }
            guard expected.updateValue(shard, forKey: tensor) == nil else {
                throw .duplicateTensor(path: indexPath, tensor: tensor)
            }
            if !shardNames.contains(shard) { shardNames.append(shard) }
        }
        var shards: [SafetensorsFile] = []
        var found: [String: String] = [:]
        for name in shardNames {
            let shardPath = directory + "/" + name
            guard FileManager.default.fileExists(atPath: shardPath) else {
                throw .invalidField(path: indexPath, field: "weight_map", detail: "shard '\(name)' does not exist in \(directory)")
            }
            let shard = try SafetensorsFile(path: shardPath)
            for entry in shard.entries {
                if let other = found.updateValue(name, forKey: entry.name) {
                    throw .duplicateTensor(path: shardPath, tensor: "\(entry.name)' (also in '\(other)")
                }
                guard expected[entry.name] == name else {
                    throw .unexpectedTensor(path: shardPath, tensor: "\(entry.name)' (not mapped to this shard by \(indexPath)")
                }
            }
            shards.append(shard)
        }
        for (tensor, shard) in weightMap where found[tensor] == nil {
            throw .missingTensor(path: directory + "/" + (shard.stringValue ?? "?"), tensor: tensor)
        }
        self.shards = shards
    }

    public var tensorInfos: [TensorInfo] { shards.flatMap(\.tensorInfos) }

    public func tensors() throws(FormatError) -> [NamedTensor] {
        var result: [NamedTensor] = []
        for shard in shards { result.append(contentsOf: try shard.tensors()) }
        return result
    }
}
