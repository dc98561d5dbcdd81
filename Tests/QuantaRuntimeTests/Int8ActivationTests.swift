import QuantaModel
import QuantaRuntime
import QuantaTensor
import Testing

@Suite struct Int8ActivationTests {
    /// (inputCount, outputCount, groupSize): a narrower last group, per-channel, small groups,
    /// odd output counts (uneven thread chunks).
    static let shapes: [(Int, Int, Int)] = [(576, 37, 128), (64, 9, 32), (96, 5, 96), (256, 131, 64)]

    /// The C kernel (`quanta_gemv_int4_q8`) against scalar loops over the same quantized
    /// activations, and both against the exact product within the activation rounding bound
    /// `Σ_blocks (absmax_b / 254) · Σ_{i∈b} |w_i|`.
    @Test(arguments: [4, 8])
    func integerKernelMatchesReference(bits: Int) throws {
        for (index, (inputCount, outputCount, groupSize)) in Self.shapes.enumerated() {
            for threads in [1, 2] {
                let weight = RandomPackedWeight(
                    bits: bits, groupSize: groupSize, inputCount: inputCount, outputCount: outputCount, permuted: false,
                    biased: false, seed: UInt64(500 * bits + index * 10 + threads))
                var linear = try weight.makeOperator(context: ComputeContext(threadCount: threads))
                #expect(linear.supportsInt8Activations)
                linear.activationPrecision = .int8
                let dense = weight.dense
                for rows in [1, 3, 9, 70] {  // GEMV; 4-row passes of the GEMM plus leftover rows
                    var random = RandomGenerator(seed: UInt64(rows * 7 + index))
                    let input = try Matrix(rows: rows, columns: inputCount, values: random.normalValues(count: rows * inputCount))
                    let fast = linear.apply(input)
                    let reference = rawApply(input, outputCount: outputCount, linear.referenceInt8Apply)
                    for row in 0..<rows {
                        let x = Array(input.values[(row * inputCount)..<((row + 1) * inputCount)])
                        for r in 0..<outputCount {
                            var exact = 0.0
                            var magnitude = 1e-6
                            var bound = 1e-6
                            for block in 0..<(inputCount / 32) {
                                let columns = (block * 32)..<(block * 32 + 32)
                                let maximum = columns.map { Double(abs(x[$0])) }.max()!
                                bound += maximum / 254 * columns.map { Double(abs(dense[r][$0])) }.reduce(0, +)
                            }
                            for c in 0..<inputCount {
                                exact += Double(dense[r][c]) * Double(x[c])
                                magnitude += abs(Double(dense[r][c]) * Double(x[c]))
                            }
                            let fastValue = Double(fast.values[row * outputCount + r])
                            let referenceValue = Double(reference.values[row * outputCount + r])
                            #expect(abs(fastValue - referenceValue) <= 2e-5 * magnitude,
                                    "bits \(bits) shape \(inputCount)x\(outputCount)/g\(groupSize) rows \(rows) out \(r)")
                            #expect(abs(fastValue - exact) <= bound + 2e-5 * magnitude)
                        }
                    }
                }
            }
        }
    }

    @Test func onlyFourAndEightBitWholeBlockLayoutsUseIt() throws {
        let threeBit = RandomPackedWeight(bits: 3, groupSize: 32, inputCount: 64, outputCount: 3, permuted: false, biased: false, seed: 1)
        #expect(try !threeBit.makeOperator().supportsInt8Activations)
        let oddGroups = RandomPackedWeight(bits: 4, groupSize: 48, inputCount: 96, outputCount: 3, permuted: false, biased: false, seed: 2)
        #expect(try !oddGroups.makeOperator().supportsInt8Activations)
        // Unsupported layouts fall back to the exact kernel.
        var linear = try oddGroups.makeOperator()
        linear.activationPrecision = .int8
        var random = RandomGenerator(seed: 3)
        let input = try Matrix(rows: 1, columns: 96, values: random.normalValues(count: 96))
        let fast = linear.apply(input)
        let reference = rawApply(input, outputCount: 3, linear.referenceApply)
        for index in 0..<3 { #expect(abs(fast.values[index] - reference.values[index]) <= 1e-4 * (1 + abs(reference.values[index]))) }
    }
}
