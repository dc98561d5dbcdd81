import Foundation
import Yams

/// A `Decoder` over a composed YAML node that reports errors with lines and records the
/// keys each keyed container reads.
struct NodeDecoder: Decoder {
    let node: Node
    let path: String
    let codingPath: [any CodingKey]
    let tracker: KeyTracker
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        tracker.note(node: node, codingPath: codingPath)
        guard let mapping = node.mapping else { throw mismatch("a mapping (key: value lines)") }
        let index = tracker.register(mapping, codingPath: codingPath)
        return KeyedDecodingContainer(KeyedNodeContainer<Key>(decoder: self, mapping: mapping, trackerIndex: index))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard let sequence = node.sequence else { throw mismatch("a list") }
        return UnkeyedNodeContainer(decoder: self, items: Array(sequence))
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { SingleNodeContainer(decoder: self) }

    func child(_ node: Node, key: any CodingKey) -> NodeDecoder {
        NodeDecoder(node: node, path: path, codingPath: codingPath + [key], tracker: tracker)
    }

    func mismatch(_ expected: String) -> PipelineError {
        .invalidValue(
            path: path, line: node.mark?.line, field: StrictYAMLDecoder.field(codingPath),
            detail: "expected \(expected), found \(describe(node))")
    }

    func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar): "'\(scalar.string)'"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    /// Decodes a scalar value of `type`.
    func scalar<Value: Decodable>(_ type: Value.Type) throws -> Value {
        tracker.note(node: node, codingPath: codingPath)
        if type == String.self {
            guard let text = node.scalar?.string, node.tag.rawValue != Tag.Name.null.rawValue else { throw mismatch("text") }
            return text as! Value
        }
        if type == Int.self {
            guard let value = node.int else { throw mismatch("an integer") }
            return value as! Value
        }
        if type == Double.self {
            guard let value = node.float else { throw mismatch("a number") }
            return value as! Value
        }
        if type == Float.self {
            guard let value = node.float else { throw mismatch("a number") }
            return Float(value) as! Value
        }
        if type == Bool.self {
            guard let value = node.bool else { throw mismatch("true or false") }
            return value as! Value
        }
        if let integerType = type as? any FixedWidthInteger.Type {
            guard let value = node.int, let converted = integerType.init(exactly: value) else {
                throw mismatch("an integer in \(integerType.min)...\(integerType.max)")
            }
            return converted as! Value
        }
        return try Value(from: self)
    }
}

struct KeyedNodeContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: NodeDecoder
    let mapping: Node.Mapping
    let trackerIndex: Int

    init(decoder: NodeDecoder, mapping: Node.Mapping, trackerIndex: Int) {
        self.decoder = decoder
        self.mapping = mapping
        self.trackerIndex = trackerIndex
    }

    var codingPath: [any CodingKey] { decoder.codingPath }
    var allKeys: [Key] { mapping.keys.compactMap { $0.string.flatMap(Key.init(stringValue:)) } }

    private func value(for key: Key) -> Node? {
        decoder.tracker.mappings[trackerIndex].allowedKeys.append(key.stringValue)
        guard let value = mapping[key.stringValue] else { return nil }
        decoder.tracker.mappings[trackerIndex].readKeys.insert(key.stringValue)
        return value
    }

    func contains(_ key: Key) -> Bool { value(for: key) != nil }

    func decodeNil(forKey key: Key) throws -> Bool {
        guard let node = value(for: key) else { return true }
        return node.null != nil
    }

    func decode<Value: Decodable>(_ type: Value.Type, forKey key: Key) throws -> Value {
        guard let node = value(for: key) else {
            let field = StrictYAMLDecoder.field(codingPath + [key])
            let read = decoder.tracker.mappings[trackerIndex].readKeys
            let others = mapping.keys.compactMap(\.string).filter { !read.contains($0) }
            if !others.isEmpty {
                throw PipelineError.invalidValue(
                    path: decoder.path, line: decoder.node.mark?.line, field: field,
                    detail: "required key is missing; found '\(others.joined(separator: "', '"))' instead (a typo?)")
            }
            throw PipelineError.missingValue(path: decoder.path, line: decoder.node.mark?.line, field: field)
        }
        return try decoder.child(node, key: key).scalar(type)
    }

    func decodeIfPresent<Value: Decodable>(_ type: Value.Type, forKey key: Key) throws -> Value? {
        guard let node = value(for: key), node.null == nil else { return nil }
        return try decoder.child(node, key: key).scalar(type)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        guard let node = value(for: key) else {
            throw PipelineError.missingValue(path: decoder.path, line: decoder.node.mark?.line, field: key.stringValue)
        }
        return try decoder.child(node, key: key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        guard let node = value(for: key) else {
            throw PipelineError.missingValue(path: decoder.path, line: decoder.node.mark?.line, field: key.stringValue)
        }
        return try decoder.child(node, key: key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { decoder }
    func superDecoder(forKey key: Key) throws -> any Decoder {
        decoder.child(value(for: key) ?? Node("", Tag(.null)), key: key)
    }
}

struct IndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "\(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

struct UnkeyedNodeContainer: UnkeyedDecodingContainer {
    let decoder: NodeDecoder
    let items: [Node]
    var currentIndex = 0

    init(decoder: NodeDecoder, items: [Node]) {
        self.decoder = decoder
        self.items = items
    }

    var codingPath: [any CodingKey] { decoder.codingPath }
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, items[currentIndex].null != nil else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<Value: Decodable>(_ type: Value.Type) throws -> Value {
        guard !isAtEnd else { throw decoder.mismatch("more list items") }
        let child = decoder.child(items[currentIndex], key: IndexKey(currentIndex))
        currentIndex += 1
        return try child.scalar(type)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        let child = decoder.child(items[currentIndex], key: IndexKey(currentIndex))
        currentIndex += 1
        return try child.container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let child = decoder.child(items[currentIndex], key: IndexKey(currentIndex))
        currentIndex += 1
        return try child.unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder { decoder }
}

struct SingleNodeContainer: SingleValueDecodingContainer {
    let decoder: NodeDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }

    func decodeNil() -> Bool { decoder.node.null != nil }
    func decode<Value: Decodable>(_ type: Value.Type) throws -> Value { try decoder.scalar(type) }
}
