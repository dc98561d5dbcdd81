import Foundation
import QuantaFormats
import QuantaTensor

/// A tiny LLaMA-family model whose every choice (architecture, sizes, which linears are
/// packed and how, the codes, scales and weights) comes from fuzz bytes; ggml's 32-element
/// blocks fit its rows. The same builder makes the seed models.
enum TinyModel {
    /// tokenizer.json of a byte-level BPE with 36 tokens (the exporters' test tokenizer).
    static let tokenizer = Data(
        #"""
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

    static let tokenizerConfig = Data(
        #"{"add_bos_token": false, "bos_token": "<s>", "eos_token": "</s>", "chat_template": "{{ messages }}"}"#.utf8)

    /// The config chosen by the first bytes of `input`.
    static func config(_ input: inout FuzzInput) -> ModelConfig {
        let modelType = input.element(of: ["llama", "qwen2", "mistral"])
        let hidden = input.integer(in: 0...7) == 0 ? 64 : 32
        let heads = input.element(of: [1, 2, 4])
        let kvHeads = input.element(of: [1, heads])
        return ModelConfig(
            modelType: modelType, hiddenSize: hidden, intermediateSize: input.integer(in: 0...7) == 0 ? 64 : 32,
            layerCount: 1,
            attentionHeads: heads, kvHeads: kvHeads, vocabularySize: 40, tieWordEmbeddings: input.boolean(),
            attentionBias: modelType == "qwen2" && input.boolean(), bosTokenId: 1, eosTokenIds: [2])
    }

    /// How one linear is stored: dense, or packed with these knobs.
    struct Scheme {
        var bits: Int
        var groupSize: Int
        var symmetric: Bool
        var actOrder = false
    }

    /// The model: each `_proj.weight` dense (F32 or F16) or packed with fuzz-chosen bits,
    /// group size, symmetry and act-order group index; values are f16-exact and finite.
    static func model(from data: Data) throws(FormatError) -> QuantizedModel {
        var input = FuzzInput(data)
        let config = config(&input)
        var pool = ValuePool(input.remainder())
        return try model(config: config, pool: &pool) { choice, inputs in
            guard choice % 4 != 0 else { return nil }
            return Scheme(
                bits: [2, 3, 4, 8][Int(choice >> 2) % 4],
                groupSize: min([32, inputs, 16, 64][Int(choice >> 4) % 4], inputs),
                symmetric: choice & 0x40 != 0, actOrder: choice & 0x80 != 0)
        }
    }

    /// A seed model: every linear packed with `scheme` (nil: all dense).
    static func model(config: ModelConfig, scheme: Scheme?, seed: UInt8) throws(FormatError) -> QuantizedModel {
        var pool = ValuePool((0..<64).map { UInt8($0) &* 37 &+ seed })
        return try model(config: config, pool: &pool) { _, inputs in
            scheme.map {
                Scheme(
                    bits: $0.bits, groupSize: min($0.groupSize, inputs), symmetric: $0.symmetric, actOrder: $0.actOrder)
            }
        }
    }

    private static func model(config: ModelConfig, pool: inout ValuePool, scheme: (UInt8, Int) -> Scheme?)
        throws(FormatError)
        -> QuantizedModel
    {
        var tensors: [ContainerTensor] = []
        for name in LlamaTensorLayout.expectedNames(for: config) {
            guard let shape = LlamaTensorLayout.expectedShape(of: name, for: config) else { continue }
            let choice = pool.next()
            if shape.count == 2, name.hasSuffix("_proj.weight"), let scheme = scheme(choice, shape[1]) {
                tensors.append(
                    ContainerTensor(
                        name: name, packed: try packed(name: name, shape: shape, scheme: scheme, pool: &pool)))
                continue
            }
            let count = shape.reduce(1, *)
            let values = (0..<count).map { _ in Float(Int8(bitPattern: pool.next())) / 16 }
            do {
                var tensor = try Tensor(shape: shape, values: values)
                if choice & 0x10 != 0 { tensor = try tensor.converted(to: .float16) }
                tensors.append(ContainerTensor(name: name, dense: tensor))
            } catch {
                throw .invalidTensor(path: "tiny", tensor: name, underlying: error)
            }
        }
        return QuantizedModel(
            path: "tiny", config: config, tokenizer: tokenizer, tokenizerConfig: tokenizerConfig, generationConfig: nil,
            tensors: tensors)
    }

    private static func packed(name: String, shape: [Int], scheme: Scheme, pool: inout ValuePool) throws(FormatError)
        -> PackedWeights
    {
        let (outputs, inputs) = (shape[0], shape[1])
        let (bits, groupSize) = (scheme.bits, scheme.groupSize)
        let maximum = (1 << bits) - 1
        let groups = (inputs + groupSize - 1) / groupSize
        let codes = (0..<(outputs * inputs)).map { _ in pool.next() & UInt8(maximum) }
        let scales = (0..<(outputs * groups)).map { _ in pool.scale() }
        let zeros = (0..<(outputs * groups)).map { _ in
            scheme.symmetric ? UInt8(1 << (bits - 1)) : pool.next() & UInt8(maximum)
        }
        var order = Array(0..<inputs)
        if scheme.actOrder {
            for index in stride(from: inputs - 1, to: 0, by: -1) { order.swapAt(index, Int(pool.next()) % (index + 1)) }
        }
        var groupIndex = [Int](repeating: 0, count: inputs)
        for (position, column) in order.enumerated() { groupIndex[column] = position / groupSize }
        return try PackedWeights.pack(
            name: name, codes: codes, scales: scales, zeroPoints: zeros, groupIndex: groupIndex, outputCount: outputs,
            inputCount: inputs, bits: bits, groupSize: groupSize, symmetric: scheme.symmetric)
    }
}

/// Endless bytes from a fuzz remainder: cycles it, mixed with the position so long runs vary.
struct ValuePool {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes.isEmpty ? [0x5A] : bytes }

    mutating func next() -> UInt8 {
        defer { position += 1 }
        return bytes[position % bytes.count] &+ UInt8(truncatingIfNeeded: position / bytes.count &* 37)
    }

    /// A finite, non-negative f16 value (zero and subnormals included).
    mutating func scale() -> Float {
        let bitPattern = (UInt16(next()) << 8 | UInt16(next())) & 0x7BFF
        return Float(Float16(bitPattern: bitPattern))
    }
}
