import QuantaAlgorithms
import QuantaTensor
import Testing

@Suite struct SparsityTests {
    func problem(rows: Int, columns: Int, seed: UInt64) -> (Matrix, Matrix) {
        let weight = AlgorithmTestSupport.normalMatrix(rows: rows, columns: columns, seed: seed)
        // Unequal feature scales and correlations: an ill-conditioned Hessian.
        let scales = (0..<columns).map { Float(1 + ($0 * 7919) % 13) / 4 }
        let activations = AlgorithmTestSupport.correlatedActivations(
            tokens: 4 * columns, features: columns, seed: seed &+ 100, featureScales: scales)
        return (weight, AlgorithmTestSupport.hessian(of: activations, batches: 4))
    }

    /// Every row's groups of `m` consecutive inputs keep exactly `n`.
    func expectPattern(_ kept: [Bool], rows: Int, columns: Int, n: Int, m: Int) {
        for row in 0..<rows {
            for start in stride(from: 0, to: columns, by: m) {
                let count = (start..<(start + m)).filter { kept[row * columns + $0] }.count
                #expect(count == n, "row \(row) group \(start): \(count) kept")
            }
        }
    }

    @Test func parsesPatterns() throws {
        #expect(try SparsityPattern(parsing: "2:4") == .twoOfFour)
        #expect(try SparsityPattern(parsing: "4:8") == .structured(kept: 4, of: 8))
        #expect(try SparsityPattern(parsing: "0.5") == .unstructured(ratio: 0.5))
        #expect(try SparsityPattern(parsing: "50%") == .unstructured(ratio: 0.5))
        #expect(SparsityPattern.twoOfFour.prunedFraction == 0.5)
        for bad in ["4:4", "0:4", "x:4", "1.5", "half"] {
            #expect(throws: AlgorithmError.self) { try SparsityPattern(parsing: bad) }
        }
    }

    @Test func magnitudeKeepsTheLargestOfEachGroup() throws {
        let weight = try Matrix([[1, -5, 2, 0.5, 3, 3, -3, 1], [0, 0, 0, 0, -1, 2, -3, 4]])
        let pruned = try MagnitudePruning.prune(weight: weight, pattern: .twoOfFour)
        // Ties prune the lower index first.
        #expect(pruned.values == (try Matrix([[0, -5, 2, 0, 0, 3, -3, 0], [0, 0, 0, 0, 0, 0, -3, 4]])))
        expectPattern(pruned.kept, rows: 2, columns: 8, n: 2, m: 4)
        let unstructured = try MagnitudePruning.prune(weight: weight, pattern: .unstructured(ratio: 0.25))
        // One threshold over the matrix: |w| sorted is 0,0,0,0,0.5,…; the threshold is the
        // int(16 · 0.25) = 4th entry (0.5) and every |w| ≤ 0.5 goes, as in the reference.
        #expect(unstructured.kept.filter { !$0 }.count == 5)
    }

    @Test func wandaWeighsByInputNorms() throws {
        let weight = try Matrix([[1, 2, 3, 4, 1, 1, 1, 1]])
        // Input 0 is very active: |1| · 10 beats |3| · 1 and |4| · 1 loses to nothing else.
        let norms: [Float] = [100, 1, 1, 1, 1, 4, 9, 16]
        let pruned = try WandaPruning.prune(weight: weight, inputSquaredNorms: norms, pattern: .twoOfFour)
        #expect(pruned.kept == [true, false, false, true, false, false, true, true])
        let (big, _) = problem(rows: 6, columns: 40, seed: 3)
        let perRow = try WandaPruning.prune(
            weight: big, inputSquaredNorms: (0..<40).map { Float($0 + 1) }, pattern: .unstructured(ratio: 0.5))
        for row in 0..<6 { #expect(perRow.kept[(row * 40)..<((row + 1) * 40)].filter { !$0 }.count == 20) }
        #expect(throws: AlgorithmError.self) {
            try WandaPruning.prune(weight: big, inputSquaredNorms: [1], pattern: .twoOfFour)
        }
    }

    @Test func inputNormsAverageOverSamples() throws {
        var accumulator = InputNormAccumulator(inputSize: 2)
        try accumulator.add(try Matrix([[1, 2], [3, 0]]))  // sums 10, 4
        try accumulator.add(try Matrix([[0, 2]]))  // sums 0, 4
        #expect(try accumulator.finalized() == [5, 4])
        #expect(throws: AlgorithmError.self) { try InputNormAccumulator(inputSize: 3).finalized() }
    }

    @Test(arguments: [(2, 4, 16), (4, 8, 8), (2, 4, 128)])
    func sparseGPTStructuredMatchesTheDirectLoop(n: Int, m: Int, blockSize: Int) throws {
        let (weight, hessian) = problem(rows: 12, columns: 48, seed: 5)
        let pattern = SparsityPattern.structured(kept: n, of: m)
        let result = try SparseGPTSolver.prune(
            weight: weight, hessian: hessian, pattern: pattern, blockSize: blockSize, context: ComputeContext(threadCount: 3))
        expectPattern(result.pruned.kept, rows: 12, columns: 48, n: n, m: m)
        for index in result.pruned.kept.indices where !result.pruned.kept[index] {
            #expect(result.pruned.values.values[index] == 0)
        }
        let reference = try directSparseGPT(weight: weight, hessian: hessian, pattern: pattern, blockSize: blockSize)
        #expect(result.pruned.kept == reference.kept)
        #expect(result.pruned.values.maximumAbsoluteDifference(to: reference.values) < 1e-3)
    }

    @Test func sparseGPTUnstructuredMatchesTheDirectLoop() throws {
        let (weight, hessian) = problem(rows: 10, columns: 40, seed: 9)
        let pattern = SparsityPattern.unstructured(ratio: 0.5)
        let result = try SparseGPTSolver.prune(weight: weight, hessian: hessian, pattern: pattern, blockSize: 16)
        let reference = try directSparseGPT(weight: weight, hessian: hessian, pattern: pattern, blockSize: 16)
        #expect(result.pruned.kept == reference.kept)
        #expect(result.pruned.values.maximumAbsoluteDifference(to: reference.values) < 1e-3)
        // Each block of 16 (and the last of 8) prunes at least half of its weights.
        #expect(result.pruned.sparsity >= 0.5)
    }

    @Test func sparseGPTBeatsWandaAndMagnitudeOnTheProxyLoss() throws {
        let (weight, hessian) = problem(rows: 32, columns: 64, seed: 11)
        let diagonal = (0..<64).map { hessian[$0, $0] / 2 }
        for pattern in [SparsityPattern.twoOfFour, .structured(kept: 4, of: 8), .unstructured(ratio: 0.5)] {
            let magnitude = try MagnitudePruning.prune(weight: weight, pattern: pattern)
            let wanda = try WandaPruning.prune(weight: weight, inputSquaredNorms: diagonal, pattern: pattern)
            let sparse = try SparseGPTSolver.prune(weight: weight, hessian: hessian, pattern: pattern, blockSize: 16)
            let losses = [magnitude.values, wanda.values, sparse.pruned.values].map {
                AlgorithmTestSupport.proxyLoss(weight: weight, quantized: $0, hessian: hessian)
            }
            #expect(losses[2] < 0.8 * losses[1], "\(pattern): \(losses)")
            #expect(losses[1] < losses[0], "\(pattern): \(losses)")
        }
    }

    @Test(arguments: [nil, 16] as [Int?])
    func jointQuantizationPrunesToTheZeroPoint(groupSize: Int?) throws {
        let (weight, hessian) = problem(rows: 16, columns: 48, seed: 13)
        let scheme = QuantizationScheme(bits: 4, groupSize: groupSize)
        let joint = try SparseGPTSolver.prune(
            weight: weight, hessian: hessian, pattern: .twoOfFour, scheme: scheme, blockSize: 16)
        let quantized = try #require(joint.quantized)
        expectPattern(joint.pruned.kept, rows: 16, columns: 48, n: 2, m: 4)
        #expect(quantized.reconstructed() == quantized.dequantized)
        #expect(quantized.dequantized == joint.pruned.values)
        for row in 0..<16 {
            for column in 0..<48 where !joint.pruned.kept[row * 48 + column] {
                let group = quantized.groupIndex[column]
                #expect(quantized.codes[row * 48 + column] == quantized.zeroPoints[row * quantized.groupCount + group])
                #expect(quantized.dequantized[row, column] == 0)
            }
        }
        if groupSize == nil {
            // Per channel: parameters fitted on the dense weight before pruning.
            let dense = Quantizer.groupParameters(of: weight, columns: 0..<48, scheme: scheme)
            #expect(quantized.scales.values == dense.scales.map { Float(Float16($0)) })
        }
        // Pruning and quantizing with error compensation beats magnitude pruning then rounding.
        let magnitude = try MagnitudePruning.prune(weight: weight, pattern: .twoOfFour)
        let rounded = try RoundToNearest.quantize(weight: magnitude.values, scheme: scheme)
        let jointLoss = AlgorithmTestSupport.proxyLoss(weight: weight, quantized: quantized.dequantized, hessian: hessian)
        let separateLoss = AlgorithmTestSupport.proxyLoss(weight: weight, quantized: rounded.dequantized, hessian: hessian)
        #expect(jointLoss < separateLoss)
    }

    @Test func jointPerChannelMatchesTheDirectLoop() throws {
        let (weight, hessian) = problem(rows: 12, columns: 48, seed: 17)
        let scheme = QuantizationScheme(bits: 4)
        let joint = try SparseGPTSolver.prune(
            weight: weight, hessian: hessian, pattern: .twoOfFour, scheme: scheme, blockSize: 16)
        let reference = try directSparseGPT(
            weight: weight, hessian: hessian, pattern: .twoOfFour, blockSize: 16, scheme: scheme)
        // Float vs double may flip a code on a rounding boundary (and the flip propagates).
        let agreeing = zip(joint.pruned.values.values, reference.values.values).filter { abs($0 - $1) < 1e-4 }.count
        #expect(Double(agreeing) >= 0.98 * Double(weight.values.count), "\(agreeing) of \(weight.values.count) agree")
        #expect(joint.pruned.kept == reference.kept)
    }

    @Test func rejectsColumnsOutsideTheGroups() {
        let (weight, hessian) = problem(rows: 4, columns: 18, seed: 1)
        #expect(throws: AlgorithmError.self) {
            try SparseGPTSolver.prune(weight: weight, hessian: hessian, pattern: .twoOfFour)
        }
    }

    /// SparseGPT column by column without lazy batches, in double precision: at every multiple
    /// of `blockSize` an unstructured mask over the block, at every multiple of M an N:M mask
    /// per row, from `w² / U_cc²`; `W[:, c:] −= (w − q)/U_cc · U[c, c:]`.
    func directSparseGPT(
        weight: Matrix, hessian: Matrix, pattern: SparsityPattern, blockSize: Int, scheme: QuantizationScheme? = nil
    ) throws -> (kept: [Bool], values: Matrix) {
        // Joint quantization: per-channel parameters from the dense weight (reference).
        let parameters = scheme.map { scheme in
            var dense = Quantizer.groupParameters(of: weight, columns: 0..<weight.columns, scheme: scheme)
            dense.scales = dense.scales.map { Float(Float16($0)) }  // f16 scales, as the solver uses
            return dense
        }
        let rows = weight.rows
        let columns = weight.columns
        var damped = hessian
        let mean = (0..<columns).reduce(0.0) { $0 + Double(hessian[$1, $1]) } / Double(columns)
        for index in 0..<columns { damped[index, index] += Float(0.01 * mean) }
        let u = try LinearAlgebra.upperCholeskyOfInverse(damped, precision: .double)
        var w = weight.values.map(Double.init)
        var kept = [Bool](repeating: true, count: rows * columns)
        func score(_ row: Int, _ column: Int) -> Double {
            let d = Double(u[column, column])
            return w[row * columns + column] * w[row * columns + column] / (d * d)
        }
        for column in 0..<columns {
            if case .unstructured(let ratio) = pattern, column % blockSize == 0 {
                let block = column..<min(column + blockSize, columns)
                let scores = (0..<rows).flatMap { row in block.map { score(row, $0) } }
                let threshold = scores.sorted()[Int(Double(scores.count) * ratio)]
                for row in 0..<rows { for c in block where score(row, c) <= threshold { kept[row * columns + c] = false } }
            }
            if case .structured(let n, let m) = pattern, column % m == 0 {
                for row in 0..<rows {
                    let order = (column..<(column + m)).sorted { (score(row, $0), $0) < (score(row, $1), $1) }
                    for c in order.prefix(m - n) { kept[row * columns + c] = false }
                }
            }
            let d = Double(u[column, column])
            for row in 0..<rows {
                let value = w[row * columns + column]
                var target = kept[row * columns + column] ? value : 0
                if let scheme, let parameters {
                    target = Double(Quantizer.fakeQuantize(
                        Float(target), scale: parameters.scales[row], zeroPoint: Float(parameters.zeroPoints[row]),
                        maximumCode: Float(scheme.maximumCode)))
                }
                let error = (value - target) / d
                w[row * columns + column] = target
                for later in (column + 1)..<columns { w[row * columns + later] -= error * Double(u[column, later]) }
            }
        }
        return (kept, try Matrix(rows: rows, columns: columns, values: w.map(Float.init)))
    }
}
