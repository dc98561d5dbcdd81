import Foundation
import QuantaFormats
import QuantaModel
import QuantaTensor

/// A model ready to run: the transformer, its tokenizer and its chat template source.
/// Loads any format `ModelFiles` reads (Hugging Face directory, HDF5, GGUF) and Quanta
/// containers, whose packed linears run on the packed kernels (never dequantized whole).
public struct LoadedModel: Sendable {
    public var path: String
    public var model: TransformerModel
    public var tokenizer: Tokenizer
    /// `chat_template` from tokenizer_config.json, if any.
    public var chatTemplateSource: String?

    public static func load(path: String, computeContext: ComputeContext) throws -> LoadedModel {
        let checkpoint: ModelCheckpoint
        var linears: [String: any LinearOperator] = [:]
        if try ModelFormat.detect(path: path) == .quanta {
            (checkpoint, linears) = try containerParts(path: path, computeContext: computeContext)
        } else {
            checkpoint = try ModelFiles.loadCheckpoint(path: path)
        }
        let model = try TransformerModel(checkpoint: checkpoint, computeContext: computeContext, linears: linears)
        let tokenizer = try Tokenizer(checkpoint: checkpoint, path: path)
        var template: String?
        if let data = checkpoint.tokenizerConfig {
            template = try JSONValue.parse(data, path: path + "/tokenizer_config.json")["chat_template"]?.stringValue
        }
        return LoadedModel(path: path, model: model, tokenizer: tokenizer, chatTemplateSource: template)
    }

    /// The dense tensors and tokenizer of a container as a checkpoint, and its packed
    /// tensors as `PackedLinear` (2:4 sparse ones as `SparseLinear`) operators by module name. Checksums are verified per
    /// tensor as it is read.
    static func containerParts(path: String, computeContext: ComputeContext) throws
        -> (ModelCheckpoint, [String: any LinearOperator])
    {
        let container = try QuantaContainer(path: path, verify: false)
        let tensors = try container.tensors()
        var dense: [NamedTensor] = []
        for tensor in tensors {
            if case .dense(let values) = tensor.content { dense.append(NamedTensor(name: tensor.name, tensor: values)) }
        }
        var linears: [String: any LinearOperator] = [:]
        for tensor in tensors {
            if case .sparse(let weights) = tensor.content {
                let module = String(tensor.name.dropLast(".weight".count))
                let bias = try dense.first { $0.name == module + ".bias" }?.tensor.floatValues()
                linears[module] = try SparseLinear(weights: weights, bias: bias, context: computeContext, name: tensor.name)
                continue
            }
            guard case .packed(let weights) = tensor.content else { continue }
            let module = String(tensor.name.dropLast(".weight".count))
            let bias = try dense.first { $0.name == module + ".bias" }?.tensor.floatValues()
            linears[module] = try PackedLinear(
                bits: weights.bits, groupSize: weights.groupSize, inputCount: weights.inputCount,
                outputCount: weights.outputCount, codes: weights.codes.storage, scales: weights.scales.storage,
                zeros: weights.zeros.storage, inputPermutation: weights.permutation().map { $0.map(Int32.init) },
                bias: bias, context: computeContext, name: tensor.name)
        }
        let checkpoint = ModelCheckpoint(
            config: container.config, tensors: dense, tokenizer: try container.file(named: "tokenizer.json"),
            tokenizerConfig: try container.file(named: "tokenizer_config.json"),
            generationConfig: try container.file(named: "generation_config.json"))
        return (checkpoint, linears)
    }
}
