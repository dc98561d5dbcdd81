import QuantaTensor

/// A full-precision linear layer: f32 weight `[outputCount × inputCount]` (PyTorch
/// `nn.Linear` layout) and an optional bias, multiplied through OpenBLAS: `sgemm` for
/// several rows, `sgemv` for one.
public struct DenseLinear: LinearOperator, Equatable {
    /// The weight, `outputCount` rows of `inputCount` values.
    public let weight: Matrix
    /// One value per output, or `nil`.
    public let bias: [Float]?

    public var inputCount: Int { weight.columns }
    public var outputCount: Int { weight.rows }

    /// A layer over `weight` (`out × in`) and `bias` (`out` values). Throws
    /// `weightShapeMismatch` if the bias length is wrong or a dimension exceeds BLAS's
    /// 32-bit limit; `name` labels the error.
    public init(weight: Matrix, bias: [Float]? = nil, name: String = "linear") throws(ModelError) {
        if let bias, bias.count != weight.rows {
            throw .weightShapeMismatch(name: name, expected: [weight.rows], actual: [bias.count])
        }
        guard weight.rows <= Int(Int32.max), weight.columns <= Int(Int32.max) else {
            throw .weightShapeMismatch(name: name, expected: [Int(Int32.max), Int(Int32.max)], actual: [weight.rows, weight.columns])
        }
        self.weight = weight
        self.bias = bias
    }

    public func apply(input: UnsafePointer<Float>, rows: Int, output: UnsafeMutablePointer<Float>) {
        let inputs = inputCount
        let outputs = outputCount
        guard rows > 0, outputs > 0 else { return }
        guard inputs > 0 else {
            for row in 0..<rows { (output + row * outputs).initialize(repeating: 0, count: outputs) }
            addBias(output, rows: rows)
            return
        }
        weight.values.withUnsafeBufferPointer { weights in
            let weightBase = weights.baseAddress!
            if rows == 1 {
                // y = W · x: one streaming pass over W.
                Kernels.gemv(
                    transposeA: false, rows: outputs, columns: inputs, a: weightBase, leadingDimensionA: inputs,
                    x: input, y: output)
            } else {
                // Y = X · Wᵀ.
                Kernels.gemm(
                    transposeB: true, rows: rows, columns: outputs, inner: inputs, a: input, leadingDimensionA: inputs,
                    b: weightBase, leadingDimensionB: inputs, c: output, leadingDimensionC: outputs)
            }
        }
        addBias(output, rows: rows)
    }

    private func addBias(_ output: UnsafeMutablePointer<Float>, rows: Int) {
        guard let bias else { return }
        bias.withUnsafeBufferPointer { values in
            for row in 0..<rows {
                VectorKernels.add(values.baseAddress!, to: output + row * outputCount, count: outputCount)
            }
        }
    }
}
