import Foundation
import QuantaFormats
import QuantaTensor

/// The reference LLaMA-family decoder (llama, mistral, qwen2): token embedding, decoder
/// blocks, final RMSNorm and the (tied or untied) LM head, in float32. Linear layers are
/// `LinearOperator`s, so simulated-quantized and packed kernels replace them in place.
///
/// Provenance: transformers `modeling_llama.py` (`LlamaModel.forward`,
/// `LlamaForCausalLM.forward`); H. Touvron et al., "LLaMA", 2023, §2.2.
public struct TransformerModel: Sendable {
    public let config: ModelConfig
    /// `model.embed_tokens.weight`, `vocabularySize × hiddenSize`.
    public var embedding: Matrix
    /// `model.layers`.
    public var layers: [DecoderLayer]
    /// `model.norm`.
    public var finalNorm: RMSNorm
    /// `lm_head` (over the embedding matrix when `tie_word_embeddings`).
    public var head: any LinearOperator
    /// Thread count for the model's own parallel loops (attention heads, element-wise ops).
    public var computeContext: ComputeContext

    public init(
        config: ModelConfig, embedding: Matrix, layers: [DecoderLayer], finalNorm: RMSNorm, head: any LinearOperator,
        computeContext: ComputeContext = .serial()
    ) {
        precondition(embedding.rows == config.vocabularySize && embedding.columns == config.hiddenSize, "embedding shape")
        precondition(layers.count == config.layerCount, "one decoder layer per num_hidden_layers")
        precondition(head.inputCount == config.hiddenSize && head.outputCount == config.vocabularySize, "lm_head shape")
        self.config = config
        self.embedding = embedding
        self.layers = layers
        self.finalNorm = finalNorm
        self.head = head
        self.computeContext = computeContext
    }

    public var vocabularySize: Int { config.vocabularySize }
    public var hiddenSize: Int { config.hiddenSize }

    /// An empty KV cache for this model with room for `capacity` positions before it grows.
    /// Layers whose attention has a `keyValueQuantizer` get a packed low-bit cache.
    public func makeCache(capacity: Int = 256) -> KVCache {
        KVCache(
            layerCount: config.layerCount, kvHeads: config.kvHeads, headDimension: config.headDimension,
            capacity: capacity, quantizers: layers.map { $0.attention.keyValueQuantizer })
    }

    /// Checks a window: non-empty, ids in the vocabulary, within `max_position_embeddings`.
    public func validate(tokens: [Int], startPosition: Int = 0) throws(ModelError) {
        guard !tokens.isEmpty else {
            throw .emptyInput(detail: "no tokens to run the model on; pass at least one token id")
        }
        if let bad = tokens.first(where: { $0 < 0 || $0 >= config.vocabularySize }) {
            throw .tokenOutOfRange(token: bad, vocabularySize: config.vocabularySize)
        }
        let end = startPosition + tokens.count
        guard end <= config.maxPositionEmbeddings else {
            throw .contextTooLong(requested: end, maximum: config.maxPositionEmbeddings)
        }
    }

    /// The embedding rows of `tokens` (`count × hidden`); ids must be valid.
    public func embed(_ tokens: [Int]) -> Matrix {
        let width = config.hiddenSize
        var hidden = Matrix(rows: tokens.count, columns: width)
        embedding.values.withUnsafeBufferPointer { table in
            hidden.values.withUnsafeMutableBufferPointer { destination in
                for (row, token) in tokens.enumerated() {
                    (destination.baseAddress! + row * width).update(from: table.baseAddress! + token * width, count: width)
                }
            }
        }
        return hidden
    }

    /// Runs `tokens` through every block and the final norm; returns the hidden states
    /// (`count × hidden`). With a cache the tokens continue it (positions start at
    /// `cache.count`) and their keys/values are appended; with `nil` they form a fresh
    /// window at positions 0..<count.
    public func forward(
        tokens: [Int], cache: inout KVCache?, observer: (any ForwardObserver)? = nil
    ) throws(ModelError) -> Matrix {
        let start = cache?.count ?? 0
        try validate(tokens: tokens, startPosition: start)
        if let cache {
            precondition(
                cache.layers.count == layers.count
                    && cache.layers.allSatisfy { $0.kvHeads == config.kvHeads && $0.headDimension == config.headDimension },
                "the KV cache was made for another model")
        }
        var hidden = embed(tokens)
        let positions = start..<(start + tokens.count)
        for layer in layers {
            layer.forward(hidden: &hidden, positions: positions, cache: &cache, observer: observer, context: computeContext)
        }
        return finalNorm.apply(hidden)
    }

    /// `forward` on a fresh window without a cache.
    public func forward(tokens: [Int], observer: (any ForwardObserver)? = nil) throws(ModelError) -> Matrix {
        var noCache: KVCache? = nil
        return try forward(tokens: tokens, cache: &noCache, observer: observer)
    }

    /// The head applied to `rows` of `hidden` (final-norm output): `rows.count × vocab`.
    public func logits(hidden: Matrix, rows: Range<Int>) -> Matrix {
        precondition(rows.lowerBound >= 0 && rows.upperBound <= hidden.rows, "rows outside the hidden states")
        precondition(hidden.columns == head.inputCount, "hidden width differs from lm_head input")
        var output = Matrix(rows: rows.count, columns: head.outputCount)
        guard !rows.isEmpty else { return output }
        hidden.values.withUnsafeBufferPointer { source in
            output.values.withUnsafeMutableBufferPointer { destination in
                head.apply(
                    input: source.baseAddress! + rows.lowerBound * hidden.columns, rows: rows.count,
                    output: destination.baseAddress!)
            }
        }
        return output
    }

    /// Logits of every token (`count × vocab`); see `forward(tokens:cache:observer:)`.
    /// For long windows prefer `logits(for:rowsPerBlock:_:)`.
    public func logits(tokens: [Int], cache: inout KVCache?) throws(ModelError) -> Matrix {
        let hidden = try forward(tokens: tokens, cache: &cache)
        return logits(hidden: hidden, rows: 0..<hidden.rows)
    }

    /// Logits of the last token only (the head runs on one row: a GEMV).
    public func nextTokenLogits(tokens: [Int], cache: inout KVCache?) throws(ModelError) -> [Float] {
        let hidden = try forward(tokens: tokens, cache: &cache)
        return logits(hidden: hidden, rows: (hidden.rows - 1)..<hidden.rows).values
    }

    /// Greedy decoding with the KV cache: feeds `prompt`, then `count` times appends the
    /// arg-max token (the first on ties, as `torch.argmax`), stopping after a token in
    /// `stopTokens`. Returns the generated ids.
    public func greedyTokens(prompt: [Int], count: Int, stopTokens: Set<Int> = []) throws(ModelError) -> [Int] {
        var cache: KVCache? = makeCache(capacity: prompt.count + count)
        var generated: [Int] = []
        var next = prompt
        while generated.count < count {
            let logits = try nextTokenLogits(tokens: next, cache: &cache)
            let token = Self.argmax(logits)
            generated.append(token)
            if stopTokens.contains(token) { break }
            next = [token]
        }
        return generated
    }

    /// The offset (from the start) of the largest value, the first of equal ones.
    @inlinable
    public static func argmax<Values: Collection<Float>>(_ values: Values) -> Int {
        var best = values.startIndex
        for index in values.indices where values[index] > values[best] { best = index }
        return values.distance(from: values.startIndex, to: best)
    }
}
