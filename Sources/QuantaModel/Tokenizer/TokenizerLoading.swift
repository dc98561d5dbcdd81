import Foundation
import QuantaFormats

extension Tokenizer {
    /// The tokenizer of an imported checkpoint (`tokenizer.json` and `tokenizer_config.json`
    /// bytes); `path` names the checkpoint's source in errors.
    public init(checkpoint: ModelCheckpoint, path: String) throws(ModelError) {
        guard let tokenizer = checkpoint.tokenizer else { throw .missingTokenizer(path: path) }
        try self.init(tokenizerJSON: tokenizer, tokenizerConfig: checkpoint.tokenizerConfig, path: path)
    }

    /// The tokenizer built from a GGUF's `tokenizer.ggml.*` metadata (see `GGUFImporter.tokenizerFiles`).
    /// Throws `FormatError` for a malformed GGUF and `ModelError` when it has no usable tokenizer.
    public init(gguf file: GGUFFile) throws {
        guard let files = try GGUFImporter.tokenizerFiles(from: file) else {
            throw ModelError.missingTokenizer(path: file.path)
        }
        try self.init(tokenizerJSON: files.tokenizer, tokenizerConfig: files.tokenizerConfig, path: file.path)
    }

    /// The tokenizer of a model: a directory holding `tokenizer.json` (and optionally
    /// `tokenizer_config.json`) or a `.gguf` file. Throws `ModelError` (`missingTokenizer` for a
    /// directory without tokenizer.json) or `FormatError` (an unreadable GGUF).
    public static func load(modelPath: String) throws -> Tokenizer {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: modelPath, isDirectory: &isDirectory) else {
            throw FormatError.fileNotFound(path: modelPath)
        }
        if !isDirectory.boolValue {
            if modelPath.lowercased().hasSuffix(".gguf") { return try Tokenizer(gguf: GGUFFile(path: modelPath)) }
            if (modelPath as NSString).lastPathComponent == "tokenizer.json" {
                return try load(modelPath: (modelPath as NSString).deletingLastPathComponent)
            }
            throw ModelError.missingTokenizer(path: modelPath)
        }
        let tokenizerPath = (modelPath as NSString).appendingPathComponent("tokenizer.json")
        guard let tokenizer = FileManager.default.contents(atPath: tokenizerPath) else {
            throw ModelError.missingTokenizer(path: modelPath)
        }
        let config = FileManager.default.contents(
            atPath: (modelPath as NSString).appendingPathComponent("tokenizer_config.json"))
        return try Tokenizer(tokenizerJSON: tokenizer, tokenizerConfig: config, path: tokenizerPath)
    }
}
