import QuantaModel
import QuantaTensor
import Testing

/// The packed low-bit KV cache (`KVCache` layers made with a `KeyValueQuantizer`) against the
/// simulated one (keys and values fake-quantized, kept in f32).
@Suite struct PackedKeyValueCacheTests {
    static let settings: [(bits: Int, symmetric: Bool, clipRatio: Float)] = [
        (4, false, 1), (4, true, 1), (8, false, 1), (3, false, 0.95), (2, true, 1), (5, false, 1),
    ]

    static func model(_ quantizer: KeyValueQuantizer) throws -> TransformerModel {
        try KeyValueQuantizationTests.model { try $0.enableKeyValueQuantization(quantizer) }
    }

    /// Decoding token by token (and in chunks) through the packed cache gives the logits of
    /// the full-sequence forward with fake-quantized keys and values. (This holds while no
    /// key lands within float rounding of a code boundary, where the decode GEMV and the
    /// full-window GEMM could round it to different codes: true for this model and these
    /// tokens; on SmolLM2 it is not, see `PackedKeyValueCacheRealModelTests`.)
    @Test(arguments: settings.indices)
    func decodingThroughThePackedCacheEqualsTheFakeQuantizedForward(setting: Int) throws {
        let (bits, symmetric, clipRatio) = Self.settings[setting]
        let quantizer = try KeyValueQuantizer(bits: bits, groupSize: 4, symmetric: symmetric, clipRatio: clipRatio)
        let model = try Self.model(quantizer)
        let tokens = TinyTransformer.tokens(count: 19)
        var noCache: KVCache? = nil
        let full = try model.logits(tokens: tokens, cache: &noCache)
        // The quantizer matters at all (else the comparison would not test the cache).
        var plainCache: KVCache? = nil
        let unquantized = try KeyValueQuantizationTests.model().logits(tokens: tokens, cache: &plainCache)
        #expect(TinyTransformer.maximumError(full, unquantized) > 1e-4)

        var cache: KVCache? = model.makeCache(capacity: 2)  // grows while decoding
        #expect(cache!.layers.allSatisfy { $0.quantizer == quantizer })
        for position in tokens.indices {
            let row = try model.logits(tokens: [tokens[position]], cache: &cache)
            let expected = try Matrix(rows: 1, columns: 32, values: Array(full.row(position)))
            #expect(TinyTransformer.maximumError(row, expected) < 1e-5, "\(bits) bits, position \(position)")
        }
        #expect(cache!.count == tokens.count)
        let chunked = try TinyTransformer.chunkedDecodingError(model, tokens: tokens, full: full, sizes: [5, 1, 13], capacity: 4)
        #expect(chunked < 1e-5, "\(bits) bits, chunks")
    }

    /// After a prefill the packed cache holds exactly the values the simulated f32 cache
    /// holds and the logits are equal bit for bit (the same dequantized values through the
    /// same GEMMs); decoding from it then gives the same logits up to the summation order
    /// of its fused decode kernel (the f32 path uses BLAS GEMVs).
    @Test(arguments: settings.indices)
    func packedCacheHoldsExactlyTheSimulatedValues(setting: Int) throws {
        let (bits, symmetric, clipRatio) = Self.settings[setting]
        let quantizer = try KeyValueQuantizer(bits: bits, groupSize: 4, symmetric: symmetric, clipRatio: clipRatio)
        let model = try Self.model(quantizer)
        let config = TinyTransformer.config()
        var packed: KVCache? = model.makeCache(capacity: 3)
        // Without quantizers the cache is f32 and attention fake-quantizes what it stores.
        var simulated: KVCache? = KVCache(
            layerCount: config.layerCount, kvHeads: config.kvHeads, headDimension: config.headDimension, capacity: 3)
        #expect(simulated!.layers.allSatisfy { $0.quantizer == nil })
        let tokens = TinyTransformer.tokens(count: 15, seed: 11)
        let prefillPacked = try model.logits(tokens: Array(tokens.prefix(6)), cache: &packed)
        let prefillSimulated = try model.logits(tokens: Array(tokens.prefix(6)), cache: &simulated)
        #expect(prefillPacked.values == prefillSimulated.values)
        for layer in 0..<config.layerCount {
            for head in 0..<config.kvHeads {
                #expect(packed!.layers[layer].keys(head: head).values == simulated!.layers[layer].keys(head: head).values)
                #expect(packed!.layers[layer].values(head: head).values == simulated!.layers[layer].values(head: head).values)
            }
        }
        for token in tokens.dropFirst(6) {
            let fromPacked = try model.logits(tokens: [token], cache: &packed)
            let fromSimulated = try model.logits(tokens: [token], cache: &simulated)
            #expect(TinyTransformer.maximumError(fromPacked, fromSimulated) < 1e-5)
        }
        #expect(packed!.byteCount < simulated!.byteCount)
    }

    /// The packed decode kernel at a real head width (64, 3 query heads per KV head, several
    /// tiles) against attention over the simulated f32 cache.
    @Test(arguments: [(4, 64), (4, 16), (8, 32), (3, 32)])
    func decodeKernelMatchesTheSimulatedCacheAtHeadDimension64(bits: Int, groupSize: Int) throws {
        let (hidden, heads, kvHeads, dimension) = (96, 6, 2, 64)
        var generator = RandomGenerator(seed: UInt64(bits + groupSize))
        func projection(_ outputs: Int, _ inputs: Int) throws -> DenseLinear {
            try DenseLinear(weight: Matrix(rows: outputs, columns: inputs, values: generator.uniformValues(count: outputs * inputs, in: -0.3..<0.3)))
        }
        var attention = SelfAttention(
            queryProjection: try projection(heads * dimension, hidden), keyProjection: try projection(kvHeads * dimension, hidden),
            valueProjection: try projection(kvHeads * dimension, hidden), outputProjection: try projection(hidden, heads * dimension),
            heads: heads, kvHeads: kvHeads, headDimension: dimension, rotary: RotaryEmbedding(headDimension: dimension, base: 10_000))
        let quantizer = try KeyValueQuantizer(bits: bits, groupSize: groupSize)
        try attention.enableKeyValueQuantization(quantizer)
        var packed: KVCache.Layer? = KVCache(layerCount: 1, kvHeads: kvHeads, headDimension: dimension, quantizers: [quantizer]).layers[0]
        var simulated: KVCache.Layer? = KVCache(layerCount: 1, kvHeads: kvHeads, headDimension: dimension).layers[0]
        // 300 cached positions: the decode kernel's tiles of 128, the last one partial.
        let prompt = try Matrix(rows: 300, columns: hidden, values: generator.normalValues(count: 300 * hidden))
        let first = attention.attended(prompt, positions: 0..<300, cache: &packed, context: .serial())
        #expect(first.values == attention.attended(prompt, positions: 0..<300, cache: &simulated, context: .serial()).values)
        for position in 300..<310 {
            let input = try Matrix(rows: 1, columns: hidden, values: generator.normalValues(count: hidden))
            let fromPacked = attention.attended(input, positions: position..<(position + 1), cache: &packed, context: .serial())
            let fromSimulated = attention.attended(input, positions: position..<(position + 1), cache: &simulated, context: .serial())
            let largest = fromSimulated.values.map(abs).max()!
            #expect(fromPacked.maximumAbsoluteDifference(to: fromSimulated) <= 1e-5 * largest, "position \(position)")
        }
    }

    /// SmolLM2 geometry (3 KV heads × 64), several groups per head, growth past the initial
    /// capacity: every stored row reads back as `fakeQuantize` of it.
    @Test(arguments: [(4, 16), (4, 64), (8, 32), (3, 64)])
    func storedRowsReadBackAsFakeQuantized(bits: Int, groupSize: Int) throws {
        let quantizer = try KeyValueQuantizer(bits: bits, groupSize: groupSize)
        var cache = KVCache(layerCount: 1, kvHeads: 3, headDimension: 64, capacity: 2, quantizers: [quantizer])
        var generator = RandomGenerator(seed: UInt64(bits * 100 + groupSize))
        var keys: [Float] = []
        var values: [Float] = []
        for rows in [1, 4, 2] {  // 7 positions: grows 2 → 4 → 8
            let newKeys = generator.normalValues(count: rows * 192)
            let newValues = generator.uniformValues(count: rows * 192, in: -3..<1)
            cache.layers[0].append(keys: newKeys, values: newValues, rows: rows, rowStride: 192)
            keys += newKeys
            values += newValues
        }
        #expect(cache.layers[0].count == 7 && cache.layers[0].capacity == 8)
        quantizer.fakeQuantize(&keys)
        quantizer.fakeQuantize(&values)
        /// Head `head`'s 64 columns of every position.
        func columns(_ all: [Float], head: Int) -> [Float] {
            var result: [Float] = []
            for position in 0..<7 {
                let start: Int = position * 192 + head * 64
                result += all[start..<(start + 64)]
            }
            return result
        }
        for head in 0..<3 {
            let expectedKeys = columns(keys, head: head)
            let expectedValues = columns(values, head: head)
            #expect(cache.layers[0].keys(head: head).values == expectedKeys)
            #expect(cache.layers[0].values(head: head).values == expectedValues)
        }
    }

    /// Bytes per cached position of one layer, SmolLM2 geometry (3 KV heads × 64): f32 keys
    /// and values 2·3·64·4; 4-bit codes 32 bytes per head row plus an f32 scale and zero per group.
    @Test func bytesPerPosition() throws {
        let f32 = KVCache.Layer.bytesPerPosition(kvHeads: 3, headDimension: 64, quantizer: nil)
        let four = KVCache.Layer.bytesPerPosition(kvHeads: 3, headDimension: 64, quantizer: try KeyValueQuantizer(bits: 4, groupSize: 64))
        let eight = KVCache.Layer.bytesPerPosition(kvHeads: 3, headDimension: 64, quantizer: try KeyValueQuantizer(bits: 8, groupSize: 64))
        #expect(f32 == 1536 && four == 240 && eight == 432)
        let cache = KVCache(layerCount: 1, kvHeads: 3, headDimension: 64, capacity: 100, quantizers: [try KeyValueQuantizer(bits: 4, groupSize: 64)])
        #expect(cache.byteCount == 100 * four)
        #expect(KVCache(layerCount: 1, kvHeads: 3, headDimension: 64, capacity: 100).byteCount == 100 * f32)
    }
}

extension KeyValueQuantizer {
    /// `fakeQuantize` over an array (tests).
    func fakeQuantize(_ values: inout [Float]) {
        values.withUnsafeMutableBufferPointer { fakeQuantize($0) }
    }
}
