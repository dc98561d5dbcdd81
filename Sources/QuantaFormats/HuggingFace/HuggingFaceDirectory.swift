import Foundation
import QuantaTensor

/// A Hugging Face model directory: `config.json`, `model.safetensors` or a sharded index,
/// and optional tokenizer and generation files.
public enum HuggingFaceDirectory {
    public static let configFile = "config.json"
    public static let weightsFile = "model.safetensors"
    public static let indexFile = "model.safetensors.index.json"
    public static let tokenizerFile = "tokenizer.json"
    public static let tokenizerConfigFile = "tokenizer_config.json"
    public static let generationConfigFile = "generation_config.json"
    /// Shard size above which `write` splits the weights (transformers' default is 5 GB).
    public static let defaultMaximumShardBytes = 5_000_000_000

    /// Whether `path` looks like a model directory.
    public static func isModelDirectory(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path + "/" + configFile)
    }

    /// The tensor table of the directory's weight files, without reading tensor data.
    public static func tensorInfos(path: String) throws(FormatError) -> [TensorInfo] {
        switch try weightSource(path: path) {
        case .single(let file): file.tensorInfos
        case .sharded(let shards): shards.tensorInfos
        }
    }

    /// Loads the checkpoint: choose files → read tensors and config → sanitize → strict
    /// assignment (missing, unexpected or misshapen tensors are errors).
    public static func read(path: String) throws(FormatError) -> ModelCheckpoint {
        let config = try ModelConfig.read(path: path + "/" + configFile)
        let weightsPath: String
        let tensors: [NamedTensor]
        switch try weightSource(path: path) {
        case .single(let file):
            weightsPath = file.path
            tensors = try file.tensors()
        case .sharded(let shards):
            weightsPath = shards.indexPath
            tensors = try shards.tensors()
        }
        let assigned = try LlamaTensorLayout.assign(
            LlamaTensorLayout.sanitize(tensors, config: config), config: config, path: weightsPath)
        return ModelCheckpoint(
            config: config, tensors: assigned,
            tokenizer: try optionalFile(path + "/" + tokenizerFile),
            tokenizerConfig: try optionalFile(path + "/" + tokenizerConfigFile),
            generationConfig: try optionalFile(path + "/" + generationConfigFile))
    }

    /// Writes `checkpoint` as a model directory at `path` (replacing it atomically). Weights
    /// above `maximumShardBytes` are split into `model-0000i-of-0000n.safetensors` shards.
    public static func write(
        _ checkpoint: ModelCheckpoint, to path: String, maximumShardBytes: Int = defaultMaximumShardBytes
    ) throws(FormatError) {
        try AtomicOutput.produce(path) { temporary throws(FormatError) in
            do { try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: false) } catch {
                throw .writeFailed(path: path, reason: error.localizedDescription)
            }
            try AtomicOutput.write(checkpoint.config.encodedJSON(), to: temporary + "/" + configFile)
            try writeWeights(checkpoint.tensors, directory: temporary, maximumShardBytes: maximumShardBytes)
            let extras = [
                (tokenizerFile, checkpoint.tokenizer), (tokenizerConfigFile, checkpoint.tokenizerConfig),
                (generationConfigFile, checkpoint.generationConfig),
            ]
            for case (let name, let data?) in extras { try AtomicOutput.write(data, to: temporary + "/" + name) }
        }
    }

    private static func writeWeights(_ tensors: [NamedTensor], directory: String, maximumShardBytes: Int)
        throws(FormatError)
    {
        var shards: [[NamedTensor]] = [[]]
        var shardBytes = 0
        for item in tensors {
            if shardBytes > 0, shardBytes + item.tensor.byteCount > maximumShardBytes {
                shards.append([])
                shardBytes = 0
            }
            shards[shards.count - 1].append(item)
            shardBytes += item.tensor.byteCount
        }
        if shards.count == 1 {
            try SafetensorsWriter.write(tensors, to: directory + "/" + weightsFile)
            return
        }
        var weightMap: [(String, JSONValue)] = []
        for (index, shard) in shards.enumerated() {
            let name = String(format: "model-%05ld-of-%05ld.safetensors", index + 1, shards.count)
            try SafetensorsWriter.write(shard, to: directory + "/" + name)
            weightMap.append(contentsOf: shard.map { ($0.name, .string(name)) })
        }
        weightMap.sort { $0.0 < $1.0 }
        let totalSize = tensors.reduce(0) { $0 + $1.tensor.byteCount }
        let index = JSONValue.object([
            ("metadata", .object([("total_size", .integer(Int64(totalSize)))])),
            ("weight_map", .object(weightMap)),
        ])
        try AtomicOutput.write(Data(index.serialized().utf8), to: directory + "/" + indexFile)
    }

    private enum WeightSource {
        case single(SafetensorsFile)
        case sharded(ShardedSafetensors)
    }

    private static func weightSource(path: String) throws(FormatError) -> WeightSource {
        let manager = FileManager.default
        if manager.fileExists(atPath: path + "/" + indexFile) {
            return .sharded(try ShardedSafetensors(indexPath: path + "/" + indexFile))
        }
        if manager.fileExists(atPath: path + "/" + weightsFile) {
            return .single(try SafetensorsFile(path: path + "/" + weightsFile))
        }
        throw .missingTensor(path: path, tensor: "\(weightsFile)' or '\(indexFile)")
    }

    private static func optionalFile(_ path: String) throws(FormatError) -> Data? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do { return try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .cannotOpen(path: path, reason: error.localizedDescription)
        }
    }
}
