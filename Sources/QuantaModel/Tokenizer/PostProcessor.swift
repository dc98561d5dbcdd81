import QuantaFormats

/// The `post_processor` of a tokenizer.json, as far as ids go: `ByteLevel` changes only
/// offsets, `TemplateProcessing` adds special tokens around a single sequence
/// (tokenizers/src/processors/template.rs), `Sequence` chains them.
indirect enum PostProcessor: Sendable {
    /// Ids of the single-sequence template; nil stands for the sequence itself (`$A`).
    case template(single: [[Int]?])
    case sequence([PostProcessor])
    case none

    static func parse(_ value: JSONValue, field: String, path: String) throws(ModelError) -> PostProcessor {
        if value == .null { return .none }
        let type = try TokenizerJSON.string(value, "type", field: field, path: path)
        switch type {
        case "ByteLevel": return .none
        case "Sequence":
            let items = try TokenizerJSON.array(value, "processors", field: field, path: path)
            var processors: [PostProcessor] = []
            for (index, item) in items.enumerated() {
                processors.append(try parse(item, field: "\(field).processors[\(index)]", path: path))
            }
            return .sequence(processors)
        case "TemplateProcessing":
            var specialIds: [String: [Int]] = [:]
            if let special = value["special_tokens"], case .object(let members) = special {
                for (name, entry) in members {
                    guard case .array(let ids) = entry["ids"] ?? .null,
                        ids.allSatisfy({ ($0.integerValue ?? -1) >= 0 })
                    else {
                        throw .invalidTokenizer(path: path, detail: "\(field).special_tokens['\(name)'].ids must be an array of ids")
                    }
                    specialIds[name] = ids.map { Int($0.integerValue!) }
                }
            }
            var single: [[Int]?] = []
            for (index, item) in try TokenizerJSON.array(value, "single", field: field, path: path).enumerated() {
                if let special = item["SpecialToken"] {
                    let name = try TokenizerJSON.string(special, "id", field: "\(field).single[\(index)].SpecialToken", path: path)
                    guard let ids = specialIds[name] else {
                        throw .invalidTokenizer(path: path, detail: "\(field).single[\(index)] names '\(name)', which is not in special_tokens")
                    }
                    single.append(ids)
                } else if item["Sequence"] != nil {
                    single.append(nil)
                } else {
                    throw .invalidTokenizer(path: path, detail: "\(field).single[\(index)] must be a SpecialToken or a Sequence")
                }
            }
            return .template(single: single)
        default:
            throw .invalidTokenizer(
                path: path, detail: "\(field).type '\(type)' is not supported (supported: ByteLevel, TemplateProcessing, Sequence)")
        }
    }

    /// `ids` with the template's special tokens added.
    func apply(_ ids: [Int]) -> [Int] {
        switch self {
        case .none: return ids
        case .sequence(let processors): return processors.reduce(ids) { $1.apply($0) }
        case .template(let single): return single.flatMap { $0 ?? ids }
        }
    }
}
