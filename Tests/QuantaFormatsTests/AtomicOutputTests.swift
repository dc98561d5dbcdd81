import Foundation
import QuantaFormats
import Testing

/// The output rules: nothing a user had is deleted or replaced without `--force`, inputs never,
/// temporaries of dead processes are cleaned up, failed outputs are set aside.
@Suite struct AtomicOutputTests {
    /// A process id that is not running: a child that has exited and been reaped.
    static func deadProcessID() throws -> pid_t {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }

    static func contents(_ path: String) -> String? {
        (try? String(contentsOfFile: path, encoding: .utf8))
    }

    @Test func refusesANonEmptyDirectoryAndLeavesItAsItWas() throws {
        let directory = try TemporaryDirectory()
        let output = directory.file("out")
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        _ = try directory.write(Array("mine".utf8), to: "out/notes.txt")
        expectFormatError(["non-empty directory", "--force"]) {
            try AtomicOutput.check(output, kind: .directory, inputs: [])
        }
        expectFormatError(["not replaceable"]) {
            try AtomicOutput.produce(output) { temporary throws(FormatError) in
                try AtomicOutput.write(Data("new".utf8), to: temporary + "/config.json")
            }
        }
        #expect(Self.contents(directory.file("out/notes.txt")) == "mine")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["out"])
    }

    @Test func refusesAnEntryOfTheOtherKind() throws {
        let directory = try TemporaryDirectory()
        let file = try directory.write(Array("mine".utf8), to: "model.quanta")
        try FileManager.default.createDirectory(atPath: directory.file("folder.gguf"), withIntermediateDirectories: true)
        expectFormatError(["is a file", "directory"]) { try AtomicOutput.check(file, kind: .directory, inputs: []) }
        expectFormatError(["is a directory", "file"]) {
            try AtomicOutput.check(directory.file("folder.gguf"), kind: .file, inputs: [])
        }
        expectFormatError(["not replaceable"]) { try AtomicOutput.write(Data("new".utf8), to: directory.file("folder.gguf")) }
        #expect(Self.contents(file) == "mine")
        try AtomicOutput.check(file, kind: .directory, inputs: [], force: true)
    }

    @Test func neverWritesOntoInsideOrOverAnInput() throws {
        let directory = try TemporaryDirectory()
        let model = directory.file("model")
        try FileManager.default.createDirectory(atPath: model, withIntermediateDirectories: true)
        let recipe = try directory.write(Array("stages: []".utf8), to: "recipe.yaml")
        for output in [model, model + "/x.quanta", directory.path, recipe, directory.path + "/./model/../recipe.yaml"] {
            expectFormatError(["is the input"]) { try AtomicOutput.check(output, kind: .file, inputs: [model, recipe], force: true) }
        }
        try FileManager.default.createSymbolicLink(atPath: directory.file("alias"), withDestinationPath: model)
        expectFormatError(["is the input"]) { try AtomicOutput.check(directory.file("alias"), kind: .directory, inputs: [model]) }
        try AtomicOutput.check(directory.file("other.quanta"), kind: .file, inputs: [model, recipe])
    }

    @Test func replacesAFileAndAnEmptyDirectoryAtomically() throws {
        let directory = try TemporaryDirectory()
        let file = try directory.write(Array("old".utf8), to: "a.json")
        try AtomicOutput.write(Data("new".utf8), to: file)
        #expect(Self.contents(file) == "new")
        let empty = directory.file("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        try AtomicOutput.check(empty, kind: .directory, inputs: [])
        try AtomicOutput.produce(empty) { temporary throws(FormatError) in
            try AtomicOutput.write(Data("{}".utf8), to: temporary + "/config.json")
        }
        #expect(Self.contents(empty + "/config.json") == "{}")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["a.json", "empty"])
    }

    @Test func aFailedWriteLeavesNothingBehind() throws {
        let directory = try TemporaryDirectory()
        expectFormatError(["disk full"]) {
            try AtomicOutput.produce(directory.file("x.gguf")) { temporary throws(FormatError) in
                try? Data("partial".utf8).write(to: URL(fileURLWithPath: temporary))
                throw .writeFailed(path: temporary, reason: "disk full")
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }

    @Test func removesTemporariesOfDeadProcessesOnly() throws {
        let directory = try TemporaryDirectory()
        let dead = try Self.deadProcessID()
        let stale = [".a.quanta.quanta-partial-\(dead)", ".b.gguf.partial-\(dead)-12345"]
        for name in stale { _ = try directory.write([1], to: name) }
        try FileManager.default.createDirectory(atPath: directory.file(".c.quanta-partial-\(dead)"), withIntermediateDirectories: true)
        let kept = [".d.quanta.quanta-partial-\(getpid())", ".notes.partial-x", "model.quanta-partial-\(dead)", ".e.partial-\(dead)"]
        for name in kept { _ = try directory.write([1], to: name) }
        try AtomicOutput.write(Data("new".utf8), to: directory.file("f.json"))
        let left = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(left == (kept + ["f.json"]).sorted())
    }

    @Test func forceSetsTheOldOutputAsideUntilTheNewOneIsComplete() throws {
        let directory = try TemporaryDirectory()
        let output = directory.file("out")
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        _ = try directory.write(Array("old".utf8), to: "out/notes.txt")
        struct Interrupted: Error {}
        #expect(throws: Interrupted.self) {
            try AtomicOutput.replacing(output, force: true) {
                #expect(!FileManager.default.fileExists(atPath: output))
                throw Interrupted()
            }
        }
        #expect(Self.contents(output + "/notes.txt") == "old")
        try AtomicOutput.replacing(output, force: true) { try AtomicOutput.write(Data("new".utf8), to: output) }
        #expect(Self.contents(output) == "new")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["out"])
    }

    @Test func restoresAnOutputThatADeadForcedRunSetAside() throws {
        let directory = try TemporaryDirectory()
        let dead = try Self.deadProcessID()
        _ = try directory.write(Array("old".utf8), to: ".model.gguf.quanta-replaced-\(dead)")
        try AtomicOutput.write(Data("{}".utf8), to: directory.file("other.json"))
        #expect(Self.contents(directory.file("model.gguf")) == "old")
    }

    @Test func setsAFailedOutputAsideWithoutReplacingAnything() throws {
        let directory = try TemporaryDirectory()
        let output = try directory.write(Array("second".utf8), to: "x.quanta")
        _ = try directory.write(Array("first".utf8), to: "x.quanta.failed")
        #expect(AtomicOutput.setAsideFailed(output) == output + ".failed.1")
        #expect(Self.contents(output + ".failed") == "first")
        #expect(Self.contents(output + ".failed.1") == "second")
        #expect(!FileManager.default.fileExists(atPath: output))
    }
}
