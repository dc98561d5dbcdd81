import Foundation
import QuantaFormats
import QuantaModel
import QuantaRuntime
import QuantaTensor

// `make bench`: release-build timings on the test model, best of N runs, printed as a table.
// Single-threaded (the importer and readers are serial; OPENBLAS_NUM_THREADS=1).

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func best(_ runs: Int, _ body: () throws -> Void) rethrows -> Double {
    var result = Double.infinity
    for _ in 0..<runs { result = min(result, try seconds(body)) }
    return result
}

/// Sums every float so that each byte of the tensor is read.
func touch(_ tensors: [NamedTensor]) throws -> Double {
    var total = 0.0
    for item in tensors { total += Double(try item.tensor.floatValues().reduce(0, +)) }
    return total
}

if let index = CommandLine.arguments.firstIndex(of: "--load"), index + 1 < CommandLine.arguments.count {
    do {
        let head: LoadedModel.HeadFormat = CommandLine.arguments.contains("--int8-head") ? .int8 : .exact
        printTable(title: "Quanta load and speed — best of 3",
                   try loadBenchmarkRows(
                       path: CommandLine.arguments[index + 1], runs: 3, head: head,
                       activations: CommandLine.arguments.contains("--int8-activations") ? .int8 : .float))
        exit(0)
    } catch {
        FileHandle.standardError.write(Data("benchmark failed: \((error as? LocalizedError)?.errorDescription ?? "\(error)")\n".utf8))
        exit(1)
    }
}

if let index = CommandLine.arguments.firstIndex(of: "--sparse") {
    do { try printSparseBenchmarks(models: Array(CommandLine.arguments[(index + 1)...])) } catch {
        print("sparse benchmarks failed: \((error as? LocalizedError)?.errorDescription ?? "\(error)")")
        exit(1)
    }
    exit(0)
}

if CommandLine.arguments.contains("--attention") {
    do { try printAttentionBenchmarks() } catch { print("attention benchmarks failed: \(error)"); exit(1) }
    exit(0)
}

if CommandLine.arguments.contains("--kernels") {
    // `--threads N` restricts the table to N threads (default: 1 and 2).
    let threadCounts = CommandLine.arguments.firstIndex(of: "--threads").flatMap {
        $0 + 1 < CommandLine.arguments.count ? Int(CommandLine.arguments[$0 + 1]).map { [$0] } : nil
    } ?? [1, 2]
    do { try printKernelBenchmarks(threadCounts: threadCounts) } catch { print("kernel benchmarks failed: \(error)"); exit(1) }
    exit(0)
}

guard let ggufPath = ProcessInfo.processInfo.environment["QUANTA_MODEL_GGUF"] else {
    FileHandle.standardError.write(Data("set QUANTA_MODEL_GGUF to the SmolLM2 GGUF (make bench does)\n".utf8))
    exit(2)
}
let runs = 3
var rows: [(String, String, String)] = []
do {
    var checkpoint: ModelCheckpoint?
    let importTime = try best(runs) { checkpoint = try GGUFImporter.importCheckpoint(path: ggufPath) }
    let model = checkpoint!
    let fpBytes = Double(model.tensors.reduce(0) { $0 + $1.tensor.byteCount })
    rows.append(("GGUF import (parse, dequantize, un-permute)", String(format: "%.3f s", importTime),
                 String(format: "%.2f GB/s of f32 output", fpBytes / importTime / 1e9)))

    let directory = NSTemporaryDirectory() + "quanta-bench-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let writeTime = try best(1) { try HuggingFaceDirectory.write(model, to: directory) }
    rows.append(("safetensors write (f32, \(Int(fpBytes / 1e6)) MB)", String(format: "%.3f s", writeTime),
                 String(format: "%.2f GB/s", fpBytes / writeTime / 1e9)))

    let openTime = try best(runs) { _ = try SafetensorsFile(path: directory + "/model.safetensors").tensors() }
    rows.append(("safetensors open (mmap, header, validate)", String(format: "%.4f s", openTime), "-"))

    var checksum = 0.0
    let loadTime = try best(runs) { checksum += try touch(HuggingFaceDirectory.read(path: directory).tensors) }
    rows.append(("safetensors load + read every f32", String(format: "%.3f s", loadTime),
                 String(format: "%.2f GB/s", fpBytes / loadTime / 1e9)))
    let bf16 = ModelCheckpoint(
        config: model.config,
        tensors: try model.tensors.map { NamedTensor(name: $0.name, tensor: try $0.tensor.converted(to: .bfloat16)) })
    try HuggingFaceDirectory.write(bf16, to: directory)
    let bf16Time = try best(runs) { checksum += try touch(HuggingFaceDirectory.read(path: directory).tensors) }
    rows.append(("safetensors load BF16 → f32", String(format: "%.3f s", bf16Time),
                 String(format: "%.2f GB/s of file", fpBytes / 2 / bf16Time / 1e9)))
    // Tokenizer: encode the WikiText-2 test file with the converted model's tokenizer.
    let sharedPath = ProcessInfo.processInfo.environment["QUANTA_SHARED"] ?? "../shared"
    let wikiText = try TextFile.read(path: sharedPath + "/data/wikitext-2-raw/wiki.test.raw")
    let tokenizer = try Tokenizer(checkpoint: model, path: ggufPath)
    var tokenCount = 0
    let encodeTime = best(runs) { tokenCount = tokenizer.encode(wikiText).count }
    rows.append(("Tokenizer encode (WikiText-2 test, \(tokenCount) ids)", String(format: "%.3f s", encodeTime),
                 String(format: "%.1f MB/s, %.0f k tokens/s", Double(wikiText.utf8.count) / encodeTime / 1e6,
                        Double(tokenCount) / encodeTime / 1e3)))
    if checksum.isNaN { print("checksum NaN") }
    rows += try transformerBenchmarkRows(checkpoint: model, runs: runs)
} catch {
    FileHandle.standardError.write(Data("benchmark failed: \((error as? LocalizedError)?.errorDescription ?? "\(error)")\n".utf8))
    exit(1)
}

printTable(title: "Quanta benchmarks — SmolLM2-135M, best of \(runs)", rows)

func printTable(title: String, _ rows: [(String, String, String)]) {
    let widths = (rows.map(\.0.count).max()!, rows.map(\.1.count).max()!)
    print(title)
    print("| " + "benchmark".padding(toLength: widths.0, withPad: " ", startingAt: 0) + " | "
          + "time".padding(toLength: widths.1, withPad: " ", startingAt: 0) + " | throughput |")
    print("|" + String(repeating: "-", count: widths.0 + 2) + "|" + String(repeating: "-", count: widths.1 + 2) + "|------------|")
    for row in rows {
        print("| " + row.0.padding(toLength: widths.0, withPad: " ", startingAt: 0) + " | "
              + row.1.padding(toLength: widths.1, withPad: " ", startingAt: 0) + " | " + row.2 + " |")
    }
}
