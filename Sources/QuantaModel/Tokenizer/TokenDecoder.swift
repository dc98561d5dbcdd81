import QuantaFormats

/// The `decoder` of a tokenizer.json: turns tokens back into text
/// (tokenizers/src/decoders/{byte_level,byte_fallback,fuse,sequence}.rs).
indirect enum TokenDecoder: Sendable {
    /// Each token's scalars back to bytes (tokens with a scalar outside the alphabet are kept
    /// as their UTF-8), then lossy UTF-8 decoding.
    case byteLevel
    /// `<0xXX>` tokens back to bytes; runs of them decoded as UTF-8, or U+FFFD per byte.
    case byteFallback
    /// All tokens joined into one.
    case fuse
    case sequence([TokenDecoder])

    static func parse(_ value: JSONValue, field: String, path: String) throws(ModelError) -> TokenDecoder? {
        if value == .null { return nil }
        let type = try TokenizerJSON.string(value, "type", field: field, path: path)
        switch type {
        case "ByteLevel": return .byteLevel
        case "ByteFallback": return .byteFallback
        case "Fuse": return .fuse
        case "Sequence":
            var decoders: [TokenDecoder] = []
            for (index, item) in try TokenizerJSON.array(value, "decoders", field: field, path: path).enumerated() {
                if let decoder = try parse(item, field: "\(field).decoders[\(index)]", path: path) { decoders.append(decoder) }
            }
            return .sequence(decoders)
        default:
            throw .invalidTokenizer(
                path: path, detail: "\(field).type '\(type)' is not supported (supported: ByteLevel, ByteFallback, Fuse, Sequence)")
        }
    }

    func decode(_ tokens: [String], alphabet: ByteLevelAlphabet) -> [String] {
        switch self {
        case .fuse: return [tokens.joined()]
        case .sequence(let decoders): return decoders.reduce(tokens) { $1.decode($0, alphabet: alphabet) }
        case .byteLevel:
            var bytes: [UInt8] = []
            for token in tokens {
                let mapped = token.unicodeScalars.map { alphabet.byte(for: $0) }
                if mapped.allSatisfy({ $0 != nil }) {
                    bytes.append(contentsOf: mapped.map { $0! })
                } else {
                    bytes.append(contentsOf: token.utf8)
                }
            }
            return [String(decoding: bytes, as: UTF8.self)]
        case .byteFallback:
            var output: [String] = []
            var pending: [UInt8] = []
            func flush() {
                guard !pending.isEmpty else { return }
                if let text = String(validating: pending, as: UTF8.self) {
                    output.append(text)
                } else {
                    output.append(contentsOf: repeatElement("\u{FFFD}", count: pending.count))
                }
                pending.removeAll()
            }
            for token in tokens {
                if let byte = Self.fallbackByte(token) {
                    pending.append(byte)
                } else {
                    flush()
                    output.append(token)
                }
            }
            flush()
            return output
        }
    }

    /// The byte of a `<0xXX>` token.
    static func fallbackByte(_ token: String) -> UInt8? {
        let utf8 = Array(token.utf8)
        guard utf8.count == 6, token.hasPrefix("<0x"), token.hasSuffix(">") else { return nil }
        return UInt8(String(decoding: utf8[3..<5], as: UTF8.self), radix: 16)
    }
}
