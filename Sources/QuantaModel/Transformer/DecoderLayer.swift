import QuantaTensor

/// One pre-norm decoder block (HF `LlamaDecoderLayer`):
/// `h = x + attn(input_layernorm(x))`, `out = h + mlp(post_attention_layernorm(h))`.
///
/// `forward` is the entry point a layer-by-layer calibration pipeline uses: it takes the
/// block's input hidden states and replaces them with its output.
public struct DecoderLayer: Sendable {
    /// The layer index (`model.layers.N`).
    public let index: Int
    /// `input_layernorm`.
    public var inputNorm: RMSNorm
    /// `self_attn`.
    public var attention: SelfAttention
    /// `post_attention_layernorm`.
    public var postAttentionNorm: RMSNorm
    /// `mlp`.
    public var feedForward: FeedForward

    public init(
        index: Int, inputNorm: RMSNorm, attention: SelfAttention, postAttentionNorm: RMSNorm, feedForward: FeedForward
    ) {
        self.index = index
        self.inputNorm = inputNorm
        self.attention = attention
        self.postAttentionNorm = postAttentionNorm
        self.feedForward = feedForward
    }

    /// The module name, `model.layers.N`.
    public var name: String { "model.layers.\(index)" }

    /// Runs the block on `hidden` (`rows × hidden`, one row per position in `positions`),
    /// replacing it with the block output.
    ///
    /// - Parameters:
    ///   - cache: when non-nil, layer `index` of it supplies earlier keys/values and receives
    ///     the new ones; `positions.lowerBound` must equal that layer's count. When nil,
    ///     the rows attend causally among themselves only.
    ///   - observer: receives the inputs of q/k/v (one observation), o_proj, gate/up (one),
    ///     down_proj, and the block output. Nil costs nothing.
    ///   - context: thread count for the attention heads and element-wise loops (BLAS's own
    ///     threads are set process-wide with `ComputeContext.applyBLASThreadCount`).
    public func forward(
        hidden: inout Matrix, positions: Range<Int>, cache: inout KVCache?, observer: (any ForwardObserver)? = nil,
        context: ComputeContext = .serial()
    ) {
        precondition(hidden.rows == positions.count, "one hidden row per position")
        let prefix = name
        func observe(_ kind: ForwardObservation.Kind, _ names: [String], _ values: Matrix) {
            observer?.observe(
                ForwardObservation(kind: kind, names: names, layer: index, positions: positions, values: values))
        }
        let attentionInput = inputNorm.apply(hidden)
        if observer != nil {
            observe(
                .linearInput,
                ["\(prefix).self_attn.q_proj", "\(prefix).self_attn.k_proj", "\(prefix).self_attn.v_proj"],
                attentionInput)
        }
        let outputObserver: ((Matrix) -> Void)? =
            observer == nil ? nil : { observe(.linearInput, ["\(prefix).self_attn.o_proj"], $0) }
        let attentionOutput: Matrix
        if cache != nil {
            var layerCache: KVCache.Layer? = cache!.layers[index]
            // Move the layer out so its arrays stay uniquely referenced while appending.
            cache!.layers[index] = KVCache.Layer(kvHeads: 0, headDimension: 0, capacity: 0)
            attentionOutput = attention.forward(
                attentionInput, positions: positions, cache: &layerCache, context: context,
                observeOutputInput: outputObserver)
            cache!.layers[index] = layerCache!
        } else {
            var noCache: KVCache.Layer? = nil
            attentionOutput = attention.forward(
                attentionInput, positions: positions, cache: &noCache, context: context,
                observeOutputInput: outputObserver)
        }
        Self.addInPlace(attentionOutput, to: &hidden)

        let feedForwardInput = postAttentionNorm.apply(hidden)
        if observer != nil {
            observe(.linearInput, ["\(prefix).mlp.gate_proj", "\(prefix).mlp.up_proj"], feedForwardInput)
        }
        let feedForwardOutput = feedForward.forward(
            feedForwardInput, context: context,
            observeDownInput: observer == nil ? nil : { observe(.linearInput, ["\(prefix).mlp.down_proj"], $0) })
        Self.addInPlace(feedForwardOutput, to: &hidden)
        if observer != nil { observe(.layerOutput, [prefix], hidden) }
    }

    /// `target += addend` (same shape).
    public static func addInPlace(_ addend: Matrix, to target: inout Matrix) {
        precondition(addend.rows == target.rows && addend.columns == target.columns, "residual shapes differ")
        let count = addend.values.count
        guard count > 0 else { return }
        addend.values.withUnsafeBufferPointer { source in
            target.values.withUnsafeMutableBufferPointer { destination in
                VectorKernels.add(source.baseAddress!, to: destination.baseAddress!, count: count)
            }
        }
    }
}
