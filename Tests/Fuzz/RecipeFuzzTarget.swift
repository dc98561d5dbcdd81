import Foundation
import QuantaPipeline

extension FuzzTargets {
    /// Recipe YAML: `Recipe.parse(_:path:)` (strict YAML decoding, then validation), and the
    /// JSON a parsed recipe writes into provenance.
    static let recipe = FuzzTarget(
        name: "recipe",
        summary: "Recipe.parse(_:path:) (StrictYAMLDecoder + validate); encodedJSON() of a parsed recipe",
        maximumLength: 8192,
        run: { data in
            guard let text = String(data: data, encoding: .utf8) else { return }
            guard let recipe = try? Recipe.parse(text, path: "fuzz.yaml") else { return }
            _ = recipe.encodedJSON()
        },
        seeds: { [] })
}
