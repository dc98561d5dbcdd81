import Foundation
import QuantaAlgorithms
import QuantaFormats
import QuantaModel
import QuantaTensor

/// Writes a quantization result as a Hugging Face directory holding the dequantized
/// (simulated) weights, plus everything needed to pack it losslessly later:
///
/// - `quantization.safetensors`: per quantized linear `<name>.codes` (U8 `[out, in]`, original
///   column order), `<name>.scales` (F32 `[out, groups]`), `<name>.zero_points` (U8
///   `[out, groups]`), `<name>.group_index` (I32 `[in]`) and, with act-order,
///   `<name>.permutation` (I32 `[in]`, the order columns were quantized in);
/// - `quantization.json`: format tag, tool version, the recipe and calibration used, and
///   per tensor its scheme, algorithm and loss;
/// - `recipe.json`: the recipe as applied; `timing.json`: run and per-tensor seconds (the
///   only file that differs between runs on identical inputs).
///
/// The whole directory is written to a temporary name and renamed into place.
public enum SimulatedModelWriter {
    public static let formatName = QuantizationMetadata.formatName
    public static let toolVersion = "quanta 0.1.0"

    public static func write(
        checkpoint: ModelCheckpoint, outcome: QuantizationOutcome, recipe: Recipe, calibration: CalibrationSpec?,
        to path: String
    ) throws {
        var quantized = outcome.applied(to: checkpoint)
        var tensors = quantized.tensors
        var arrays: [NamedTensor] = []
        var entries: [String: QuantizedTensorMetadata] = [:]
        for record in outcome.records {
            let weightName = record.name + ".weight"
            guard let index = tensors.firstIndex(where: { $0.name == weightName }) else {
                throw FormatError.missingTensor(path: path, tensor: weightName)
            }
            let weight = record.weight
            tensors[index].tensor = try Tensor(
                shape: [weight.rows, weight.columns], values: weight.dequantized.values)
            arrays += try [
                NamedTensor(name: record.name + ".codes", tensor: Tensor(
                    dtype: .uint8, shape: [weight.rows, weight.columns], storage: TensorStorage(array: weight.codes))),
                NamedTensor(name: record.name + ".scales", tensor: Tensor(
                    shape: [weight.rows, weight.groupCount], values: weight.scales.values)),
                NamedTensor(name: record.name + ".zero_points", tensor: Tensor(
                    dtype: .uint8, shape: [weight.rows, weight.groupCount], storage: TensorStorage(array: weight.zeroPoints))),
                NamedTensor(name: record.name + ".group_index", tensor: Tensor(
                    dtype: .int32, shape: [weight.columns], storage: TensorStorage(array: weight.groupIndex.map(Int32.init)))),
            ]
            if let permutation = weight.permutation {
                arrays.append(NamedTensor(name: record.name + ".permutation", tensor: try Tensor(
                    dtype: .int32, shape: [weight.columns], storage: TensorStorage(array: permutation.map(Int32.init)))))
            }
            entries[record.name] = QuantizedTensorMetadata(
                algorithm: record.algorithm.rawValue, stage: record.stage, bits: weight.scheme.bits,
                groupSize: weight.scheme.groupSize, symmetric: weight.scheme.symmetric, shape: [weight.rows, weight.columns],
                loss: record.loss, dampening: record.dampening, activation: record.activation,
                sparsity: record.sparsity?.description)
        }
        for record in outcome.pruned {
            let weightName = record.name + ".weight"
            guard let index = tensors.firstIndex(where: { $0.name == weightName }) else {
                throw FormatError.missingTensor(path: path, tensor: weightName)
            }
            let values = record.weight.values
            tensors[index].tensor = try Tensor(shape: [values.rows, values.columns], values: values.values)
            entries[record.name] = QuantizedTensorMetadata(
                algorithm: record.algorithm.rawValue, stage: record.stage, shape: [values.rows, values.columns],
                loss: record.loss, dampening: record.dampening, sparsity: record.weight.pattern.description,
                prunedFraction: record.weight.sparsity)
        }
        let recipeJSON = try JSONValue.parse(recipe.encodedJSON(), path: "recipe")
        let calibrationJSON = calibration?.json
        let metadata = QuantizationMetadata(
            tool: toolVersion, recipe: recipeJSON, calibration: calibrationJSON, bitsPerWeightLinears: outcome.bitsPerWeight,
            arrays: SimulatedDirectory.arraysFile, tensors: entries, runtime: outcome.runtime.isEmpty ? nil : outcome.runtime.metadata)
        // Timings vary run to run, so they live apart: everything else is byte-identical for
        // identical inputs.
        let timing = JSONValue.object([
            ("seconds", .number(outcome.seconds)),
            ("tensors", .object(outcome.records.map { ($0.name, .number($0.seconds)) }
                + outcome.pruned.map { ($0.name, .number($0.seconds)) })),
        ])
        quantized.tensors = tensors
        try AtomicOutput.produce(path) { temporary throws(FormatError) in
            try HuggingFaceDirectory.write(quantized, to: temporary)
            try SafetensorsWriter.write(arrays, to: temporary + "/quantization.safetensors")
            try AtomicOutput.write(metadata.encoded(), to: temporary + "/" + SimulatedDirectory.metadataFile)
            try AtomicOutput.write(recipe.encodedJSON(), to: temporary + "/recipe.json")
            try AtomicOutput.write(Data(timing.serialized().utf8), to: temporary + "/timing.json")
        }
    }
}
