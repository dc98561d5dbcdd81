import QuantaAlgorithms
import QuantaFormats
import QuantaTensor

/// What happened to one linear layer.
public struct QuantizationRecord: Sendable {
    /// Module name, e.g. `model.layers.3.mlp.down_proj` (the weight is `<name>.weight`).
    public var name: String
    public var stage: Int
    public var algorithm: RecipeStage.Algorithm
    public var weight: QuantizedWeight
    /// GPTQ's reported loss (0 for RTN).
    public var loss: Double
    /// The dampening fraction finally used (GPTQ), after any retries.
    public var dampening: Double?
    public var seconds: Double
    /// Run-time activation quantization of the linear's input (W8A8, W4A8), if any.
    public var activation: ActivationScheme? = nil
}

/// The result of a quantization run.
public struct QuantizationOutcome: Sendable {
    public var records: [QuantizationRecord]
    public var seconds: Double
    /// Dense tensors the transform stages changed (norm gains, linears left unquantized),
    /// written in place of the checkpoint's.
    public var transformedTensors: [NamedTensor] = []
    /// Bits per weight over the quantized linears, counting codes plus a 16-bit scale and a
    /// `bits`-wide zero point per group (the packed layout's cost).
    public var bitsPerWeight: Double {
        var bits = 0.0
        var weights = 0.0
        for record in records {
            let scheme = record.weight.scheme
            let count = Double(record.weight.rows * record.weight.columns)
            let groups = Double(record.weight.rows * record.weight.groupCount)
            bits += count * Double(scheme.bits) + groups * Double(16 + scheme.bits)
            weights += count
        }
        return weights > 0 ? bits / weights : 0
    }
}

extension QuantizationOutcome {
    /// `tensors` with the transformed ones substituted by name.
    public func applyingTransformedTensors(to tensors: [NamedTensor]) -> [NamedTensor] {
        guard !transformedTensors.isEmpty else { return tensors }
        var replacements: [String: Tensor] = [:]
        for item in transformedTensors { replacements[item.name] = item.tensor }
        return tensors.map { item in
            guard let replacement = replacements[item.name] else { return item }
            return NamedTensor(name: item.name, tensor: replacement)
        }
    }
}
