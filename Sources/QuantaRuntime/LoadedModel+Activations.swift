import Foundation
import QuantaFormats
import QuantaModel
import QuantaTensor

extension LoadedModel {
    /// For a simulated quantized directory whose `quantization.json` gives linears an
    /// activation spec (W8A8, W4A8): those linears as `ActivationQuantizedLinear` over their
    /// dense (dequantized) weights, so evaluation rounds activations as the quantized model
    /// will. Empty for any other model.
    public static func simulatedActivationLinears(path: String, checkpoint: ModelCheckpoint) throws
        -> [String: any LinearOperator]
    {
        let metadataPath = path + "/quantization.json"
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue,
            let data = FileManager.default.contents(atPath: metadataPath)
        else { return [:] }
        let metadata = try JSONValue.parse(data, path: metadataPath)
        guard case .object(let entries)? = metadata["tensors"] else { return [:] }
        var linears: [String: any LinearOperator] = [:]
        for (module, entry) in entries {
            guard let spec = entry["activation"] else { continue }
            let activation = try ActivationScheme(metadata: spec, path: metadataPath)
            guard let weight = checkpoint.tensors.first(where: { $0.name == module + ".weight" })?.tensor else {
                throw FormatError.missingTensor(path: path, tensor: module + ".weight")
            }
            let bias = try checkpoint.tensors.first { $0.name == module + ".bias" }?.tensor.floatValues()
            let dense = try DenseLinear(weight: Matrix(weight), bias: bias, name: module)
            linears[module] = ActivationQuantizedLinear(base: dense, activation: activation)
        }
        return linears
    }
}

extension LoadedModel {
    /// The `runtime` entry of a simulated directory's `quantization.json` (online Hadamards,
    /// KV cache), or `nil` for any other model.
    public static func simulatedRuntimeTransforms(path: String) throws -> RuntimeTransforms? {
        let metadataPath = path + "/quantization.json"
        guard let data = FileManager.default.contents(atPath: metadataPath),
            let entry = try JSONValue.parse(data, path: metadataPath)["runtime"]
        else { return nil }
        return try RuntimeTransforms(metadata: entry, path: metadataPath)
    }
}

extension LoadedModel {
    /// A container linear with run-time activation quantization. Symmetric per-channel
    /// weights (one group per row, no input permutation, zero point `2^(bits−1)`) of 2…8 bits
    /// with 2…8-bit activations run on the integer kernels (`Int8Linear`: W8A8 natively,
    /// W4A4 / W4A8 / W8A4 … as int8 kernels on low-bit operands, one byte per weight).
    /// Grouped or asymmetric weights, or act-order permutations, keep the fake-quant path:
    /// the packed kernels (`PackedLinear`) on fake-quantized float inputs.
    ///
    /// `integerKernels: false` takes the fake-quant path for every layer: its prefill runs
    /// the same dequantized weights through the same BLAS calls as the simulation, so a
    /// model's perplexity equals the simulation's exactly. The integer path equals it per
    /// linear to float rounding only, which low-bit activations amplify through the layers
    /// (a tie `k + 0.5` rounds either way): on SmolLM2 the container's perplexity differs
    /// from the simulation's by 1.6% (W4A8 per-channel RTN) to 7.8% (QuaRot RTN W4A4KV4),
    /// llamacpp protocol, 4 windows.
    public static func activationLinear(
        _ weights: PackedWeights, activation: ActivationScheme, bias: [Float]?, context: ComputeContext, name: String,
        integerKernels: Bool = true
    ) throws -> any LinearOperator {
        if integerKernels, weights.symmetric, weights.groupCount == 1, weights.inputPermutation == nil, (2...8).contains(activation.bits),
            weights.unpackedZeroPoints().allSatisfy({ Int($0) == weights.traits.symmetricZeroPoint })
        {
            return try Int8Linear(
                unsignedCodes: weights.unpackedCodes(), bits: weights.bits, weightScales: weights.scaleValues(),
                bias: bias, inputCount: weights.inputCount, outputCount: weights.outputCount, activation: activation,
                context: context, name: name)
        }
        let packed = try PackedLinear(
            bits: weights.bits, groupSize: weights.groupSize, inputCount: weights.inputCount,
            outputCount: weights.outputCount, codes: weights.codes.storage, scales: weights.scales.storage,
            zeros: weights.zeros.storage, inputPermutation: weights.permutation().map { $0.map(Int32.init) },
            bias: bias, context: context, name: name)
        return ActivationQuantizedLinear(base: packed, activation: activation)
    }
}

extension LoadedModel {
    /// The simulation of a container: every packed linear dequantized to a dense one, wrapped
    /// in `ActivationQuantizedLinear` where the container quantizes its activations, and the
    /// container's run-time transforms installed — what the packed model must reproduce.
    public static func simulatedContainer(path: String, computeContext: ComputeContext) throws -> TransformerModel {
        let container = try QuantaContainer(path: path, verify: true)
        let checkpoint = try container.dequantizedCheckpoint()
        var linears: [String: any LinearOperator] = [:]
        if case .object(let entries)? = container.provenance["activations"] {
            for (module, spec) in entries {
                let activation = try ActivationScheme(metadata: spec, path: path)
                guard let weight = checkpoint.tensors.first(where: { $0.name == module + ".weight" })?.tensor else {
                    throw FormatError.missingTensor(path: path, tensor: module + ".weight")
                }
                let bias = try checkpoint.tensors.first { $0.name == module + ".bias" }?.tensor.floatValues()
                let dense = try DenseLinear(weight: Matrix(weight), bias: bias, name: module)
                linears[module] = ActivationQuantizedLinear(base: dense, activation: activation)
            }
        }
        var model = try TransformerModel(checkpoint: checkpoint, computeContext: computeContext, linears: linears)
        if let runtime = try container.provenance["runtime"].map({ try RuntimeTransforms(metadata: $0, path: path) }) {
            try model.install(runtime)
        }
        return model
    }
}
