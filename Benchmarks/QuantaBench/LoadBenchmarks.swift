import Foundation
import QuantaFormats
import QuantaRuntime
import QuantaTensor

/// `QuantaBench --load PATH`: load time, resident memory after loading, and prefill/decode
/// speed of one model (a Quanta container on its packed kernels, or an FP model), in a
/// process of its own so the memory figure is that model's alone.
func loadBenchmarkRows(
    path: String, runs: Int, head: LoadedModel.HeadFormat = .exact, activations: ActivationPrecision = .float
) throws -> [(String, String, String)] {
    let start = DispatchTime.now().uptimeNanoseconds
    let loaded = try LoadedModel.load(path: path, computeContext: ComputeContext(threadCount: 1), head: head, activations: activations)
    let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    var options: [String] = []
    if head != .exact { options.append("\(head.rawValue) head") }
    if activations != .float { options.append("\(activations.rawValue) activations") }
    let name = (path as NSString).lastPathComponent + (options.isEmpty ? "" : " (" + options.joined(separator: ", ") + ")")
    var rows: [(String, String, String)] = [
        ("load \(name)", String(format: "%.3f s", loadSeconds), String(format: "RSS %.0f MB", residentMegabytes()))
    ]
    // A container is compared with llama.cpp's 4-bit formats, a float model with its F32.
    let anchors = (try? ModelFormat.detect(path: path)) == .quanta ? llamaCppSpeeds(["Q4_0", "Q4_K_M"]) : llamaCppSpeeds(["F32"])
    rows += try speedRows(model: loaded.model, name: name, runs: runs, anchors: anchors)
    return rows
}

/// The current resident set size, from /proc/self/statm.
func residentMegabytes() -> Double {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Double(fields[1]) else { return 0 }
    return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1e6
}
