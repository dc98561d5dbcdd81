import CQuantaKernels
import Foundation
import QuantaTensor

/// Integer kernels of the W8A8 path and of lower widths (W4A4, W4A8, W8A4 …, "int8 kernels
/// on low-bit operands": codes of at most 8 bits held in int8 lanes): activations quantized
/// per token to integers, int8 × int8 products accumulated exactly in int32, scales applied
/// in the epilogue
/// `y[r, o] = Float(acc[r, o]) · (activationScale[r] · weightScale[o]) (+ bias[o])`.
///
/// The fast paths use AVX-512 VNNI (`vpdpbusd`, C kernels in `CQuantaKernels`) when the CPU
/// has it — checked at run time — and otherwise 16-lane Swift SIMD (AVX2 with the package's
/// `-target-cpu haswell`: sign-extend int8 to int32 lanes, multiply, add). Each has a scalar
/// reference beside it; integer accumulation makes them equal bit for bit.
///
/// Provenance: SmoothQuant (Xiao et al., ICML 2023) §3 W8A8 with per-token activation
/// scales; the epilogue as in its `int8` CUTLASS kernels (`torch-int`, `W8A8B8O8`-style
/// dequantizing GEMMs with per-row/per-channel scales).
public enum Int8Kernels {
    /// Whether the VNNI kernels run (AVX-512 VNNI present); `QUANTA_NO_VNNI=1` turns them off
    /// (to compare paths).
    public static let usesVNNI: Bool =
        quanta_has_avx512_vnni() != 0 && ProcessInfo.processInfo.environment["QUANTA_NO_VNNI"] != "1"

    @usableFromInline
    static func vnniDot(_ w: UnsafePointer<Int8>, _ x: UnsafePointer<Int8>, count: Int) -> Int32 {
        quanta_dot_s8_vnni(w, x, Int32(count))
    }

    @usableFromInline
    static func vnniDot4(
        _ w: UnsafePointer<Int8>, _ x0: UnsafePointer<Int8>, _ x1: UnsafePointer<Int8>, _ x2: UnsafePointer<Int8>,
        _ x3: UnsafePointer<Int8>, count: Int
    ) -> SIMD4<Int32> {
        var sums = (Int32(0), Int32(0), Int32(0), Int32(0))
        withUnsafeMutablePointer(to: &sums) { pointer in
            pointer.withMemoryRebound(to: Int32.self, capacity: 4) {
                quanta_dot4_s8_vnni(w, x0, x1, x2, x3, Int32(count), $0)
            }
        }
        return SIMD4(sums.0, sums.1, sums.2, sums.3)
    }

    /// Quantizes `count` values to `activation.bits`-bit integers held in int8 and returns
    /// the scale: `scale = activation.scale(ofRow:)` (per token `max(max|x|, 1e-5) / m`, or
    /// the static per-tensor scale) and `codes[i] = clamp(round(x[i] / scale), −m, m)` with
    /// `m = 2^(bits−1) − 1` (127 for A8, 7 for A4), ties to even — the rounding of
    /// `ActivationScheme.fakeQuantize`. A row holding NaN or infinity returns a NaN scale.
    @inlinable
    public static func quantizeRow(
        _ values: UnsafePointer<Float>, count: Int, activation: ActivationScheme, into codes: UnsafeMutablePointer<Int8>
    ) -> Float {
        let scale = activation.scale(ofRow: values, count: count)
        let magnitude = activation.maximumMagnitude
        var poison: Float = 0  // NaN when the row holds a NaN or an infinity (x · 0)
        for index in 0..<count {
            codes[index] = Int8(ActivationScheme.code(values[index], scale: scale, magnitude: magnitude))
            poison += values[index] * 0
        }
        // A non-finite row gets a NaN scale, so its outputs are NaN rather than silently finite.
        return poison == 0 ? scale : .nan
    }

    /// `Σ a[i] · b[i]` in int32, scalar.
    public static func dotReference(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>, count: Int) -> Int32 {
        var sum: Int32 = 0
        for index in 0..<count { sum &+= Int32(a[index]) &* Int32(b[index]) }
        return sum
    }

    /// Sixteen int8 values at `offset` sign-extended to int32 lanes. Written lane by lane:
    /// LLVM turns it into one `vpmovsxbd`, while the generic
    /// `SIMD16<Int32>(truncatingIfNeeded:)` stays an unspecialised per-lane call (about
    /// 3000× slower).
    @inlinable @inline(__always)
    static func widened(_ pointer: UnsafePointer<Int8>, _ offset: Int) -> SIMD16<Int32> {
        let bytes = UnsafeRawPointer(pointer).loadUnaligned(fromByteOffset: offset, as: SIMD16<Int8>.self)
        var result = SIMD16<Int32>()
        for lane in 0..<16 { result[lane] = Int32(bytes[lane]) }
        return result
    }

    /// `Σ a[i] · b[i]` in int32, 16 lanes at a time.
    @inlinable
    public static func dot(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>, count: Int) -> Int32 {
        var accumulator = SIMD16<Int32>()
        var index = 0
        while index + 16 <= count {
            accumulator &+= widened(a, index) &* widened(b, index)
            index += 16
        }
        var sum = accumulator.wrappedSum()
        while index < count {
            sum &+= Int32(a[index]) &* Int32(b[index])
            index += 1
        }
        return sum
    }

    /// `output[r, o] = Float(Σ_i x[r, i] · w[o, i]) · (xScale[r] · wScale[o]) (+ bias[o])` for
    /// output rows `outputs` — scalar reference.
    public static func multiplyReference(
        x: UnsafePointer<Int8>, xScales: UnsafePointer<Float>, rows: Int, weights: UnsafePointer<Int8>,
        weightScales: UnsafePointer<Float>, bias: UnsafePointer<Float>?, inputCount: Int, outputCount: Int,
        outputs: Range<Int>, output: UnsafeMutablePointer<Float>
    ) {
        for row in 0..<rows {
            for column in outputs {
                let accumulator = dotReference(x + row * inputCount, weights + column * inputCount, count: inputCount)
                output[row * outputCount + column] = epilogue(
                    accumulator, xScale: xScales[row], weightScale: weightScales[column], bias: bias?[column])
            }
        }
    }

    /// The same product, fast: for each block of 4 input rows every weight row is loaded
    /// once and dotted with the 4 rows (the weight row stays in L1). `vnni` picks the AVX-512
    /// VNNI kernels (default: when the CPU has them) or the Swift SIMD ones.
    @inlinable
    public static func multiply(
        x: UnsafePointer<Int8>, xScales: UnsafePointer<Float>, rows: Int, weights: UnsafePointer<Int8>,
        weightScales: UnsafePointer<Float>, bias: UnsafePointer<Float>?, inputCount: Int, outputCount: Int,
        outputs: Range<Int>, output: UnsafeMutablePointer<Float>, vnni: Bool = usesVNNI
    ) {
        precondition(!vnni || quanta_has_avx512_vnni() != 0, "AVX-512 VNNI kernels need a CPU that has them")
        var row = 0
        while row + 4 <= rows {
            let x0 = x + row * inputCount
            let x1 = x0 + inputCount
            let x2 = x1 + inputCount
            let x3 = x2 + inputCount
            for column in outputs {
                let w = weights + column * inputCount
                let sums =
                    vnni ? vnniDot4(w, x0, x1, x2, x3, count: inputCount) : dot4(w, x0, x1, x2, x3, count: inputCount)
                let weightScale = weightScales[column]
                let columnBias = bias?[column]
                for lane in 0..<4 {
                    output[(row + lane) * outputCount + column] = epilogue(
                        sums[lane], xScale: xScales[row + lane], weightScale: weightScale, bias: columnBias)
                }
            }
            row += 4
        }
        while row < rows {
            let xRow = x + row * inputCount
            for column in outputs {
                let accumulator =
                    vnni
                    ? vnniDot(weights + column * inputCount, xRow, count: inputCount)
                    : dot(xRow, weights + column * inputCount, count: inputCount)
                output[row * outputCount + column] = epilogue(
                    accumulator, xScale: xScales[row], weightScale: weightScales[column], bias: bias?[column])
            }
            row += 1
        }
    }

    /// Four dot products of `w` with `x0 … x3` in one pass over `w`.
    @inlinable
    static func dot4(
        _ w: UnsafePointer<Int8>, _ x0: UnsafePointer<Int8>, _ x1: UnsafePointer<Int8>, _ x2: UnsafePointer<Int8>,
        _ x3: UnsafePointer<Int8>, count: Int
    ) -> SIMD4<Int32> {
        var a0 = SIMD16<Int32>(), a1 = SIMD16<Int32>(), a2 = SIMD16<Int32>(), a3 = SIMD16<Int32>()
        var index = 0
        while index + 16 <= count {
            let weight = widened(w, index)
            a0 &+= weight &* widened(x0, index)
            a1 &+= weight &* widened(x1, index)
            a2 &+= weight &* widened(x2, index)
            a3 &+= weight &* widened(x3, index)
            index += 16
        }
        var sums = SIMD4<Int32>(a0.wrappedSum(), a1.wrappedSum(), a2.wrappedSum(), a3.wrappedSum())
        while index < count {
            let weight = Int32(w[index])
            sums &+= SIMD4<Int32>(Int32(x0[index]), Int32(x1[index]), Int32(x2[index]), Int32(x3[index])) &* weight
            index += 1
        }
        return sums
    }

    /// `Float(accumulator) · (xScale · weightScale) (+ bias)`, the one epilogue both paths use.
    @inlinable @inline(__always)
    public static func epilogue(_ accumulator: Int32, xScale: Float, weightScale: Float, bias: Float?) -> Float {
        let value = Float(accumulator) * (xScale * weightScale)
        guard let bias else { return value }
        return value + bias
    }
}
