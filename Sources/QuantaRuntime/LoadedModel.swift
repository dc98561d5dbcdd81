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

    /// How a container's LM head runs.
    public enum HeadFormat: String, Sendable, CaseIterable {
        /// The stored values (an f16 head stays f16 on `Float16Linear`): exact.
        case exact
        /// Re-quantized at load to int8 in groups of 32 (`Int8Head`) on the packed int8 kernel:
        /// half the bytes of f16 per decode step, not exact (changes perplexity slightly).
        case int8
    }

    /// Loads `path`; `head` and `activations` (the packed linears' decode path) apply to
    /// containers (float models keep their f32 head and dense linears). `weightsOnly` runs a
    /// simulated directory without the activation quantization it declares (W8A8 weights
    /// with float activations: what a dequantizing loader such as transformers runs).
    public static func load(
        path: String, computeContext: ComputeContext, head: HeadFormat = .exact, activations: ActivationPrecision = .float,
        weightsOnly: Bool = false
    ) throws -> LoadedModel {
        let checkpoint: ModelCheckpoint
        var linears: [String: any LinearOperator] = [:]
        var runtime: RuntimeTransforms?
        if try ModelFormat.detect(path: path) == .quanta {
            (checkpoint, linears, runtime) = try containerParts(
                path: path, computeContext: computeContext, head: head, activations: activations)
        } else {
            checkpoint = try ModelFiles.loadCheckpoint(path: path)
            if !weightsOnly { linears = try simulatedActivationLinears(path: path, checkpoint: checkpoint) }
            runtime = try simulatedRuntimeTransforms(path: path)
        }
        var model = try TransformerModel(checkpoint: checkpoint, computeContext: computeContext, linears: linears)
        if let runtime { try model.install(runtime) }
        let tokenizer = try Tokenizer(checkpoint: checkpoint, path: path)
        var template: String?
        if let data = checkpoint.tokenizerConfig {
            template = try JSONValue.parse(data, path: path + "/tokenizer_config.json")["chat_template"]?.stringValue
        }
        return LoadedModel(path: path, model: model, tokenizer: tokenizer, chatTemplateSource: template)
    }

    /// The transformer of a container on the packed kernels with its run-time transforms
    /// installed: what `load` runs, without needing a tokenizer.
    public static func containerModel(
        path: String, computeContext: ComputeContext, head: HeadFormat = .exact, activations: ActivationPrecision = .float
    ) throws -> TransformerModel {
        let (checkpoint, linears, runtime) = try containerParts(
            path: path, computeContext: computeContext, head: head, activations: activations)
        var model = try TransformerModel(checkpoint: checkpoint, computeContext: computeContext, linears: linears)
        if let runtime { try model.install(runtime) }
        return model
    }

    /// The dense tensors and tokenizer of a container as a checkpoint, and its packed
    /// tensors as `PackedLinear` operators (2:4 sparse ones as `SparseLinear`) by module name; an
    /// f16 head (tied embedding or `lm_head.weight`) runs on `Float16Linear`, or on an int8
    /// re-quantization with `head: .int8`. Every tensor is read here, so every checksum is
    /// verified at load. The container's run-time graph additions (`runtime` in its
    /// provenance) come back for `TransformerModel.install`.
    static func containerParts(
        path: String, computeContext: ComputeContext, head: HeadFormat, activations: ActivationPrecision
    ) throws
        -> (ModelCheckpoint, [String: any LinearOperator], RuntimeTransforms?)
    {
        let container = try QuantaContainer(path: path, verify: false)
        let provenance = try ContainerProvenance.decode(container.provenance, path: path)
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
            if let activation = provenance.activations?[module] {
                linears[module] = try activationLinear(
                    weights, activation: activation, bias: bias, context: computeContext, name: tensor.name)
                continue
            }
            var linear = try PackedLinear(
                bits: weights.bits, groupSize: weights.groupSize, inputCount: weights.inputCount,
                outputCount: weights.outputCount, codes: weights.codes.storage, scales: weights.scales.storage,
                zeros: weights.zeros.storage, inputPermutation: weights.permutation().map { $0.map(Int32.init) },
                bias: bias, context: computeContext, name: tensor.name)
            linear.activationPrecision = activations
            linears[module] = linear
        }
        let headName = container.config.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight"
        if linears["lm_head"] == nil, let weight = dense.first(where: { $0.name == headName })?.tensor,
            weight.shape.count == 2
        {
            let (outputs, inputs) = (weight.shape[0], weight.shape[1])
            switch head {
            case .int8:
                linears["lm_head"] = try Int8Head.quantize(
                    weight.floatValues(), outputCount: outputs, inputCount: inputs, context: computeContext, name: headName)
            case .exact where weight.dtype == .float16:
                linears["lm_head"] = try Float16Linear(
                    weights: weight.storage, outputCount: outputs, inputCount: inputs, context: computeContext, name: headName)
            case .exact:
                break  // f32/bf16: the checkpoint's dense head
            }
        }
        let checkpoint = ModelCheckpoint(
            config: container.config, tensors: dense, tokenizer: try container.file(named: "tokenizer.json"),
            tokenizerConfig: try container.file(named: "tokenizer_config.json"),
            generationConfig: try container.file(named: "generation_config.json"))
        let runtime = try provenance.runtime.map { (metadata) throws(ModelError) in try RuntimeTransforms(metadata: metadata) }
        return (checkpoint, linears, runtime)
    }
}
