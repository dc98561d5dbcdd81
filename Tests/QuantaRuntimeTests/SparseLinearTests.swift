import QuantaFormats
import QuantaModel
import QuantaRuntime
import QuantaTensor
import Testing

@Suite struct SparseLinearTests {
    enum Kind: String, CaseIterable, Sendable {
        case f32, f16, int4, int3
    }

    /// Random 2:4 weights of `kind` (`[out × in]`), with the dense matrix they stand for.
    func weights(_ kind: Kind, rows: Int, columns: Int, groupSize: Int, seed: UInt64) throws -> (SparseWeights, [Float]) {
        var generator = RandomGenerator(seed: seed)
        var keptPositions = [[Int]]()
        for _ in 0..<(rows * columns / 4) {
            let first = generator.nextInt(below: 4)
            keptPositions.append([first, (first + 1 + generator.nextInt(below: 3)) % 4])
        }
        switch kind {
        case .f32, .f16:
            var values = [Float](repeating: 0, count: rows * columns)
            for (group, positions) in keptPositions.enumerated() {
                for position in positions { values[4 * group + position] = Float(Float16(generator.nextFloat(in: -1..<1))) }
            }
            let sparse = try SparseWeights.pack(
                name: "w", values: values, outputCount: rows, inputCount: columns, valueType: kind == .f32 ? .float32 : .float16)
            return (sparse, values)
        case .int4, .int3:
            let bits = kind == .int4 ? 4 : 3
            let groups = (columns + groupSize - 1) / groupSize
            let zeroPoints = (0..<(rows * groups)).map { _ in UInt8(generator.nextInt(below: 1 << bits)) }
            let scales = (0..<(rows * groups)).map { _ in Float(Float16(0.01 + generator.nextFloat())) }
            var codes = [UInt8](repeating: 0, count: rows * columns)
            for index in codes.indices { codes[index] = zeroPoints[(index / columns) * groups + (index % columns) / groupSize] }
            for (group, positions) in keptPositions.enumerated() {
                for position in positions { codes[4 * group + position] = UInt8(generator.nextInt(below: 1 << bits)) }
            }
            let sparse = try SparseWeights.pack(
                name: "w", codes: codes, scales: scales, zeroPoints: zeroPoints, outputCount: rows, inputCount: columns,
                bits: bits, groupSize: groupSize, symmetric: false)
            return (sparse, sparse.dequantize())
        }
    }

    /// `x · Wᵀ + b` in double precision.
    func reference(_ dense: [Float], rows: Int, columns: Int, input: [Float], tokens: Int, bias: [Float]?) -> [Float] {
        var output = [Float](repeating: 0, count: tokens * rows)
        for token in 0..<tokens {
            for row in 0..<rows {
                var sum = 0.0
                for column in 0..<columns { sum += Double(dense[row * columns + column]) * Double(input[token * columns + column]) }
                output[token * rows + row] = Float(sum) + (bias?[row] ?? 0)
            }
        }
        return output
    }

    @Test(arguments: Kind.allCases, [1, 3, 7, 70])
    func matchesTheScalarReferenceOnOddShapes(kind: Kind, tokens: Int) throws {
        for (rows, columns, groupSize) in [(37, 40, 8), (5, 104, 104), (19, 64, 16)] {
            let (sparse, dense) = try weights(kind, rows: rows, columns: columns, groupSize: groupSize, seed: UInt64(rows))
            #expect(sparse.dequantize() == dense)
            var generator = RandomGenerator(seed: 9)
            let input = (0..<(tokens * columns)).map { _ in generator.nextFloat(in: -2..<2) }
            let bias = (0..<rows).map { Float($0) * 0.01 }
            let linear = try SparseLinear(weights: sparse, bias: bias, context: ComputeContext(threadCount: 2), name: "w")
            #expect(linear.valueKind == (kind == .int3 ? "f32" : kind.rawValue))
            let output = linear.apply(try Matrix(rows: tokens, columns: columns, values: input))
            let expected = reference(dense, rows: rows, columns: columns, input: input, tokens: tokens, bias: bias)
            for (got, want) in zip(output.values, expected) {
                #expect(abs(got - want) <= 1e-4 * (1 + abs(want)), "\(kind) \(rows)x\(columns) tokens \(tokens): \(got) vs \(want)")
            }
        }
    }

    @Test func rejectsInputsNotDivisibleByEight() throws {
        let (sparse, _) = try weights(.f32, rows: 3, columns: 12, groupSize: 12, seed: 1)
        #expect(throws: RuntimeError.self) { try SparseLinear(weights: sparse) }
    }
}
