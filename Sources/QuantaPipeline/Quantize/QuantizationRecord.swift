import QuantaAlgorithms
import QuantaFormats
import QuantaModel
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
    /// The sparsity pattern when the stage also pruned (SparseGPT with joint quantization):
    /// pruned weights hold their row's zero point and dequantize to 0.
    public var sparsity: SparsityPattern? = nil
}

/// What happened to one linear layer a pruning-only stage handled (magnitude, Wanda,
/// SparseGPT without quantization).
public struct PruningRecord: Sendable {
    public var name: String
    public var stage: Int
    public var algorithm: RecipeStage.Algorithm
    public var weight: PrunedWeight
    /// SparseGPT's reported loss (0 for magnitude and Wanda).
    public var loss: Double
    public var dampening: Double?
    public var seconds: Double
}

/// The result of a quantization run.
public struct QuantizationOutcome: Sendable {
    public var records: [QuantizationRecord]
    public var seconds: Double
    /// Dense tensors the transform stages changed (norm gains, linears left unquantized),
    /// written in place of the checkpoint's.
    public var transformedTensors: [NamedTensor] = []
    /// Linears a pruning-only stage handled (their values stay floating point).
    public var pruned: [PruningRecord] = []
    /// What the runtime adds to the graph (online Hadamards, KV cache quantization).
    public var runtime = RuntimeTransforms()
    /// Bits per weight over the quantized linears, counting codes plus a 16-bit scale and a
    /// `bits`-wide zero point per group (the packed layout's cost).
    public var bitsPerWeight: Double {
        var bits = 0.0
        var weights = 0.0
        for record in records {
            let scheme = record.weight.scheme
            let count = Double(record.weight.rows * record.weight.columns)
            let groups = Double(record.weight.rows * record.weight.groupCount)
            let valueBits = record.sparsity.map { Self.sparseBitsPerWeight($0, valueBits: scheme.bits) }
            bits += count * (valueBits ?? Double(scheme.bits)) + groups * Double(16 + scheme.bits)
            weights += count
        }
        for record in pruned {
            let count = Double(record.weight.values.rows * record.weight.values.columns)
            bits += count * Self.sparseBitsPerWeight(record.weight.pattern, valueBits: 16)
            weights += count
        }
        return weights > 0 ? bits / weights : 0
    }
}

extension QuantizationOutcome {
    /// `checkpoint` with the transformed tensors substituted by name and new ones appended; a
    /// rotation's own `lm_head.weight` unties the head from the embedding.
    public func applied(to checkpoint: ModelCheckpoint) -> ModelCheckpoint {
        guard !transformedTensors.isEmpty else { return checkpoint }
        var replacements: [String: Tensor] = [:]
        for item in transformedTensors { replacements[item.name] = item.tensor }
        var result = checkpoint
        result.tensors = checkpoint.tensors.map { item in
            guard let replacement = replacements.removeValue(forKey: item.name) else { return item }
            return NamedTensor(name: item.name, tensor: replacement)
        }
        result.tensors += transformedTensors.filter { replacements[$0.name] != nil }
        if result.tensors.contains(where: { $0.name == "lm_head.weight" }) { result.config.tieWordEmbeddings = false }
        return result
    }

    /// Storage bits per weight of a pruned matrix whose kept values take `valueBits` each: N:M
    /// stores the N kept values of each group of M plus a `⌈log₂ M⌉`-bit position per kept
    /// value (`docs/packed-weights.md`); unstructured sparsity is stored dense.
    public static func sparseBitsPerWeight(_ pattern: SparsityPattern, valueBits: Int) -> Double {
        switch pattern {
        case .structured(let kept, let groupSize):
            let indexBits = Int.bitWidth - (groupSize - 1).leadingZeroBitCount
            return Double(kept) / Double(groupSize) * Double(valueBits + indexBits)
        case .unstructured:
            return Double(valueBits)
        }
    }
}
