import Foundation
import QuantaModel

extension FuzzTargets {
    /// tokenizer.json (and, after a NUL byte, tokenizer_config.json): the tokenizer build,
    /// then encoding and decoding short texts.
    static let tokenizer = FuzzTarget(
        name: "tokenizer",
        summary: "Tokenizer(tokenizerJSON:tokenizerConfig:path:) (tokenizer_config.json after a NUL byte); "
            + "encode/decode of short texts",
        maximumLength: 32768,
        run: { data in
            let parts = data.split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false)
            let configuration = parts.count > 1 ? Data(parts[1]) : nil
            guard
                let tokenizer = try? Tokenizer(
                    tokenizerJSON: Data(parts[0]), tokenizerConfig: configuration, path: "fuzz")
            else { return }
            TokenizerExercise.run(tokenizer)
        },
        seeds: { try SeedModels.tokenizerFiles() })
}

/// What every tokenizer target does with a tokenizer that loaded.
enum TokenizerExercise {
    static let texts = [
        "Hello world! 123 héllo\n\t  <s>x</s>  こんにちは 🙂", "", " ", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ]

    static func run(_ tokenizer: Tokenizer) {
        for text in texts {
            let ids = tokenizer.encode(text, addSpecialTokens: true)
            _ = tokenizer.decode(ids)
            _ = tokenizer.decode(ids, skipSpecialTokens: true)
        }
        _ = tokenizer.decode([0, 1, 2, -1, Int.max, Int.min])
    }
}
