import QuantaModel
import QuantaRuntime
import QuantaTensor
import Testing

/// Packs `values` (each below 2^bits) per docs/packed-weights.md, written independently of
/// the runtime: 8 bits one per byte; 4 bits low nibble first; 2 bits code 4k+j in bits 2j;
/// 3 bits code 8k+j in bits 3j of the little-endian 24-bit word of bytes 3k…3k+2. Padding is 0.
func packCodes(_ values: [UInt8], bits: Int) -> [UInt8] {
    let unitCodes = bits == 3 ? 8 : 8 / bits
    let unitBytes = bits == 3 ? 3 : 1
    let units = (values.count + unitCodes - 1) / unitCodes
    var bytes = [UInt8](repeating: 0, count: units * unitBytes)
    for unit in 0..<units {
        var word: UInt32 = 0
        for j in 0..<unitCodes where unit * unitCodes + j < values.count {
            let value = UInt32(values[unit * unitCodes + j])
            precondition(value < 1 << bits)
            word |= value << UInt32(j * bits)
        }
        for byte in 0..<unitBytes { bytes[unit * unitBytes + byte] = UInt8(truncatingIfNeeded: word >> UInt32(8 * byte)) }
    }
    return bytes
}

/// A random packed weight with its plain arrays, so tests can build a dense reference.
struct RandomPackedWeight {
    let bits: Int, groupSize: Int, inputCount: Int, outputCount: Int
    var codes: [[UInt8]] = []
    var zeros: [[UInt8]] = []
    var scaleBits: [[UInt16]] = []
    var permutation: [Int32]?
    var bias: [Float]?

    init(bits: Int, groupSize: Int, inputCount: Int, outputCount: Int, permuted: Bool, biased: Bool, seed: UInt64) {
        self.bits = bits
        self.groupSize = groupSize
        self.inputCount = inputCount
        self.outputCount = outputCount
        var random = RandomGenerator(seed: seed)
        let levels = 1 << bits
        let groups = (inputCount + groupSize - 1) / groupSize
        for _ in 0..<outputCount {
            codes.append((0..<inputCount).map { _ in UInt8(random.nextInt(below: levels)) })
            zeros.append((0..<groups).map { _ in UInt8(random.nextInt(below: levels)) })
            scaleBits.append((0..<groups).map { _ in Float16(random.nextFloat(in: 0.001..<0.1)).bitPattern })
        }
        if permuted { permutation = random.permutation(count: inputCount).map { Int32($0) } }
        if biased { bias = random.uniformValues(count: outputCount, in: -1..<1) }
    }

    /// The dense weight `W[r, c] = Float(scale) * (Float(code) - Float(zero))`.
    var dense: [[Float]] {
        (0..<outputCount).map { r in
            (0..<inputCount).map { c in
                let group = c / groupSize
                return Float(Float16(bitPattern: scaleBits[r][group])) * (Float(codes[r][c]) - Float(zeros[r][group]))
            }
        }
    }

    func makeOperator(context: ComputeContext = .serial()) throws -> PackedLinear {
        try PackedLinear(
            bits: bits, groupSize: groupSize, inputCount: inputCount, outputCount: outputCount,
            codes: TensorStorage(array: codes.flatMap { packCodes($0, bits: bits) }),
            scales: TensorStorage(array: scaleBits.flatMap { $0 }),
            zeros: TensorStorage(array: zeros.flatMap { packCodes($0, bits: bits) }),
            inputPermutation: permutation, bias: bias, context: context)
    }
}

/// The `input.rows × outputCount` result of a raw-pointer apply (`referenceApply` and the like).
func rawApply(
    _ input: Matrix, outputCount: Int, _ body: (UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>) -> Void
) -> Matrix {
    var output = Matrix(rows: input.rows, columns: outputCount)
    input.values.withUnsafeBufferPointer { x in
        output.values.withUnsafeMutableBufferPointer { y in body(x.baseAddress!, input.rows, y.baseAddress!) }
    }
    return output
}

/// (inputCount, outputCount, groupSize): a narrower last group (576 = 4·128 + 64),
/// per-channel with an odd width, a width not a multiple of 8 with a 2-wide last group,
/// a group size not a multiple of 8 (scalar fallback), and an even shape.
let packedShapes: [(Int, Int, Int)] = [(576, 37, 128), (77, 19, 77), (130, 9, 32), (40, 5, 12), (256, 64, 64)]

@Suite struct PackedLinearTests {
    @Test func packerMatchesTheLayoutRules() {
        #expect(packCodes([1, 2, 3], bits: 4) == [0x21, 0x03])
        #expect(packCodes([1, 2, 3, 0, 2], bits: 2) == [0b00_11_10_01, 0b10])
        #expect(packCodes([1, 2, 3, 4, 5, 6, 7, 0, 1], bits: 3).count == 6)
        let unpacked = packCodes([1, 2, 3, 4, 5, 6, 7, 0, 1], bits: 3).withUnsafeBufferPointer { row in
            (0..<9).map { PackedLayout.code(at: $0, in: row.baseAddress!, bits: 3) }
        }
        #expect(unpacked == [1, 2, 3, 4, 5, 6, 7, 0, 1])
    }

    /// Fast path vs scalar reference vs dense `x · Wᵀ` (accumulated in Double), for every
    /// width, shape and row count (1 and 3: GEMV; 17 and 64: tiles + sgemm). Summation
    /// orders differ, so results agree within 1e-5 of Σ|w·x| (float rounding), not bitwise.
    @Test(arguments: [4, 8, 3, 2])
    func fastPathMatchesReferences(bits: Int) throws {
        for (index, (inputCount, outputCount, groupSize)) in packedShapes.enumerated() {
            for threads in [1, 2] {
                let weight = RandomPackedWeight(
                    bits: bits, groupSize: groupSize, inputCount: inputCount, outputCount: outputCount,
                    permuted: index % 2 == 0, biased: index != 1, seed: UInt64(bits * 100 + index * 10 + threads))
                let linear = try weight.makeOperator(context: ComputeContext(threadCount: threads))
                let dense = weight.dense
                for rows in [1, 3, 17, 64] {
                    var random = RandomGenerator(seed: UInt64(rows))
                    let input = try Matrix(rows: rows, columns: inputCount, values: random.normalValues(count: rows * inputCount))
                    let fast = linear.apply(input)
                    let reference = rawApply(input, outputCount: outputCount, linear.referenceApply)
                    for row in 0..<rows {
                        let x = (0..<inputCount).map { c in
                            input.values[row * inputCount + (weight.permutation.map { Int($0[c]) } ?? c)]
                        }
                        for r in 0..<outputCount {
                            var exact = Double(weight.bias?[r] ?? 0)
                            var magnitude = 1e-6
                            for c in 0..<inputCount {
                                exact += Double(dense[r][c]) * Double(x[c])
                                magnitude += abs(Double(dense[r][c]) * Double(x[c]))
                            }
                            let fastValue = Double(fast.values[row * outputCount + r])
                            let referenceValue = Double(reference.values[row * outputCount + r])
                            #expect(abs(fastValue - exact) <= 1e-5 * magnitude,
                                    "bits \(bits) shape \(inputCount)x\(outputCount)/g\(groupSize) rows \(rows) out \(r)")
                            #expect(abs(referenceValue - exact) <= 1e-5 * magnitude)
                        }
                    }
                }
            }
        }
    }

    /// The tile dequantizer is bit-identical to the scalar reference dequantizer and to the
    /// dense formula.
    @Test(arguments: [4, 8, 3, 2])
    func tileDequantizationIsExact(bits: Int) throws {
        for (inputCount, outputCount, groupSize) in packedShapes where groupSize % 8 == 0 || groupSize >= inputCount {
            let weight = RandomPackedWeight(
                bits: bits, groupSize: groupSize, inputCount: inputCount, outputCount: outputCount,
                permuted: false, biased: false, seed: 7)
            let linear = try weight.makeOperator()
            let tile = linear.fastDequantizedRows(0..<outputCount)
            #expect(tile == linear.referenceDequantizedWeight().values)
            #expect(tile == weight.dense.flatMap { $0 })
        }
    }

    @Test func rejectsBuffersThatDisagreeWithTheLayout() throws {
        let weight = RandomPackedWeight(bits: 4, groupSize: 32, inputCount: 70, outputCount: 3, permuted: true, biased: true, seed: 1)
        let good = try weight.makeOperator()
        func build(bits: Int = 4, codes: TensorStorage? = nil, scales: TensorStorage? = nil, permutation: [Int32]?? = nil,
                   bias: [Float]?? = nil) throws -> PackedLinear {
            try PackedLinear(
                bits: bits, groupSize: 32, inputCount: 70, outputCount: 3, codes: codes ?? good.codes,
                scales: scales ?? good.scales, zeros: good.zeros, inputPermutation: permutation ?? good.inputPermutation,
                bias: bias ?? good.bias, name: "layer.q_proj")
        }
        #expect(throws: RuntimeError.self) { try build(bits: 5) }
        #expect(throws: RuntimeError.self) { try build(scales: TensorStorage(array: [UInt16](repeating: 0, count: 8))) }
        #expect(throws: RuntimeError.self) { try build(permutation: .some(Array(repeating: 0, count: 70))) }
        #expect(throws: RuntimeError.self) { try build(permutation: .some([0, 1])) }
        #expect(throws: RuntimeError.self) { try build(bias: .some([1, 2])) }
        let error = #expect(throws: RuntimeError.self) { try build(codes: TensorStorage(array: [UInt8](repeating: 0, count: 104))) }
        #expect(error?.errorDescription?.contains("layer.q_proj: codes holds 104 bytes") == true)
        #expect(error?.errorDescription?.contains("needs 105") == true)
        #expect(good.layout.rowBytes == 35 && good.layout.groups == 3 && good.layout.zeroBytes == 2)
    }

    @Test func zeroRowsWriteNothing() throws {
        let linear = try RandomPackedWeight(bits: 3, groupSize: 8, inputCount: 16, outputCount: 4, permuted: false, biased: true, seed: 2)
            .makeOperator()
        #expect(linear.apply(Matrix(rows: 0, columns: 16)).rows == 0)
    }
}
