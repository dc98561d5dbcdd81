import QuantaFormats
import QuantaModel
import QuantaRuntime
import QuantaTensor
import Testing

/// W4A4, W4A8, W3A4, W8A4 … on the integer kernels (`Int8Linear` over low-bit operands),
/// built the way a container loads them (`LoadedModel.activationLinear`), against the
/// simulation `ActivationQuantizedLinear(DenseLinear(dequantized weights))`.
@Suite struct LowBitIntegerLinearTests {
    /// Symmetric per-channel packed weights with random codes over the whole range (code 0,
    /// i.e. −2^(bits−1), included) and f16-exact per-row scales.
    static func symmetricWeights(bits: Int, inputs: Int, outputs: Int, seed: UInt64) throws -> PackedWeights {
        var random = RandomGenerator(seed: seed)
        let codes = (0..<(outputs * inputs)).map { _ in UInt8(random.nextInt(below: 1 << bits)) }
        let scales = (0..<outputs).map { _ in Float(Float16(random.nextFloat(in: 0.001..<0.05))) }
        return try PackedWeights.pack(
            name: "test", codes: codes, scales: scales, zeroPoints: [UInt8](repeating: UInt8(1 << (bits - 1)), count: outputs),
            groupIndex: [Int](repeating: 0, count: inputs), outputCount: outputs, inputCount: inputs, bits: bits,
            groupSize: inputs, symmetric: true)
    }

    /// `scale · (code − zero)` row-major, as the packed format defines it.
    static func dequantized(_ weights: PackedWeights) throws -> Matrix {
        let codes = weights.unpackedCodes()
        let zeros = weights.unpackedZeroPoints()
        let scales = weights.scaleValues()
        let inputs = weights.inputCount
        let values = codes.indices.map { index in
            scales[index / inputs] * (Float(codes[index]) - Float(zeros[index / inputs]))
        }
        return try Matrix(rows: weights.outputCount, columns: inputs, values: values)
    }

    static let combinations: [(weightBits: Int, activationBits: Int)] = [(4, 4), (4, 8), (8, 8), (3, 4), (8, 4), (2, 4)]

    @Test(arguments: combinations.indices)
    func integerPathEqualsTheSimulation(combination: Int) throws {
        let (weightBits, activationBits) = Self.combinations[combination]
        let activations = [
            ActivationScheme(bits: activationBits),
            ActivationScheme(bits: activationBits, granularity: .perTensor, staticScale: 0.3),  // clamps the tails
            ActivationScheme(bits: activationBits, clipRatio: 0.8),  // per token, clipped: saturates the largest
        ]
        for activation in activations {
            for (inputs, outputs) in [(200, 23), (576, 40)] {  // 200: a VNNI tail of 8; 576: whole 64-byte steps
                let weights = try Self.symmetricWeights(
                    bits: weightBits, inputs: inputs, outputs: outputs, seed: UInt64(100 * weightBits + inputs))
                let bias = (0..<outputs).map { 0.05 * Float($0) - 0.5 }
                let loaded = try LoadedModel.activationLinear(
                    weights, activation: activation, bias: bias, context: ComputeContext(threadCount: 2), name: "test")
                var linear = try #require(loaded as? Int8Linear, "W\(weightBits)A\(activationBits) should use the integer kernels")
                #expect(linear.weightBits == weightBits)
                let dense = try Self.dequantized(weights)
                let simulation = ActivationQuantizedLinear(base: try DenseLinear(weight: dense, bias: bias), activation: activation)
                var generator = RandomGenerator(seed: UInt64(inputs + activationBits))
                for rows in [1, 3, 4, 70] {  // decode GEMV; 4-row GEMM blocks plus leftover rows
                    let input = try Matrix(rows: rows, columns: inputs, values: generator.normalValues(count: rows * inputs))
                    let expected = simulation.apply(input)
                    // Σ |w| · |x̂| per output: the scale of the float summation error.
                    var rounded = input.values
                    rounded.withUnsafeMutableBufferPointer { activation.fakeQuantize($0.baseAddress!, rows: rows, columns: inputs) }
                    linear.useReference = true
                    let reference = linear.apply(input)
                    linear.useReference = false
                    for vnni in Int8Kernels.usesVNNI ? [false, true] : [false] {
                        linear.usesVNNI = vnni
                        let fast = linear.apply(input)
                        #expect(fast == reference, "integer accumulation is exact: W\(weightBits)A\(activationBits) VNNI \(vnni)")
                        for row in 0..<rows {
                            for output in 0..<outputs {
                                var magnitude: Float = abs(bias[output])
                                for column in 0..<inputs {
                                    magnitude += abs(dense[output, column] * rounded[row * inputs + column])
                                }
                                let difference = abs(fast[row, output] - expected[row, output])
                                #expect(
                                    difference <= 1e-5 * magnitude,
                                    "W\(weightBits)A\(activationBits) \(activation.granularity) \(inputs)×\(outputs) rows \(rows) VNNI \(vnni) output \(output): \(difference) vs \(magnitude)"
                                )
                            }
                        }
                    }
                }
            }
        }
    }

    /// A4 codes stay in ±7: the row's absmax maps to 7, ties round to even.
    @Test func fourBitActivationsUseSevenLevelsEachSide() {
        let values: [Float] = [1.75, -0.875, 0.625, 0.125, -1.75]
        var codes = [Int8](repeating: 0, count: values.count)
        let scale = Int8Kernels.quantizeRow(values, count: values.count, activation: ActivationScheme(bits: 4), into: &codes)
        #expect(scale == 0.25)
        #expect(codes == [7, -4, 2, 0, -7])  // −3.5 → −4 and 2.5 → 2 (half to even); 0.5 → 0
        // Clipped at half the absmax: scale 0.875 / 7, the ends saturate at ±7.
        let clipped = Int8Kernels.quantizeRow(
            values, count: values.count, activation: ActivationScheme(bits: 4, clipRatio: 0.5), into: &codes)
        #expect(clipped == 0.125)
        #expect(codes == [7, -7, 5, 1, -7])
    }

    @Test func groupedOrAsymmetricWeightsKeepTheFakeQuantPath() throws {
        let activation = ActivationScheme(bits: 4)
        var random = RandomGenerator(seed: 9)
        let inputs = 64
        let outputs = 3
        let codes = (0..<(outputs * inputs)).map { _ in UInt8(random.nextInt(below: 16)) }
        let grouped = try PackedWeights.pack(
            name: "grouped", codes: codes, scales: [Float](repeating: 0.5, count: outputs * 2),
            zeroPoints: [UInt8](repeating: 8, count: outputs * 2), groupIndex: (0..<inputs).map { $0 / 32 },
            outputCount: outputs, inputCount: inputs, bits: 4, groupSize: 32, symmetric: true)
        let asymmetric = try PackedWeights.pack(
            name: "asymmetric", codes: codes, scales: [Float](repeating: 0.5, count: outputs),
            zeroPoints: [3, 8, 12], groupIndex: [Int](repeating: 0, count: inputs), outputCount: outputs,
            inputCount: inputs, bits: 4, groupSize: inputs, symmetric: false)
        for weights in [grouped, asymmetric] {
            let linear = try LoadedModel.activationLinear(
                weights, activation: activation, bias: nil, context: .serial(), name: "test")
            #expect(linear is ActivationQuantizedLinear)
        }
        let perChannel = try Self.symmetricWeights(bits: 4, inputs: inputs, outputs: outputs, seed: 4)
        #expect(try LoadedModel.activationLinear(perChannel, activation: activation, bias: nil, context: .serial(), name: "test") is Int8Linear)
    }

    @Test func codesOutsideTheirWidthAreRejected() throws {
        let four = ActivationScheme(bits: 4)
        #expect(throws: RuntimeError.self) {  // 16 does not fit 4 bits
            try Int8Linear(unsignedCodes: [16, 8], bits: 4, weightScales: [1], bias: nil, inputCount: 2, outputCount: 1, activation: four)
        }
        #expect(throws: RuntimeError.self) {  // 8 is outside −8 … 7
            try Int8Linear(weights: [8, 0], weightScales: [1], bias: nil, inputCount: 2, outputCount: 1, weightBits: 4, activation: four)
        }
        #expect(throws: RuntimeError.self) {
            try Int8Linear(weights: [1, 0], weightScales: [1], bias: nil, inputCount: 2, outputCount: 1, activation: ActivationScheme(bits: 1))
        }
        // −2^(bits−1) (code 0 of a symmetric packed weight) is a valid code: 4-bit −8, 8-bit −128.
        let minimum = try Int8Linear(
            unsignedCodes: [0, 8], bits: 4, weightScales: [1], bias: nil, inputCount: 2, outputCount: 1, activation: four)
        #expect(minimum.weights == [-8, 0])
        let eightBit = try Int8Linear(
            unsignedCodes: [0, 128], weightScales: [1], bias: nil, inputCount: 2, outputCount: 1, activation: ActivationScheme())
        #expect(eightBit.weights == [-128, 0])
    }
}
