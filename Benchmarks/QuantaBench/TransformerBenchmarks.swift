import Foundation
import QuantaFormats
import QuantaModel
import QuantaTensor

/// llama.cpp's F32 speed on SmolLM2 (llama-bench, 2 threads, same machine kind), from
/// shared/fixtures/llamacpp.json `speed_llama_bench_t2.F32`; the literal fallback is that file's value.
func llamaCppF32Speed() -> (prefill: Double, decode: Double) {
    let shared = ProcessInfo.processInfo.environment["QUANTA_SHARED"] ?? "../shared"
    if let fixture = try? JSONValue.read(path: shared + "/fixtures/llamacpp.json"),
        let f32 = fixture["speed_llama_bench_t2"]?["F32"],
        let prefill = f32["pp512_tok_s"]?.doubleValue, let decode = f32["tg128_tok_s"]?.doubleValue
    {
        return (prefill, decode)
    }
    return (107, 32)
}

/// Transformer rows: prefill of a 512-token window (the head on the last row only, as
/// llama-bench's pp512) and greedy decoding of 128 tokens after an 8-token prompt (tg128),
/// with 1 and 2 threads (ours and OpenBLAS's). OpenBLAS cannot grow past the thread count
/// it started with, so the 2-thread rows need OPENBLAS_NUM_THREADS unset or ≥ 2; each row
/// names the BLAS thread count it really ran with.
func transformerBenchmarkRows(checkpoint: ModelCheckpoint, runs: Int) throws -> [(String, String, String)] {
    try speedRows(model: TransformerModel(checkpoint: checkpoint), name: "SmolLM2 f32", runs: runs)
}

/// Prefill and decode rows for `model` (any linears: dense or packed), 1 and 2 threads.
func speedRows(model original: TransformerModel, name: String, runs: Int) throws -> [(String, String, String)] {
    var model = original
    let anchor = llamaCppF32Speed()
    var generator = RandomGenerator(seed: 1)
    let window = (0..<512).map { _ in generator.nextInt(below: model.vocabularySize) }
    let prompt = Array(window.prefix(8))
    var rows: [(String, String, String)] = []
    for threads in [1, 2] {
        let context = ComputeContext(threadCount: threads)
        context.applyBLASThreadCount()
        model.computeContext = context
        let label = "\(name), \(threads) thread\(threads > 1 ? "s" : "") (BLAS \(ComputeContext.blasThreadCount))"
        var sink: Float = 0
        let prefillTime = try best(runs) {
            let hidden = try model.forward(tokens: window)
            sink += model.logits(hidden: hidden, rows: (hidden.rows - 1)..<hidden.rows).values[0]
        }
        rows.append((
            "transformer prefill pp512, \(label)",
            String(format: "%.3f s", prefillTime),
            String(format: "%.0f tok/s (llama.cpp F32, 2 threads: %.0f)", 512 / prefillTime, anchor.prefill)))
        var decodeSeconds = Double.infinity
        for _ in 0..<runs { decodeSeconds = min(decodeSeconds, try timeDecoding(model, prompt: prompt, steps: 128, sink: &sink)) }
        rows.append((
            "transformer decode tg128, \(label)",
            String(format: "%.3f s", decodeSeconds),
            String(format: "%.1f tok/s (llama.cpp F32, 2 threads: %.0f)", 128 / decodeSeconds, anchor.decode)))
        if sink.isNaN { print("transformer checksum NaN") }
    }
    ComputeContext.applyBLASThreadCount(1)
    return rows
}

/// Seconds for `steps` greedy decoding steps (KV cache, head GEMV, argmax) after `prompt`
/// (the prompt's prefill is not timed).
func timeDecoding(_ model: TransformerModel, prompt: [Int], steps: Int, sink: inout Float) throws -> Double {
    var cache: KVCache? = model.makeCache(capacity: prompt.count + steps)
    var next = try model.nextTokenLogits(tokens: prompt, cache: &cache)
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<steps {
        next = try model.nextTokenLogits(tokens: [TransformerModel.argmax(next)], cache: &cache)
    }
    let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    sink += next[0]
    return elapsed
}
