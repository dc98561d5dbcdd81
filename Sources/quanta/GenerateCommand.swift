import ArgumentParser
import Foundation
import QuantaModel
import QuantaRuntime

/// `quanta generate --model M --prompt S`: greedy or sampled decoding with the KV cache.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate text from a prompt (greedy at temperature 0, else sampled)."
    )

    @Option(help: "Model: Hugging Face directory, .h5 or .gguf file.")
    var model: String

    @Option(help: "The prompt (the user message with --chat).")
    var prompt: String

    @Option(help: "Tokens to generate at most.")
    var maxTokens: Int = 64

    @Option(help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0

    @Option(help: "Sample only among the K most likely tokens.")
    var topK: Int?

    @Option(help: "Sample only among the most likely tokens whose probability adds up to P.")
    var topP: Float?

    @Flag(help: "Wrap the prompt in the model's chat template as a user message.")
    var chat = false

    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        if maxTokens < 1 { throw ValidationError("--max-tokens must be at least 1") }
    }

    func run() throws {
        let loaded = try LoadedModel.load(path: model, computeContext: runtime.computeContext, head: runtime.head, activations: runtime.activations)
        var text = prompt
        if chat {
            text = try ChatTemplate(source: loaded.chatTemplateSource, path: model)
                .render([ChatMessage(role: "user", content: prompt)])
        }
        var generator = try TextGenerator(
            model: loaded.model, tokenizer: loaded.tokenizer,
            sampler: Sampler(temperature: temperature, topK: topK, topP: topP, seed: runtime.seed ?? 0))
        let result = try generator.generate(prompt: text, maxTokens: maxTokens) { piece in
            FileHandle.standardOutput.write(Data(piece.utf8))
        }
        print("")
        FileHandle.standardError.write(Data(String(
            format: "[%d prompt tokens, %d generated, prefill %.1f tok/s, decode %.1f tok/s]\n", result.promptTokens,
            result.generatedTokens.count, result.prefillTokensPerSecond, result.decodeTokensPerSecond).utf8))
    }
}
