import ArgumentParser
import Foundation
import QuantaFormats

/// `quanta report EVAL.json...`: one table row per evaluated model (bits per weight, size,
/// perplexity, Δ vs the full-precision row, quantization time), in Markdown.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Tabulate perplexity results (JSON from `quanta eval perplexity --json`) with their models' sizes."
    )

    @Argument(help: "Evaluation JSON files; the row of a model without quantization.json is the FP reference.")
    var evaluations: [String]

    @Flag(help: "Quality per bit: ppl against bits per weight (linears and whole file) of evaluated .quanta containers.")
    var bits = false

    @Option(help: "With --bits: llama.cpp's rows from this file (shared/fixtures/llamacpp.json), labelled as llama.cpp's.")
    var llamacpp: String?

    struct Row {
        var name: String
        var bitsPerWeight: Double?
        var megabytes: Double
        var perplexity: Double
        var seconds: Double?
        var isReference: Bool
    }

    func run() throws {
        if bits {
            let (ours, protocolLine) = try BitsReport.ourRows(evaluations: evaluations)
            let theirs = try llamacpp.map(BitsReport.llamaCppRows(fixture:)) ?? []
            print(BitsReport.table(ours: ours, theirs: theirs, protocolLine: protocolLine, fixturePath: llamacpp))
            return
        }
        var rows: [Row] = []
        var protocolLine = ""
        for path in evaluations {
            let evaluation = try JSONValue.read(path: path)
            guard let model = evaluation["model"]?.stringValue, let perplexity = evaluation["ppl"]?.doubleValue else {
                throw FormatError.missingField(path: path, field: "model' or 'ppl")
            }
            protocolLine = "protocol \(evaluation["protocol"]?.stringValue ?? "?"), context \(evaluation["context"]?.integerValue ?? 0), \(evaluation["windows"]?.integerValue ?? 0) windows"
            let summary = try ModelFiles.summary(path: model)
            let quantizationPath = model + "/quantization.json"
            var row = Row(
                name: (model as NSString).lastPathComponent, bitsPerWeight: nil,
                megabytes: Double(summary.parameterCount) * 2 / 1e6, perplexity: perplexity, seconds: nil, isReference: true)
            if FileManager.default.fileExists(atPath: quantizationPath) {
                let quantization = try QuantizationMetadata.read(path: quantizationPath)
                let bits = quantization.bitsPerWeightLinears
                let linearParameters = quantization.tensors.values.reduce(0) { $0 + $1.shape.reduce(1, *) }
                row.isReference = false
                row.name = quantization.recipe["name"]?.stringValue ?? row.name
                row.bitsPerWeight = bits
                row.seconds = (try? JSONValue.read(path: model + "/timing.json"))?["seconds"]?.doubleValue
                // Quantized linears at their bits per weight, everything else at 16 bits.
                row.megabytes = (Double(linearParameters) * bits + Double(summary.parameterCount - linearParameters) * 16) / 8 / 1e6
            }
            rows.append(row)
        }
        let reference = rows.first(where: \.isReference)?.perplexity
        rows.sort { ($0.isReference ? 0 : 1, $0.perplexity) < ($1.isReference ? 0 : 1, $1.perplexity) }
        print("Perplexity on \(protocolLine); size with unquantized tensors at 16 bits.\n")
        print("| model | bits/weight (linears) | size (MB) | ppl | Δppl vs FP | quantize time (s) |")
        print("|---|---|---|---|---|---|")
        for row in rows {
            let bits = row.bitsPerWeight.map { String(format: "%.3f", $0) } ?? "16 (FP)"
            let delta = reference.map { String(format: "%+.3f", row.perplexity - $0) } ?? "–"
            let seconds = row.seconds.map { String(format: "%.1f", $0) } ?? "–"
            print("| \(row.name) | \(bits) | \(String(format: "%.1f", row.megabytes)) | \(String(format: "%.4f", row.perplexity)) | \(delta) | \(seconds) |")
        }
    }
}
