import Foundation
import QuantaModel
import QuantaRuntime
import QuantaTensor

// `QuantaBench --kernels`: packed linear kernels vs f32 on SmolLM2-shaped matrices, with
// synthetic random weights (no model file needed). GEMV: µs per call and GB/s of weight
// bytes read; GEMM (512 rows): GFLOP/s. Each timing is the best of several repetitions of
// a loop on one matrix, so weights that fit in L2/L3 are read from cache (a real decode
// step streams every layer from DRAM once).

/// Storage of `byteCount` random bytes.
func randomStorage(_ byteCount: Int, _ random: inout RandomGenerator) -> TensorStorage {
    TensorStorage(byteCount: byteCount) { buffer in
        var index = 0
        while index < byteCount {
            var word = random.next()
            for _ in 0..<8 where index < byteCount {
                buffer[index] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                index += 1
            }
        }
    }
}

/// A packed operator with random codes and zero points and scales in [0.001, 0.01).
func randomPacked(bits: Int, out: Int, in inputs: Int, context: ComputeContext) throws -> PackedLinear {
    var random = RandomGenerator(seed: UInt64(bits))
    let layout = try PackedLayout(bits: bits, groupSize: 128, inputCount: inputs, outputCount: out)
    let scales = (0..<(out * layout.groups)).map { _ in Float16(random.nextFloat(in: 0.001..<0.01)).bitPattern }
    return try PackedLinear(
        bits: bits, groupSize: 128, inputCount: inputs, outputCount: out,
        codes: randomStorage(layout.codeByteCount, &random), scales: TensorStorage(array: scales),
        zeros: randomStorage(layout.zeroByteCount, &random), context: context)
}

/// An integer operator (W8A8, or W4A4 on the same int8 kernels) with random codes of
/// `weightBits`, per-row scales and per-token `activationBits` activations.
private func randomInteger(weightBits: Int = 8, activationBits: Int = 8, out: Int, in inputs: Int, context: ComputeContext)
    throws -> Int8Linear
{
    var random = RandomGenerator(seed: UInt64(weightBits))
    let levels = (1 << weightBits) - 1
    let codes = (0..<(out * inputs)).map { _ in Int8(random.nextInt(below: levels) - levels / 2) }
    let scales = (0..<out).map { _ in random.nextFloat(in: 0.0001..<0.001) }
    return try Int8Linear(
        weights: codes, weightScales: scales, bias: nil, inputCount: inputs, outputCount: out, weightBits: weightBits,
        activation: ActivationScheme(bits: activationBits), context: context)
}

/// Seconds per call of `operation` on `rows` rows: best of `runs` loops of `repeats` calls.
func secondsPerCall(_ operation: any LinearOperator, rows: Int, runs: Int, repeats: Int) -> Double {
    let input = (0..<(rows * operation.inputCount)).map { Float(($0 * 7919) % 1000) / 1000 - 0.5 }
    var output = [Float](repeating: 0, count: rows * operation.outputCount)
    var bestTime = Double.infinity
    input.withUnsafeBufferPointer { x in
        output.withUnsafeMutableBufferPointer { y in
            operation.apply(input: x.baseAddress!, rows: rows, output: y.baseAddress!)  // warm-up
            for _ in 0..<runs {
                let start = DispatchTime.now().uptimeNanoseconds
                for _ in 0..<repeats { operation.apply(input: x.baseAddress!, rows: rows, output: y.baseAddress!) }
                bestTime = min(bestTime, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(repeats))
            }
        }
    }
    if output[0].isNaN { print("kernel checksum NaN") }
    return bestTime
}

/// Runs the kernel benchmarks on `threadCounts` threads and prints one table.
func printKernelBenchmarks(runs: Int = 5, threadCounts: [Int] = [1, 2]) throws {
    let shapes = [("attn q/o 576×576", 576, 576), ("mlp down 576×1536", 576, 1536), ("mlp up 1536×576", 1536, 576),
                  ("lm head 49152×576", 49152, 576)]
    var lines: [String] = []
    for threads in threadCounts {
        let context = ComputeContext(threadCount: threads)
        ComputeContext.applyBLASThreadCount(threads)
        for (label, out, inputs) in shapes {
            var random = RandomGenerator(seed: 3)
            let weight = try Matrix(rows: out, columns: inputs, values: random.uniformValues(count: out * inputs, in: -0.05..<0.05))
            let dense = try DenseLinear(weight: weight)
            let denseBytes = Double(out * inputs * 4)
            let flops = 2.0 * 512 * Double(out * inputs)
            let gemvRepeats = max(1, 20_000_000 / (out * inputs))
            let denseGEMV = secondsPerCall(dense, rows: 1, runs: runs, repeats: gemvRepeats)
            lines.append(String(format: "| %@ | %d | f32 GEMV | %.1f µs | %.1f GB/s | 1.00× |", label, threads,
                                denseGEMV * 1e6, denseBytes / denseGEMV / 1e9))
            for bits in [4, 8, 3] {
                let packed = try randomPacked(bits: bits, out: out, in: inputs, context: context)
                let bytes = Double(packed.codes.bytes.count + packed.scales.bytes.count + packed.zeros.bytes.count)
                let time = secondsPerCall(packed, rows: 1, runs: runs, repeats: gemvRepeats)
                lines.append(String(format: "| %@ | %d | int%d g128 GEMV | %.1f µs | %.1f GB/s | %.2f× |", label, threads, bits,
                                    time * 1e6, bytes / time / 1e9, denseGEMV / time))
                if bits != 3 {
                    var integer = packed
                    integer.activationPrecision = .int8
                    let integerTime = secondsPerCall(integer, rows: 1, runs: runs, repeats: gemvRepeats)
                    lines.append(String(format: "| %@ | %d | int%d g128 GEMV, int8 activations | %.1f µs | %.1f GB/s | %.2f× |",
                                        label, threads, bits, integerTime * 1e6, bytes / integerTime / 1e9, denseGEMV / integerTime))
                }
            }
            let int8 = try randomInteger(out: out, in: inputs, context: context)
            let int8Time = secondsPerCall(int8, rows: 1, runs: runs, repeats: gemvRepeats)
            lines.append(String(format: "| %@ | %d | W8A8 int8×int8 GEMV | %.1f µs | %.1f GB/s | %.2f× |", label, threads,
                                int8Time * 1e6, Double(out * inputs) / int8Time / 1e9, denseGEMV / int8Time))
            // W4A4 runs the same int8 kernels on 4-bit codes (one byte per weight, 7-level activations).
            let w4a4 = try randomInteger(weightBits: 4, activationBits: 4, out: out, in: inputs, context: context)
            let w4a4Time = secondsPerCall(w4a4, rows: 1, runs: runs, repeats: gemvRepeats)
            lines.append(String(format: "| %@ | %d | W4A4 on int8 kernels GEMV | %.1f µs | %.1f GB/s | %.2f× |", label,
                                threads, w4a4Time * 1e6, Double(out * inputs) / w4a4Time / 1e9, denseGEMV / w4a4Time))
            let gemmRuns = out * inputs > 10_000_000 ? 2 : runs
            let denseGEMM = secondsPerCall(dense, rows: 512, runs: gemmRuns, repeats: 1)
            lines.append(String(format: "| %@ | %d | f32 GEMM 512 rows | %.2f ms | %.1f GFLOP/s | 1.00× |", label, threads,
                                denseGEMM * 1e3, flops / denseGEMM / 1e9))
            let packed4 = try randomPacked(bits: 4, out: out, in: inputs, context: context)
            let packedGEMM = secondsPerCall(packed4, rows: 512, runs: gemmRuns, repeats: 1)
            lines.append(String(format: "| %@ | %d | int4 g128 GEMM 512 rows | %.2f ms | %.1f GFLOP/s | %.2f× |", label, threads,
                                packedGEMM * 1e3, flops / packedGEMM / 1e9, denseGEMM / packedGEMM))
            var integer4 = packed4
            integer4.activationPrecision = .int8
            let integerGEMM = secondsPerCall(integer4, rows: 512, runs: gemmRuns, repeats: 1)
            lines.append(String(format: "| %@ | %d | int4 g128 GEMM 512 rows, int8 activations | %.2f ms | %.1f GOP/s | %.2f× |",
                                label, threads, integerGEMM * 1e3, flops / integerGEMM / 1e9, denseGEMM / integerGEMM))
            let int8GEMM = secondsPerCall(int8, rows: 512, runs: gemmRuns, repeats: 1)
            lines.append(String(format: "| %@ | %d | W8A8 int8×int8 GEMM 512 rows | %.2f ms | %.1f GOP/s | %.2f× |", label,
                                threads, int8GEMM * 1e3, flops / int8GEMM / 1e9, denseGEMM / int8GEMM))
            let w4a4GEMM = secondsPerCall(w4a4, rows: 512, runs: gemmRuns, repeats: 1)
            lines.append(String(format: "| %@ | %d | W4A4 on int8 kernels GEMM 512 rows | %.2f ms | %.1f GOP/s | %.2f× |",
                                label, threads, w4a4GEMM * 1e3, flops / w4a4GEMM / 1e9, denseGEMM / w4a4GEMM))
        }
    }
    ComputeContext.applyBLASThreadCount(1)
    print("Packed linear kernels — synthetic SmolLM2 shapes (out × in), best of \(runs); threads = ours and OpenBLAS's")
    print("| matrix | threads | kernel | time | throughput | speed vs f32 |")
    print("|---|---|---|---|---|---|")
    for line in lines { print(line) }
}
