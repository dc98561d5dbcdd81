import Foundation
import QuantaFormats
import QuantaModel
import QuantaTensor
import Testing

@Suite struct TransformerTests {
    static let variants: [(name: String, config: ModelConfig)] = [
        ("llama tied", TinyTransformer.config()),
        ("qwen2 biases, untied", TinyTransformer.config(tied: false, attentionBias: true)),
    ]

    @Test(arguments: 0..<2) func logitsMatchTheNaiveReference(variant: Int) throws {
        let config = Self.variants[variant].config
        let checkpoint = TinyTransformer.checkpoint(config: config)
        let model = try TransformerModel(checkpoint: checkpoint)
        // 20 tokens: the softmax and norm kernels run both their 16-wide and scalar paths.
        let tokens = TinyTransformer.tokens(count: 20)
        var noCache: KVCache? = nil
        let logits = try model.logits(tokens: tokens, cache: &noCache)
        let reference = ReferenceTransformer(checkpoint: checkpoint).logits(tokens)
        #expect(logits.rows == 20 && logits.columns == 32)
        let error = TinyTransformer.maximumError(logits, reference)
        #expect(error < 1e-4, "\(Self.variants[variant].name): max error \(error)")
    }

    @Test func longWindowMatchesTheReferenceAcrossAttentionBlocks() throws {
        // 150 rows > the 128-row attention block: the second block sees all earlier keys.
        let config = TinyTransformer.config(maxPositions: 256)
        let checkpoint = TinyTransformer.checkpoint(config: config, seed: 11)
        let model = try TransformerModel(checkpoint: checkpoint)
        let tokens = TinyTransformer.tokens(count: 150, seed: 5)
        var noCache: KVCache? = nil
        let logits = try model.logits(tokens: tokens, cache: &noCache)
        let error = TinyTransformer.maximumError(logits, ReferenceTransformer(checkpoint: checkpoint).logits(tokens))
        #expect(error < 1e-4, "max error \(error)")
    }

    @Test func threadedHeadsEqualTheSerialPass() throws {
        let checkpoint = TinyTransformer.checkpoint(config: TinyTransformer.config(maxPositions: 256))
        let serial = try TransformerModel(checkpoint: checkpoint)
        let threaded = try TransformerModel(checkpoint: checkpoint, computeContext: ComputeContext(threadCount: 2))
        let tokens = TinyTransformer.tokens(count: 140, seed: 8)
        #expect(try threaded.forward(tokens: tokens) == serial.forward(tokens: tokens))
    }

    @Test func incrementalDecodingEqualsTheFullWindow() throws {
        let checkpoint = TinyTransformer.checkpoint(config: TinyTransformer.config(tied: false, attentionBias: true))
        let model = try TransformerModel(checkpoint: checkpoint)
        let tokens = TinyTransformer.tokens(count: 19)
        var noCache: KVCache? = nil
        let full = try model.logits(tokens: tokens, cache: &noCache)

        // One token at a time (the GEMV paths), from a cache smaller than needed (grows).
        var cache: KVCache? = model.makeCache(capacity: 2)
        for position in tokens.indices {
            let row = try model.logits(tokens: [tokens[position]], cache: &cache)
            let expected = try Matrix(rows: 1, columns: 32, values: Array(full.row(position)))
            #expect(TinyTransformer.maximumError(row, expected) < 1e-5, "position \(position)")
        }
        #expect(cache?.count == tokens.count)

        // Chunks of 5, 1, 13: prefill continuing a cache (past > 0 in the GEMM path).
        #expect(try TinyTransformer.chunkedDecodingError(model, tokens: tokens, full: full, sizes: [5, 1, 13], capacity: 4) < 1e-5)
    }

    @Test func greedyDecodingMatchesArgmaxOfFullWindows() throws {
        let model = try TransformerModel(checkpoint: TinyTransformer.checkpoint(config: TinyTransformer.config()))
        let prompt = TinyTransformer.tokens(count: 4)
        let generated = try model.greedyTokens(prompt: prompt, count: 6)
        var window = prompt
        for token in generated {
            var noCache: KVCache? = nil
            let logits = try model.logits(tokens: window, cache: &noCache)
            #expect(token == TransformerModel.argmax(logits.row(window.count - 1)))
            window.append(token)
        }
    }

    @Test func languageModelBlocksCoverTheWindow() throws {
        let model = try TransformerModel(checkpoint: TinyTransformer.checkpoint(config: TinyTransformer.config()))
        let tokens = TinyTransformer.tokens(count: 10)
        var noCache: KVCache? = nil
        let full = try model.logits(tokens: tokens, cache: &noCache)
        var seen: [Range<Int>] = []
        try model.logits(for: tokens, rowsPerBlock: 4) { rows, logits in
            seen.append(rows)
            #expect(logits.rows == rows.count && logits.columns == 32)
            #expect(Array(logits.values) == Array(full.values[(rows.lowerBound * 32)..<(rows.upperBound * 32)]))
        }
        #expect(seen == [0..<4, 4..<8, 8..<10])
        #expect(model.contextLength == 64 && model.vocabularySize == 32)
    }

    @Test func observerSeesEveryLinearInputAndBlockOutput() throws {
        let config = TinyTransformer.config()
        let model = try TransformerModel(checkpoint: TinyTransformer.checkpoint(config: config))
        let tokens = TinyTransformer.tokens(count: 5)
        let observer = RecordingObserver()
        let hidden = try model.forward(tokens: tokens, observer: observer)
        var expected: [([String], ForwardObservation.Kind, Int)] = []
        for layer in 0..<2 {
            let prefix = "model.layers.\(layer)"
            expected += [
                (["\(prefix).self_attn.q_proj", "\(prefix).self_attn.k_proj", "\(prefix).self_attn.v_proj"], .linearInput, 16),
                (["\(prefix).self_attn.o_proj"], .linearInput, 16),
                (["\(prefix).mlp.gate_proj", "\(prefix).mlp.up_proj"], .linearInput, 16),
                (["\(prefix).mlp.down_proj"], .linearInput, 24),
                ([prefix], .layerOutput, 16),
            ]
        }
        #expect(observer.observations.count == expected.count)
        for (observation, (names, kind, columns)) in zip(observer.observations, expected) {
            #expect(observation.names == names && observation.kind == kind)
            #expect(observation.values.rows == 5 && observation.values.columns == columns)
            #expect(observation.positions == 0..<5)
        }
        // Running the layers one by one (as the calibration pipeline does) reproduces the
        // observed block outputs and the model's result.
        var layerHidden = model.embed(tokens)
        var noCache: KVCache? = nil
        for layer in model.layers {
            layer.forward(hidden: &layerHidden, positions: 0..<5, cache: &noCache)
            let observed = observer.observations.first { $0.kind == .layerOutput && $0.layer == layer.index }!
            #expect(layerHidden == observed.values)
        }
        #expect(model.finalNorm.apply(layerHidden) == hidden)
        // The observation of the last layer's q/k/v input is its input norm of layer 0's output.
        let qkv1 = observer.observations.first { $0.names.first == "model.layers.1.self_attn.q_proj" }!
        let block0 = observer.observations.first { $0.names == ["model.layers.0"] }!
        #expect(qkv1.values == model.layers[1].inputNorm.apply(block0.values))
    }

    @Test func rejectsBadInputs() throws {
        let model = try TransformerModel(checkpoint: TinyTransformer.checkpoint(config: TinyTransformer.config(maxPositions: 16)))
        #expect(throws: ModelError.self) { _ = try model.forward(tokens: []) }
        #expect(throws: ModelError.tokenOutOfRange(token: 32, vocabularySize: 32)) { _ = try model.forward(tokens: [1, 32]) }
        #expect(throws: ModelError.tokenOutOfRange(token: -1, vocabularySize: 32)) { _ = try model.forward(tokens: [-1]) }
        #expect(throws: ModelError.contextTooLong(requested: 17, maximum: 16)) {
            _ = try model.forward(tokens: Array(repeating: 1, count: 17))
        }
        var cache: KVCache? = model.makeCache()
        _ = try model.forward(tokens: Array(repeating: 1, count: 10), cache: &cache)
        #expect(throws: ModelError.contextTooLong(requested: 17, maximum: 16)) {
            _ = try model.forward(tokens: Array(repeating: 1, count: 7), cache: &cache)
        }
        #expect(throws: ModelError.emptyInput(detail: "no tokens to run the model on; pass at least one token id")) {
            try model.logits(for: [], rowsPerBlock: 8) { _, _ in }
        }
        #expect(cache?.count == 10)
    }

    @Test func rejectsMissingAndMisshapenWeights() throws {
        let config = TinyTransformer.config()
        var missing = TinyTransformer.checkpoint(config: config)
        missing.tensors.removeAll { $0.name == "model.layers.1.mlp.up_proj.weight" }
        #expect(throws: ModelError.missingWeight(name: "model.layers.1.mlp.up_proj.weight")) {
            _ = try TransformerModel(checkpoint: missing)
        }
        var misshapen = TinyTransformer.checkpoint(config: config)
        let index = misshapen.tensors.firstIndex { $0.name == "model.layers.0.self_attn.k_proj.weight" }!
        misshapen.tensors[index].tensor = try Tensor(shape: [16, 16], values: [Float](repeating: 0, count: 256))
        #expect(throws: ModelError.weightShapeMismatch(name: "model.layers.0.self_attn.k_proj.weight", expected: [8, 16], actual: [16, 16])) {
            _ = try TransformerModel(checkpoint: misshapen)
        }
        var untied = TinyTransformer.checkpoint(config: TinyTransformer.config(tied: false))
        untied.tensors.removeAll { $0.name == "lm_head.weight" }
        #expect(throws: ModelError.missingWeight(name: "lm_head.weight")) { _ = try TransformerModel(checkpoint: untied) }
        var badScaling = TinyTransformer.checkpoint(config: config)
        badScaling.config.ropeScaling = RopeScaling(ropeType: "llama3", factor: 8)
        #expect(throws: ModelError.self) { _ = try TransformerModel(checkpoint: badScaling) }
    }

    @Test func halfPrecisionCheckpointsWidenToFloat() throws {
        let config = TinyTransformer.config()
        let checkpoint = TinyTransformer.checkpoint(config: config)
        let bf16 = ModelCheckpoint(
            config: config,
            tensors: try checkpoint.tensors.map { NamedTensor(name: $0.name, tensor: try $0.tensor.converted(to: .bfloat16)) })
        let widened = ModelCheckpoint(
            config: config,
            tensors: try bf16.tensors.map { NamedTensor(name: $0.name, tensor: try $0.tensor.converted(to: .float32)) })
        let tokens = TinyTransformer.tokens(count: 6)
        let fromHalf = try TransformerModel(checkpoint: bf16).forward(tokens: tokens)
        let fromWidened = try TransformerModel(checkpoint: widened).forward(tokens: tokens)
        #expect(fromHalf == fromWidened)
    }
}
