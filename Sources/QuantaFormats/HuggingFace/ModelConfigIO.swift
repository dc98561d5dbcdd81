import Foundation

extension ModelConfig {
    /// Decodes and validates `config.json` bytes; errors name `path` and the field.
    public static func decode(_ data: Data, path: String) throws(FormatError) -> ModelConfig {
        _ = try JSONValue.parse(data, path: path)  // syntax errors with a byte offset
        let config: ModelConfig
        do {
            config = try JSONDecoder().decode(ModelConfig.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw .missingField(path: path, field: fieldPath(context.codingPath + [key]))
        } catch let DecodingError.typeMismatch(type, context) {
            throw .invalidField(path: path, field: fieldPath(context.codingPath), detail: "expected \(type)")
        } catch let DecodingError.valueNotFound(type, context) {
            throw .invalidField(path: path, field: fieldPath(context.codingPath), detail: "expected \(type), found null")
        } catch let DecodingError.dataCorrupted(context) {
            throw .invalidField(path: path, field: fieldPath(context.codingPath), detail: context.debugDescription)
        } catch {
            throw .invalidJSON(path: path, detail: "\(error)")
        }
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

    private static func fieldPath(_ path: [any CodingKey]) -> String {
        path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
}
