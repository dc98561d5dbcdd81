import Foundation

/// What an output path will hold.
public enum OutputEntryKind: String, Sendable {
    case file, directory
}

/// The output rules of every Quanta command, with the care of `git` or `rsync`:
///
/// - an output is never one of the command's inputs, inside one, or a directory holding one;
/// - a non-empty directory, or an entry of the other kind, is never replaced unless the user
///   passed `--force` (and then only once the new output is complete);
/// - outputs are written under a temporary sibling name, `.NAME.quanta-partial-PID`, and
///   renamed into place, so an interrupted run leaves no half-written output; temporaries of
///   processes that are no longer running are removed by the next write into that directory.
public enum AtomicOutput {
    /// The marker in temporary names.
    public static let partialMarker = ".quanta-partial-"
    /// The marker of an output set aside by `--force` until its replacement is complete.
    public static let setAsideMarker = ".quanta-replaced-"

    /// Writes `data` to `path` atomically.
    public static func write(_ data: Data, to path: String) throws(FormatError) {
        try produce(path) { temporary throws(FormatError) in
            do { try data.write(to: URL(fileURLWithPath: temporary)) } catch {
                throw .writeFailed(path: path, reason: error.localizedDescription)
            }
        }
    }

    /// Throws unless `path` may receive an output of `kind`: not one of `inputs` (nor inside
    /// one nor holding one) and — unless `force` — not a non-empty directory or an existing
    /// entry of the other kind. Called before any work, so a refusal costs nothing.
    public static func check(_ path: String, kind: OutputEntryKind, inputs: [String], force: Bool = false)
        throws(FormatError)
    {
        let output = resolved(path)
        for input in inputs {
            let source = resolved(input)
            if output == source || output.hasPrefix(source + "/") || source.hasPrefix(output + "/") {
                throw .unsupportedOperation(
                    path: path, detail: "is the input \(input), inside it or holds it; nothing was written, choose another --output")
            }
        }
        guard !force, let existing = existingKind(path) else { return }
        if existing != kind {
            throw .unsupportedOperation(
                path: path,
                detail: "exists and is a \(existing.rawValue), but this output is a \(kind.rawValue); nothing was replaced, choose another --output (or pass --force to replace it)")
        }
        if existing == .directory, !isEmptyDirectory(path) {
            throw .unsupportedOperation(
                path: path,
                detail: "is a non-empty directory; nothing was replaced, choose a new --output (or pass --force to replace it)")
        }
    }

    /// Calls `body` with a temporary path next to `path`; on success renames it to `path`,
    /// on failure removes it. A file replaces a file and a directory an empty directory (one
    /// atomic rename); anything else at `path` is an error, never deleted.
    public static func produce(_ path: String, _ body: (String) throws(FormatError) -> Void) throws(FormatError) {
        let url = URL(fileURLWithPath: path)
        let manager = FileManager.default
        let directory = url.deletingLastPathComponent().path
        if !manager.fileExists(atPath: directory) {
            do { try manager.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
                throw .writeFailed(path: path, reason: error.localizedDescription)
            }
        }
        removeStaleTemporaries(in: directory)
        let temporary = directory + "/." + url.lastPathComponent + partialMarker + String(getpid())
        try? manager.removeItem(atPath: temporary)  // this process's own leftover, if any
        do {
            try body(temporary)
        } catch {
            try? manager.removeItem(atPath: temporary)
            throw error
        }
        if let existing = existingKind(path), existing != existingKind(temporary) || (existing == .directory && !isEmptyDirectory(path)) {
            try? manager.removeItem(atPath: temporary)
            throw .unsupportedOperation(
                path: path, detail: "appeared while the output was written and is not replaceable; nothing was replaced, choose another --output")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? manager.removeItem(atPath: temporary)
            throw .writeFailed(path: path, reason: reason)
        }
    }

    /// `--force`: runs `body` with whatever is at `path` set aside under a temporary name; on
    /// success removes it, on failure puts it back. Without `force`, just runs `body`.
    public static func replacing<Result>(_ path: String, force: Bool, _ body: () throws -> Result) throws -> Result {
        guard force, existingKind(path) != nil else { return try body() }
        let url = URL(fileURLWithPath: path)
        let setAside = url.deletingLastPathComponent().path + "/." + url.lastPathComponent + setAsideMarker + String(getpid())
        guard rename(path, setAside) == 0 else {
            throw FormatError.writeFailed(path: path, reason: "cannot set the existing output aside: \(String(cString: strerror(errno)))")
        }
        do {
            let result = try body()
            try? FileManager.default.removeItem(atPath: setAside)
            return result
        } catch {
            if existingKind(path) == nil { _ = rename(setAside, path) }
            throw error
        }
    }

    /// Renames an output that failed its validation to `PATH.failed` (or `.failed.N`, never
    /// over an existing entry), or removes it when no such name is free; returns the new path.
    public static func setAsideFailed(_ path: String) -> String? {
        for suffix in [".failed"] + (1...99).map({ ".failed.\($0)" }) where existingKind(path + suffix) == nil {
            if rename(path, path + suffix) == 0 { return path + suffix }
            break
        }
        try? FileManager.default.removeItem(atPath: path)
        return nil
    }

    /// Removes `.NAME.quanta-partial-PID` (and the older `.NAME.partial-PID-N`) entries of
    /// processes that are not running; restores `.NAME.quanta-replaced-PID` outputs that a
    /// dead `--force` run had set aside, when nothing took their place.
    public static func removeStaleTemporaries(in directory: String) {
        let manager = FileManager.default
        guard let names = try? manager.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasPrefix(".") {
            if let (original, pid) = split(name, marker: setAsideMarker), !isRunning(pid) {
                let target = directory + "/" + original
                if existingKind(target) == nil { _ = rename(directory + "/" + name, target) }
            } else if let pid = temporaryOwner(name), !isRunning(pid) {
                try? manager.removeItem(atPath: directory + "/" + name)
            }
        }
    }

    /// The process that owns a temporary name, or nil when `name` is not one.
    static func temporaryOwner(_ name: String) -> pid_t? {
        if let (_, pid) = split(name, marker: partialMarker) { return pid }
        // Older releases: `.NAME.partial-PID-RANDOM`.
        guard let range = name.range(of: ".partial-", options: .backwards) else { return nil }
        let parts = name[range.upperBound...].split(separator: "-")
        guard parts.count == 2, UInt32(parts[1]) != nil else { return nil }
        return pid_t(parts[0])
    }

    private static func split(_ name: String, marker: String) -> (original: String, pid: pid_t)? {
        guard let range = name.range(of: marker, options: .backwards), let pid = pid_t(name[range.upperBound...]) else {
            return nil
        }
        let original = String(name[name.index(after: name.startIndex)..<range.lowerBound])
        return original.isEmpty ? nil : (original, pid)
    }

    private static func isRunning(_ pid: pid_t) -> Bool {
        pid == getpid() || kill(pid, 0) == 0 || errno == EPERM
    }

    static func existingKind(_ path: String) -> OutputEntryKind? {
        var status = stat()
        guard lstat(path, &status) == 0 else { return nil }
        return (status.st_mode & S_IFMT) == S_IFDIR ? .directory : .file
    }

    private static func isEmptyDirectory(_ path: String) -> Bool {
        (try? FileManager.default.contentsOfDirectory(atPath: path).isEmpty) ?? false
    }

    private static func resolved(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }
}
