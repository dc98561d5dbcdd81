import QuantaModel
import QuantaRuntime
import QuantaTensor
import Testing

@Suite struct Float16LinearTests {
    /// GEMV (1, 3 rows; 4-row passes plus leftover rows, tail columns) and tiles + sgemm (17,
    /// 64 rows) against the scalar reference and a Double-accumulated dense product, on odd shapes.
    @Test(arguments: [(576, 37), (77, 19), (13, 260), (8, 4), (130, 9)])
    func fastPathMatchesReference(inputCount: Int, outputCount: Int) throws {
        var random = RandomGenerator(seed: UInt64(inputCount * 1000 + outputCount))
        let bits = (0..<(inputCount * outputCount)).map { _ in Float16(random.nextFloat(in: -0.5..<0.5)).bitPattern }
        let widened = bits.map { Float(Float16(bitPattern: $0)) }
        for threads in [1, 2] {
            let linear = try Float16Linear(
                weights: TensorStorage(array: bits), outputCount: outputCount, inputCount: inputCount,
                context: ComputeContext(threadCount: threads))
            for rows in [1, 3, 17, 64] {
                let input = try Matrix(rows: rows, columns: inputCount, values: random.normalValues(count: rows * inputCount))
                let fast = linear.apply(input)
                let reference = rawApply(input, outputCount: outputCount, linear.referenceApply)
                for row in 0..<rows {
                    for r in 0..<outputCount {
                        var exact = 0.0
                        var magnitude = 1e-6
                        for c in 0..<inputCount {
                            let product = Double(widened[r * inputCount + c]) * Double(input.values[row * inputCount + c])
                            exact += product
                            magnitude += abs(product)
                        }
                        #expect(abs(Double(fast.values[row * outputCount + r]) - exact) <= 1e-5 * magnitude,
                                "\(inputCount)x\(outputCount) rows \(rows) out \(r) threads \(threads)")
                        #expect(abs(Double(reference.values[row * outputCount + r]) - exact) <= 1e-5 * magnitude)
                    }
                }
            }
        }
    }

    @Test func rejectsAWrongSize() {
        #expect(throws: RuntimeError.self) {
            try Float16Linear(weights: TensorStorage(array: [UInt16](repeating: 0, count: 10)), outputCount: 3, inputCount: 4)
        }
    }

    /// Int8 head: every weight within half a step of its group's scale (symmetric absmax/127,
    /// f16 scale), and the operator equals its scalar reference (int8 activations where supported).
    @Test(arguments: [(576, 37), (77, 19), (40, 5)])
    func int8HeadQuantizesWithinHalfAStep(inputCount: Int, outputCount: Int) throws {
        var random = RandomGenerator(seed: UInt64(inputCount + outputCount))
        var values = random.normalValues(count: inputCount * outputCount)
        values[3] = 0  // a zero and a whole zero group must not divide by zero
        for c in 0..<min(32, inputCount) { values[inputCount + c] = 0 }
        let head = try Int8Head.quantize(values, outputCount: outputCount, inputCount: inputCount, context: .serial(), name: "head")
        #expect(head.bits == 8 && head.groupSize == min(Int8Head.groupSize, inputCount))
        let dequantized = head.referenceDequantizedWeight()
        for r in 0..<outputCount {
            for group in stride(from: 0, to: inputCount, by: head.groupSize) {
                let range = (r * inputCount + group)..<(r * inputCount + min(group + head.groupSize, inputCount))
                let maximum = range.map { abs(values[$0]) }.max()!
                let step = Float(Float16(maximum / 127))
                for index in range {
                    #expect(abs(dequantized.values[index] - values[index]) <= step / 2 + 1e-7 * maximum, "\(index)")
                }
            }
        }
        let input = try Matrix(rows: 2, columns: inputCount, values: random.normalValues(count: 2 * inputCount))
        let fast = head.apply(input)
        // The input is rounded to int8 where the layout allows it (Q8_0 × Q8_0).
        let reference = rawApply(
            input, outputCount: outputCount, head.supportsInt8Activations ? head.referenceInt8Apply : head.referenceApply)
        for index in fast.values.indices {
            #expect(abs(fast.values[index] - reference.values[index]) <= 1e-4 * (1 + abs(reference.values[index])))
        }
    }
}
