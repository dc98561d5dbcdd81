import Foundation
import QuantaTensor

/// A tensor and its checkpoint name.
public struct NamedTensor: Sendable {
    public var name: String
    public var tensor: Tensor

    public init(name: String, tensor: Tensor) {
        self.name = name
        self.tensor = tensor
    }
}

/// A whole model in Hugging Face naming: config, tensors in file order, tokenizer files.
/// Every importer produces one and every exporter consumes one.
public struct ModelCheckpoint: Sendable {
    public var config: ModelConfig
    public var tensors: [NamedTensor]
    /// `tokenizer.json` bytes, if the source has a tokenizer.
    public var tokenizer: Data?
    /// `tokenizer_config.json` bytes (special tokens, chat template).
    public var tokenizerConfig: Data?
    /// `generation_config.json` bytes.
    public var generationConfig: Data?

    public init(
        config: ModelConfig, tensors: [NamedTensor], tokenizer: Data? = nil, tokenizerConfig: Data? = nil,
        generationConfig: Data? = nil
    ) {
        self.config = config
        self.tensors = tensors
        self.tokenizer = tokenizer
        self.tokenizerConfig = tokenizerConfig
        self.generationConfig = generationConfig
    }

    /// The tensor named `name`, if present.
    public func tensor(named name: String) -> Tensor? {
        tensors.first { $0.name == name }?.tensor
    }

    public var parameterCount: Int { tensors.reduce(0) { $0 + $1.tensor.elementCount } }
}

/// One row of a file's tensor table, in the file's own dtype vocabulary (e.g. `Q4_1`).
public struct TensorInfo: Sendable, Codable, Equatable {
    public var name: String
    public var dtype: String
    public var shape: [Int]
    public var byteCount: Int

    public init(name: String, dtype: String, shape: [Int], byteCount: Int) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.byteCount = byteCount
    }

    public var elementCount: Int { shape.reduce(1, *) }
}
