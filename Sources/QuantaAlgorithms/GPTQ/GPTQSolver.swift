import QuantaTensor

/// The order GPTQ quantizes input columns in ("act-order", reference `--act-order`).
public enum ActOrder: String, Codable, Sendable, CaseIterable {
    /// Columns in their original order.
    case none
    /// Columns by descending `diag(H)`; group parameters fixed up front from the original
    /// weights in original column order, so groups stay contiguous (reference
    /// `static_groups=True`; llm-compressor `actorder="weight"`/`"static"`).
    case `static`
    /// Columns by descending `diag(H)`; groups formed in that permuted order, so each input
    /// column needs its group index (`g_idx`) (reference default with `--act-order`).
    case dynamic
}

/// One dampening increase after a failed Cholesky factorization, reported to the caller.
public struct DampeningRetry: Sendable, Equatable {
    /// 1 for the first retry, 2 for the second, …
    public var attempt: Int
    /// The dampening fraction that failed.
    public var failedFraction: Double
    /// The fraction the next attempt uses.
    public var nextFraction: Double
    /// Why the attempt failed.
    public var reason: String
}

/// The outcome of `GPTQSolver.quantize`.
public struct GPTQResult: Sendable, Equatable {
    /// Codes, parameters, group indices and dequantized weights.
    public var quantized: QuantizedWeight
    /// GPTQ's reported error: `Σ (w − q)² / (2 · [H⁻¹]_cc)` over every weight, with the
    /// Cholesky diagonal `[H⁻¹]_cc` as in the reference (`torch.sum(Losses)`).
    public var loss: Double
    /// The dampening fraction finally used (after any retries).
    public var dampeningFraction: Double
    /// The value added to the diagonal: `dampeningFraction · mean(diag H)`.
    public var dampening: Float
    /// Inputs with `H_ii = 0` (dead), whose weights were zeroed.
    public var deadInputs: Int
}

/// GPTQ: one-shot weight quantization with second-order error compensation.
///
/// Provenance: E. Frantar, S. Ashkboos, T. Hoefler, D. Alistarh, "GPTQ: Accurate Post-Training
/// Quantization for Generative Pre-trained Transformers", ICLR 2023, Algorithm 1 (§3: arbitrary
/// order, lazy batch updates, Cholesky reformulation) and the reference `GPTQ.fasterquant`
/// (github.com/IST-DASLab/gptq, gptq.py): dead inputs get `H_ii = 1` and zero weights;
/// dampening `λ = percdamp · mean(diag H)`; `U = chol(H⁻¹)ᵀ` (upper); per block of columns,
/// column by column `q = quant(w)`, `err = (w − q) / U_cc`, `W[:, c:block end] −= err · U[c, c:]`;
/// then one GEMM `W[:, i2:] −= Err · U[i1:i2, i2:]`. With groups, a group's parameters are found
/// when it starts, on the weights as the reference holds them then (all updates of earlier
/// blocks applied; updates from earlier columns of the same block are not, since the reference
/// reads `W`, not the block copy `W1`). Per-channel parameters come from the original weights
/// before dead inputs are zeroed, as in the reference.
public enum GPTQSolver {
    /// How many times the dampening is multiplied by 10 after a failed factorization.
    public static let dampeningRetryLimit = 3

    /// Quantizes `weight` `[output × input]` given the input Hessian `[input × input]`.
    ///
    /// - Parameters:
    ///   - blockSize: columns per lazy batch (reference default 128).
    ///   - dampening: fraction of `mean(diag H)` added to the diagonal (default 0.01).
    ///   - actOrder: column order and group formation.
    ///   - context: threads for the per-row work inside each block (results do not depend on
    ///     the thread count).
    ///   - precision: the precision of the Cholesky factorizations (double by default: robust
    ///     for ill-conditioned Hessians at negligible cost; the reference uses float32).
    ///   - layer: the name used in error messages.
    ///   - onRetry: called before each retry with a larger dampening (no printing here).
    /// - Throws: `invalidScheme`, `shapeMismatch`, `invalidInput` (non-finite weights, bad
    ///   block size or dampening), `factorizationFailed` after `dampeningRetryLimit` retries.
    public static func quantize(
        weight: Matrix, hessian: Matrix, scheme: QuantizationScheme, blockSize: Int = 128,
        dampening: Double = 0.01, actOrder: ActOrder = .none, context: ComputeContext = .serial(),
        precision: FactorizationPrecision = .double, layer: String = "weight",
        onRetry: (DampeningRetry) -> Void = { _ in }
    ) throws(AlgorithmError) -> GPTQResult {
        try scheme.validate()
        let rows = weight.rows
        let columns = weight.columns
        try checkInputs(weight: weight, hessian: hessian, blockSize: blockSize, dampening: dampening, layer: layer)

        // Per-channel parameters: from the original weights (reference `find_params(W)` runs
        // before dead inputs are zeroed).
        let groupCount = scheme.groupCount(columns: columns)
        var groups = [GroupParameters?](repeating: nil, count: groupCount)
        // The ggml scale search weighs columns by the Hessian diagonal (llama-imatrix's Σx²).
        func diagonal(_ matrix: Matrix) -> [Float]? {
            scheme.clipping == .ggml ? (0..<columns).map { matrix.values[$0 * columns + $0] } : nil
        }
        if scheme.groupSize == nil, columns > 0 {
            groups[0] = Quantizer.groupParameters(of: weight, columns: 0..<columns, scheme: scheme, importance: diagonal(hessian))
        }

        let originalHessian = hessian
        var (work, hessian, deadInputs) = zeroingDeadInputs(weight: weight, hessian: hessian)

        // Static groups: parameters fixed up front in original order (after dead zeroing).
        if actOrder == .static, scheme.groupSize != nil {
            for group in 0..<groupCount {
                groups[group] = Quantizer.groupParameters(
                    of: work, columns: scheme.groupColumns(group, columns: columns), scheme: scheme,
                    importance: diagonal(hessian))
            }
        }

        // Act-order: columns by descending diag(H) (ties by index, so the order is stable).
        var permutation: [Int]?
        if actOrder != .none {
            let order = descendingDiagonalOrder(hessian)
            permutation = order
            work = permutedColumns(work, order)
            hessian = permutedSymmetric(hessian, order)
        }

        // The group each processed position belongs to (index into `groups` and the output).
        let groupOfPosition: [Int] = (0..<columns).map { position in
            guard let groupSize = scheme.groupSize else { return 0 }
            if actOrder == .static, let permutation { return permutation[position] / groupSize }
            return position / groupSize
        }

        let factorization = try inverseFactor(
            of: hessian, dampening: dampening, precision: precision, layer: layer, onRetry: onRetry)
        let solution = lazyBatchQuantize(
            work: work, factor: factorization.factor, scheme: scheme, blockSize: blockSize,
            groups: groups, groupOfPosition: groupOfPosition, dynamicGroups: actOrder != .static,
            importance: diagonal(hessian), context: context)

        // Un-permute into original column order.
        var codes = solution.codes
        var dequantized = solution.dequantized
        var groupIndex = groupOfPosition
        if let permutation {
            for row in 0..<rows {
                for position in 0..<columns {
                    codes[row * columns + permutation[position]] = solution.codes[row * columns + position]
                    dequantized[row * columns + permutation[position]] = solution.dequantized[row * columns + position]
                }
            }
            for position in 0..<columns { groupIndex[permutation[position]] = groupOfPosition[position] }
        }
        var (scales, zeroPoints) = parameterTables(solution.groups, rows: rows)
        if scheme.clipping == .ggml {
            refitScales(&scales, codes: codes, zeroPoints: zeroPoints, groupIndex: groupIndex, weight: weight, hessian: originalHessian)
            dequantized = reconstructed(codes: codes, scales: scales, zeroPoints: zeroPoints, groupIndex: groupIndex, columns: columns)
        }
        let quantized = QuantizedWeight(
            scheme: scheme, dequantized: Matrix(rows: rows, columns: columns, exactly: dequantized), codes: codes,
            scales: scales, zeroPoints: zeroPoints,
            groupIndex: groupIndex, permutation: actOrder == .none ? nil : permutation)
        return GPTQResult(
            quantized: quantized, loss: solution.loss, dampeningFraction: factorization.fraction,
            dampening: factorization.dampening, deadInputs: deadInputs)
    }

    // MARK: - Steps

    /// With the ggml scale search, each group's scale is refitted once GPTQ has chosen the
    /// codes: the weighted least-squares scale `Σ H_cc · w · q̃ / Σ H_cc · q̃²` (q̃ = code − zero)
    /// against the original weights, as llama.cpp fits its scales to the chosen codes.
    static func refitScales(
        _ scales: inout Matrix, codes: [UInt8], zeroPoints: [UInt8], groupIndex: [Int], weight: Matrix, hessian: Matrix
    ) {
        let (rows, columns, groups) = (weight.rows, weight.columns, scales.columns)
        var numerators = [Double](repeating: 0, count: rows * groups)
        var denominators = [Double](repeating: 0, count: rows * groups)
        for row in 0..<rows {
            for column in 0..<columns {
                let slot = row * groups + groupIndex[column]
                let centered = Double(Int(codes[row * columns + column]) - Int(zeroPoints[slot]))
                let importance = Double(hessian.values[column * columns + column])
                numerators[slot] += importance * Double(weight.values[row * columns + column]) * centered
                denominators[slot] += importance * centered * centered
            }
        }
        for slot in 0..<(rows * groups) where denominators[slot] > 0 {
            let scale = Float(numerators[slot] / denominators[slot])
            if scale.isFinite, scale != 0 { scales.values[slot] = scale }
        }
    }

    /// `scale · (code − zero)` for every element in original column order.
    static func reconstructed(codes: [UInt8], scales: Matrix, zeroPoints: [UInt8], groupIndex: [Int], columns: Int) -> [Float] {
        var result = [Float](repeating: 0, count: codes.count)
        let groups = scales.columns
        for index in codes.indices {
            let slot = (index / columns) * groups + groupIndex[index % columns]
            result[index] = Quantizer.dequantize(code: Float(codes[index]), scale: scales.values[slot], zeroPoint: Float(zeroPoints[slot]))
        }
        return result
    }

    /// Scales `[rows × groups]` and zero points `[rows × groups]` from per-group parameters
    /// (a missing group stays 0).
    static func parameterTables(_ groups: [GroupParameters?], rows: Int) -> (scales: Matrix, zeroPoints: [UInt8]) {
        let groupCount = groups.count
        var scales = [Float](repeating: 0, count: rows * groupCount)
        var zeroPoints = [UInt8](repeating: 0, count: rows * groupCount)
        for (group, parameters) in groups.enumerated() {
            guard let parameters else { continue }
            for row in 0..<rows {
                scales[row * groupCount + group] = parameters.scales[row]
                zeroPoints[row * groupCount + group] = parameters.zeroPoints[row]
            }
        }
        return (Matrix(rows: rows, columns: groupCount, exactly: scales), zeroPoints)
    }

    /// Throws unless the Hessian matches the weight, the block size is positive, the
    /// dampening a finite non-negative fraction and the weight finite.
    static func checkInputs(
        weight: Matrix, hessian: Matrix, blockSize: Int, dampening: Double, layer: String
    ) throws(AlgorithmError) {
        let columns = weight.columns
        guard hessian.rows == columns, hessian.columns == columns else {
            throw .shapeMismatch(
                detail: "\(layer): weight \(weight.rows)x\(columns) needs a \(columns)x\(columns) Hessian, got \(hessian.rows)x\(hessian.columns)")
        }
        guard blockSize > 0 else { throw .invalidInput(detail: "block size \(blockSize) must be positive") }
        guard dampening.isFinite, dampening >= 0 else {
            throw .invalidInput(detail: "dampening \(dampening) must be a non-negative fraction")
        }
        try RoundToNearest.checkFinite(weight, name: "\(layer) weight")
    }

    /// Dead inputs (`H_ii = 0`): `H_ii = 1` and `W[:, i] = 0` (reference `dead`); returns the
    /// edited weight and Hessian and how many inputs were dead.
    static func zeroingDeadInputs(weight: Matrix, hessian: Matrix) -> (weight: Matrix, hessian: Matrix, dead: Int) {
        let rows = weight.rows
        let columns = weight.columns
        // Element writes go to plain arrays: writing through `Matrix.values`, an observed
        // property, copies the whole array each time.
        var workValues = weight.values
        var hessianValues = hessian.values
        var deadInputs = 0
        for column in 0..<columns where hessianValues[column * columns + column] == 0 {
            hessianValues[column * columns + column] = 1
            for row in 0..<rows { workValues[row * columns + column] = 0 }
            deadInputs += 1
        }
        return (
            Matrix(rows: rows, columns: columns, exactly: workValues),
            Matrix(rows: columns, columns: columns, exactly: hessianValues), deadInputs
        )
    }

    /// `U` with `Uᵀ U = (H + λI)⁻¹`, `λ = fraction · mean(diag H)`; on failure the fraction is
    /// multiplied by 10 (0 becomes 0.01) up to `dampeningRetryLimit` times.
    static func inverseFactor(
        of hessian: Matrix, dampening: Double, precision: FactorizationPrecision, layer: String,
        onRetry: (DampeningRetry) -> Void
    ) throws(AlgorithmError) -> (factor: Matrix, fraction: Double, dampening: Float) {
        let size = hessian.rows
        var diagonalSum = 0.0
        for index in 0..<size { diagonalSum += Double(hessian.values[index * size + index]) }
        let meanDiagonal = size > 0 ? diagonalSum / Double(size) : 0
        var fraction = dampening
        for attempt in 0...dampeningRetryLimit {
            let added = Float(fraction * meanDiagonal)
            var dampedValues = hessian.values
            for index in 0..<size { dampedValues[index * size + index] += added }
            let damped = Matrix(rows: size, columns: size, exactly: dampedValues)
            let reason: String
            do {
                let factor = try LinearAlgebra.upperCholeskyOfInverse(damped, precision: precision)
                // LAPACK implementations may let NaN through potrf; a usable factor is finite
                // with a positive diagonal.
                let usable =
                    factor.values.allSatisfy(\.isFinite)
                    && (0..<size).allSatisfy { factor.values[$0 * size + $0] > 0 }
                if usable { return (factor, fraction, added) }
                reason = "the inverse Hessian factor is not finite and positive"
            } catch {
                reason = "Cholesky factorization failed (\(error))"
            }
            guard attempt < dampeningRetryLimit else {
                throw .factorizationFailed(
                    layer: layer,
                    detail: "\(reason) with dampening fraction \(fraction) after \(dampeningRetryLimit) retries; check the Hessian for NaN or infinity")
            }
            let next = fraction > 0 ? fraction * 10 : 0.01
            onRetry(DampeningRetry(attempt: attempt + 1, failedFraction: fraction, nextFraction: next, reason: reason))
            fraction = next
        }
        preconditionFailure("unreachable: the retry loop returns or throws")
    }

    /// Column indices sorted by descending `diag(H)`, ties (and NaN, last) by index.
    static func descendingDiagonalOrder(_ hessian: Matrix) -> [Int] {
        let size = hessian.rows
        let diagonal = (0..<size).map { index -> Float in
            let value = hessian.values[index * size + index]
            return value.isNaN ? -.infinity : value
        }
        return (0..<size).sorted { diagonal[$0] > diagonal[$1] || (diagonal[$0] == diagonal[$1] && $0 < $1) }
    }

    /// `matrix[:, order]`.
    static func permutedColumns(_ matrix: Matrix, _ order: [Int]) -> Matrix {
        var result = matrix.values
        for row in 0..<matrix.rows {
            let start = row * matrix.columns
            for (position, column) in order.enumerated() { result[start + position] = matrix.values[start + column] }
        }
        return Matrix(rows: matrix.rows, columns: matrix.columns, exactly: result)
    }

    /// `matrix[order][:, order]`.
    static func permutedSymmetric(_ matrix: Matrix, _ order: [Int]) -> Matrix {
        var result = matrix.values
        let size = matrix.rows
        for (rowPosition, row) in order.enumerated() {
            for (columnPosition, column) in order.enumerated() {
                result[rowPosition * size + columnPosition] = matrix.values[row * size + column]
            }
        }
        return Matrix(rows: size, columns: size, exactly: result)
    }
}
