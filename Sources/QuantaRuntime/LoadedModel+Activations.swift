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
