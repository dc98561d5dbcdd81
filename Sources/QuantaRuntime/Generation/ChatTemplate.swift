import Foundation

/// One chat turn.
public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// Renders chat prompts for the template families Quanta knows, recognised from the
/// `chat_template` Jinja source in `tokenizer_config.json` (no general Jinja engine):
/// ChatML (`<|im_start|>role\ncontent<|im_end|>\n`, with the template's default system
/// prompt when the first message is not a system message, as SmolLM2's and Qwen2's
/// templates do).
public struct ChatTemplate: Sendable, Equatable {
    public enum Family: String, Sendable {
        case chatML
    }

    public let family: Family
    /// The system message the template inserts when the conversation has none.
    public let defaultSystemPrompt: String?

    /// Recognises `source`; an unknown template is an error naming what is supported.
    public init(source: String?, path: String) throws(RuntimeError) {
        guard let source, !source.isEmpty else {
            throw .invalidOption(name: "chat", detail: "\(path) has no chat_template; the model is not a chat model")
        }
        guard source.contains("<|im_start|>") else {
            throw .invalidOption(
                name: "chat", detail: "\(path): unsupported chat_template (only ChatML-style <|im_start|> templates are supported)")
        }
        family = .chatML
        defaultSystemPrompt = Self.literalSystemPrompt(in: source)
    }

    /// The text of a literal `<|im_start|>system\n…<|im_end|>` inside the template.
    static func literalSystemPrompt(in source: String) -> String? {
        let opening = "<|im_start|>system\n"
        guard let start = source.range(of: opening),
            let end = source.range(of: "<|im_end|>", range: start.upperBound..<source.endIndex)
        else { return nil }
        let text = String(source[start.upperBound..<end.lowerBound])
        return text.contains("{{") || text.contains("'") ? nil : text
    }

    /// The prompt text for `messages`; with `addGenerationPrompt` it ends by opening the
    /// assistant's turn.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        var text = ""
        if let defaultSystemPrompt, messages.first?.role != "system" {
            text += "<|im_start|>system\n\(defaultSystemPrompt)<|im_end|>\n"
        }
        for message in messages { text += "<|im_start|>\(message.role)\n\(message.content)<|im_end|>\n" }
        if addGenerationPrompt { text += "<|im_start|>assistant\n" }
        return text
    }
}
