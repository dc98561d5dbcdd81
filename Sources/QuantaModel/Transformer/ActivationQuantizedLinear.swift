import QuantaTensor

/// A linear layer whose input is fake-quantized (quantized and dequantized in float32)
/// before the product: how a W8A8 / W4A8 model is simulated. The weight of `base` is
/// already the dequantized quantized weight; the activation rounding happens at run time
/// because per-token scales depend on the input.
public struct ActivationQuantizedLinear: LinearOperator {
    public let base: any LinearOperator
    public let activation: ActivationScheme

    public var inputCount: Int { base.inputCount }
    public var outputCount: Int { base.outputCount }

    public init(base: any LinearOperator, activation: ActivationScheme) {
        self.base = base
        self.activation = activation
    }

    public func apply(input: UnsafePointer<Float>, rows: Int, output: UnsafeMutablePointer<Float>) {
        guard rows > 0 else { return }
        let count = rows * inputCount
        let quantized = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        defer { quantized.deallocate() }
        quantized.initialize(from: input, count: count)
        activation.fakeQuantize(quantized, rows: rows, columns: inputCount)
        base.apply(input: quantized, rows: rows, output: output)
    }
}
