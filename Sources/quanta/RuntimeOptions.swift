import ArgumentParser
import Foundation
import QuantaRuntime
import QuantaTensor

extension LoadedModel.HeadFormat: ExpressibleByArgument {}
extension ActivationPrecision: ExpressibleByArgument {}

/// Options shared by every command that computes.
struct RuntimeOptions: ParsableArguments {
    @Option(help: "Threads for parallel work (default: all cores). BLAS threads follow OPENBLAS_NUM_THREADS.")
    var threads: Int?

    @Option(help: "Seed for anything random (sampling; for quantize, overrides the calibration spec's seed).")
    var seed: UInt64?

    @Option(help: "Containers: LM head as stored (exact; f16 runs on the f16 kernel) or int8 (re-quantized at load, faster decoding, not exact).")
    var head: LoadedModel.HeadFormat = .exact

    @Option(help: "Containers: decode-path activations of 4-bit linears, float (exact) or int8 (integer dot products, faster, not exact).")
    var activations: ActivationPrecision = .float

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    var computeContext: ComputeContext {
        ComputeContext(threadCount: threads ?? ProcessInfo.processInfo.activeProcessorCount, seed: seed ?? 0)
    }
}

/// Progress with an ETA on standard error, only when it is a terminal.
struct ProgressLine {
    let label: String
    let enabled: Bool

    init(label: String, quiet: Bool = false) {
        self.label = label
        enabled = !quiet && isatty(STDERR_FILENO) != 0
    }

    func update(done: Int, total: Int, elapsed: Double) {
        guard enabled else { return }
        let remaining = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
        let text = String(format: "\r%@ %d/%d  %.0fs elapsed, ETA %.0fs   ", label, done, total, elapsed, remaining)
        FileHandle.standardError.write(Data(text.utf8))
        if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// `--force`, shared by every command that writes an output.
struct ReplaceOption: ParsableArguments {
    @Flag(help: "Replace a non-empty directory or an entry of the other kind at --output; the old one is removed only once the new output is complete. Inputs are never replaced.")
    var force = false
}
