import Foundation
import QuantaModel
import QuantaTensor

// `QuantaBench --attention`: one decode step of self-attention over a KV cache of T
// positions, f32 cache against the packed low-bit caches, SmolLM2 geometry (9 query heads,
// 3 KV heads, head dimension 64), 1 thread (ours and OpenBLAS's). The q/k/v projections are
// replaced by fixed rows (a copy), so a step is: RoPE, storing the new key and value
// (quantizing them for a packed cache), and attention over the cache (a packed cache is
// dequantized first). Best of several runs of 32 steps each, from a freshly filled cache.

/// A "projection" that writes the same random row for every input row: attention's cost
/// without the q/k/v GEMVs.
private struct FixedRowLinear: LinearOperator {
    let inputCount: Int
    let outputCount: Int
    let row: [Float]

    init(inputCount: Int, outputCount: Int, seed: UInt64) {
        self.inputCount = inputCount
        self.outputCount = outputCount
        var random = RandomGenerator(seed: seed)
        row = random.normalValues(count: outputCount)
    }

    func apply(input: UnsafePointer<Float>, rows: Int, output: UnsafeMutablePointer<Float>) {
        row.withUnsafeBufferPointer { source in
            for index in 0..<rows { (output + index * outputCount).update(from: source.baseAddress!, count: outputCount) }
        }
    }
}

/// Seconds per decode step at context `length` with `quantizer` (nil: f32 cache).
private func decodeStepSeconds(
    attention: SelfAttention, quantizer: KeyValueQuantizer?, length: Int, steps: Int, runs: Int
) -> Double {
    let kvWidth = attention.kvHeads * attention.headDimension
    var random = RandomGenerator(seed: UInt64(length))
    let keys = random.normalValues(count: length * kvWidth)
    let values = random.normalValues(count: length * kvWidth)
    let input = Matrix(rows: 1, columns: attention.queryProjection.inputCount)
    var best = Double.infinity
    var sink: Float = 0
    for _ in 0..<runs {
        var layer: KVCache.Layer? = KVCache(
            layerCount: 1, kvHeads: attention.kvHeads, headDimension: attention.headDimension, capacity: length + steps,
            quantizers: [quantizer]
        ).layers[0]
        layer!.append(keys: keys, values: values, rows: length, rowStride: kvWidth)
        let time = seconds {
            for step in 0..<steps {
                let position = length + step
                let output = attention.attended(input, positions: position..<(position + 1), cache: &layer, context: .serial())
                sink += output.values[0]
            }
        }
        best = min(best, time / Double(steps))
    }
    if sink.isNaN { print("attention checksum NaN") }
    return best
}

/// Prints the decode-attention table.
func printAttentionBenchmarks(lengths: [Int] = [256, 1024, 4096], runs: Int = 5) throws {
    ComputeContext.applyBLASThreadCount(1)
    let hidden = 576
    let (heads, kvHeads, dimension) = (9, 3, 64)
    let rotary = RotaryEmbedding(headDimension: dimension, base: 100_000)
    let settings: [(String, KeyValueQuantizer?)] = [
        ("f32", nil),
        ("int8 g64 asymmetric", try KeyValueQuantizer(bits: 8, groupSize: 64)),
        ("int4 g64 asymmetric", try KeyValueQuantizer(bits: 4, groupSize: 64)),
    ]
    print("Decode attention step over a KV cache of T positions — SmolLM2 geometry (9 heads, 3 KV heads, head dim 64), "
        + "one layer, 1 thread (BLAS 1), q/k/v projections left out; best of \(runs) runs of 32 steps")
    print("| T | cache | bytes per position (layer) | cache bytes | time per step | vs f32 |")
    print("|---|---|---|---|---|---|")
    for length in lengths {
        var f32Time = 0.0
        for (name, quantizer) in settings {
            var attention = SelfAttention(
                queryProjection: FixedRowLinear(inputCount: hidden, outputCount: heads * dimension, seed: 1),
                keyProjection: FixedRowLinear(inputCount: hidden, outputCount: kvHeads * dimension, seed: 2),
                valueProjection: FixedRowLinear(inputCount: hidden, outputCount: kvHeads * dimension, seed: 3),
                outputProjection: FixedRowLinear(inputCount: heads * dimension, outputCount: hidden, seed: 4),
                heads: heads, kvHeads: kvHeads, headDimension: dimension, rotary: rotary)
            if let quantizer { try attention.enableKeyValueQuantization(quantizer) }
            let time = decodeStepSeconds(attention: attention, quantizer: quantizer, length: length, steps: 32, runs: runs)
            if quantizer == nil { f32Time = time }
            let perPosition = KVCache.Layer.bytesPerPosition(kvHeads: kvHeads, headDimension: dimension, quantizer: quantizer)
            print(String(format: "| %d | %@ | %d | %.2f MB | %.1f µs | %.2f× |", length, name, perPosition,
                         Double(perPosition * length) / 1e6, time * 1e6, f32Time / time))
        }
    }
}
