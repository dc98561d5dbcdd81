import Foundation

/// Writes outputs to a temporary sibling and renames it into place, so a failed or
/// interrupted write never leaves a half-written file or directory behind.
public enum AtomicOutput {
    /// Writes `data` to `path` atomically.
    public static func write(_ data: Data, to path: String) throws(FormatError) {
        try produce(path) { temporary throws(FormatError) in
            do { try data.write(to: URL(fileURLWithPath: temporary)) } catch {
                throw .writeFailed(path: path, reason: error.localizedDescription)
            }
        }
    }

    /// Calls `body` with a temporary path next to `path`; on success renames it to `path`
    /// (replacing what was there), on failure removes it.
    public static func produce(_ path: String, _ body: (String) throws(FormatError) -> Void) throws(FormatError) {
        let url = URL(fileURLWithPath: path)
        let manager = FileManager.default
        let directory = url.deletingLastPathComponent().path
        if !manager.fileExists(atPath: directory) {
            do { try manager.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
                throw .writeFailed(path: path, reason: error.localizedDescription)
            }
        }
        let temporary = directory + "/.\(url.lastPathComponent).partial-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try body(temporary)
        } catch {
            try? manager.removeItem(atPath: temporary)
            throw error
        }
        if manager.fileExists(atPath: path) {
            do { try manager.removeItem(atPath: path) } catch {
                try? manager.removeItem(atPath: temporary)
                throw .writeFailed(path: path, reason: "cannot replace existing output: \(error.localizedDescription)")
            }
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? manager.removeItem(atPath: temporary)
            throw .writeFailed(path: path, reason: reason)
        }
    }
}
