import Foundation

/// Text files read as raw bytes decoded as UTF-8, with no newline translation (WikiText's
/// test split has CRLF line ends that tokenization must see).
public enum TextFile {
    /// The contents of the file at `path`. Invalid UTF-8 is an error naming the byte offset.
    public static func read(path: String) throws(ModelError) -> String {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .invalidText(path: path, detail: "cannot read the file: \(error.localizedDescription)")
        }
        return try decode(data, path: path)
    }

    /// `data` as UTF-8 text; `path` names the source in errors.
    public static func decode(_ data: Data, path: String) throws(ModelError) -> String {
        if let text = String(validating: data, as: UTF8.self) { return text }
        throw .invalidText(
            path: path,
            detail: "invalid UTF-8 at byte offset \(invalidOffset(data)); convert the file to UTF-8 (e.g. iconv) first")
    }

    /// The offset of the first byte that does not start a valid UTF-8 sequence.
    static func invalidOffset(_ data: Data) -> Int {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = data.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded): offset += encoded.count
            case .emptyInput: return offset
            case .error: return offset
            }
        }
    }
}
