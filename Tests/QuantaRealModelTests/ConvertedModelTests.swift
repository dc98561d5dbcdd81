import Foundation
import QuantaFormats
import QuantaTensor
import Testing

/// The converted SmolLM2 directory must load in Hugging Face `tokenizers` and
/// `transformers` and reproduce their reference ids and logits; HF ↔ HDF5 must be lossless.
@Suite(.serialized) struct ConvertedModelTests {
    @Test func huggingFaceDirectoryLoadsInTransformersAndTokenizers() throws {
        let checkpoint = try RealModelEnvironment.checkpoint.get()
        let scratch = ScratchDirectory()
        let directory = scratch.path + "/smollm2"
        try HuggingFaceDirectory.write(checkpoint, to: directory)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Python/check_hf_directory.py").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, directory, RealModelEnvironment.sharedPath]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "check_hf_directory.py: \(text.suffix(2000))")
    }

    @Test func hdf5AndHuggingFaceRoundTripsAreLossless() throws {
        let checkpoint = try RealModelEnvironment.checkpoint.get()
        let scratch = ScratchDirectory()
        try HDF5Writer.write(checkpoint, to: scratch.path + "/model.h5")
        let fromHDF5 = try ModelFiles.loadCheckpoint(path: scratch.path + "/model.h5")
        try HuggingFaceDirectory.write(fromHDF5, to: scratch.path + "/hf")
        let fromDirectory = try ModelFiles.loadCheckpoint(path: scratch.path + "/hf")
        #expect(fromDirectory.config == checkpoint.config)
        #expect(fromDirectory.tokenizer == checkpoint.tokenizer)
        #expect(fromDirectory.tensors.count == checkpoint.tensors.count)
        #expect(zip(fromDirectory.tensors, checkpoint.tensors).allSatisfy { $0.name == $1.name }, "tensor order changed")
        for (left, right) in zip(fromDirectory.tensors, checkpoint.tensors) {
            let same = left.tensor.storage.withUnsafeBytes { a in right.tensor.storage.withUnsafeBytes { b in a.elementsEqual(b) } }
            #expect(same, "\(left.name) changed in the HDF5 → HF round trip")
        }
    }
}
