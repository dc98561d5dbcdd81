import Foundation
import QuantaFormats
import QuantaModel
import QuantaRuntime
import QuantaTensor

// `QuantaBench --sparse [MODEL ...]`: 2:4 sparse kernels against dense ones at equal value
// precision (f32 vs f32, int4 g128 vs int4 g128) on SmolLM2 shapes with synthetic weights,
// then decode speed (tg128) of each MODEL given (e.g. a dense and a 2:4 container), all in
// one process and interleaved run by run so they share the machine's load. One thread.

/// Random 2:4 weights `[out × in]`: f32 values, or 4-bit codes with groups of 128 inputs.
private func randomSparse(out: Int, in inputs: Int, bits: Int?) throws -> SparseWeights {
    var random = RandomGenerator(seed: 11)
    var kept = [Bool](repeating: false, count: out * inputs)
    for group in 0..<(out * inputs / 4) {
        let first = random.nextInt(below: 4)
        kept[4 * group + first] = true
        kept[4 * group + (first + 1 + random.nextInt(below: 3)) % 4] = true
    }
    guard let bits else {
        let values = kept.map { $0 ? random.nextFloat(in: -0.05..<0.05) : 0 }
        return try SparseWeights.pack(name: "w", values: values, outputCount: out, inputCount: inputs, valueType: .float32)
    }
    let groups = (inputs + 127) / 128
    let zeros = (0..<(out * groups)).map { _ in UInt8(random.nextInt(below: 1 << bits)) }
    let scales = (0..<(out * groups)).map { _ in Float(Float16(random.nextFloat(in: 0.001..<0.01))) }
    var codes = [UInt8](repeating: 0, count: out * inputs)
    for index in codes.indices {
        let zero = zeros[(index / inputs) * groups + (index % inputs) / 128]
        // A kept code differs from the zero point, so packing keeps exactly these positions.
        codes[index] = kept[index] ? (zero + 1 + UInt8(random.nextInt(below: (1 << bits) - 1))) % UInt8(1 << bits) : zero
    }
    return try SparseWeights.pack(
        name: "w", codes: codes, scales: scales, zeroPoints: zeros, outputCount: out, inputCount: inputs, bits: bits,
        groupSize: 128, symmetric: false)
}

func printSparseBenchmarks(models: [String], runs: Int = 5) throws {
    ComputeContext.applyBLASThreadCount(1)
    let context = ComputeContext(threadCount: 1)
    print("2:4 sparse vs dense linear kernels — synthetic SmolLM2 shapes (out × in), 1 thread, best of \(runs)")
    print("| matrix | kernel | dense | 2:4 sparse | sparse speed-up |")
    print("|---|---|---|---|---|")
    for (label, out, inputs) in [("attn q/o 576×576", 576, 576), ("mlp down 576×1536", 576, 1536), ("mlp up 1536×576", 1536, 576)] {
        var random = RandomGenerator(seed: 3)
        let weight = try Matrix(rows: out, columns: inputs, values: random.uniformValues(count: out * inputs, in: -0.05..<0.05))
        let dense = try DenseLinear(weight: weight)
        let packed = try randomPacked(bits: 4, out: out, in: inputs, context: context)
        let sparse32 = try SparseLinear(weights: randomSparse(out: out, in: inputs, bits: nil), context: context)
        let sparse16 = try SparseLinear(
            weights: SparseWeights.pack(
                name: "w", values: randomSparse(out: out, in: inputs, bits: nil).dequantize(), outputCount: out,
                inputCount: inputs, valueType: .float16), context: context)
        let sparse4 = try SparseLinear(weights: randomSparse(out: out, in: inputs, bits: 4), context: context)
        let repeats = max(1, 20_000_000 / (out * inputs))
        for (kernel, denseOperator, sparseOperator, rows) in [
            ("f32 GEMV", dense as any LinearOperator, sparse32 as any LinearOperator, 1),
            ("f16 values GEMV (dense: f32)", dense, sparse16, 1),
            ("int4 g128 GEMV", packed, sparse4, 1),
            ("f32 GEMM 512 rows", dense, sparse32, 512),
            ("int4 g128 GEMM 512 rows", packed, sparse4, 512),
        ] {
            let callRepeats = rows == 1 ? repeats : 1
            let denseTime = secondsPerCall(denseOperator, rows: rows, runs: runs, repeats: callRepeats)
            let sparseTime = secondsPerCall(sparseOperator, rows: rows, runs: runs, repeats: callRepeats)
            let unit = rows == 1 ? 1e6 : 1e3
            let suffix = rows == 1 ? "µs" : "ms"
            print(String(format: "| %@ | %@ | %.1f %@ | %.1f %@ | %.2f× |", label, kernel, denseTime * unit, suffix,
                         sparseTime * unit, suffix, denseTime / sparseTime))
        }
    }
    guard !models.isEmpty else { return }
    var loaded: [(String, TransformerModel)] = []
    for path in models {
        loaded.append(((path as NSString).lastPathComponent, try LoadedModel.load(path: path, computeContext: context).model))
    }
    var generator = RandomGenerator(seed: 1)
    let prompt = (0..<8).map { _ in generator.nextInt(below: loaded[0].1.vocabularySize) }
    var bestSeconds = [Double](repeating: .infinity, count: loaded.count)
    var sink: Float = 0
    for _ in 0..<3 {
        for (index, (_, model)) in loaded.enumerated() {
            bestSeconds[index] = min(bestSeconds[index], try timeDecoding(model, prompt: prompt, steps: 128, sink: &sink).wall)
        }
    }
    print("")
    print("Decode tg128 (8-token prompt, greedy, 1 thread), models interleaved, best of 3")
    print("| model | tg128 time | tokens/s | vs first |")
    print("|---|---|---|---|")
    for (index, (name, _)) in loaded.enumerated() {
        print(String(format: "| %@ | %.3f s | %.1f | %.2f× |", name, bestSeconds[index], 128 / bestSeconds[index],
                     bestSeconds[0] / bestSeconds[index]))
    }
    if sink.isNaN { print("checksum NaN") }
}
