import QuantaTensor

/// One named intermediate of a forward pass, handed to a `ForwardObserver`.
public struct ForwardObservation: Sendable {
    /// What the values are.
    public enum Kind: Sendable, Equatable {
        /// The input of the linear layers in `names` (`rows × inputCount`). Layers that read
        /// the same tensor share one observation: q/k/v (the attention norm's output) and
        /// gate/up (the MLP norm's output).
        case linearInput
        /// The hidden state a decoder block hands to the next (`rows × hidden`), after both
        /// residual adds; `names` is `["model.layers.N"]`.
        case layerOutput
    }

    public var kind: Kind
    /// Hugging Face module names, e.g. `model.layers.3.self_attn.q_proj` or `model.layers.3`.
    public var names: [String]
    /// The decoder layer index.
    public var layer: Int
    /// Positions of the rows (the window or the cached continuation).
    public var positions: Range<Int>
    /// The values, one row per position.
    public var values: Matrix

    public init(kind: Kind, names: [String], layer: Int, positions: Range<Int>, values: Matrix) {
        self.kind = kind
        self.names = names
        self.layer = layer
        self.positions = positions
        self.values = values
    }
}

/// Receives named intermediates during a forward pass (calibration: Hessians `XᵀX` of linear
/// inputs, activation statistics, block outputs for layer-by-layer pipelines).
///
/// The model only builds observations when an observer is passed; with `nil` the forward
/// pass does no extra work. `values` shares storage with the model's buffers (copy on
/// write), so observing costs no copy unless the observer keeps or mutates it.
public protocol ForwardObserver: AnyObject {
    func observe(_ observation: ForwardObservation)
}
