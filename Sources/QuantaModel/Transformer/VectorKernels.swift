import Foundation
import QuantaTensor

/// The element-wise kernels of the transformer (RMSNorm, softmax, SiLU·up, residual add) on
/// raw row storage, vectorized with `SIMD16<Float>` and written as `a += b * c` (never
/// `addProduct`, which becomes a libm call per lane without a target CPU; see
/// shared/notes/swift-env.md). Each fast kernel has a scalar tail; the tests compare the
/// whole model against a scalar Double reference.
enum VectorKernels {
    typealias Vector = SIMD16<Float>
    static let width = 16

    @inline(__always)
    static func load(_ pointer: UnsafePointer<Float>) -> Vector {
        UnsafeRawPointer(pointer).loadUnaligned(as: Vector.self)
    }

    @inline(__always)
    static func store(_ value: Vector, _ pointer: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: Vector.self)
    }

    /// `e^x` for 16 lanes: Cephes `expf` (range reduction x = n·ln2 + r, a degree-6
    /// polynomial in r, then scaling by 2ⁿ built in the exponent bits). Relative error about
    /// 2 ulp over [-87, 88]; inputs are clamped to that range (e^-87 ≈ 1.6e-38 stands for 0).
    ///
    /// Provenance: S. L. Moshier, Cephes Math Library, `expf.c` (coefficients and the
    /// two-part ln 2); the round-to-nearest via the 1.5·2²³ shifter is the usual bit trick.
    @inline(__always)
    static func exponential(_ input: Vector) -> Vector {
        let x = input.replacing(with: 88.0, where: input .> 88.0)
            .replacing(with: -87.3365478515625, where: input .< -87.3365478515625)
        let shifter = Vector(repeating: 12_582_912)  // 1.5 · 2²³: adding it rounds to an integer
        let shifted = x * 1.44269504088896341 + shifter
        let n = shifted - shifter
        var r = x - n * 0.693359375
        r = r + n * 2.12194440e-4
        var p = Vector(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let polynomial = p * (r * r) + r + 1
        let integer = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- unsafeBitCast(shifter, to: SIMD16<Int32>.self)
        let scale = unsafeBitCast((integer &+ 127) &<< 23, to: Vector.self)
        return polynomial * scale
    }

    /// `e^x` for one value through the vector kernel (so tails round like the bulk).
    @inline(__always)
    static func exponential(_ value: Float) -> Float {
        exponential(Vector(repeating: value))[0]
    }

    /// HF `LlamaRMSNorm.forward` for one row, in float32: `weight · x / sqrt(mean(x²) + eps)`.
    static func rmsNorm(
        _ input: UnsafePointer<Float>, weight: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, count: Int,
        epsilon: Float
    ) {
        var accumulator = Vector()
        var index = 0
        while index + width <= count {
            let value = load(input + index)
            accumulator += value * value
            index += width
        }
        var sum = accumulator.sum()
        while index < count {
            sum += input[index] * input[index]
            index += 1
        }
        let inverse = 1 / (sum / Float(count) + epsilon).squareRoot()
        index = 0
        while index + width <= count {
            store(load(input + index) * inverse * load(weight + index), output + index)
            index += width
        }
        while index < count {
            output[index] = weight[index] * (input[index] * inverse)
            index += 1
        }
    }

    /// In-place softmax over `count` values with max subtraction (HF `softmax(dtype=float32)`).
    static func softmax(_ values: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        var maximumVector = Vector(repeating: -.infinity)
        var index = 0
        while index + width <= count {
            maximumVector = pointwiseMax(maximumVector, load(values + index))
            index += width
        }
        var maximum = maximumVector.max()
        while index < count {
            maximum = max(maximum, values[index])
            index += 1
        }
        var sumVector = Vector()
        index = 0
        while index + width <= count {
            let exponentials = exponential(load(values + index) - maximum)
            store(exponentials, values + index)
            sumVector += exponentials
            index += width
        }
        var sum = sumVector.sum()
        while index < count {
            let exponentialValue = exponential(values[index] - maximum)
            values[index] = exponentialValue
            sum += exponentialValue
            index += 1
        }
        scale(values, count: count, by: 1 / sum)
    }

    /// `values *= factor`.
    static func scale(_ values: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
        var index = 0
        while index + width <= count {
            store(load(values + index) * factor, values + index)
            index += width
        }
        while index < count {
            values[index] *= factor
            index += 1
        }
    }

    /// `gate = silu(gate) · up` (HF `LlamaMLP`: `act_fn(gate_proj(x)) * up_proj(x)`, with
    /// `silu(x) = x / (1 + e^-x)`).
    static func siluMultiply(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        var index = 0
        while index + width <= count {
            let x = load(gate + index)
            store(x / (1 + exponential(-x)) * load(up + index), gate + index)
            index += width
        }
        while index < count {
            let x = gate[index]
            gate[index] = x / (1 + exponential(-x)) * up[index]
            index += 1
        }
    }

    /// `target += addend`.
    static func add(_ addend: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>, count: Int) {
        var index = 0
        while index + width <= count {
            store(load(target + index) + load(addend + index), target + index)
            index += width
        }
        while index < count {
            target[index] += addend[index]
            index += 1
        }
    }
}

/// A base address shared by `parallelFor` chunks that write disjoint parts of one buffer.
/// Only created inside the `withUnsafe…` scope that owns the memory, which outlives every
/// chunk (`parallelFor` returns when all chunks are done); hence `@unchecked Sendable`.
struct SharedPointer<Element>: @unchecked Sendable {
    let base: UnsafeMutablePointer<Element>
    init(_ base: UnsafeMutablePointer<Element>) { self.base = base }
}

/// Thin non-throwing wrappers over `BLAS.gemm` / `BLAS.gemv`: the transformer validates
/// every dimension when it is built (all fit BLAS's 32-bit ints), so a failure here is a
/// programmer error.
enum Kernels {
    static func gemm(
        transposeA: Bool = false, transposeB: Bool, rows: Int, columns: Int, inner: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, leadingDimensionA: Int, b: UnsafePointer<Float>, leadingDimensionB: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, leadingDimensionC: Int
    ) {
        do {
            try BLAS.gemm(
                transposeA: transposeA, transposeB: transposeB, rows: rows, columns: columns, inner: inner,
                alpha: alpha, a: a, leadingDimensionA: leadingDimensionA, b: b, leadingDimensionB: leadingDimensionB,
                beta: beta, c: c, leadingDimensionC: leadingDimensionC)
        } catch {
            preconditionFailure("transformer GEMM: \(error)")
        }
    }

    static func gemv(
        transposeA: Bool, rows: Int, columns: Int, alpha: Float = 1, a: UnsafePointer<Float>, leadingDimensionA: Int,
        x: UnsafePointer<Float>, beta: Float = 0, y: UnsafeMutablePointer<Float>
    ) {
        do {
            try BLAS.gemv(
                transposeA: transposeA, rows: rows, columns: columns, alpha: alpha, a: a,
                leadingDimensionA: leadingDimensionA, x: x, beta: beta, y: y)
        } catch {
            preconditionFailure("transformer GEMV: \(error)")
        }
    }
}
