import Foundation
import QuantaFormats
import QuantaModel

extension FuzzTargets {
    /// GGUF: the header, metadata and tensor table (`GGUFFile(file:)` on an in-memory file),
    /// then the config, the tokenizer built from `tokenizer.ggml.*`, and every tensor dequantized.
    static let gguf = FuzzTarget(
        name: "gguf",
        summary: "GGUFFile(file:) on an in-memory file; GGUFImporter.config(from:), importCheckpoint, "
            + "floatValues(of:) per tensor; Tokenizer(gguf:) with encode/decode",
        maximumLength: 65536,
        run: { data in
            let file: GGUFFile
            do { file = try GGUFFile(file: MappedFile(data: data, path: "fuzz.gguf")) } catch { return }
            _ = file.tensorInfos
            _ = try? GGUFImporter.config(from: file)
            // The import dequantizes every tensor; when it fails, each tensor is tried on its own.
            if (try? GGUFImporter.importCheckpoint(file)) == nil {
                for tensor in file.tensors { _ = try? file.floatValues(of: tensor) }
            }
            if let tokenizer = try? Tokenizer(gguf: file) { TokenizerExercise.run(tokenizer) }
        },
        seeds: { try SeedModels.ggufFiles() })
}
