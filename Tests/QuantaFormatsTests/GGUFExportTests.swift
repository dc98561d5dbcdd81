import Foundation
import QuantaFormats
import QuantaTensor
import Testing

@Suite struct GGUFExportTests {
    /// Exports, reads back with our own GGUF importer (which dequantizes and undoes the Q/K
    /// permutation) and returns the floats by Hugging Face name, with the GGUF types.
    func roundTrip(_ model: QuantizedModel, options: GGUFExporter.Options = .init()) throws
        -> (values: [String: [Float]], types: [String: GGMLType], file: GGUFFile)
    {
        let directory = try TemporaryDirectory()
        let path = directory.file("model.gguf")
        try ModelExport.write(model, format: .gguf, options: { var o = ModelExport.Options(); o.gguf = options; return o }(), to: path)
        let file = try GGUFFile(path: path)
        let checkpoint = try GGUFImporter.importCheckpoint(file)
        var values: [String: [Float]] = [:]
        for tensor in checkpoint.tensors { values[tensor.name] = try tensor.tensor.floatValues() }
        var types: [String: GGMLType] = [:]
        for tensor in file.tensors { types[GGUFTensorNames.huggingFaceName(for: tensor.name)!.name] = tensor.type }
        return (values, types, file)
    }

    @Test(arguments: [
        (4, 32, true, GGMLType.q4_0), (4, 64, false, .q5_0), (3, 64, false, .q4_0), (3, 96, true, .q4_0),
        (2, 32, false, .q4_0), (8, 32, true, .q8_0), (4, 1 << 20, false, .q5_0),
    ])
    func exactMappingsRoundTripBitForBit(bits: Int, groupSize: Int, symmetric: Bool, type: GGMLType) throws {
        let model = try exportModel { name in
            // Per channel (group ≥ in) where the group size does not divide the input dimension.
            let inputs = name.contains("down_proj") ? 96 : 64
            let size = inputs % groupSize == 0 ? groupSize : inputs
            return (bits, min(size, inputs), symmetric, false)
        }
        let (values, types, _) = try roundTrip(model)
        let expected = try expectedFloats(model)
        #expect(values.keys.sorted() == expected.keys.sorted())
        for (name, floats) in expected {
            #expect(values[name] == floats, "\(name) differs after the GGUF round trip")
            if name.hasSuffix("_proj.weight") { #expect(types[name] == type, "\(name) is \(types[name]?.name ?? "-")") }
        }
    }

    @Test func asymmetricFourBitAsQ4_1IsExactUpToTheRoundingOfM() throws {
        let model = try exportModel { _ in (4, 32, false, false) }
        let (values, types, _) = try roundTrip(model, options: .init(asymmetricFourBit: .q4_1))
        for tensor in model.tensors {
            guard case .packed(let packed) = tensor.content else { continue }
            #expect(types[tensor.name] == .q4_1)
            let zeros = packed.unpackedZeroPoints()
            let scales = packed.scaleValues()
            let expected = packed.dequantize()
            let actual = try #require(values[tensor.name])
            for index in expected.indices {
                let group = (index / packed.inputCount) * packed.groupCount + (index % packed.inputCount) / packed.groupSize
                // m = f16(−scale · zero): half an f16 ulp of |m| plus float32 rounding.
                let bound = abs(scales[group] * Float(zeros[group])) * 0x1p-11 + 4 * Float.ulpOfOne * abs(expected[index]) + 1e-9
                #expect(abs(actual[index] - expected[index]) <= bound, "\(tensor.name)[\(index)]")
            }
        }
    }

    @Test func metadataDescribesTheModelForLlamaCpp() throws {
        let model = try exportModel { _ in (4, 32, true, false) }
        let (_, _, file) = try roundTrip(model)
        #expect(file.architecture == "llama")
        #expect(try file.integer("llama.block_count") == 2)
        #expect(try file.integer("llama.attention.head_count_kv") == 2)
        #expect(try file.integer("llama.rope.dimension_count") == 16)
        #expect(try file.integer("general.file_type") == 2)
        #expect(try file.string("tokenizer.ggml.pre") == "gpt-2")
        let tokens = try #require(try file.strings("tokenizer.ggml.tokens"))
        #expect(tokens.count == 40 && tokens[33] == "Ġa" && tokens[39] == "[PAD39]")
        #expect(try file.integers("tokenizer.ggml.token_type")?[0...4] == [3, 3, 3, 4, 1])
        #expect(try file.integers("tokenizer.ggml.token_type")?[39] == 5)
        #expect(try file.strings("tokenizer.ggml.merges") == ["a b", "ab c", "Ġ a", "d e", "e d"])
        #expect(try file.integer("tokenizer.ggml.bos_token_id") == 1)
        #expect(try file.bool("tokenizer.ggml.add_bos_token") == false)
        #expect(try file.string("tokenizer.chat_template") == "{{ messages }}")
        #expect(file.tensor(named: "output.weight") == nil)  // tied head
    }

    @Test func nonContiguousActOrderIsAnErrorNamingTheTensorAndNothingIsWritten() throws {
        let model = try exportModel { name in (4, 32, false, name.contains("layers.1.mlp.up_proj")) }
        let directory = try TemporaryDirectory()
        let path = directory.file("model.gguf")
        expectFormatError(["model.layers.1.mlp.up_proj.weight", "act_order: static", "nothing was written"]) {
            try ModelExport.write(model, format: .gguf, to: path)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }

    @Test func groupsThatSplitBlocksAreAnError() throws {
        let model = try exportModel { _ in (4, 16, false, false) }
        let directory = try TemporaryDirectory()
        expectFormatError(["group size 16", "multiple of 32"]) {
            try ModelExport.write(model, format: .gguf, to: directory.file("model.gguf"))
        }
    }

    @Test func onlineRotationsLowBitActivationsAndKVCacheAreErrors() throws {
        let directory = try TemporaryDirectory()
        var rotated = try exportModel { _ in (4, 32, true, false) }
        rotated.runtime = RuntimeMetadata(onlineDownProjection: true)
        expectFormatError(["online_down_proj", "rotation"]) { try ModelExport.write(rotated, format: .gguf, to: directory.file("a.gguf")) }
        var cached = try exportModel { _ in (4, 32, true, false) }
        cached.runtime = RuntimeMetadata(keyValueCache: .init(bits: 4, groupSize: 16, symmetric: false, clipRatio: 1))
        expectFormatError(["kv_cache"]) { try ModelExport.write(cached, format: .gguf, to: directory.file("b.gguf")) }
        var activated = try exportModel { _ in (4, 32, true, false) }
        activated.activations["model.layers.0.mlp.up_proj"] = ActivationScheme(bits: 4, granularity: .perToken)
        expectFormatError(["model.layers.0.mlp.up_proj", "4-bit activations"]) {
            try ModelExport.write(activated, format: .gguf, to: directory.file("c.gguf"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }

    @Test func outputsNeverReplaceInputsOrDirectories() throws {
        let directory = try TemporaryDirectory()
        let model = try exportModel(path: directory.file("input")) { _ in nil }
        expectFormatError(["is the input"]) { try ModelExport.write(model, format: .gguf, to: directory.file("input/x.gguf")) }
        try FileManager.default.createDirectory(atPath: directory.file("keep"), withIntermediateDirectories: false)
        _ = try directory.write([1], to: "keep/file")
        expectFormatError(["is a directory", "choose another --output"]) {
            try ModelExport.write(model, format: .gguf, to: directory.file("keep"))
        }
        #expect(FileManager.default.fileExists(atPath: directory.file("keep/file")))
    }

    @Test func denseMatricesKeepF16AndVectorsStayF32() throws {
        let model = try exportModel { _ in nil }
        let (values, types, _) = try roundTrip(model, options: .init(denseMatrixType: .f16))
        #expect(types["model.embed_tokens.weight"] == .f16)
        #expect(types["model.norm.weight"] == .f32)
        let expected = try expectedFloats(model)
        for (name, floats) in expected { #expect(values[name] == floats, "\(name)") }  // values are f16-exact
    }

    @Test func twoOfFourSparseWeightsExportDense() throws {
        var model = try exportModel { _ in (4, 32, false, false) }
        let index = try #require(model.tensors.firstIndex { $0.name == "model.layers.0.mlp.up_proj.weight" })
        guard case .packed(let dense) = model.tensors[index].content else { Issue.record("not packed"); return }
        // Prune to 2:4: in every group of 4 inputs keep the first two codes, the others become the zero point.
        var codes = dense.unpackedCodes()
        let zeros = dense.unpackedZeroPoints()
        for row in 0..<dense.outputCount {
            for column in 0..<dense.inputCount where column % 4 >= 2 {
                codes[row * dense.inputCount + column] = zeros[row * dense.groupCount + column / dense.groupSize]
            }
        }
        let sparse = try SparseWeights.pack(
            name: model.tensors[index].name, codes: codes, scales: dense.scaleValues(), zeroPoints: zeros,
            outputCount: dense.outputCount, inputCount: dense.inputCount, bits: 4, groupSize: dense.groupSize, symmetric: false)
        model.tensors[index] = ContainerTensor(name: model.tensors[index].name, content: .sparse(sparse))
        let (values, types, _) = try roundTrip(model)
        #expect(types[model.tensors[index].name] == .q5_0)
        #expect(values[model.tensors[index].name] == sparse.dequantize())
        let directory = try TemporaryDirectory()
        try ModelExport.write(model, format: .compressedTensors, to: directory.file("ct"))
        #expect(try CompressedTensorsReader.dequantizedTensors(directory: directory.file("ct"))[model.tensors[index].name] == sparse.dequantize())
    }
}
