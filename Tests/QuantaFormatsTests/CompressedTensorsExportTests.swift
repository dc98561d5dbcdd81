import Foundation
import QuantaFormats
import QuantaTensor
import Testing

@Suite struct CompressedTensorsExportTests {
    func roundTrip(_ model: QuantizedModel) throws -> (values: [String: [Float]], config: JSONValue, directory: TemporaryDirectory) {
        let directory = try TemporaryDirectory()
        let path = directory.file("ct")
        try ModelExport.write(model, format: .compressedTensors, to: path)
        return (try CompressedTensorsReader.dequantizedTensors(directory: path), try #require(try CompressedTensorsReader.quantizationConfig(directory: path)), directory)
    }

    @Test(arguments: [(4, 32, false), (4, 32, true), (3, 32, false), (2, 32, true), (8, 1 << 20, true), (4, 1 << 20, false)])
    func packQuantizedRoundTripsBitForBit(bits: Int, groupSize: Int, symmetric: Bool) throws {
        let model = try exportModel { name in
            // Per channel where the group size does not divide the input dimension.
            let inputs = name.contains("down_proj") ? 96 : 64
            return (bits, inputs % groupSize == 0 ? groupSize : inputs, symmetric, false)
        }
        let (values, config, _) = try roundTrip(model)
        let expected = try expectedFloats(model)
        #expect(values.keys.sorted() == expected.keys.sorted())
        for (name, floats) in expected { #expect(values[name] == floats, "\(name)") }
        #expect(config["format"]?.stringValue == "pack-quantized")
        let weights = config["config_groups"]?["group_0"]?["weights"]
        #expect(weights?["num_bits"]?.integerValue == Int64(bits))
        #expect(weights?["symmetric"] == .bool(symmetric))
        #expect(weights?["strategy"]?.stringValue == (groupSize > 96 ? "channel" : "group"))
        #expect(config["ignore"] == .array([.string("lm_head")]))
    }

    @Test func aNarrowLastGroupIsSplitIntoEvenGroupsExactly() throws {
        // 96 inputs in groups of 64 end with a group of 32: written, like the groups of 32 of
        // the 64-input linears, as groups of 32, one scheme for every linear.
        let model = try exportModel { name in (4, name.contains("down_proj") ? 64 : 32, false, false) }
        let (values, config, _) = try roundTrip(model)
        for (name, floats) in try expectedFloats(model) { #expect(values[name] == floats, "\(name)") }
        #expect(config["config_groups"]?["group_0"]?["weights"]?["group_size"]?.integerValue == 32)
        #expect(config["config_groups"]?["group_0"]?["targets"] == .array([.string("Linear")]))
    }

    @Test func wEightAEightIsIntQuantizedWithTokenActivations() throws {
        var model = try exportModel { _ in (8, 1 << 20, true, false) }
        for tensor in model.tensors where tensor.name.hasSuffix("_proj.weight") {
            model.activations[String(tensor.name.dropLast(".weight".count))] = ActivationScheme(bits: 8, granularity: .perToken)
        }
        let (values, config, directory) = try roundTrip(model)
        for (name, floats) in try expectedFloats(model) { #expect(values[name] == floats, "\(name)") }
        #expect(config["format"]?.stringValue == "int-quantized")
        let input = config["config_groups"]?["group_0"]?["input_activations"]
        #expect(input?["strategy"]?.stringValue == "token" && input?["dynamic"] == .bool(true))
        let file = try SafetensorsFile(path: directory.file("ct/model.safetensors"))
        #expect(file.tensorInfos.first { $0.name == "model.layers.0.mlp.up_proj.weight" }?.dtype == "I8")
    }

    @Test func mixedSchemesGetOneGroupEachWithModuleTargets() throws {
        let model = try exportModel { name in name.contains("mlp") ? (4, 32, false, false) : (8, 1 << 20, true, false) }
        let (values, config, _) = try roundTrip(model)
        for (name, floats) in try expectedFloats(model) { #expect(values[name] == floats, "\(name)") }
        guard case .object(let groups)? = config["config_groups"] else { Issue.record("no config groups"); return }
        #expect(groups.count == 2)
        #expect(groups.allSatisfy { ($0.1["targets"].map { $0 != .array([.string("Linear")]) }) ?? false })
    }

    @Test func permutedActOrderLowBitActivationsAndRotationsAreErrors() throws {
        let directory = try TemporaryDirectory()
        let permuted = try exportModel { name in (4, 32, false, name.contains("layers.0.self_attn.o_proj")) }
        expectFormatError(["model.layers.0.self_attn.o_proj.weight", "act_order: static"]) {
            try ModelExport.write(permuted, format: .compressedTensors, to: directory.file("a"))
        }
        var activated = try exportModel { _ in (4, 32, true, false) }
        activated.activations["model.layers.1.mlp.down_proj"] = ActivationScheme(bits: 4, granularity: .perToken)
        expectFormatError(["model.layers.1.mlp.down_proj", "W8A8"]) {
            try ModelExport.write(activated, format: .compressedTensors, to: directory.file("b"))
        }
        var rotated = try exportModel { _ in (4, 32, true, false) }
        rotated.runtime = RuntimeMetadata(onlineQueryKey: true)
        expectFormatError(["online_query_key"]) { try ModelExport.write(rotated, format: .compressedTensors, to: directory.file("c")) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }

    @Test func aNonEmptyOutputDirectoryIsRefused() throws {
        let model = try exportModel { _ in (4, 32, true, false) }
        let directory = try TemporaryDirectory()
        _ = try directory.write([1, 2, 3], to: "keep.txt")
        expectFormatError(["non-empty directory"]) { try ModelExport.write(model, format: .compressedTensors, to: directory.path) }
        #expect(FileManager.default.fileExists(atPath: directory.file("keep.txt")))
    }
}
