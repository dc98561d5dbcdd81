import Foundation
import QuantaFormats
import QuantaModel
import QuantaPipeline
import Testing

/// `quanta quantize` refuses unsafe outputs before any work and never touches its inputs.
@Suite struct QuantizationJobOutputTests {
    final class Workspace {
        let path = NSTemporaryDirectory() + "quanta-job-" + UUID().uuidString
        var model: String { path + "/model" }
        var recipe: String { path + "/rtn.yaml" }

        init() throws {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            try HuggingFaceDirectory.write(try tinyModelCheckpoint(), to: model)
            let recipe = "name: rtn\nstages:\n  - algorithm: rtn\n    scheme:\n      bits: 4\n      group_size: 8\n"
            try Data(recipe.utf8).write(to: URL(fileURLWithPath: self.recipe))
        }

        deinit { try? FileManager.default.removeItem(atPath: path) }

        func job(output: String, force: Bool = false) -> QuantizationJob {
            var job = QuantizationJob(
                modelPath: model, recipePath: recipe, calibrationPath: nil, outputPath: output, context: .serial()) { _ in }
            job.replaceExisting = force
            return job
        }

        func listing() throws -> [String] {
            try FileManager.default.subpathsOfDirectory(atPath: path).sorted()
        }
    }

    static func message(_ body: () throws -> Void) -> String {
        do { try body() } catch { return (error as? LocalizedError)?.errorDescription ?? "\(error)" }
        return "no error"
    }

    @Test func refusesItsOwnInputsEvenWithForce() throws {
        let workspace = try Workspace()
        let before = try workspace.listing()
        for output in [workspace.model, workspace.recipe, workspace.path, workspace.model + "/out.quanta"] {
            for force in [false, true] {
                let message = Self.message { try workspace.job(output: output, force: force).run() }
                #expect(message.contains("is the input"), "\(output): \(message)")
            }
        }
        #expect(try workspace.listing() == before)
    }

    @Test func refusesANonEmptyDirectoryUnlessForced() throws {
        let workspace = try Workspace()
        let output = workspace.path + "/results"
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: URL(fileURLWithPath: output + "/notes.txt"))
        #expect(Self.message { try workspace.job(output: output).run() }.contains("non-empty directory"))
        #expect(Self.message { try workspace.job(output: output + "/notes.txt").run() }.contains("exists and is a file"))
        #expect(FileManager.default.fileExists(atPath: output + "/notes.txt"))
        try workspace.job(output: output, force: true).run()
        #expect(!FileManager.default.fileExists(atPath: output + "/notes.txt"))
        #expect(FileManager.default.fileExists(atPath: output + "/quantization.json"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspace.path).sorted() == ["model", "results", "rtn.yaml"])
    }
}
