import QuantaTensor

/// The column loop of GPTQ with lazy batch updates, in processing order.
///
/// Provenance: E. Frantar et al., "GPTQ", ICLR 2023, Algorithm 1 and §3 "Step 2: Lazy Batch-
/// Updates"; reference `GPTQ.fasterquant` (github.com/IST-DASLab/gptq, gptq.py).
///
/// Layout: the current block of columns is copied transposed (`[count × rows]`) so a weight
/// column, its error and each rank-1 update are contiguous; rows are independent given the
/// group parameters, so each block's column loop is split across row chunks (per-row loss
/// sums keep the result independent of the thread count). The trailing update
/// `W[:, i2:] −= Err · U[i1:i2, i2:]` is one single-precision GEMM.
///
/// The same loop runs SparseGPT (`pruning` set; E. Frantar, D. Alistarh, "SparseGPT", ICML 2023,
/// Algorithm 1; reference `SparseGPT.fasterprune`, github.com/IST-DASLab/sparsegpt): a pruned
/// weight's target is 0 instead of its quantized value, and without a scheme a kept weight's
/// target is the weight itself (error 0). Masks are chosen from `w² / U_cc²`: unstructured per
/// block over all rows at the block's start (`tmp <= thresh`, the `int(count · ratio)`-th
/// smallest), N:M per row when the block's column loop reaches a group of M, from the weights
/// as updated so far (`topk(tmp, M − N, largest=False)`, ties to the lower index).
extension GPTQSolver {
    struct LazyBatchSolution {
        /// Codes `[rows × columns]` in processing order.
        var codes: [UInt8]
        /// Dequantized weights `[rows × columns]` in processing order.
        var dequantized: [Float]
        /// Parameters of every group (indexed as `groupOfPosition`).
        var groups: [GroupParameters?]
        /// `Σ (w − q)² / (2 U_cc²)`.
        var loss: Double
        /// With pruning: `true` where a weight was kept, `[rows × columns]` in processing order.
        var kept: [Bool]?
    }

    /// Runs the blocks over `work` (already permuted, dead inputs zeroed) with the upper
    /// factor `factor` of the damped inverse Hessian. `groups` holds the parameters known up
    /// front (per-channel or static); with `dynamicGroups`, a group's parameters are found from
    /// `work` as it stands at the start of the block where the group begins.
    static func lazyBatchQuantize(
        work: Matrix, factor: Matrix, scheme: QuantizationScheme?, blockSize: Int, groups: [GroupParameters?],
        groupOfPosition: [Int], dynamicGroups: Bool, pruning: SparsityPattern? = nil, importance: [Float]? = nil,
        context: ComputeContext
    ) -> LazyBatchSolution {
        let rows = work.rows
        let columns = work.columns
        var work = work.values  // a plain array: written in place each block
        var groups = groups
        var codes = [UInt8](repeating: 0, count: rows * columns)
        var dequantized = [Float](repeating: 0, count: rows * columns)
        var rowLosses = [Double](repeating: 0, count: rows)
        var kept = [Bool](repeating: true, count: pruning == nil ? 0 : rows * columns)
        guard rows > 0, columns > 0 else {
            return LazyBatchSolution(
                codes: codes, dequantized: dequantized, groups: groups, loss: 0, kept: pruning == nil ? nil : kept)
        }
        let blockCapacity = min(blockSize, columns)
        var blockWeights = [Float](repeating: 0, count: blockCapacity * rows)
        var blockErrors = [Float](repeating: 0, count: blockCapacity * rows)
        let maximumCode = Float(scheme?.maximumCode ?? 0)

        for blockStart in stride(from: 0, to: columns, by: blockSize) {
            let blockEnd = min(blockStart + blockSize, columns)
            let count = blockEnd - blockStart

            // Groups beginning in this block see `work` as the reference's `W` holds it now.
            if dynamicGroups, let scheme, let groupSize = scheme.groupSize {
                var start = (blockStart + groupSize - 1) / groupSize * groupSize
                while start < blockEnd {
                    let groupColumns = start..<min(start + groupSize, columns)
                    groups[start / groupSize] = work.withUnsafeBufferPointer { values in
                        Quantizer.groupParameters(
                            values: values, rowStride: columns, rows: rows, columns: groupColumns, scheme: scheme,
                            importance: importance)
                    }
                    start += groupSize
                }
            }
            let blockGroups = groups
            let blockGroupOf = Array(groupOfPosition[blockStart..<blockEnd])
            if case .unstructured(let ratio) = pruning {
                pruneUnstructured(
                    work: work, factor: factor, columns: blockStart..<blockEnd, rows: rows, ratio: ratio, kept: &kept)
            }

            work.withUnsafeMutableBufferPointer { workBuffer in
                factor.values.withUnsafeBufferPointer { factorBuffer in
                    blockWeights.withUnsafeMutableBufferPointer { weightsBuffer in
                        blockErrors.withUnsafeMutableBufferPointer { errorsBuffer in
                            codes.withUnsafeMutableBufferPointer { codesBuffer in
                                dequantized.withUnsafeMutableBufferPointer { dequantizedBuffer in
                                    rowLosses.withUnsafeMutableBufferPointer { lossBuffer in
                                      kept.withUnsafeMutableBufferPointer { keptBuffer in
                                        let shared = SharedBuffers(
                                            work: workBuffer.baseAddress!, factor: factorBuffer.baseAddress!,
                                            blockWeights: weightsBuffer.baseAddress!,
                                            blockErrors: errorsBuffer.baseAddress!, codes: codesBuffer.baseAddress!,
                                            dequantized: dequantizedBuffer.baseAddress!,
                                            rowLosses: lossBuffer.baseAddress!,
                                            kept: pruning == nil ? nil : keptBuffer.baseAddress)
                                        context.parallelFor(0..<rows) { rowRange in
                                            quantizeBlock(
                                                shared, rows: rows, columns: columns, rowRange: rowRange,
                                                blockStart: blockStart, count: count, groups: blockGroups,
                                                groupOf: blockGroupOf, maximumCode: maximumCode, quantizes: scheme != nil,
                                                pruning: pruning)
                                        }
                                        // W[:, i2:] −= Errᵀᵀ · U[i1:i2, i2:]  (Err stored count × rows).
                                        if blockEnd < columns {
                                            try! BLAS.gemm(
                                                transposeA: true, transposeB: false, rows: rows,
                                                columns: columns - blockEnd, inner: count, alpha: -1,
                                                a: UnsafePointer(shared.blockErrors), leadingDimensionA: rows,
                                                b: shared.factor + blockStart * columns + blockEnd,
                                                leadingDimensionB: columns, beta: 1,
                                                c: shared.work + blockEnd, leadingDimensionC: columns)
                                        }
                                      }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let loss = rowLosses.reduce(0, +) / 2
        return LazyBatchSolution(
            codes: codes, dequantized: dequantized, groups: groups, loss: loss, kept: pruning == nil ? nil : kept)
    }

    /// The column-by-column part of one block for output rows `rowRange`: copy the block
    /// transposed, quantize each column, record `(w − q)/U_cc`, and feed the error forward to
    /// the block's later columns (Algorithm 1, inner loop).
    private static func quantizeBlock(
        _ shared: SharedBuffers, rows: Int, columns: Int, rowRange: Range<Int>, blockStart: Int, count: Int,
        groups: [GroupParameters?], groupOf: [Int], maximumCode: Float, quantizes: Bool = true,
        pruning: SparsityPattern? = nil
    ) {
        let work = shared.work
        let factor = shared.factor
        let blockWeights = shared.blockWeights
        let blockErrors = shared.blockErrors
        for offset in 0..<count {
            let column = blockStart + offset
            let target = blockWeights + offset * rows
            for row in rowRange { target[row] = work[row * columns + column] }
        }
        var scales = [Float](repeating: 0, count: rowRange.count)
        var zeroPoints = [Float](repeating: 0, count: rowRange.count)
        var loadedGroup = -1
        for offset in 0..<count {
            let column = blockStart + offset
            let group = groupOf[offset]
            if group != loadedGroup, let parameters = groups[group] {
                for (index, row) in rowRange.enumerated() {
                    scales[index] = parameters.scales[row]
                    zeroPoints[index] = Float(parameters.zeroPoints[row])
                }
                loadedGroup = group
            }
            let diagonal = factor[column * columns + column]
            let weights = blockWeights + offset * rows
            let errors = blockErrors + offset * rows
            if case .structured(let keep, let groupSize) = pruning, offset % groupSize == 0, let kept = shared.kept {
                pruneStructured(
                    shared, rows: rows, columns: columns, rowRange: rowRange, blockStart: blockStart,
                    offset: offset, width: min(groupSize, count - offset), pruneCount: groupSize - keep, kept: kept)
            }
            var rowIndex = 0
            for row in rowRange {
                let w = weights[row]
                let pruned = shared.kept.map { !$0[row * columns + column] } ?? false
                let target = pruned ? 0 : w
                var q = target
                if quantizes {
                    let s = scales[rowIndex]
                    let z = zeroPoints[rowIndex]
                    let c = Quantizer.code(target, scale: s, zeroPoint: z, maximumCode: maximumCode)
                    q = Quantizer.dequantize(code: c, scale: s, zeroPoint: z)
                    shared.codes[row * columns + column] = UInt8(c)
                }
                shared.dequantized[row * columns + column] = q
                let difference = w - q
                shared.rowLosses[row] += Double(difference * difference / (diagonal * diagonal))
                errors[row] = difference / diagonal
                rowIndex += 1
            }
            // W1[:, later] −= err · U[column, later]
            let factorRow = factor + column * columns
            for later in (offset + 1)..<max(offset + 1, count) {
                let coefficient = factorRow[blockStart + later]
                let laterWeights = blockWeights + later * rows
                for row in rowRange { laterWeights[row] -= errors[row] * coefficient }
            }
        }
    }
}

extension GPTQSolver {
    /// N:M mask for rows `rowRange` over block offsets `offset..<offset+width`: the
    /// `pruneCount` smallest `w² / U_cc²` of each row, from the block copy as updated so far.
    fileprivate static func pruneStructured(
        _ shared: SharedBuffers, rows: Int, columns: Int, rowRange: Range<Int>, blockStart: Int, offset: Int,
        width: Int, pruneCount: Int, kept: UnsafeMutablePointer<Bool>
    ) {
        var scores = [Float](repeating: 0, count: width)
        var order = [Int](repeating: 0, count: width)
        var inverseSquares = [Float](repeating: 0, count: width)
        for index in 0..<width {
            let column = blockStart + offset + index
            let diagonal = shared.factor[column * columns + column]
            inverseSquares[index] = 1 / (diagonal * diagonal)
        }
        for row in rowRange {
            for index in 0..<width {
                let w = shared.blockWeights[(offset + index) * rows + row]
                scores[index] = w * w * inverseSquares[index]
            }
            SparsityMask.smallestFirst(scores, start: 0, count: width, into: &order)
            for index in order.prefix(min(pruneCount, width)) {
                kept[row * columns + blockStart + offset + index] = false
            }
        }
    }

    /// Unstructured mask for block `columns` over all rows: prune every `w² / U_cc² ≤` the
    /// `int(count · ratio)`-th smallest score of the block.
    static func pruneUnstructured(
        work: [Float], factor: Matrix, columns block: Range<Int>, rows: Int, ratio: Double, kept: inout [Bool]
    ) {
        guard ratio > 0, !block.isEmpty, rows > 0 else { return }
        let columns = factor.columns
        var scores = [Float]()
        scores.reserveCapacity(rows * block.count)
        for row in 0..<rows {
            for column in block {
                let w = work[row * columns + column]
                let diagonal = factor.values[column * columns + column]
                scores.append(w * w / (diagonal * diagonal))
            }
        }
        let threshold = scores.sorted()[min(Int(Double(scores.count) * ratio), scores.count - 1)]
        var index = 0
        for row in 0..<rows {
            for column in block {
                if scores[index] <= threshold { kept[row * columns + column] = false }
                index += 1
            }
        }
    }
}

/// Base addresses of the solver's buffers, handed to concurrent row chunks that write
/// disjoint rows. Valid only inside the `withUnsafe…` scopes of `lazyBatchQuantize`.
private struct SharedBuffers: @unchecked Sendable {
    let work: UnsafeMutablePointer<Float>
    let factor: UnsafePointer<Float>
    let blockWeights: UnsafeMutablePointer<Float>
    let blockErrors: UnsafeMutablePointer<Float>
    let codes: UnsafeMutablePointer<UInt8>
    let dequantized: UnsafeMutablePointer<Float>
    let rowLosses: UnsafeMutablePointer<Double>
    /// With pruning: `true` where a weight is kept (`[rows × columns]`).
    let kept: UnsafeMutablePointer<Bool>?
}
