import Foundation
import QuantaFormats
import QuantaTensor
import Testing

/// A fresh temporary directory, removed when the value is deinitialised.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "quanta-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }

    func write(_ bytes: [UInt8], to name: String) throws -> String {
        let target = file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        return target
    }
}

/// Expects `body` to throw a FormatError whose message contains every fragment.
func expectFormatError(
    _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) {
    do {
        try body()
        Issue.record("expected an error containing \(fragments)", sourceLocation: sourceLocation)
    } catch let error as FormatError {
        let message = error.errorDescription ?? ""
        for fragment in fragments where !message.contains(fragment) {
            Issue.record("error '\(message)' lacks '\(fragment)'", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
    }
}

/// Bytes of a safetensors file with the given header text and data section.
func safetensorsBytes(header: String, data: [UInt8]) -> [UInt8] {
    let headerBytes = Array(header.utf8)
    let length = UInt64(headerBytes.count)
    return (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) } + headerBytes + data
}

/// A tiny LLaMA config for tests: 2 layers, hidden 8, 2 heads, 1 KV head, vocab 16.
func tinyConfig(tied: Bool = true) -> ModelConfig {
    ModelConfig(
        hiddenSize: 8, intermediateSize: 12, layerCount: 2, attentionHeads: 2, kvHeads: 1, vocabularySize: 16,
        tieWordEmbeddings: tied, bosTokenId: 1, eosTokenIds: [2])
}

/// A checkpoint of `config` with deterministic values (tensor index + position / 1000).
func tinyCheckpoint(config: ModelConfig = tinyConfig(), dtype: DType = .float32) throws -> ModelCheckpoint {
    var tensors: [NamedTensor] = []
    for (index, name) in LlamaTensorLayout.expectedNames(for: config).enumerated() {
        let shape = LlamaTensorLayout.expectedShape(of: name, for: config)!
        let count = shape.reduce(1, *)
        let values = (0..<count).map { Float(index) + Float($0) / 1000 }
        tensors.append(NamedTensor(name: name, tensor: try Tensor(shape: shape, values: values).converted(to: dtype)))
    }
    return ModelCheckpoint(
        config: config, tensors: tensors, tokenizer: Data(#"{"model": {}}"#.utf8),
        tokenizerConfig: Data(#"{"bos_token": "<s>"}"#.utf8))
}
