import Foundation
import Yams

/// Decodes `Decodable` values from YAML strictly: every mapping key must be read by the
/// type being decoded (unknown keys are errors), and every error carries the line.
public struct StrictYAMLDecoder {
    public init() {}

    /// Decodes `type` from `text`; `path` names the file in errors.
    public func decode<Value: Decodable>(_ type: Value.Type, from text: String, path: String) throws(PipelineError)
        -> Value
    {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw PipelineError.invalidYAML(path: path, line: 1, detail: "the file is empty")
            }
            root = node
        } catch let error as PipelineError {
            throw error
        } catch let error as YamlError {
            throw .invalidYAML(path: path, line: Self.line(of: error), detail: "\(error)")
        } catch {
            throw .invalidYAML(path: path, line: nil, detail: "\(error)")
        }
        let tracker = KeyTracker()
        let value: Value
        do {
            value = try Value(from: NodeDecoder(node: root, path: path, codingPath: [], tracker: tracker))
        } catch let error as PipelineError {
            throw error
        } catch let DecodingError.dataCorrupted(context) {
            throw .invalidValue(
                path: path, line: tracker.lastLine, field: Self.field(context.codingPath), detail: context.debugDescription)
        } catch let error as LocalizedError {
            // A type's own validation inside init(from:): blame the last value read.
            throw .invalidValue(
                path: path, line: tracker.lastLine, field: tracker.lastField, detail: error.errorDescription ?? "\(error)")
        } catch {
            throw .invalidValue(path: path, line: tracker.lastLine, field: tracker.lastField, detail: "\(error)")
        }
        try tracker.checkUnusedKeys(path: path)
        return value
    }

    /// Reads and decodes the YAML file at `path`.
    public func decode<Value: Decodable>(_ type: Value.Type, path: String) throws(PipelineError) -> Value {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .invalidYAML(path: path, line: nil, detail: "cannot read the file; check the path")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .invalidYAML(path: path, line: nil, detail: "the file is not UTF-8")
        }
        return try decode(type, from: text, path: path)
    }

    static func field(_ codingPath: [any CodingKey]) -> String {
        codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            .replacingOccurrences(of: ".[", with: "[")
    }

    static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        default: return nil
        }
    }
}

/// Records which keys of each mapping were read, to report the unread (unknown) ones.
final class KeyTracker {
    struct Mapping {
        let node: Node.Mapping
        let codingPath: [any CodingKey]
        var readKeys: Set<String> = []
        var allowedKeys: [String] = []
    }

    var mappings: [Mapping] = []
    var lastLine: Int?
    var lastField = "?"

    func note(node: Node, codingPath: [any CodingKey]) {
        lastLine = node.mark?.line ?? lastLine
        lastField = StrictYAMLDecoder.field(codingPath)
    }

    func register(_ node: Node.Mapping, codingPath: [any CodingKey]) -> Int {
        mappings.append(Mapping(node: node, codingPath: codingPath))
        return mappings.count - 1
    }

    /// Throws for the first key that no container decoding its mapping read. Several
    /// containers may decode one mapping (a type and its nested parts), so reads are merged
    /// per coding path.
    func checkUnusedKeys(path: String) throws(PipelineError) {
        var readKeys: [String: Set<String>] = [:]
        var allowedKeys: [String: Set<String>] = [:]
        for mapping in mappings {
            let field = StrictYAMLDecoder.field(mapping.codingPath)
            readKeys[field, default: []].formUnion(mapping.readKeys)
            allowedKeys[field, default: []].formUnion(mapping.allowedKeys)
        }
        for mapping in mappings {
            let field = StrictYAMLDecoder.field(mapping.codingPath)
            for (key, _) in mapping.node {
                guard let name = key.string, readKeys[field]?.contains(name) != true else { continue }
                throw .unknownKey(
                    path: path, line: key.mark?.line, key: field.isEmpty ? name : field + "." + name,
                    allowed: (allowedKeys[field] ?? []).sorted())
            }
        }
    }
}
