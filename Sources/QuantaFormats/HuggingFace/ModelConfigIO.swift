import Foundation

extension ModelConfig {
    /// Decodes and validates `config.json` bytes; errors name `path` and the field.
    public static func decode(_ data: Data, path: String) throws(FormatError) -> ModelConfig {
        let config = try decodeJSON(ModelConfig.self, from: data, path: path)
        try config.validate(path: path)
        return config
    }

    /// Reads and validates the `config.json` at `path`.
    public static func read(path: String) throws(FormatError) -> ModelConfig {
        guard FileManager.default.fileExists(atPath: path) else { throw .fileNotFound(path: path) }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .cannotOpen(path: path, reason: error.localizedDescription)
        }
        return try decode(data, path: path)
    }

    /// `config.json` text: sorted keys, two-space indentation, as transformers writes it.
    public func encodedJSON() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // Encoding plain values into JSON cannot fail.
        return (try? encoder.encode(self)) ?? Data()
    }
}
