import QuantaFormats

/// Typed access to tokenizer.json members; every failure names the file and the field.
enum TokenizerJSON {
    static func member(_ value: JSONValue, _ key: String, field: String, path: String) throws(ModelError) -> JSONValue {
        guard let member = value[key] else { throw .invalidTokenizer(path: path, detail: "\(field).\(key) is missing") }
        return member
    }

    static func string(_ value: JSONValue, _ key: String, field: String, path: String) throws(ModelError) -> String {
        guard let string = try member(value, key, field: field, path: path).stringValue else {
            throw .invalidTokenizer(path: path, detail: "\(field).\(key) must be a string")
        }
        return string
    }

    /// An optional string member: absent or `null` give nil.
    static func optionalString(_ value: JSONValue, _ key: String, field: String, path: String) throws(ModelError) -> String? {
        guard let member = value[key], member != .null else { return nil }
        guard let string = member.stringValue else {
            throw .invalidTokenizer(path: path, detail: "\(field).\(key) must be a string or null")
        }
        return string
    }

    static func bool(_ value: JSONValue, _ key: String, default fallback: Bool, field: String, path: String)
        throws(ModelError) -> Bool
    {
        guard let member = value[key], member != .null else { return fallback }
        guard case .bool(let flag) = member else {
            throw .invalidTokenizer(path: path, detail: "\(field).\(key) must be true or false")
        }
        return flag
    }

    static func integer(_ value: JSONValue, _ key: String, field: String, path: String) throws(ModelError) -> Int {
        guard let number = try member(value, key, field: field, path: path).integerValue, number >= 0, number <= Int32.max
        else {
            throw .invalidTokenizer(path: path, detail: "\(field).\(key) must be a non-negative integer")
        }
        return Int(number)
    }

    static func array(_ value: JSONValue, _ key: String, field: String, path: String) throws(ModelError) -> [JSONValue] {
        guard case .array(let items) = try member(value, key, field: field, path: path) else {
            throw .invalidTokenizer(path: path, detail: "\(field).\(key) must be an array")
        }
        return items
    }

    static func object(_ value: JSONValue, _ key: String, field: String, path: String) throws(ModelError)
        -> [(String, JSONValue)]
    {
        guard case .object(let members) = try member(value, key, field: field, path: path) else {
            throw .invalidTokenizer(path: path, detail: "\(field).\(key) must be an object")
        }
        return members
    }
}
