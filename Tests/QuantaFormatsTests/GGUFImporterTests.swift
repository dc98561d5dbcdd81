import Foundation
import QuantaFormats
import QuantaTensor
import Testing

/// Importing the tiny llama of `Resources/make_gguf_fixtures.py` (Q/K stored with
/// convert_hf_to_gguf.py's `permute`; expected tensors are the HF originals, or gguf-py's
/// dequantization for the quantized ones).
@Suite struct GGUFImporterTests {
    static func expectations() throws -> JSONValue {
        try JSONValue.read(path: GGUFFixtures.path("tiny-llama.json"))
    }

    @Test func importsTensorsWithHuggingFaceNamesAndUnpermutedRows() throws {
        let checkpoint = try GGUFImporter.importCheckpoint(path: GGUFFixtures.path("tiny-llama.gguf"))
        let expected = try Self.expectations()
        let allValues = try GGUFFixtures.floats("tiny-llama.f32")
        guard case .array(let table) = try #require(expected["tensors"]) else { Issue.record("no table"); return }
        #expect(checkpoint.tensors.map(\.name) == table.compactMap { $0["name"]?.stringValue })
        for entry in table {
            let name = try #require(entry["name"]?.stringValue)
            guard case .array(let dimensions) = try #require(entry["shape"]) else { continue }
            let shape = dimensions.compactMap { $0.integerValue.map(Int.init) }
            let offset = Int(try #require(entry["offset"]?.integerValue))
            let tensor = try #require(checkpoint.tensor(named: name))
            #expect(tensor.shape == shape, "\(name)")
            #expect(tensor.dtype == .float32)
            let count = shape.reduce(1, *)
            let want = allValues[offset..<offset + count].map(\.bitPattern)
            #expect(try tensor.floatValues().map(\.bitPattern) == Array(want), "\(name)")
        }
    }

    @Test func buildsConfigFromMetadata() throws {
        let checkpoint = try GGUFImporter.importCheckpoint(path: GGUFFixtures.path("tiny-llama.gguf"))
        let expected = try #require(try Self.expectations()["config"])
        let config = checkpoint.config
        func integer(_ key: String) -> Int? { expected[key]?.integerValue.map(Int.init) }
        #expect(config.modelType == expected["model_type"]?.stringValue)
        #expect(config.architectures == ["LlamaForCausalLM"])
        #expect(config.hiddenSize == integer("hidden_size"))
        #expect(config.intermediateSize == integer("intermediate_size"))
        #expect(config.layerCount == integer("num_hidden_layers"))
        #expect(config.attentionHeads == integer("num_attention_heads"))
        #expect(config.kvHeads == integer("num_key_value_heads"))
        #expect(config.headDimension == integer("head_dim"))
        #expect(config.maxPositionEmbeddings == integer("max_position_embeddings"))
        #expect(config.rmsNormEpsilon == expected["rms_norm_eps"]?.doubleValue)
        #expect(config.ropeTheta == expected["rope_theta"]?.doubleValue)
        #expect(config.vocabularySize == integer("vocab_size"))
        #expect(config.tieWordEmbeddings == (expected["tie_word_embeddings"] == .bool(true)))
        #expect(config.bosTokenId == integer("bos_token_id"))
        #expect(config.eosTokenIds == [integer("eos_token_id")].compactMap { $0 })
        #expect(config.padTokenId == integer("pad_token_id"))
        #expect(config.ropeScaling == nil)
        #expect(!config.attentionBias)
    }

    @Test func buildsTokenizerFiles() throws {
        let checkpoint = try GGUFImporter.importCheckpoint(path: GGUFFixtures.path("tiny-llama.gguf"))
        let expected = try Self.expectations()
        let tokenizer = try JSONValue.parse(try #require(checkpoint.tokenizer), path: "tokenizer.json")
        let model = try #require(tokenizer["model"])
        #expect(model["type"] == .string("BPE"))
        guard case .array(let tokenList) = try #require(expected["tokens"]),
            case .object(let vocabulary) = try #require(model["vocab"])
        else { Issue.record("missing vocab"); return }
        #expect(vocabulary.map(\.0) == tokenList.compactMap(\.stringValue))
        #expect(vocabulary.map(\.1) == (0..<tokenList.count).map { JSONValue.integer(Int64($0)) })
        #expect(model["merges"] == expected["merges"])
        #expect(model["unk_token"] == .string("<|endoftext|>"))
        guard case .array(let added) = try #require(tokenizer["added_tokens"]) else { return }
        #expect(added.compactMap { $0["id"]?.integerValue } == [0, 1, 2])
        #expect(added.allSatisfy { $0["special"] == .bool(true) })
        let pre = try #require(tokenizer["pre_tokenizer"])
        #expect(pre["type"] == .string("Sequence"))
        guard case .array(let steps) = try #require(pre["pretokenizers"]) else { return }
        #expect(steps.compactMap { $0["type"]?.stringValue } == ["Digits", "ByteLevel"])
        #expect(steps.first?["individual_digits"] == .bool(true))
        #expect(steps.last?["add_prefix_space"] == .bool(false))

        let config = try JSONValue.parse(try #require(checkpoint.tokenizerConfig), path: "tokenizer_config.json")
        #expect(config["bos_token"] == .string("<|im_start|>"))
        #expect(config["eos_token"] == .string("<|im_end|>"))
        #expect(config["pad_token"] == .string("<|im_end|>"))
        #expect(config["unk_token"] == .string("<|endoftext|>"))
        #expect(config["add_bos_token"] == .bool(false))
        #expect(config["model_max_length"] == .integer(128))
        #expect(config["chat_template"]?.stringValue?.contains("<|im_start|>") == true)
        let generation = try JSONValue.parse(try #require(checkpoint.generationConfig), path: "generation_config.json")
        #expect(generation["bos_token_id"] == .integer(1))
        #expect(generation["eos_token_id"] == .integer(2))
    }

    /// The inverse undoes the forward permutation, and the forward one is numpy's
    /// `reshape(heads, 2, d/2, cols).swapaxes(1, 2)` computed here by index.
    @Test(arguments: [(rows: 8, columns: 3, heads: 2), (rows: 12, columns: 1, heads: 3), (rows: 64, columns: 5, heads: 1)])
    func rotaryPermutationRoundTrips(rows: Int, columns: Int, heads: Int) {
        let original = (0..<rows * columns).map { Float($0) * 0.5 - 3 }
        let half = rows / heads / 2
        var numpyForward = [Float](repeating: 0, count: original.count)
        // Output element (h, j, t, c) of the swapped array is input element (h, t, j, c).
        for h in 0..<heads { for j in 0..<half { for t in 0..<2 { for c in 0..<columns {
            let outputIndex = ((h * half + j) * 2 + t) * columns + c
            let inputIndex = ((h * 2 + t) * half + j) * columns + c
            numpyForward[outputIndex] = original[inputIndex]
        } } } }
        var forward = [Float](repeating: 0, count: original.count)
        var back = [Float](repeating: 0, count: original.count)
        original.withUnsafeBufferPointer { source in
            forward.withUnsafeMutableBufferPointer {
                GGUFImporter.permuteRotaryRows(source, into: $0, rows: rows, heads: heads, direction: .toGGUF)
            }
        }
        forward.withUnsafeBufferPointer { source in
            back.withUnsafeMutableBufferPointer {
                GGUFImporter.permuteRotaryRows(source, into: $0, rows: rows, heads: heads, direction: .toHuggingFace)
            }
        }
        #expect(forward == numpyForward)
        #expect(back == original)
        #expect(forward != original || rows == 2 * heads)
    }

    @Test func mapsTensorNames() {
        #expect(GGUFTensorNames.huggingFaceName(for: "blk.12.attn_q.bias")?.name == "model.layers.12.self_attn.q_proj.bias")
        #expect(GGUFTensorNames.huggingFaceName(for: "blk.3.ffn_norm.weight")?.layer == 3)
        #expect(GGUFTensorNames.huggingFaceName(for: "output.weight")?.name == "lm_head.weight")
        #expect(GGUFTensorNames.huggingFaceName(for: "blk.01.attn_q.weight") == nil)
        #expect(GGUFTensorNames.huggingFaceName(for: "blk.1.attn_qkv.weight") == nil)
        #expect(GGUFTensorNames.huggingFaceName(for: "rope_freqs.weight") == nil)
    }

    static func llamaBuilder() -> GGUFBuilder {
        var builder = GGUFBuilder()
        for (key, value) in [
            ("llama.embedding_length", 8), ("llama.feed_forward_length", 16), ("llama.block_count", 1),
            ("llama.attention.head_count", 2), ("llama.vocab_size", 2),
        ] {
            builder.metadata.append((key, GGUFBuilder.uint32Value(UInt32(value))))
        }
        builder.tensors = [.init(name: "token_embd.weight", dimensions: [8, 2], type: 0, offset: 0)]
        return builder
    }

    @Test func rejectsUnknownTensorsAndMissingKeys() throws {
        let incomplete = try Self.llamaBuilder().write()
        let config = try GGUFImporter.config(from: GGUFFile(path: incomplete))
        #expect(config.vocabularySize == 2 && config.tieWordEmbeddings)
        // Strict assignment: a GGUF holding only the embedding lacks every layer tensor.
        expectFormatError([incomplete, "model.layers.0.input_layernorm.weight", "missing"]) {
            _ = try GGUFImporter.importCheckpoint(path: incomplete)
        }

        var builder = Self.llamaBuilder()
        builder.tensors[0].name = "blk.0.mystery.weight"
        let unknown = try builder.write()
        expectFormatError([unknown, "'blk.0.mystery.weight'", "unexpected tensor"]) {
            _ = try GGUFImporter.importCheckpoint(path: unknown)
        }
        builder = Self.llamaBuilder()
        builder.tensors[0].name = "blk.5.attn_norm.weight"
        let beyond = try builder.write()
        expectFormatError([beyond, "'blk.5.attn_norm.weight'"]) { _ = try GGUFImporter.importCheckpoint(path: beyond) }
        builder = Self.llamaBuilder()
        builder.metadata.removeAll { $0.key == "llama.block_count" }
        let missing = try builder.write()
        expectFormatError([missing, "'llama.block_count'"]) { _ = try GGUFImporter.importCheckpoint(path: missing) }
        builder = Self.llamaBuilder()
        builder.metadata[0] = ("general.architecture", GGUFBuilder.stringValue("falcon"))
        let architecture = try builder.write()
        expectFormatError([architecture, "'falcon' is not supported"]) { _ = try GGUFImporter.importCheckpoint(path: architecture) }
    }
}
