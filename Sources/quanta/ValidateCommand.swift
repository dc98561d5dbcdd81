import ArgumentParser
import Foundation
import QuantaFormats
import QuantaModel
import QuantaRuntime

/// `quanta validate model.quanta --reference FP --text FILE`: the container run on its packed
/// kernels, the same weights dequantized (the simulation), and the FP reference, side by side.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a Quanta container: packed vs simulated perplexity (must agree within 0.05%), KL and top-1 vs FP.",
        discussion: "Exits non-zero when the packed and simulated perplexities differ by more than --tolerance."
    )

    @Argument(help: "The .quanta container.")
    var container: String

    @Option(help: "The full-precision model it was made from.")
    var reference: String

    @Option(help: "UTF-8 text file.")
    var text: String

    @Option(name: .customLong("protocol"), help: "gptq or llamacpp.")
    var protocolName: PerplexityProtocol = .llamacpp

    @Option(help: "Window length (default per protocol).")
    var context: Int?

    @Option(help: "Windows to evaluate.")
    var windows: Int = 4

    @Option(help: "Largest relative difference allowed between packed and simulated perplexity.")
    var tolerance: Double = 0.0005

    @Flag(help: "Print one JSON object.")
    var json = false

    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        if runtime.head != .exact || runtime.activations != .float {
            throw ValidationError("validate compares the container as stored: --head exact and --activations float only")
        }
    }

    func run() throws {
        let computeContext = runtime.computeContext
        let packed = try LoadedModel.load(path: container, computeContext: computeContext)
        let simulated = try LoadedModel.simulatedContainer(path: container, computeContext: computeContext)
        let fullPrecision = try LoadedModel.load(path: reference, computeContext: computeContext)
        let tokens = packed.tokenizer.encode(try TextFile.read(path: text))
        let evaluator = PerplexityEvaluator(protocolName: protocolName, context: context, windowLimit: windows)
        let packedResult = try DivergenceEvaluator(perplexity: evaluator).evaluate(
            model: packed.model, reference: fullPrecision.model, tokens: tokens, textPath: text)
        let simulatedResult = try evaluator.evaluate(model: simulated, tokens: tokens, textPath: text)
        let difference = abs(packedResult.modelPerplexity - simulatedResult.perplexity) / simulatedResult.perplexity
        let passed = difference <= tolerance
        if json {
            print(JSONValue.object([
                ("container", .string(container)), ("protocol", .string(protocolName.rawValue)),
                ("windows", .integer(Int64(packedResult.windows))), ("context", .integer(Int64(packedResult.context))),
                ("ppl_packed", .number(packedResult.modelPerplexity)), ("ppl_simulated", .number(simulatedResult.perplexity)),
                ("ppl_fp", .number(packedResult.referencePerplexity)), ("relative_difference", .number(difference)),
                ("mean_kld", .number(packedResult.meanKLDivergence)), ("top1_agreement", .number(packedResult.topOneAgreement)),
                ("passed", .bool(passed)),
            ]).serialized())
        } else {
            print(String(format: "%@ protocol, %d windows of %d", protocolName.rawValue, packedResult.windows, packedResult.context))
            print(String(format: "ppl packed %.4f, simulated %.4f (difference %.4f%%), FP %.4f", packedResult.modelPerplexity,
                         simulatedResult.perplexity, 100 * difference, packedResult.referencePerplexity))
            print(String(format: "KL vs FP %.5f nats, top-1 agreement %.2f%%", packedResult.meanKLDivergence,
                         100 * packedResult.topOneAgreement))
            print(passed ? "PASS" : "FAIL: packed and simulated perplexity differ by more than \(100 * tolerance)%")
        }
        if !passed { throw ExitCode.failure }
    }
}
