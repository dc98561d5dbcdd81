import Foundation

/// Reads structure choices from fuzz bytes, libFuzzer's FuzzedDataProvider in small: each
/// call takes bytes from the front and returns zero values once they run out.
struct FuzzInput {
    private let bytes: [UInt8]
    private var position = 0

    init(_ data: Data) { bytes = Array(data) }

    var isExhausted: Bool { position >= bytes.count }

    mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func boolean() -> Bool { byte() & 1 == 1 }

    /// A value in `range` (at most 16 bits of choice).
    mutating func integer(in range: ClosedRange<Int>) -> Int {
        let span = range.upperBound - range.lowerBound + 1
        let raw = span <= 256 ? Int(byte()) : Int(byte()) | Int(byte()) << 8
        return range.lowerBound + raw % span
    }

    mutating func element<Element>(of choices: [Element]) -> Element { choices[integer(in: 0...(choices.count - 1))] }

    /// Up to `maximumCount` bytes, the count read first.
    mutating func bytes(maximumCount: Int) -> [UInt8] {
        let count = min(integer(in: 0...maximumCount), bytes.count - min(position, bytes.count))
        defer { position += count }
        return Array(bytes[position..<(position + count)])
    }

    /// A string of up to `maximumLength` bytes (invalid UTF-8 repaired).
    mutating func string(maximumLength: Int) -> String {
        String(decoding: bytes(maximumCount: maximumLength), as: UTF8.self)
    }

    /// The bytes not read yet.
    mutating func remainder() -> [UInt8] {
        defer { position = bytes.count }
        return position < bytes.count ? Array(bytes[position...]) : []
    }
}

/// A per-process scratch directory for targets whose entry point takes a path (on tmpfs
/// when /dev/shm exists, so a write per input stays cheap).
enum FuzzScratch {
    static let directory: String = {
        let base = FileManager.default.isWritableFile(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let path = (base as NSString).appendingPathComponent("quanta-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: FuzzScratch.directory) }
        return path
    }()

    /// Writes `data` to `name` in the scratch directory and returns the path.
    static func write(_ data: Data, name: String) -> String {
        let path = directory + "/" + name
        _ = FileManager.default.createFile(atPath: path, contents: data)
        return path
    }
}
