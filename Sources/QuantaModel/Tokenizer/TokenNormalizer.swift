import Foundation
import QuantaFormats

/// The `normalizer` of a tokenizer.json: Unicode normalization forms and sequences of them
/// (tokenizers/src/normalizers/unicode.rs, utils.rs).
indirect enum TokenNormalizer: Sendable {
    case nfc, nfd, nfkc, nfkd
    case sequence([TokenNormalizer])

    /// Parses the `normalizer` member; `null` gives nil. Unsupported types are errors naming them.
    static func parse(_ value: JSONValue, field: String, path: String) throws(ModelError) -> TokenNormalizer? {
        if value == .null { return nil }
        let type = try TokenizerJSON.string(value, "type", field: field, path: path)
        switch type {
        case "NFC": return .nfc
        case "NFD": return .nfd
        case "NFKC": return .nfkc
        case "NFKD": return .nfkd
        case "Sequence":
            let items = try TokenizerJSON.array(value, "normalizers", field: field, path: path)
            var normalizers: [TokenNormalizer] = []
            for (index, item) in items.enumerated() {
                if let normalizer = try parse(item, field: "\(field).normalizers[\(index)]", path: path) {
                    normalizers.append(normalizer)
                }
            }
            return .sequence(normalizers)
        default:
            throw .invalidTokenizer(
                path: path, detail: "\(field).type '\(type)' is not supported (supported: NFC, NFD, NFKC, NFKD, Sequence)")
        }
    }

    /// `text` normalized.
    func apply(_ text: ArraySlice<Unicode.Scalar>) -> [Unicode.Scalar] {
        // Pure ASCII is invariant under every normalization form.
        if text.allSatisfy({ $0.value < 0x80 }) { return Array(text) }
        var string = ""
        string.unicodeScalars.append(contentsOf: text)
        return Array(normalize(string).unicodeScalars)
    }

    private func normalize(_ string: String) -> String {
        switch self {
        case .nfc: string.precomposedStringWithCanonicalMapping
        case .nfd: string.decomposedStringWithCanonicalMapping
        case .nfkc: string.precomposedStringWithCompatibilityMapping
        case .nfkd: string.decomposedStringWithCompatibilityMapping
        case .sequence(let items): items.reduce(string) { $1.normalize($0) }
        }
    }
}
