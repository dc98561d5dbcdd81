import QuantaModel
import QuantaRuntime
import QuantaTensor
import Testing

@Suite struct Int8LinearTests {
    func codes(_ count: Int, seed: UInt64) -> [Int8] {
        var generator = RandomGenerator(seed: seed)
        return (0..<count).map { _ in Int8(generator.nextInt(below: 255) - 127) }
    }

    @Test func dotEqualsTheScalarReference() {
        for count in [0, 1, 31, 32, 33, 64, 100, 576, 1536] {
            let a = codes(count, seed: UInt64(count))
            let b = codes(count, seed: UInt64(count) + 1000)
            // Extremes: every product at ±127².
            let high = [Int8](repeating: 127, count: count)
            let low = [Int8](repeating: -127, count: count)
            for (left, right) in [(a, b), (high, high), (high, low), (low, low)] {
                let fast = Int8Kernels.dot(left, right, count: count)
                #expect(fast == Int8Kernels.dotReference(left, right, count: count), "count \(count)")
            }
        }
    }

    @Test(arguments: [1, 3, 4, 5, 9]) func multiplyEqualsTheScalarReference(rows: Int) {
        let inputs = 70
        let outputs = 13
        let x = codes(rows * inputs, seed: 1)
        let w = codes(outputs * inputs, seed: 2)
        let xScales = (0..<rows).map { 0.01 + Float($0) * 0.003 }
        let wScales = (0..<outputs).map { 0.02 - Float($0) * 0.001 }
        let bias = (0..<outputs).map { Float($0) - 6 }
        var fast = [Float](repeating: .nan, count: rows * outputs)
        var reference = [Float](repeating: .nan, count: rows * outputs)
        Int8Kernels.multiply(
            x: x, xScales: xScales, rows: rows, weights: w, weightScales: wScales, bias: bias, inputCount: inputs,
            outputCount: outputs, outputs: 0..<outputs, output: &fast)
        Int8Kernels.multiplyReference(
            x: x, xScales: xScales, rows: rows, weights: w, weightScales: wScales, bias: bias, inputCount: inputs,
            outputCount: outputs, outputs: 0..<outputs, output: &reference)
        #expect(fast == reference)
    }

    /// Both fast paths — Swift SIMD always, AVX-512 VNNI where the CPU has it — on sizes with
    /// and without a 64-byte tail, and at the ±127 extremes (VNNI shifts activations by 128).
    @Test(arguments: [1, 2, 4, 7]) func bothFastPathsEqualTheScalarReference(rows: Int) {
        for inputs in [64, 130, 576, 1536] {
            let outputs = 5
            var x = codes(rows * inputs, seed: UInt64(inputs))
            var w = codes(outputs * inputs, seed: UInt64(inputs) + 7)
            for index in stride(from: 0, to: x.count, by: 3) { x[index] = index % 2 == 0 ? 127 : -127 }
            for index in stride(from: 0, to: w.count, by: 5) { w[index] = index % 2 == 0 ? -127 : 127 }
            let xScales = [Float](repeating: 0.5, count: rows)
            let wScales = [Float](repeating: 0.25, count: outputs)
            var reference = [Float](repeating: .nan, count: rows * outputs)
            Int8Kernels.multiplyReference(
                x: x, xScales: xScales, rows: rows, weights: w, weightScales: wScales, bias: nil, inputCount: inputs,
                outputCount: outputs, outputs: 0..<outputs, output: &reference)
            for vnni in Int8Kernels.usesVNNI ? [false, true] : [false] {
                var fast = [Float](repeating: .nan, count: rows * outputs)
                Int8Kernels.multiply(
                    x: x, xScales: xScales, rows: rows, weights: w, weightScales: wScales, bias: nil, inputCount: inputs,
                    outputCount: outputs, outputs: 0..<outputs, output: &fast, vnni: vnni)
                #expect(fast == reference, "inputs \(inputs), VNNI \(vnni)")
            }
        }
    }

    @Test func quantizeRowUsesAbsmaxOver127() {
        let values: [Float] = [1.27, -0.5, 0.013, 0.0049]
        var codes = [Int8](repeating: 0, count: 4)
        let scale = Int8Kernels.quantizeRow(values, count: 4, activation: ActivationScheme(), into: &codes)
        #expect(abs(scale - 0.01) < 1e-9)
        #expect(codes == [127, -50, 1, 0])
        let clamped = Int8Kernels.quantizeRow(
            values, count: 4, activation: ActivationScheme(granularity: .perTensor, staticScale: 0.005), into: &codes)
        #expect(clamped == 0.005 && codes == [127, -100, 3, 1])
    }

    @Test(arguments: [ActivationScheme(), ActivationScheme(granularity: .perTensor, staticScale: 0.02)])
    func linearMatchesReferenceAndSimulation(activation: ActivationScheme) throws {
        let inputs = 96
        let outputs = 40
        let weightCodes = codes(outputs * inputs, seed: 7)
        let weightScales = (0..<outputs).map { 0.001 * Float($0 + 1) }
        let bias = (0..<outputs).map { 0.1 * Float($0) }
        var linear = try Int8Linear(
            weights: weightCodes, weightScales: weightScales, bias: bias, inputCount: inputs, outputCount: outputs,
            activation: activation, context: ComputeContext(threadCount: 2))
        var generator = RandomGenerator(seed: 3)
        for rows in [1, 6, 130] {
            let input = try Matrix(rows: rows, columns: inputs, values: generator.normalValues(count: rows * inputs))
            let fast = linear.apply(input)
            linear.useReference = true
            let reference = linear.apply(input)
            linear.useReference = false
            #expect(fast == reference)
            // The simulation: dequantized weights, fake-quantized activations, f32 product.
            let dequantized = try Matrix(
                rows: outputs, columns: inputs,
                values: weightCodes.enumerated().map { Float($0.element) * weightScales[$0.offset / inputs] })
            let simulated = ActivationQuantizedLinear(
                base: try DenseLinear(weight: dequantized, bias: bias), activation: activation
            ).apply(input)
            #expect(fast.maximumAbsoluteDifference(to: simulated) < 1e-4)
        }
    }

    /// W8A8 on 1536 inputs: integer sums reach 127² · 1536 ≈ 2^24.6, past float32's exact
    /// integers; the simulation sums chunks exactly and must still equal the kernels bit for bit.
    @Test(arguments: [ActivationScheme(), ActivationScheme(granularity: .perTensor, staticScale: 0.01)])
    func integerSimulationEqualsTheKernelsPastTwoToThe24(activation: ActivationScheme) throws {
        let inputs = 1536
        let outputs = 24
        // Codes near ±127 so the sums pass 2^24.
        var weightCodes = codes(outputs * inputs, seed: 11)
        for index in weightCodes.indices where index % 3 != 0 { weightCodes[index] = index % 2 == 0 ? 127 : -127 }
        let weightScales = (0..<outputs).map { 0.0005 * Float($0 + 1) }
        let bias = (0..<outputs).map { 0.01 * Float($0) }
        let linear = try Int8Linear(
            weights: weightCodes, weightScales: weightScales, bias: bias, inputCount: inputs, outputCount: outputs,
            activation: activation, context: ComputeContext(threadCount: 2))
        let simulation = try #require(IntegerSimulatedLinear(
            weightCodes: Matrix(rows: outputs, columns: inputs, values: weightCodes.map(Float.init)), weightScales: weightScales,
            bias: bias, activation: activation))
        #expect(simulation.chunkColumns < inputs)
        var generator = RandomGenerator(seed: 5)
        for rows in [1, 7] {
            // Inputs of one sign per column pattern, so activation codes are large and aligned with the weights.
            let values = generator.normalValues(count: rows * inputs).enumerated().map { item in
                (item.offset % inputs) % 2 == 0 ? abs(item.element) + 1 : -abs(item.element) - 1
            }
            let input = try Matrix(rows: rows, columns: inputs, values: values)
            #expect(linear.apply(input) == simulation.apply(input), "rows \(rows)")
        }
    }
}
