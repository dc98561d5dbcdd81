import Foundation
import QuantaAlgorithms
import QuantaFormats
import QuantaModel
import QuantaTensor

/// Writes a quantization result as a Quanta container (`docs/container.md`): quantized
/// linears bit-packed (`docs/packed-weights.md`), every other tensor dense in
/// `denseType` (F16 by default: the embedding dominates the file otherwise), the tokenizer
/// files, and the recipe and calibration as provenance. `quantizedModel` is the same result
/// for the GGUF and compressed-tensors exporters.
public enum ContainerExporter {
    public static func write(
        checkpoint: ModelCheckpoint, outcome: QuantizationOutcome, recipe: Recipe, calibration: CalibrationSpec?,
        denseType: DType = .float16, compress: Bool = true, to path: String
    ) throws {
        let model = try quantizedModel(checkpoint: checkpoint, outcome: outcome, denseType: denseType, path: path)
        var files: [QuantaContainerWriter.File] = []
        if let data = model.tokenizer { files.append(.init(name: "tokenizer.json", data: data)) }
        if let data = model.tokenizerConfig { files.append(.init(name: "tokenizer_config.json", data: data)) }
        if let data = model.generationConfig { files.append(.init(name: "generation_config.json", data: data)) }
        let calibrationJSON = calibration?.json
        let provenance = ContainerProvenance(
            recipe: try JSONValue.parse(recipe.encodedJSON(), path: "recipe"), bitsPerWeightLinears: outcome.bitsPerWeight,
            activations: model.activations.isEmpty ? nil : model.activations, runtime: model.runtime, calibration: calibrationJSON)
        var options = QuantaContainerWriter.Options()
        options.zstdLevel = compress ? 3 : nil
        try QuantaContainerWriter.write(
            to: path, config: model.config, files: files, provenance: provenance.json, tensors: model.tensors,
            options: options)
    }

    /// The result as the container and the exporters hold it: quantized linears packed
    /// (2:4 ones as kept values plus positions), every other tensor dense in `denseType`
    /// (matrices; vectors stay F32), with the activation schemes and runtime transforms.
    public static func quantizedModel(
        checkpoint: ModelCheckpoint, outcome: QuantizationOutcome, denseType: DType = .float16, path: String
    ) throws -> QuantizedModel {
        var packed: [String: PackedWeights] = [:]
        var sparse: [String: SparseWeights] = [:]
        for record in outcome.records {
            let weight = record.weight
            if record.sparsity == .twoOfFour, weight.permutation == nil {
                sparse[record.name + ".weight"] = try SparseWeights.pack(
                    name: record.name + ".weight", codes: weight.codes, scales: weight.scales.values,
                    zeroPoints: weight.zeroPoints, outputCount: weight.rows, inputCount: weight.columns,
                    bits: weight.scheme.bits, groupSize: weight.scheme.groupSize ?? weight.columns,
                    symmetric: weight.scheme.symmetric)
                continue
            }
            packed[record.name + ".weight"] = try PackedWeights.pack(
                name: record.name + ".weight", codes: weight.codes, scales: weight.scales.values,
                zeroPoints: weight.zeroPoints, groupIndex: weight.groupIndex, outputCount: weight.rows,
                inputCount: weight.columns, bits: weight.scheme.bits,
                groupSize: min(weight.scheme.groupSize ?? weight.columns, weight.columns),
                symmetric: weight.scheme.symmetric)
        }
        // Pruning-only stages: 2:4 as kept values (in `denseType`) plus positions, others dense.
        var prunedValues: [String: Matrix] = [:]
        for record in outcome.pruned {
            let values = record.weight.values
            if record.weight.pattern == .twoOfFour {
                sparse[record.name + ".weight"] = try SparseWeights.pack(
                    name: record.name + ".weight", values: values.values, outputCount: values.rows,
                    inputCount: values.columns, valueType: denseType == .float32 ? .float32 : .float16)
            } else {
                prunedValues[record.name + ".weight"] = values
            }
        }
        var tensors: [ContainerTensor] = []
        let checkpoint = outcome.applied(to: checkpoint)
        for var item in checkpoint.tensors {
            if let values = prunedValues[item.name] {
                item.tensor = try Tensor(shape: [values.rows, values.columns], values: values.values)
            }
            if let weights = sparse[item.name] {
                tensors.append(ContainerTensor(name: item.name, content: .sparse(weights)))
            } else if let weights = packed[item.name] {
                tensors.append(ContainerTensor(name: item.name, packed: weights))
            } else {
                let type = item.tensor.shape.count == 2 ? denseType : .float32
                tensors.append(ContainerTensor(name: item.name, dense: try item.tensor.converted(to: type)))
            }
        }
        var activations: [String: ActivationScheme] = [:]
        for record in outcome.records { if let activation = record.activation { activations[record.name] = activation } }
        return QuantizedModel(
            path: path, config: checkpoint.config, tokenizer: checkpoint.tokenizer, tokenizerConfig: checkpoint.tokenizerConfig,
            generationConfig: checkpoint.generationConfig, tensors: tensors, activations: activations,
            runtime: outcome.runtime.isEmpty ? nil : outcome.runtime.metadata)
    }
}
