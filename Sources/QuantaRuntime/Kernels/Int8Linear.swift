import QuantaModel
import QuantaTensor

/// A W8A8 linear layer: int8 weights `[out × in]` with one scale per output row (a
/// per-tensor scale repeated), input rows quantized to int8 on the fly (per token, or with
/// a static per-tensor scale), int8 × int8 → int32 products (`Int8Kernels`) and the scales
/// applied in the epilogue. Output rows are split across the context's threads.
public struct Int8Linear: LinearOperator {
    /// Row-major `[outputCount × inputCount]` codes in −127 … 127.
    public let weights: [Int8]
    /// One scale per output row.
    public let weightScales: [Float]
    public let bias: [Float]?
    public let activation: ActivationScheme
    public let inputCount: Int
    public let outputCount: Int
    public let context: ComputeContext
    /// Use the scalar reference kernels (for tests and comparisons).
    public var useReference = false

    public init(
        weights: [Int8], weightScales: [Float], bias: [Float]?, inputCount: Int, outputCount: Int,
        activation: ActivationScheme, context: ComputeContext = .serial(), name: String = "linear"
    ) throws(RuntimeError) {
        guard weights.count == inputCount * outputCount, weightScales.count == outputCount,
            bias.map({ $0.count == outputCount }) ?? true
        else {
            throw .invalidPackedWeight(
                name: name,
                detail: "int8 weights need \(outputCount) × \(inputCount) codes, \(outputCount) scales and biases; got "
                    + "\(weights.count), \(weightScales.count), \(bias?.count ?? 0)")
        }
        guard activation.bits == 8 else {
            throw .invalidPackedWeight(name: name, detail: "the int8 path needs 8-bit activations, got \(activation.bits)")
        }
        self.weights = weights
        self.weightScales = weightScales
        self.bias = bias
        self.inputCount = inputCount
        self.outputCount = outputCount
        self.activation = activation
        self.context = context
    }

    /// Builds the layer from unsigned packed codes with zero point 128 (how 8-bit symmetric
    /// weights are stored: `w = scale · (code − 128)`) and per-row scales.
    public init(
        unsignedCodes: [UInt8], weightScales: [Float], bias: [Float]?, inputCount: Int, outputCount: Int,
        activation: ActivationScheme, context: ComputeContext = .serial(), name: String = "linear"
    ) throws(RuntimeError) {
        if let code = unsignedCodes.first(where: { $0 == 0 }) {
            throw .invalidPackedWeight(name: name, detail: "code \(code) is −128 after removing the zero point; int8 weights use ±127")
        }
        try self.init(
            weights: unsignedCodes.map { Int8(Int($0) - 128) }, weightScales: weightScales, bias: bias,
            inputCount: inputCount, outputCount: outputCount, activation: activation, context: context, name: name)
    }

    public func apply(input: UnsafePointer<Float>, rows: Int, output: UnsafeMutablePointer<Float>) {
        guard rows > 0 else { return }
        let n = inputCount
        let staticScale = activation.granularity == .perTensor ? activation.staticScale : nil
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: rows * n) { codes in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: rows) { scales in
                for row in 0..<rows {
                    scales[row] = Int8Kernels.quantizeRow(
                        input + row * n, count: n, staticScale: staticScale, into: codes.baseAddress! + row * n)
                }
                let shared = Int8Operands(
                    x: UnsafePointer(codes.baseAddress!), xScales: UnsafePointer(scales.baseAddress!), output: output)
                weights.withUnsafeBufferPointer { w in
                    weightScales.withUnsafeBufferPointer { s in
                        let weightPointers = Int8Weights(weights: w.baseAddress!, scales: s.baseAddress!)
                        let reference = useReference
                        let inputs = inputCount
                        let outputs = outputCount
                        let run = { (biasPointer: UnsafePointer<Float>?) in
                            let biasAddress = Int8Bias(pointer: biasPointer)
                            let rowContext = rows * outputs < 4096 ? ComputeContext.serial() : context
                            rowContext.parallelFor(0..<outputs) { range in
                                if reference {
                                    Int8Kernels.multiplyReference(
                                        x: shared.x, xScales: shared.xScales, rows: rows, weights: weightPointers.weights,
                                        weightScales: weightPointers.scales, bias: biasAddress.pointer, inputCount: inputs,
                                        outputCount: outputs, outputs: range, output: shared.output)
                                } else {
                                    Int8Kernels.multiply(
                                        x: shared.x, xScales: shared.xScales, rows: rows, weights: weightPointers.weights,
                                        weightScales: weightPointers.scales, bias: biasAddress.pointer, inputCount: inputs,
                                        outputCount: outputs, outputs: range, output: shared.output)
                                }
                            }
                        }
                        if let bias {
                            bias.withUnsafeBufferPointer { run($0.baseAddress!) }
                        } else {
                            run(nil)
                        }
                    }
                }
            }
        }
    }
}

/// Addresses shared by one `apply`'s `parallelFor` chunks (each writes disjoint columns);
/// valid only inside `apply`.
struct Int8Operands: @unchecked Sendable {
    let x: UnsafePointer<Int8>
    let xScales: UnsafePointer<Float>
    let output: UnsafeMutablePointer<Float>
}

struct Int8Weights: @unchecked Sendable {
    let weights: UnsafePointer<Int8>
    let scales: UnsafePointer<Float>
}

struct Int8Bias: @unchecked Sendable {
    let pointer: UnsafePointer<Float>?
}
