import Foundation
import QuantaFormats
import QuantaTensor
import Testing

@Suite struct QuantizationMetadataTests {
    @Test func quantizationJSONRoundTripsThroughItsSchema() throws {
        let metadata = QuantizationMetadata(
            tool: "quanta 0.1.0", recipe: .object([("name", .string("r"))]), calibration: nil, bitsPerWeightLinears: 4.169,
            arrays: "quantization.safetensors",
            tensors: [
                "model.layers.0.mlp.up_proj": QuantizedTensorMetadata(
                    algorithm: "gptq", stage: 0, bits: 4, groupSize: 128, symmetric: false, shape: [1536, 576], loss: 0.5,
                    dampening: 0.01, activation: ActivationScheme(bits: 8, granularity: .perToken)),
                "model.layers.0.mlp.down_proj": QuantizedTensorMetadata(
                    algorithm: "sparsegpt", stage: 1, shape: [576, 1536], loss: 0.1, sparsity: "2:4", prunedFraction: 0.5),
            ],
            runtime: RuntimeMetadata(onlineDownProjection: true, keyValueCache: .init(bits: 4, groupSize: 64, symmetric: false, clipRatio: 1)))
        let directory = try TemporaryDirectory()
        let path = directory.file("quantization.json")
        try metadata.encoded().write(to: URL(fileURLWithPath: path))
        let read = try QuantizationMetadata.read(path: path)
        #expect(read.tensors == metadata.tensors)
        #expect(read.runtime == metadata.runtime)
        #expect(read.recipe["name"]?.stringValue == "r")
        #expect(read.bitsPerWeightLinears == 4.169)
        #expect(read.runtime?.onlineTransforms == ["online_down_proj", "kv_cache"])
        #expect(metadata.encoded() == read.encoded())  // stable: sorted keys
    }

    @Test func theWrittenFormOfEarlierVersionsStillReads() throws {
        // quantization.json as quanta wrote it before the schema: null group size, null calibration.
        let text = #"""
            {"format": "quanta-simulated-v1", "tool": "quanta 0.1.0", "recipe": {"name": "w"}, "calibration": null,
             "bits_per_weight_linears": 4.03, "arrays": "quantization.safetensors",
             "tensors": {"model.layers.0.self_attn.q_proj": {"algorithm": "rtn", "stage": 0, "bits": 4, "group_size": null,
               "symmetric": true, "shape": [576, 576], "loss": 0.25, "activation": {"bits": 8, "granularity": "per_token"}}},
             "runtime": {"online_down_proj": false, "online_query_key": true}}
            """#
        let directory = try TemporaryDirectory()
        let path = try directory.write(Array(text.utf8), to: "quantization.json")
        let read = try QuantizationMetadata.read(path: path)
        let entry = try #require(read.tensors["model.layers.0.self_attn.q_proj"])
        #expect(entry.groupSize == nil && entry.symmetric == true && entry.activation?.bits == 8)
        #expect(read.calibration == nil)
        #expect(read.runtime == RuntimeMetadata(onlineQueryKey: true))
    }

    @Test func aWrongTypeNamesTheFileAndTheField() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write(Array(#"{"format": "x", "tool": "t", "recipe": {}, "bits_per_weight_linears": "four", "arrays": "a", "tensors": {}}"#.utf8), to: "quantization.json")
        expectFormatError([path, "bits_per_weight_linears"]) { _ = try QuantizationMetadata.read(path: path) }
    }

    @Test func containerProvenanceDecodesActivationsAndRuntime() throws {
        let provenance = ContainerProvenance(
            recipe: .object([("name", .string("w8a8"))]), bitsPerWeightLinears: 8.03,
            activations: ["model.layers.0.mlp.up_proj": ActivationScheme(bits: 8, granularity: .perTensor, staticScale: 0.5)],
            runtime: nil, calibration: nil)
        let read = try ContainerProvenance.decode(provenance.json, path: "c.quanta")
        #expect(read.activations == provenance.activations)
        #expect(read.runtime == nil && read.recipe?["name"]?.stringValue == "w8a8")
    }
}
