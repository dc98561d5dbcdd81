import QuantaModel
import QuantaTensor

/// A linear layer over f16 weights kept in f16 (e.g. a container's tied embedding used as
/// the LM head): half the bytes of the f32 matrix per decode step, with the same values
/// (every f16 widens to f32 exactly). Decoding (`rows < vectorRowLimit`) runs a GEMV that
/// widens 8 weights at a time (F16C `vcvtph2ps`) into f32 fused multiply-adds, four weight
/// rows per pass sharing each load of `x`; more rows widen tiles of `tileRows` weight rows
/// to f32 and hand each to `sgemm`.
///
/// Results equal `DenseLinear` over the widened matrix up to float summation order.
public struct Float16Linear: LinearOperator {
    /// `[outputCount, inputCount]` f16 values (bit patterns), possibly borrowed from a mapping.
    public let weights: TensorStorage
    public let inputCount: Int
    public let outputCount: Int
    /// Threads for the GEMV and the tile widening.
    public let context: ComputeContext
    let tileRows: Int
    /// Inputs with fewer rows than this run the GEMV per row.
    public static let vectorRowLimit = 4

    /// Throws `invalidPackedWeight` (naming `name`) if `weights` does not hold
    /// `outputCount × inputCount` f16 values.
    public init(
        weights: TensorStorage, outputCount: Int, inputCount: Int, context: ComputeContext = .serial(),
        name: String = "linear"
    ) throws(RuntimeError) {
        guard outputCount > 0, inputCount > 0, outputCount <= Int(Int32.max), inputCount <= Int(Int32.max) else {
            throw .invalidPackedWeight(name: name, detail: "f16 weight shape \(outputCount) × \(inputCount) is empty or too large")
        }
        guard weights.bytes.count == outputCount * inputCount * 2 else {
            throw .invalidPackedWeight(
                name: name, detail: "holds \(weights.bytes.count) bytes, f16 \(outputCount) × \(inputCount) needs \(outputCount * inputCount * 2)")
        }
        self.weights = weights
        self.outputCount = outputCount
        self.inputCount = inputCount
        self.context = context
        tileRows = max(16, min(256, (1 << 17) / inputCount))
    }

    public func apply(input: UnsafePointer<Float>, rows: Int, output: UnsafeMutablePointer<Float>) {
        guard rows > 0 else { return }
        let base = Float16Pointer(address: weights.bytes.baseAddress!)
        let n = inputCount
        if rows < Self.vectorRowLimit {
            for row in 0..<rows {
                let vectors = VectorPointers(x: input + row * n, y: output + row * outputCount)
                context.parallelFor(0..<outputCount) { range in
                    Float16Kernels.multiplyVector(base.address, inputCount: n, x: vectors.x, y: vectors.y, rows: range)
                }
            }
            return
        }
        TiledGEMM.multiply(
            x: input, rows: rows, inputCount: n, outputCount: outputCount, tileRows: tileRows, context: context,
            output: output
        ) { weightRows, destination in
            Float16Kernels.widen(
                base.address + weightRows.lowerBound * n * 2, count: weightRows.count * n, into: destination)
        }
    }

    /// `apply` by plain scalar loops (each weight widened with `Float(Float16(bitPattern:))`,
    /// summed left to right): the reference for tests.
    public func referenceApply(input: UnsafePointer<Float>, rows: Int, output: UnsafeMutablePointer<Float>) {
        let values = weights.bytes.bindMemory(to: UInt16.self)
        for row in 0..<rows {
            for r in 0..<outputCount {
                var sum: Float = 0
                for c in 0..<inputCount { sum += Float(Float16(bitPattern: values[r * inputCount + c])) * input[row * inputCount + c] }
                output[row * outputCount + r] = sum
            }
        }
    }
}

/// The weights' base address, shared by `parallelFor` chunks during one `apply` (the
/// storage outlives them).
struct Float16Pointer: @unchecked Sendable {
    let address: UnsafeRawPointer
}

enum Float16Kernels {
    /// `y[r] = Σ_c w[r, c] · x[c]` for the f16 weight rows in `rows` (row-major, `inputCount`
    /// values per row): four rows per pass, 8 columns per step, tail columns scalar.
    static func multiplyVector(
        _ weights: UnsafeRawPointer, inputCount n: Int, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
        rows: Range<Int>
    ) {
        let xRaw = UnsafeRawPointer(x)
        let rowBytes = n &* 2
        let chunks = n >> 3
        var r = rows.lowerBound
        while r &+ 4 <= rows.upperBound {
            let w0 = weights + r &* rowBytes
            let w1 = w0 + rowBytes
            let w2 = w1 + rowBytes
            let w3 = w2 + rowBytes
            var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
            var k = 0
            while k < chunks {
                let xv = xRaw.loadUnaligned(fromByteOffset: k &* 32, as: SIMD8<Float>.self)
                let offset = k &* 16
                a0.addProduct(SIMD8<Float>(w0.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float16>.self)), xv)
                a1.addProduct(SIMD8<Float>(w1.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float16>.self)), xv)
                a2.addProduct(SIMD8<Float>(w2.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float16>.self)), xv)
                a3.addProduct(SIMD8<Float>(w3.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float16>.self)), xv)
                k &+= 1
            }
            y[r] = a0.sum() + tail(w0, from: chunks << 3, to: n, x: x)
            y[r &+ 1] = a1.sum() + tail(w1, from: chunks << 3, to: n, x: x)
            y[r &+ 2] = a2.sum() + tail(w2, from: chunks << 3, to: n, x: x)
            y[r &+ 3] = a3.sum() + tail(w3, from: chunks << 3, to: n, x: x)
            r &+= 4
        }
        while r < rows.upperBound {
            let w0 = weights + r &* rowBytes
            var a0 = SIMD8<Float>()
            var k = 0
            while k < chunks {
                a0.addProduct(SIMD8<Float>(w0.loadUnaligned(fromByteOffset: k &* 16, as: SIMD8<Float16>.self)),
                              xRaw.loadUnaligned(fromByteOffset: k &* 32, as: SIMD8<Float>.self))
                k &+= 1
            }
            y[r] = a0.sum() + tail(w0, from: chunks << 3, to: n, x: x)
            r &+= 1
        }
    }

    @inline(__always)
    static func tail(_ row: UnsafeRawPointer, from start: Int, to end: Int, x: UnsafePointer<Float>) -> Float {
        var sum: Float = 0
        var c = start
        while c < end {
            sum += Float(row.loadUnaligned(fromByteOffset: c &* 2, as: Float16.self)) * x[c]
            c &+= 1
        }
        return sum
    }

    /// Widens `count` f16 values at `source` to f32 at `destination` (exact).
    static func widen(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        let target = UnsafeMutableRawPointer(destination)
        var k = 0
        while k &+ 8 <= count {
            target.storeBytes(
                of: SIMD8<Float>(source.loadUnaligned(fromByteOffset: k &* 2, as: SIMD8<Float16>.self)),
                toByteOffset: k &* 4, as: SIMD8<Float>.self)
            k &+= 8
        }
        while k < count {
            destination[k] = Float(source.loadUnaligned(fromByteOffset: k &* 2, as: Float16.self))
            k &+= 1
        }
    }
}
