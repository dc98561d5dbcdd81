import QuantaAlgorithms
import QuantaTensor
import Testing

@Suite struct GPTQSolverTests {
    /// A small problem with correlated (ill-conditioned) activations.
    func problem(rows: Int, columns: Int, seed: UInt64, featureScales: [Float]? = nil) -> (Matrix, Matrix) {
        let weight = AlgorithmTestSupport.normalMatrix(rows: rows, columns: columns, seed: seed)
        let activations = AlgorithmTestSupport.correlatedActivations(
            tokens: 4 * columns, features: columns, seed: seed &+ 100, featureScales: featureScales)
        return (weight, AlgorithmTestSupport.hessian(of: activations, batches: 4))
    }

    /// Fraction of equal codes between the solver and the direct reference.
    func agreement(_ a: [UInt8], _ b: [UInt8]) -> Double {
        Double(zip(a, b).filter { $0 == $1 }.count) / Double(a.count)
    }

    struct Case: CustomStringConvertible, Sendable {
        var bits: Int
        var groupSize: Int?
        var blockSize: Int
        var actOrder: ActOrder
        var symmetric = false
        var description: String { "\(bits) bits, group \(groupSize ?? -1), block \(blockSize), \(actOrder)" }
    }

    @Test(arguments: [
        Case(bits: 4, groupSize: nil, blockSize: 8, actOrder: .none),
        Case(bits: 3, groupSize: 16, blockSize: 16, actOrder: .none),
        Case(bits: 4, groupSize: 16, blockSize: 7, actOrder: .none),  // groups start mid-block
        Case(bits: 2, groupSize: 32, blockSize: 16, actOrder: .none, symmetric: true),
        Case(bits: 4, groupSize: 16, blockSize: 16, actOrder: .dynamic),
        Case(bits: 4, groupSize: 16, blockSize: 128, actOrder: .static),
        Case(bits: 8, groupSize: nil, blockSize: 16, actOrder: .dynamic),
    ])
    func matchesTheDirectImplementation(_ testCase: Case) throws {
        // 40 columns: groups of 16 leave a last group of 8.
        let (weight, hessian) = problem(rows: 24, columns: 40, seed: 21)
        let scheme = QuantizationScheme(bits: testCase.bits, groupSize: testCase.groupSize, symmetric: testCase.symmetric)
        let result = try GPTQSolver.quantize(
            weight: weight, hessian: hessian, scheme: scheme, blockSize: testCase.blockSize, actOrder: testCase.actOrder)
        let reference = AlgorithmTestSupport.referenceGPTQ(
            weight: weight, hessian: hessian, scheme: scheme, blockSize: testCase.blockSize, dampening: 0.01,
            actOrder: testCase.actOrder)
        // Float vs double arithmetic may flip a code that sits on a rounding boundary; the
        // flip then propagates, so require near-total agreement and equal losses.
        let matching = agreement(result.quantized.codes, reference.codes)
        #expect(matching >= 0.99, "codes agree on \(matching)")
        #expect(abs(result.loss - reference.loss) <= 1e-3 * reference.loss + 1e-6, "loss \(result.loss) vs \(reference.loss)")
        #expect(result.quantized.reconstructed() == result.quantized.dequantized)
        #expect(result.quantized.codes.allSatisfy { Int($0) <= scheme.maximumCode })
    }

    @Test func reducesTheProxyLossVersusRoundToNearest() throws {
        let (weight, hessian) = problem(rows: 32, columns: 96, seed: 7)
        for scheme in [QuantizationScheme(bits: 3), QuantizationScheme(bits: 4, groupSize: 32)] {
            let rtn = try RoundToNearest.quantize(weight: weight, scheme: scheme)
            let gptq = try GPTQSolver.quantize(weight: weight, hessian: hessian, scheme: scheme, blockSize: 32)
            let rtnLoss = AlgorithmTestSupport.proxyLoss(weight: weight, quantized: rtn.dequantized, hessian: hessian)
            let gptqLoss = AlgorithmTestSupport.proxyLoss(weight: weight, quantized: gptq.quantized.dequantized, hessian: hessian)
            #expect(gptqLoss < 0.8 * rtnLoss, "GPTQ \(gptqLoss) vs RTN \(rtnLoss)")
        }
    }

    @Test func actOrderVariantsAreConsistentAndHelpOnASkewedDiagonal() throws {
        let columns = 64
        var generator = RandomGenerator(seed: 99)
        // A few features with much larger activations: diag(H) is skewed.
        let featureScales = (0..<columns).map { _ in generator.nextFloat() < 0.15 ? Float(8) : Float(0.5) }
        let (weight, hessian) = problem(rows: 48, columns: columns, seed: 31, featureScales: featureScales)
        let scheme = QuantizationScheme(bits: 3, groupSize: 16)
        var losses: [ActOrder: Double] = [:]
        for actOrder in ActOrder.allCases {
            let result = try GPTQSolver.quantize(
                weight: weight, hessian: hessian, scheme: scheme, blockSize: 16, actOrder: actOrder)
            let quantized = result.quantized
            losses[actOrder] = AlgorithmTestSupport.proxyLoss(weight: weight, quantized: quantized.dequantized, hessian: hessian)
            #expect(quantized.reconstructed() == quantized.dequantized)
            switch actOrder {
            case .none, .static:
                // Contiguous groups in original column order.
                #expect(quantized.groupIndex == (0..<columns).map { $0 / 16 })
            case .dynamic:
                // Groups of 16 consecutive positions in the permuted order.
                let permutation = try #require(quantized.permutation)
                #expect(permutation.map { quantized.groupIndex[$0] } == (0..<columns).map { $0 / 16 })
                #expect(quantized.groupIndex != (0..<columns).map { $0 / 16 })
            }
            if actOrder != .none {
                let permutation = try #require(quantized.permutation)
                #expect(permutation.sorted() == Array(0..<columns))
                let diagonal = permutation.map { hessian[$0, $0] }
                #expect(zip(diagonal, diagonal.dropFirst()).allSatisfy { $0 >= $1 })
            } else {
                #expect(quantized.permutation == nil)
            }
        }
        let none = try #require(losses[ActOrder.none])
        #expect(try #require(losses[.static]) < none)
        #expect(try #require(losses[.dynamic]) < none)
    }

    @Test func deadInputsAreZeroed() throws {
        var (weight, hessian) = problem(rows: 8, columns: 20, seed: 41)
        for dead in [3, 11] {
            for index in 0..<20 {
                hessian[dead, index] = 0
                hessian[index, dead] = 0
            }
        }
        weight[0, 3] = 5  // would dominate row 0's range if it were kept
        for actOrder in ActOrder.allCases {
            let result = try GPTQSolver.quantize(
                weight: weight, hessian: hessian, scheme: QuantizationScheme(bits: 4, groupSize: 8), blockSize: 8,
                actOrder: actOrder)
            #expect(result.deadInputs == 2)
            for row in 0..<8 {
                #expect(result.quantized.dequantized[row, 3] == 0)
                #expect(result.quantized.dequantized[row, 11] == 0)
            }
            #expect(result.loss.isFinite)
        }
    }

    @Test func nanHessianRetriesThenThrows() throws {
        let (weight, hessianValues) = problem(rows: 4, columns: 8, seed: 51)
        var hessian = hessianValues
        hessian[2, 5] = .nan
        hessian[5, 2] = .nan
        var retries: [DampeningRetry] = []
        do {
            _ = try GPTQSolver.quantize(
                weight: weight, hessian: hessian, scheme: QuantizationScheme(bits: 4), layer: "self_attn.q_proj"
            ) { retries.append($0) }
            Issue.record("a NaN Hessian was accepted")
        } catch {
            guard case .factorizationFailed(let layer, _) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(layer == "self_attn.q_proj")
        }
        #expect(retries.map(\.attempt) == [1, 2, 3])
        #expect(retries.map(\.failedFraction) == [0.01, 0.1, 1])
        #expect(abs(retries[2].nextFraction - 10) < 1e-12)
    }

    @Test func indefiniteHessianIsRescuedByLargerDampening() throws {
        // diag 1, off-diagonal 3: eigenvalues 4 and -2; only λ = 10 · mean(diag) makes it definite.
        let hessian = try Matrix([[1, 3], [3, 1]])
        let weight = try Matrix([[0.5, -1], [1, 0.25]])
        var retries: [DampeningRetry] = []
        let result = try GPTQSolver.quantize(weight: weight, hessian: hessian, scheme: QuantizationScheme(bits: 4)) {
            retries.append($0)
        }
        #expect(retries.count == 3)
        #expect(abs(result.dampeningFraction - 10) < 1e-12)
        #expect(result.dampening == 10)
    }

    @Test func resultDoesNotDependOnTheThreadCount() throws {
        let (weight, hessian) = problem(rows: 37, columns: 48, seed: 61)
        let scheme = QuantizationScheme(bits: 4, groupSize: 16, clipping: .mse)
        let serial = try GPTQSolver.quantize(
            weight: weight, hessian: hessian, scheme: scheme, blockSize: 16, actOrder: .dynamic, context: .serial())
        let threaded = try GPTQSolver.quantize(
            weight: weight, hessian: hessian, scheme: scheme, blockSize: 16, actOrder: .dynamic,
            context: ComputeContext(threadCount: 3))
        #expect(serial == threaded)
    }

    @Test func rejectsMismatchedShapes() throws {
        let weight = Matrix(rows: 2, columns: 3)
        #expect(throws: AlgorithmError.self) {
            try GPTQSolver.quantize(weight: weight, hessian: .identity(size: 4), scheme: QuantizationScheme(bits: 4))
        }
    }
}
