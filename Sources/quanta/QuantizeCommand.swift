import ArgumentParser
import Foundation
import QuantaFormats
import QuantaPipeline

/// `quanta quantize --model M --recipe R [--calibration C] --output OUT`.
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Quantize a model as a recipe says (RTN, GPTQ), layer by layer with calibration data.",
        discussion: """
            OUT is a Hugging Face directory holding the dequantized (simulated) weights plus
            quantization.safetensors (integer codes, scales, zero points, group indices),
            quantization.json (schemes, provenance) and recipe.json; a .quanta container of
            packed weights; a .gguf file for llama.cpp; or, with --format
            compressed-tensors, a directory for vLLM / transformers (see `quanta export`).
            Calibration text is found under $QUANTA_DATA (default ../shared/data).
            """
    )

    @Option(help: "Model: Hugging Face directory, .h5 or .gguf file.")
    var model: String

    @Option(help: "Recipe YAML file (see recipes/).")
    var recipe: String

    @Option(help: "Calibration spec YAML file (see calibration/); needed by GPTQ.")
    var calibration: String?

    @Option(help: "Calibration text file, instead of the spec's source under $QUANTA_DATA.")
    var calibrationSource: String?

    @Option(name: .shortAndLong, help: "Output: a directory (simulated weights), X.quanta (container) or X.gguf.")
    var output: String

    @Option(help: "Export the result directly: gguf or compressed-tensors (a .gguf output implies gguf).")
    var format: ExportFormat?

    @Flag(help: "No progress lines.")
    var quiet = false

    @Flag(help: "Containers: store every array raw (no zstd), so the whole file is used in place from the mapping.")
    var noCompress = false

    @Flag(help: "Skip the short validation run after writing a .quanta container.")
    var noValidate = false

    @Option(help: "Text for the validation run (default: $QUANTA_DATA/wikitext-2-raw/wiki.test.raw).")
    var validationText: String?

    @OptionGroup var replace: ReplaceOption

    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        let quiet = self.quiet
        var job = QuantizationJob(
            modelPath: model, recipePath: recipe, calibrationPath: calibration, outputPath: output,
            context: runtime.computeContext, calibrationSeed: runtime.seed
        ) { line in
            if !quiet { FileHandle.standardError.write(Data((line + "\n").utf8)) }
        }
        job.compressContainer = !noCompress
        job.exportFormat = format
        job.replaceExisting = replace.force
        job.calibrationSourcePath = calibrationSource
        let start = Date()
        try job.run()
        if QuantizationJob.writesContainer(output), format == nil, !noValidate {
            let text = try validationText ?? (CalibrationSpec.defaultDataDirectory() + "/wikitext-2-raw/wiki.test.raw")
            var validation = try ValidateCommand.parse([
                output, "--reference", model, "--text", text, "--windows", "1",
            ])
            validation.runtime = runtime
            do { try validation.run() } catch {
                let failed = AtomicOutput.setAsideFailed(output)
                let reason = error is ExitCode ? "" : ": " + ((error as? LocalizedError)?.errorDescription ?? "\(error)")
                FileHandle.standardError.write(Data(
                    "Error: \(output) failed its validation\(reason); \(failed.map { "it was moved to \($0)" } ?? "it was removed")\n".utf8))
                throw ExitCode.failure
            }
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        // Linux reports ru_maxrss in KiB.
        FileHandle.standardError.write(Data(String(
            format: "timing: wall_seconds=%.1f peak_rss_mb=%.0f threads=%d\n", Date().timeIntervalSince(start),
            Double(usage.ru_maxrss) / 1024, runtime.computeContext.threadCount).utf8))
    }
}
