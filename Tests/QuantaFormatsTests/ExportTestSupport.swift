import Foundation
import QuantaFormats
import QuantaTensor

/// A tiny LLaMA that ggml's 32-element blocks fit: hidden 64, 4 heads of 16 (2 KV heads),
/// MLP 96, vocabulary 40 (a byte-level BPE tokenizer with 36 tokens, ids 36…39 unused).
func exportConfig() -> ModelConfig {
    ModelConfig(
        hiddenSize: 64, intermediateSize: 96, layerCount: 2, attentionHeads: 4, kvHeads: 2, vocabularySize: 40,
        tieWordEmbeddings: true, bosTokenId: 1, eosTokenIds: [2])
}

/// tokenizer.json of a byte-level BPE with GPT-2's pre-tokenizer ("gpt-2" in llama.cpp).
let exportTokenizer = Data(#"""
    {"version": "1.0", "added_tokens": [
      {"id": 0, "content": "<unk>", "special": true}, {"id": 1, "content": "<s>", "special": true},
      {"id": 2, "content": "</s>", "special": true}, {"id": 3, "content": "<tool>", "special": false}],
     "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
     "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
     "model": {"type": "BPE", "unk_token": "<unk>", "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "<tool>": 3,
       "a": 4, "b": 5, "c": 6, "d": 7, "e": 8, "f": 9, "g": 10, "h": 11, "i": 12, "j": 13, "k": 14, "l": 15,
       "m": 16, "n": 17, "o": 18, "p": 19, "q": 20, "r": 21, "s": 22, "t": 23, "u": 24, "v": 25, "w": 26,
       "x": 27, "y": 28, "z": 29, "Ġ": 30, "ab": 31, "abc": 32, "Ġa": 33, "de": 34, "ed": 35},
       "merges": ["a b", ["ab", "c"], "Ġ a", "d e", "e d"]}}
    """#.utf8)

let exportTokenizerConfig = Data(#"{"add_bos_token": false, "bos_token": "<s>", "eos_token": "</s>", "chat_template": "{{ messages }}"}"#.utf8)

/// The tiny model with every decoder linear quantized by `scheme(name)` (nil: left dense).
func exportModel(
    path: String = "<tiny>", scheme: (String) -> (bits: Int, groupSize: Int, symmetric: Bool, actOrder: Bool)?
) throws -> QuantizedModel {
    let config = exportConfig()
    var tensors: [ContainerTensor] = []
    var random = TestRandom(state: 7)
    for (index, name) in LlamaTensorLayout.expectedNames(for: config).enumerated() {
        let shape = LlamaTensorLayout.expectedShape(of: name, for: config)!
        if shape.count == 2, name.hasSuffix("_proj.weight"), let choice = scheme(name) {
            let plain = PlainQuantized(
                outputCount: shape[0], inputCount: shape[1], bits: choice.bits, groupSize: min(choice.groupSize, shape[1]),
                symmetric: choice.symmetric, actOrder: choice.actOrder, seed: UInt64(index + 1))
            tensors.append(ContainerTensor(name: name, packed: try plain.pack(name: name)))
            continue
        }
        let count = shape.reduce(1, *)
        let values = (0..<count).map { _ in Float(Float16(Float(random.below(2001)) / 1000 - 1)) }
        tensors.append(ContainerTensor(name: name, dense: try Tensor(shape: shape, values: values)))
    }
    return QuantizedModel(
        path: path, config: config, tokenizer: exportTokenizer, tokenizerConfig: exportTokenizerConfig,
        generationConfig: nil, tensors: tensors)
}

/// Each tensor of `model` as the floats it stands for (packed ones dequantized).
func expectedFloats(_ model: QuantizedModel) throws -> [String: [Float]] {
    var result: [String: [Float]] = [:]
    for tensor in model.tensors { result[tensor.name] = try tensor.floatTensor().floatValues() }
    return result
}
