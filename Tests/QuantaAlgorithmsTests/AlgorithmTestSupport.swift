import QuantaAlgorithms
import QuantaTensor

/// Shared helpers: random problems and straightforward reference implementations.
enum AlgorithmTestSupport {
    /// A `rows` × `columns` matrix of standard normal values.
    static func normalMatrix(rows: Int, columns: Int, seed: UInt64, standardDeviation: Float = 1) -> Matrix {
        var generator = RandomGenerator(seed: seed)
        let values = generator.normalValues(count: rows * columns, standardDeviation: standardDeviation)
        return try! Matrix(rows: rows, columns: columns, values: values)
    }

    /// Correlated activations `[tokens × features]`: normal noise mixed by a random matrix
    /// (so `XᵀX` is ill-conditioned), then feature `f` scaled by `featureScales[f]`.
    static func correlatedActivations(tokens: Int, features: Int, seed: UInt64, featureScales: [Float]? = nil) -> Matrix {
        let noise = normalMatrix(rows: tokens, columns: features, seed: seed)
        var mixing = normalMatrix(rows: features, columns: features, seed: seed &+ 1, standardDeviation: 0.3)
        for index in 0..<features { mixing[index, index] += 1 }
        var activations = try! BLAS.multiply(noise, mixing)
        if let featureScales {
            for token in 0..<tokens {
                for feature in 0..<features { activations[token, feature] *= featureScales[feature] }
            }
        }
        return activations
    }

    /// `H = (2/n) XᵀX` through the accumulator (one sample per call, `batches` calls).
    static func hessian(of activations: Matrix, batches: Int = 1) -> Matrix {
        var accumulator = HessianAccumulator(inputSize: activations.columns)
        let rowsPerBatch = activations.rows / batches
        for batch in 0..<batches {
            let rows = (batch * rowsPerBatch)..<((batch + 1) * rowsPerBatch)
            let slice = try! Matrix(
                rows: rows.count, columns: activations.columns,
                values: Array(activations.values[(rows.lowerBound * activations.columns)..<(rows.upperBound * activations.columns)]))
            try! accumulator.add(slice)
        }
        return try! accumulator.finalized()
    }

    /// The proxy loss `tr((W − Q) H (W − Q)ᵀ)` in double precision.
    static func proxyLoss(weight: Matrix, quantized: Matrix, hessian: Matrix) -> Double {
        let rows = weight.rows
        let columns = weight.columns
        var total = 0.0
        for row in 0..<rows {
            let difference = (0..<columns).map { Double(weight[row, $0]) - Double(quantized[row, $0]) }
            for i in 0..<columns where difference[i] != 0 {
                var sum = 0.0
                for j in 0..<columns { sum += Double(hessian[i, j]) * difference[j] }
                total += difference[i] * sum
            }
        }
        return total
    }

    struct ReferenceResult {
        var codes: [UInt8]
        var dequantized: Matrix
        var loss: Double
    }

    /// GPTQ written the direct way (Frantar et al. 2022, eq. (2)–(3), Algorithm 1 without
    /// lazy batches or Cholesky): column by column in double precision with the full inverse
    /// Hessian, the optimal update `δ = −(w_q − q)/[H⁻¹]_qq · (H⁻¹)_{:,q}` of the remaining
    /// weights, and the inverse updated by Gaussian elimination of the quantized column.
    /// Group parameters are found from the weights as they stood at the last multiple of
    /// `blockSize` (the reference code reads its block-start `W` there).
    static func referenceGPTQ(
        weight: Matrix, hessian: Matrix, scheme: QuantizationScheme, blockSize: Int, dampening: Double,
        actOrder: ActOrder
    ) -> ReferenceResult {
        let rows = weight.rows
        let columns = weight.columns
        var h = (0..<(columns * columns)).map { Double(hessian.values[$0]) }
        var w = weight.values.map(Double.init)
        let channelParameters = Quantizer.groupParameters(of: weight, columns: 0..<columns, scheme: scheme)
        for i in 0..<columns where h[i * columns + i] == 0 {
            h[i * columns + i] = 1
            for r in 0..<rows { w[r * columns + i] = 0 }
        }
        let groupSize = scheme.groupSize
        var staticParameters: [GroupParameters] = []
        if let groupSize, actOrder == .static {
            let zeroed = try! Matrix(rows: rows, columns: columns, values: w.map(Float.init))
            for start in stride(from: 0, to: columns, by: groupSize) {
                staticParameters.append(
                    Quantizer.groupParameters(of: zeroed, columns: start..<min(start + groupSize, columns), scheme: scheme))
            }
        }
        var order = Array(0..<columns)
        if actOrder != .none {
            order.sort { h[$0 * columns + $0] > h[$1 * columns + $1] || (h[$0 * columns + $0] == h[$1 * columns + $1] && $0 < $1) }
        }
        // Work in processing order.
        var wp = [Double](repeating: 0, count: rows * columns)
        var hp = [Double](repeating: 0, count: columns * columns)
        for r in 0..<rows { for k in 0..<columns { wp[r * columns + k] = w[r * columns + order[k]] } }
        for a in 0..<columns { for b in 0..<columns { hp[a * columns + b] = h[order[a] * columns + order[b]] } }
        let mean = (0..<columns).reduce(0.0) { $0 + hp[$1 * columns + $1] } / Double(columns)
        for i in 0..<columns { hp[i * columns + i] += dampening * mean }
        var inverse = invertSymmetric(hp, size: columns)

        var codes = [UInt8](repeating: 0, count: rows * columns)
        var dequantized = Matrix(rows: rows, columns: columns)
        var loss = 0.0
        var snapshot = wp
        var parameters = channelParameters
        let maxq = Float(scheme.maximumCode)
        for k in 0..<columns {
            if k % blockSize == 0 { snapshot = wp }
            if let groupSize {
                if actOrder == .static {
                    parameters = staticParameters[order[k] / groupSize]
                } else if k % groupSize == 0 {
                    let view = try! Matrix(rows: rows, columns: columns, values: snapshot.map(Float.init))
                    parameters = Quantizer.groupParameters(
                        of: view, columns: k..<min(k + groupSize, columns), scheme: scheme)
                }
            }
            let d = inverse[k * columns + k]
            for r in 0..<rows {
                let value = Float(wp[r * columns + k])
                let scale = parameters.scales[r]
                let zero = Float(parameters.zeroPoints[r])
                let code = Quantizer.code(value, scale: scale, zeroPoint: zero, maximumCode: maxq)
                let q = Double(Quantizer.dequantize(code: code, scale: scale, zeroPoint: zero))
                codes[r * columns + order[k]] = UInt8(code)
                dequantized[r, order[k]] = Float(q)
                let error = (wp[r * columns + k] - q) / d
                loss += (wp[r * columns + k] - q) * (wp[r * columns + k] - q) / d / 2
                for j in (k + 1)..<max(k + 1, columns) { wp[r * columns + j] -= error * inverse[k * columns + j] }
            }
            // Remove column k from the inverse (Gaussian elimination, eq. (3)).
            for a in (k + 1)..<max(k + 1, columns) {
                let factor = inverse[a * columns + k] / d
                for b in (k + 1)..<columns { inverse[a * columns + b] -= factor * inverse[k * columns + b] }
            }
        }
        return ReferenceResult(codes: codes, dequantized: dequantized, loss: loss)
    }

    /// The inverse of a symmetric positive-definite matrix by Gauss–Jordan elimination.
    static func invertSymmetric(_ matrix: [Double], size: Int) -> [Double] {
        var a = matrix
        var inverse = [Double](repeating: 0, count: size * size)
        for i in 0..<size { inverse[i * size + i] = 1 }
        for pivot in 0..<size {
            let p = a[pivot * size + pivot]
            for j in 0..<size {
                a[pivot * size + j] /= p
                inverse[pivot * size + j] /= p
            }
            for row in 0..<size where row != pivot {
                let factor = a[row * size + pivot]
                if factor == 0 { continue }
                for j in 0..<size {
                    a[row * size + j] -= factor * a[pivot * size + j]
                    inverse[row * size + j] -= factor * inverse[pivot * size + j]
                }
            }
        }
        return inverse
    }
}
