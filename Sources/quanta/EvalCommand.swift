import ArgumentParser
import Foundation
import QuantaFormats
import QuantaModel
import QuantaRuntime

/// `quanta eval …`: quality measurements.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a model.",
        subcommands: [PerplexityCommand.self]
    )
}

extension PerplexityProtocol: ExpressibleByArgument {}

/// `quanta eval perplexity --model M --text FILE`: perplexity under a named protocol, and
/// with `--reference R` the KL divergence from a reference model.
struct PerplexityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perplexity",
        abstract: "Perplexity of a model on a text file (gptq or llamacpp protocol), optionally KL divergence vs a reference.",
        discussion: """
            gptq: non-overlapping windows of --context (default 2048), every position scored.
            llamacpp: windows of --context (default 512), only the second half scored (llama-perplexity).
            The text is read as raw UTF-8 bytes (line ends kept) and tokenized without special tokens.
            """
    )

    @Option(help: "Model: Hugging Face directory, .h5 or .gguf file.")
    var model: String

    @Option(help: "UTF-8 text file to evaluate on.")
    var text: String

    @Option(name: .customLong("protocol"), help: "gptq or llamacpp.")
    var protocolName: PerplexityProtocol = .gptq

    @Option(help: "Window length in tokens (default: 2048 for gptq, 512 for llamacpp).")
    var context: Int?

    @Option(help: "Evaluate only the first N windows.")
    var windows: Int?

    @Option(help: "Reference model for KL divergence and top-1 agreement (same tokenizer).")
    var reference: String?

    @Flag(help: "Print one JSON object (no progress).")
    var json = false

    @Flag(help: "Simulated directories: quantized weights with float activations (ignore W8A8's activation quantization), as a dequantizing loader runs them.")
    var weightsOnly = false

    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        let context = runtime.computeContext
        let loaded = try LoadedModel.load(
            path: model, computeContext: context, head: runtime.head, activations: runtime.activations, weightsOnly: weightsOnly)
        let tokens = loaded.tokenizer.encode(try TextFile.read(path: text))
        let evaluator = PerplexityEvaluator(protocolName: protocolName, context: self.context, windowLimit: windows)
        let progress = ProgressLine(label: "perplexity", quiet: json)
        var members: [(String, JSONValue)] = [("model", .string(model)), ("text", .string(text)), ("head", .string(runtime.head.rawValue)),
                                                    ("activations", .string(runtime.activations.rawValue)),
                                                    ("weights_only", .bool(weightsOnly))]
        if let reference {
            let referenceModel = try LoadedModel.load(path: reference, computeContext: context)
            let result = try DivergenceEvaluator(perplexity: evaluator).evaluate(
                model: loaded.model, reference: referenceModel.model, tokens: tokens, textPath: text,
                progress: progress.update)
            members += [
                ("reference", .string(reference)), ("protocol", .string(result.protocolName.rawValue)),
                ("context", .integer(Int64(result.context))), ("windows", .integer(Int64(result.windows))),
                ("tokens_scored", .integer(Int64(result.tokensScored))), ("ppl", .number(result.modelPerplexity)),
                ("reference_ppl", .number(result.referencePerplexity)), ("mean_kld", .number(result.meanKLDivergence)),
                ("max_kld", .number(result.maximumKLDivergence)), ("top1_agreement", .number(result.topOneAgreement)),
                ("seconds", .number(result.seconds)),
            ]
            if !json {
                print(String(format: "protocol %@, context %d, %d windows, %d tokens scored", result.protocolName.rawValue,
                             result.context, result.windows, result.tokensScored))
                print(String(format: "ppl %.4f (reference %.4f)  mean KLD %.6f  max KLD %.4f  top-1 agreement %.2f%%",
                             result.modelPerplexity, result.referencePerplexity, result.meanKLDivergence,
                             result.maximumKLDivergence, 100 * result.topOneAgreement))
            }
        } else {
            let result = try evaluator.evaluate(model: loaded.model, tokens: tokens, textPath: text, progress: progress.update)
            members += [
                ("protocol", .string(result.protocolName.rawValue)), ("context", .integer(Int64(result.context))),
                ("windows", .integer(Int64(result.windows))), ("tokens_scored", .integer(Int64(result.tokensScored))),
                ("ppl", .number(result.perplexity)), ("stderr", .number(result.standardError)),
                ("seconds", .number(result.seconds)), ("tokens_per_second", .number(result.tokensPerSecond)),
                ("threads", .integer(Int64(context.threadCount))),
                ("window_mean_nll", .array(result.windowMeanNLL.map { .number($0) })),
            ]
            if !json {
                print(String(format: "protocol %@, context %d, %d windows, %d tokens scored, %.1f s (%.1f tokens/s)",
                             result.protocolName.rawValue, result.context, result.windows, result.tokensScored,
                             result.seconds, result.tokensPerSecond))
                print(String(format: "PPL = %.4f +/- %.4f", result.perplexity, result.standardError))
            }
        }
        if json { print(JSONValue.object(members).serialized()) }
    }
}
