import ArgumentParser
import Foundation
import QuantaFormats
import QuantaModel

/// `quanta tokenize --model M (--text FILE | --string S) [--json]`: token ids of a text.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the token ids of a text file or string (no special tokens added)."
    )

    @Option(help: "A model directory holding tokenizer.json, or a .gguf file.")
    var model: String

    @Option(help: "A UTF-8 text file to tokenize (read as raw bytes, line ends kept).")
    var text: String?

    @Option(name: .customLong("string"), help: "A string to tokenize.")
    var string: String?

    @Flag(help: "Print one JSON object {\"ids\": [...], \"count\": N} instead of space-separated ids.")
    var json = false

    func validate() throws {
        guard (text == nil) != (string == nil) else {
            throw ValidationError("give exactly one of --text FILE or --string S")
        }
    }

    func run() throws {
        let input = try text.map { path throws(ModelError) in try TextFile.read(path: path) } ?? string ?? ""
        let tokenizer = try Tokenizer.load(modelPath: model)
        let ids = tokenizer.encode(input)
        if json {
            print(JSONValue.object([
                ("ids", .array(ids.map { .integer(Int64($0)) })), ("count", .integer(Int64(ids.count))),
            ]).serialized(pretty: false))
        } else {
            print(ids.map(String.init).joined(separator: " "))
        }
    }
}
