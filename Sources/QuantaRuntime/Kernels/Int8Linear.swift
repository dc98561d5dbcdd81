import QuantaModel
import QuantaTensor

/// A linear layer on the integer kernels (`Int8Kernels`): weight codes of `weightBits` ≤ 8
/// bits held as int8 `[out × in]` with one scale per output row (per-channel; a per-tensor
/// scale repeated), input rows quantized on the fly to `activation.bits` ≤ 8 bits (per
/// token, or with a static per-tensor scale) into int8, int8 × int8 → int32 products and the
/// scales applied in the epilogue. Output rows are split across the context's threads.
///
/// W8A8 is the native case; W4A4, W4A8, W8A4, W3A4 … run the same kernels on narrower
/// operands ("int8 kernels on low-bit operands": 4-bit codes occupy int8 lanes, so a W4A4
/// layer runs at W8A8 speed and holds one byte per weight). The result equals
/// `ActivationQuantizedLinear(base: DenseLinear(dequantized weights), activation:)` up to
/// float summation order, since both round activations with `ActivationScheme.code`.
public struct Int8Linear: LinearOperator {
    /// Row-major `[outputCount × inputCount]` codes in `−2^(weightBits−1) … 2^(weightBits−1) − 1`.
    public let weights: [Int8]
    /// The width the weight codes were quantized to (2…8); only checked and reported.
    public let weightBits: Int
    /// One scale per output row.
    public let weightScales: [Float]
    public let bias: [Float]?
    /// How inputs are quantized (bits 2…8).
    public let activation: ActivationScheme
    public let inputCount: Int
    public let outputCount: Int
    public let context: ComputeContext
    /// Use the scalar reference kernels (for tests and comparisons).
    public var useReference = false
    /// Use the AVX-512 VNNI kernels (default: when the CPU has them and `QUANTA_NO_VNNI` is
    /// not 1); false runs the Swift SIMD (AVX2) ones.
    public var usesVNNI = Int8Kernels.usesVNNI

    public init(
        weights: [Int8], weightScales: [Float], bias: [Float]?, inputCount: Int, outputCount: Int, weightBits: Int = 8,
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
        guard (2...8).contains(weightBits), (2...8).contains(activation.bits) else {
            throw .invalidPackedWeight(
                name: name,
                detail: "the integer path needs 2…8-bit weights and activations, got W\(weightBits)A\(activation.bits)")
        }
        let lowest = -(1 << (weightBits - 1))
        let highest = (1 << (weightBits - 1)) - 1
        if let code = weights.first(where: { Int($0) < lowest || Int($0) > highest }) {
            throw .invalidPackedWeight(
                name: name, detail: "weight code \(code) is outside \(lowest) … \(highest) for \(weightBits)-bit weights")
        }
        self.weights = weights
        self.weightBits = weightBits
        self.weightScales = weightScales
        self.bias = bias
        self.inputCount = inputCount
        self.outputCount = outputCount
        self.activation = activation
        self.context = context
    }

    /// Builds the layer from unsigned packed codes of symmetric `bits`-bit weights, whose
    /// zero point is `2^(bits−1)` (docs/packed-weights.md: `w = scale · (code − 2^(bits−1))`),
    /// and per-row scales.
    public init(
        unsignedCodes: [UInt8], bits: Int = 8, weightScales: [Float], bias: [Float]?, inputCount: Int,
        outputCount: Int, activation: ActivationScheme, context: ComputeContext = .serial(), name: String = "linear"
    ) throws(RuntimeError) {
        guard (2...8).contains(bits) else {
            throw .invalidPackedWeight(name: name, detail: "the integer path needs 2…8-bit weights, got \(bits)")
        }
        if let code = unsignedCodes.first(where: { Int($0) >= 1 << bits }) {
            throw .invalidPackedWeight(name: name, detail: "code \(code) does not fit \(bits) bits")
        }
        let zeroPoint = 1 << (bits - 1)
        try self.init(
            weights: unsignedCodes.map { Int8(Int($0) - zeroPoint) }, weightScales: weightScales, bias: bias,
            inputCount: inputCount, outputCount: outputCount, weightBits: bits, activation: activation,
            context: context, name: name)
    }

    public func apply(input: UnsafePointer<Float>, rows: Int, output: UnsafeMutablePointer<Float>) {
        guard rows > 0 else { return }
        let n = inputCount
        let activation = activation
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: rows * n) { codes in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: rows) { scales in
                for row in 0..<rows {
                    scales[row] = Int8Kernels.quantizeRow(
                        input + row * n, count: n, activation: activation, into: codes.baseAddress! + row * n)
                }
                let shared = Int8Operands(
                    x: UnsafePointer(codes.baseAddress!), xScales: UnsafePointer(scales.baseAddress!), output: output)
                weights.withUnsafeBufferPointer { w in
                    weightScales.withUnsafeBufferPointer { s in
                        let weightPointers = Int8Weights(weights: w.baseAddress!, scales: s.baseAddress!)
                        let reference = useReference
                        let vnni = usesVNNI
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
                                        outputCount: outputs, outputs: range, output: shared.output, vnni: vnni)
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
