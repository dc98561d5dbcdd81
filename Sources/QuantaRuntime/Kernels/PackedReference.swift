import QuantaTensor

/// Obviously-correct scalar loops over the packed layout: the reference the fast kernels are
/// tested against, and the fallback for groups that do not start on 8-column chunks.
enum PackedReference {
    /// `w[r, c] = Float(scale) * (Float(code) - Float(zero))`, docs/packed-weights.md.
    @inline(__always)
    static func weight(_ weights: PackedPointers, row: Int, column: Int) -> Float {
        let group = column / weights.layout.groupSize
        let codes = weights.codeRow(row).assumingMemoryBound(to: UInt8.self)
        let code = PackedLayout.code(at: column, in: codes, bits: weights.layout.bits)
        return weights.scale(row, group) * (Float(code) - Float(weights.zero(row, group)))
    }

    /// `y[r] = Σ_c w[r, c] · x[c]` for `rows`, summed left to right.
    static func multiplyVector(_ weights: PackedPointers, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, rows: Range<Int>) {
        for row in rows {
            var sum: Float = 0
            for column in 0..<weights.layout.inputCount { sum += weight(weights, row: row, column: column) * x[column] }
            y[row] = sum
        }
    }
}

extension PackedLinear {
    /// The whole weight dequantized to f32 by the scalar reference (`outputCount ×
    /// inputCount`, in packed column order, i.e. before undoing any input permutation).
    /// For tests and tools; the operator itself never does this.
    public func referenceDequantizedWeight() -> Matrix {
        var matrix = Matrix(rows: outputCount, columns: inputCount)
        withPointers { weights in
            for row in 0..<outputCount {
                for column in 0..<inputCount {
                    matrix.values[row * inputCount + column] = PackedReference.weight(weights, row: row, column: column)
                }
            }
        }
        return matrix
    }

    /// `apply` computed by the scalar reference: permutation, then for every output a
    /// left-to-right sum of `w · x`, then the bias.
    public func referenceApply(input: UnsafePointer<Float>, rows: Int, output: UnsafeMutablePointer<Float>) {
        var permuted = [Float](repeating: 0, count: inputCount)
        withPointers { weights in
            for row in 0..<rows {
                for column in 0..<inputCount {
                    let source = inputPermutation.map { Int($0[column]) } ?? column
                    permuted[column] = input[row * inputCount + source]
                }
                permuted.withUnsafeBufferPointer { x in
                    PackedReference.multiplyVector(
                        weights, x: x.baseAddress!, y: output + row * outputCount, rows: 0..<outputCount)
                }
                if let bias {
                    for column in 0..<outputCount { output[row * outputCount + column] += bias[column] }
                }
            }
        }
    }

    /// Calls `body` with the component addresses, keeping the storages alive meanwhile.
    func withPointers(_ body: (PackedPointers) -> Void) {
        codes.withUnsafeBytes { codeBytes in
            scales.withUnsafeBytes { scaleBytes in
                zeros.withUnsafeBytes { zeroBytes in
                    body(PackedPointers(
                        codes: codeBytes.baseAddress!, scales: scaleBytes.baseAddress!, zeros: zeroBytes.baseAddress!,
                        layout: layout))
                }
            }
        }
    }
}
