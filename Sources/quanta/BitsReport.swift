import Foundation
import QuantaFormats

/// `quanta report --bits`: perplexity against bits per weight, over the decoder linears and
/// over the whole file, for evaluated containers (and the FP model), beside llama.cpp's rows
/// from `llamacpp.json` — read from that file at report time and labelled as llama.cpp's.
struct BitsReport {
    struct Row {
        var source: String
        var name: String
        var bitsLinears: Double
        var bitsFile: Double
        var megabytes: Double
        var perplexity: Double
        var isFullPrecision: Bool
        /// The fixture's own note on the row, if any.
        var note: String? = nil
    }

    /// One row per evaluation JSON (`quanta eval perplexity --json`); its model must be a
    /// Quanta container or a float model.
    static func ourRows(evaluations: [String]) throws -> (rows: [Row], protocolLine: String) {
        var rows: [Row] = []
        var protocols: Set<String> = []
        for path in evaluations {
            let evaluation = try JSONValue.read(path: path)
            guard let model = evaluation["model"]?.stringValue, let perplexity = evaluation["ppl"]?.doubleValue else {
                throw FormatError.missingField(path: path, field: "model' or 'ppl")
            }
            protocols.insert("protocol \(evaluation["protocol"]?.stringValue ?? "?"), context \(evaluation["context"]?.integerValue ?? 0), \(evaluation["windows"]?.integerValue ?? 0) windows, \(evaluation["tokens_scored"]?.integerValue ?? 0) tokens scored")
            let name = ((model as NSString).lastPathComponent as NSString).deletingPathExtension
            if try ModelFormat.detect(path: model) == .quanta {
                let size = try QuantaContainer(path: model, verify: false).sizeSummary
                rows.append(Row(
                    source: "Quanta", name: name, bitsLinears: size.bitsPerWeightLinears, bitsFile: size.bitsPerWeightFile,
                    megabytes: Double(size.fileByteCount) / 1e6, perplexity: perplexity, isFullPrecision: false))
            } else {
                // A float model: its tensor bytes over its parameters (32 for f32).
                let summary = try ModelFiles.summary(path: model)
                let bits = Double(summary.byteCount * 8) / Double(max(summary.parameterCount, 1))
                rows.append(Row(
                    source: "Quanta", name: name + " (FP)", bitsLinears: bits, bitsFile: bits,
                    megabytes: Double(summary.byteCount) / 1e6, perplexity: perplexity, isFullPrecision: true))
            }
        }
        guard protocols.count <= 1 else {
            throw FormatError.invalidField(
                path: evaluations.joined(separator: ", "), field: "protocol",
                detail: "the evaluations use different protocols or window counts: \(protocols.sorted())")
        }
        return (rows, protocols.first ?? "")
    }

    /// llama.cpp's rows from `perplexity_llamacpp_protocol_first40` of the fixture file.
    static func llamaCppRows(fixture path: String) throws -> [Row] {
        let fixture = try JSONValue.read(path: path)
        guard case .object(let entries)? = fixture["perplexity_llamacpp_protocol_first40"] else {
            throw FormatError.missingField(path: path, field: "perplexity_llamacpp_protocol_first40")
        }
        return try entries.map { name, entry in
            guard let perplexity = entry["ppl"]?.doubleValue, let linears = entry["bpw_linears"]?.doubleValue,
                let file = entry["bpw_file"]?.doubleValue
            else { throw FormatError.missingField(path: path, field: "\(name).ppl/bpw_linears/bpw_file") }
            return Row(
                source: "llama.cpp (fixture)", name: name.replacingOccurrences(of: "_imatrix", with: " + imatrix"),
                bitsLinears: linears, bitsFile: file, megabytes: entry["file_mb"]?.doubleValue ?? .nan,
                perplexity: perplexity, isFullPrecision: name == "F32", note: entry["note"]?.stringValue)
        }
    }

    /// The Markdown table: each source's rows by increasing perplexity, its FP row first;
    /// Δ is against the same source's FP row.
    static func table(ours: [Row], theirs: [Row], protocolLine: String, fixturePath: String?) -> String {
        var lines = [
            "Perplexity against bits per weight (\(protocolLine)).",
            "bits/weight (linears): packed decoder linears (codes + f16 scales + zero points + act-order permutation);",
            "bits/weight (file): file bytes × 8 / all parameters (f16 tied embedding, norms, tokenizer, header included).",
        ]
        if let fixturePath {
            lines.append("llama.cpp rows: measured by llama.cpp's tools, read from \(fixturePath) — not ours.")
        }
        lines += ["", "| source | model | bits/weight (linears) | bits/weight (file) | file (MB) | ppl | Δppl vs own F32 |",
                  "|---|---|---|---|---|---|---|"]
        for group in [ours, theirs] where !group.isEmpty {
            let reference = group.first(where: \.isFullPrecision)?.perplexity
            let sorted = group.sorted { ($0.isFullPrecision ? 0 : 1, $0.perplexity) < ($1.isFullPrecision ? 0 : 1, $1.perplexity) }
            for row in sorted {
                let delta = reference.map { String(format: "%+.3f", row.perplexity - $0) } ?? "–"
                let size = row.megabytes.isNaN ? "–" : String(format: "%.1f", row.megabytes)
                lines.append(String(
                    format: "| %@ | %@ | %.3f | %.3f | %@ | %.4f | %@ |", row.source, row.name, row.bitsLinears,
                    row.bitsFile, size, row.perplexity, delta))
            }
        }
        let notes = theirs.compactMap { row in row.note.map { "- llama.cpp \(row.name) (fixture note): \($0)" } }
        if !notes.isEmpty { lines += [""] + notes }
        return lines.joined(separator: "\n")
    }
}
