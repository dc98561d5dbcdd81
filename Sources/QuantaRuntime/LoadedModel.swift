import Foundation
import QuantaFormats
import QuantaModel
import QuantaTensor

/// A model ready to run: the transformer, its tokenizer and its chat template source.
/// Loads any format `ModelFiles` reads (Hugging Face directory, HDF5, GGUF).
public struct LoadedModel: Sendable {
    public var path: String
    public var model: TransformerModel
    public var tokenizer: Tokenizer
    /// `chat_template` from tokenizer_config.json, if any.
    public var chatTemplateSource: String?

    public static func load(path: String, computeContext: ComputeContext) throws -> LoadedModel {
        let checkpoint = try ModelFiles.loadCheckpoint(path: path)
        let model = try TransformerModel(checkpoint: checkpoint, computeContext: computeContext)
        let tokenizer = try Tokenizer(checkpoint: checkpoint, path: path)
        var template: String?
        if let data = checkpoint.tokenizerConfig {
            template = try JSONValue.parse(data, path: path + "/tokenizer_config.json")["chat_template"]?.stringValue
        }
        return LoadedModel(path: path, model: model, tokenizer: tokenizer, chatTemplateSource: template)
    }
}
