import Foundation

/// A `targets` / `ignore` entry of a recipe (llm-compressor's syntax): `Linear` for every
/// decoder linear, `re:REGEX` matched from the start of the layer name, or a plain name
/// matching the whole name or its last dot-separated components (`q_proj`, `mlp.down_proj`).
public struct LayerPattern: Sendable {
    public let text: String
    private let expression: NSRegularExpression?

    public init(_ text: String) throws(PipelineError) {
        self.text = text
        if text.hasPrefix("re:") {
            do { expression = try NSRegularExpression(pattern: String(text.dropFirst(3))) } catch {
                throw .invalidValue(path: "recipe", line: nil, field: "targets", detail: "'\(text)' is not a valid regular expression")
            }
        } else {
            guard !text.isEmpty else {
                throw .invalidValue(path: "recipe", line: nil, field: "targets", detail: "empty layer pattern")
            }
            expression = nil
        }
    }

    /// Whether the linear layer `name` (e.g. `model.layers.3.self_attn.q_proj`) matches.
    public func matches(_ name: String) -> Bool {
        if text == "Linear" { return true }
        if let expression {
            let range = NSRange(name.startIndex..., in: name)
            return expression.firstMatch(in: name, options: [.anchored], range: range) != nil
        }
        return name == text || name.hasSuffix("." + text)
    }
}
