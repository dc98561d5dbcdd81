import Foundation
import QuantaFormats
import QuantaModel
import QuantaTensor

/// llama.cpp's speed on SmolLM2 for `formats` (llama-bench, 2 threads, same machine kind), read
/// from shared/fixtures/llamacpp.json `speed_llama_bench_t2`; formats missing there are left out.
func llamaCppSpeeds(_ formats: [String]) -> [(format: String, prefill: Double, decode: Double)] {
    let shared = ProcessInfo.processInfo.environment["QUANTA_SHARED"] ?? "../shared"
    guard let fixture = try? JSONValue.read(path: shared + "/fixtures/llamacpp.json") else { return [] }
    return formats.compactMap { format in
        guard let entry = fixture["speed_llama_bench_t2"]?[format], let prefill = entry["pp512_tok_s"]?.doubleValue,
            let decode = entry["tg128_tok_s"]?.doubleValue
        else { return nil }
        return (format, prefill, decode)
    }
}

/// "llama.cpp Q4_0 2 threads: 852, Q4_K_M: 609" for the prefill (or decode) column.
func anchorText(_ anchors: [(format: String, prefill: Double, decode: Double)], decode: Bool) -> String {
    guard !anchors.isEmpty else { return "" }
    let values = anchors.map { "\($0.format) \(String(format: "%.0f", decode ? $0.decode : $0.prefill))" }
    return " (llama.cpp, 2 threads: " + values.joined(separator: ", ") + ")"
}

/// Transformer rows: prefill of a 512-token window (the head on the last row only, as
/// llama-bench's pp512) and greedy decoding of 128 tokens after an 8-token prompt (tg128),
/// with 1 and 2 threads (ours and OpenBLAS's). OpenBLAS cannot grow past the thread count
/// it started with, so the 2-thread rows need OPENBLAS_NUM_THREADS unset or ≥ 2; each row
/// names the BLAS thread count it really ran with.
func transformerBenchmarkRows(checkpoint: ModelCheckpoint, runs: Int) throws -> [(String, String, String)] {
    try speedRows(model: TransformerModel(checkpoint: checkpoint), name: "SmolLM2 f32", runs: runs, anchors: llamaCppSpeeds(["F32"]))
}

/// Prefill and decode rows for `model` (any linears: dense or packed), 1 and 2 threads, with
/// llama.cpp's figures for `anchors` beside them.
func speedRows(
    model original: TransformerModel, name: String, runs: Int, anchors: [(format: String, prefill: Double, decode: Double)]
) throws -> [(String, String, String)] {
    var model = original
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
        var prefillTime = Double.infinity
        var prefillCPU = Double.infinity
        for _ in 0..<runs {
            let cpuStart = processCPUSeconds()
            prefillTime = min(prefillTime, try seconds {
                let hidden = try model.forward(tokens: window)
                sink += model.logits(hidden: hidden, rows: (hidden.rows - 1)..<hidden.rows).values[0]
            })
            prefillCPU = min(prefillCPU, processCPUSeconds() - cpuStart)
        }
        rows.append((
            "transformer prefill pp512, \(label)",
            String(format: "%.3f s", prefillTime),
            String(format: "%.0f tok/s", 512 / prefillTime) + cpuText(512 / prefillCPU, threads: threads)
                + anchorText(anchors, decode: false)))
        var decodeSeconds = Double.infinity
        var decodeCPU = Double.infinity
        for _ in 0..<runs {
            let timing = try timeDecoding(model, prompt: prompt, steps: 128, sink: &sink)
            decodeSeconds = min(decodeSeconds, timing.wall)
            decodeCPU = min(decodeCPU, timing.cpu)
        }
        rows.append((
            "transformer decode tg128, \(label)",
            String(format: "%.3f s", decodeSeconds),
            String(format: "%.1f tok/s", 128 / decodeSeconds) + cpuText(128 / decodeCPU, threads: threads)
                + anchorText(anchors, decode: true)))
        if sink.isNaN { print("transformer checksum NaN") }
    }
    ComputeContext.applyBLASThreadCount(1)
    return rows
}

/// CPU seconds this process has used (all threads).
func processCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// With one thread, the speed by CPU time: what the run would reach on a core of its own,
/// which on a shared machine (other jobs taking turns on the cores) is the steadier figure.
func cpuText(_ speed: Double, threads: Int) -> String {
    threads == 1 ? String(format: ", %.0f by CPU time", speed) : ""
}

/// Wall and CPU seconds for `steps` greedy decoding steps (KV cache, head GEMV, argmax)
/// after `prompt` (the prompt's prefill is not timed).
func timeDecoding(_ model: TransformerModel, prompt: [Int], steps: Int, sink: inout Float) throws -> (wall: Double, cpu: Double) {
    var cache: KVCache? = model.makeCache(capacity: prompt.count + steps)
    var next = try model.nextTokenLogits(tokens: prompt, cache: &cache)
    let cpuStart = processCPUSeconds()
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<steps {
        next = try model.nextTokenLogits(tokens: [TransformerModel.argmax(next)], cache: &cache)
    }
    let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let cpu = processCPUSeconds() - cpuStart
    sink += next[0]
    return (elapsed, cpu)
}
