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
        let metadataPath = path + "/" + SimulatedDirectory.metadataFile
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue,
            FileManager.default.fileExists(atPath: metadataPath)
        else { return [:] }
        let metadata = try QuantizationMetadata.read(path: metadataPath)
        var arrays: [String: Tensor]?
        var linears: [String: any LinearOperator] = [:]
        for (module, entry) in metadata.tensors.sorted(by: { $0.key < $1.key }) {
            guard let activation = entry.activation else { continue }
            guard let weight = checkpoint.tensors.first(where: { $0.name == module + ".weight" })?.tensor else {
                throw FormatError.missingTensor(path: path, tensor: module + ".weight")
            }
            let bias = try checkpoint.tensors.first { $0.name == module + ".bias" }?.tensor.floatValues()
            if entry.symmetric == true, entry.groupSize == nil {
                if arrays == nil {
                    let file = try SafetensorsFile(path: path + "/" + SimulatedDirectory.arraysFile)
                    arrays = Dictionary(uniqueKeysWithValues: try file.tensors().map { ($0.name, $0.tensor) })
                }
                if let exact = try integerSimulation(module, arrays: arrays ?? [:], bias: bias, activation: activation) {
                    linears[module] = exact
                    continue
                }
            }
            let dense = try DenseLinear(weight: Matrix(weight), bias: bias, name: module)
            linears[module] = ActivationQuantizedLinear(base: dense, activation: activation)
        }
        return linears
    }

    /// `IntegerSimulatedLinear` from a simulated directory's codes, zero points and scales
    /// (`quantization.safetensors`) of a symmetric per-channel linear without act-order.
    static func integerSimulation(
        _ module: String, arrays: [String: Tensor], bias: [Float]?, activation: ActivationScheme
    ) throws -> IntegerSimulatedLinear? {
        guard arrays[module + ".permutation"] == nil, let codes = arrays[module + ".codes"], codes.shape.count == 2,
            let zeros = arrays[module + ".zero_points"], let scales = arrays[module + ".scales"],
            zeros.shape == [codes.shape[0], 1], scales.shape == [codes.shape[0], 1], codes.dtype == .uint8, zeros.dtype == .uint8
        else { return nil }
        let (rows, columns) = (codes.shape[0], codes.shape[1])
        let codeValues = codes.storage.withUnsafeBytes { Array($0) }
        let zeroValues = zeros.storage.withUnsafeBytes { Array($0) }
        var centered = [Float](repeating: 0, count: rows * columns)
        for row in 0..<rows {
            for column in 0..<columns { centered[row * columns + column] = Float(codeValues[row * columns + column]) - Float(zeroValues[row]) }
        }
        return IntegerSimulatedLinear(
            weightCodes: try Matrix(rows: rows, columns: columns, values: centered), weightScales: try scales.floatValues(),
            bias: bias, activation: activation)
    }
}

extension LoadedModel {
    /// The `runtime` entry of a simulated directory's `quantization.json` (online Hadamards,
    /// KV cache), or `nil` for any other model.
    public static func simulatedRuntimeTransforms(path: String) throws -> RuntimeTransforms? {
        let metadataPath = path + "/" + SimulatedDirectory.metadataFile
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue,
            FileManager.default.fileExists(atPath: metadataPath),
            let runtime = try QuantizationMetadata.read(path: metadataPath).runtime
        else { return nil }
        return try RuntimeTransforms(metadata: runtime)
    }
}

extension LoadedModel {
    /// A container linear with run-time activation quantization. Symmetric per-channel
    /// weights (one group per row, no input permutation, zero point `2^(bits−1)`) of 2…8 bits
    /// with 2…8-bit activations run on the integer kernels (`Int8Linear`: W8A8 natively,
    /// W4A4 / W4A8 / W8A4 … as int8 kernels on low-bit operands, one byte per weight).
    /// Grouped or asymmetric weights, or act-order permutations, keep the fake-quant path:
    /// the packed kernels (`PackedLinear`) on fake-quantized float inputs. The simulation of
    /// an integer-kernel linear is `IntegerSimulatedLinear`, which computes the same sums.
    public static func activationLinear(
        _ weights: PackedWeights, activation: ActivationScheme, bias: [Float]?, context: ComputeContext, name: String
    ) throws -> any LinearOperator {
        if weights.isSymmetricPerChannel, (2...8).contains(activation.bits) {
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
    /// The simulation of a container: every packed linear dequantized to a dense one; where the
    /// container quantizes a linear's activations, that linear computed as `IntegerSimulatedLinear`
    /// (symmetric per-channel weights: bit-identical to the integer kernels) or
    /// `ActivationQuantizedLinear`; the container's run-time transforms installed — what the
    /// packed model must reproduce.
    public static func simulatedContainer(path: String, computeContext: ComputeContext) throws -> TransformerModel {
        let container = try QuantaContainer(path: path, verify: true)
        let checkpoint = try container.dequantizedCheckpoint()
        let provenance = try ContainerProvenance.decode(container.provenance, path: path)
        var linears: [String: any LinearOperator] = [:]
        if let activations = provenance.activations {
            for (module, activation) in activations.sorted(by: { $0.key < $1.key }) {
                guard let weight = checkpoint.tensors.first(where: { $0.name == module + ".weight" })?.tensor else {
                    throw FormatError.missingTensor(path: path, tensor: module + ".weight")
                }
                let bias = try checkpoint.tensors.first { $0.name == module + ".bias" }?.tensor.floatValues()
                if case .packed(let packed) = try container.tensor(named: module + ".weight").content, packed.isSymmetricPerChannel,
                    let exact = IntegerSimulatedLinear(
                        weightCodes: try packed.centeredCodes(), weightScales: packed.scaleValues(), bias: bias, activation: activation)
                {
                    linears[module] = exact
                    continue
                }
                let dense = try DenseLinear(weight: Matrix(weight), bias: bias, name: module)
                linears[module] = ActivationQuantizedLinear(base: dense, activation: activation)
            }
        }
        var model = try TransformerModel(checkpoint: checkpoint, computeContext: computeContext, linears: linears)
        if let runtime = provenance.runtime { try model.install(RuntimeTransforms(metadata: runtime)) }
        return model
    }
}

extension PackedWeights {
    /// Whether the integer kernels run these weights: symmetric, one group per row, no
    /// act-order permutation, every zero point the symmetric one.
    var isSymmetricPerChannel: Bool {
        symmetric && groupCount == 1 && inputPermutation == nil
            && unpackedZeroPoints().allSatisfy { Int($0) == traits.symmetricZeroPoint }
    }

    /// The codes minus the symmetric zero point, as a float `[outputCount × inputCount]` matrix.
    func centeredCodes() throws -> Matrix {
        let zero = Float(traits.symmetricZeroPoint)
        return try Matrix(rows: outputCount, columns: inputCount, values: unpackedCodes().map { Float($0) - zero })
    }
}
