import Foundation
import QuantaFormats
import QuantaTensor
import Testing

@Suite struct HDF5RoundTripTests {
    @Test func roundTripPreservesNamesOrderDtypesShapesAndBytes() throws {
        let files = try HDF5TestFiles()
        defer { files.remove() }
        let original = try HDF5TestFiles.tinyCheckpoint()
        let path = files.path("tiny.h5")
        try HDF5Writer.write(original, to: path)

        let restored = try HDF5Reader.read(path: path)
        #expect(restored.tensors.map(\.name) == original.tensors.map(\.name))
        for (left, right) in zip(original.tensors, restored.tensors) {
            #expect(left.tensor.dtype == right.tensor.dtype, "\(left.name)")
            #expect(left.tensor.shape == right.tensor.shape, "\(left.name)")
            #expect(Array(left.tensor.storage.bytes) == Array(right.tensor.storage.bytes), "\(left.name)")
        }
        #expect(restored.config == original.config)
        #expect(restored.tokenizer == original.tokenizer)
        #expect(restored.tokenizerConfig == original.tokenizerConfig)
        #expect(restored.generationConfig == nil)
        #expect(try restored.tensor(named: "lm_head.weight")?.floatValues() == [0.5, -1, 3, 1024])
    }

    /// BOOL/I8/U64/F64, an empty tensor, and a tokenizer far above the 64 KiB attribute limit.
    @Test func roundTripOfOtherDtypesAndLargeTokenizer() throws {
        let files = try HDF5TestFiles()
        defer { files.remove() }
        let tensors = [
            NamedTensor(
                name: "mask", tensor: try Tensor(dtype: .bool, shape: [3], storage: TensorStorage(array: [UInt8](arrayLiteral: 1, 0, 1)))),
            NamedTensor(
                name: "codes", tensor: try Tensor(dtype: .int8, shape: [2], storage: TensorStorage(array: [Int8(-128), 127]))),
            NamedTensor(
                name: "offsets", tensor: try Tensor(dtype: .uint64, shape: [1], storage: TensorStorage(array: [UInt64.max]))),
            NamedTensor(name: "double", tensor: try Tensor(shape: [2], values: [1.5, -0.25]).converted(to: .float64)),
            NamedTensor(name: "empty", tensor: try Tensor(shape: [0, 4], values: [])),
        ]
        let tokenizer = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let original = ModelCheckpoint(
            config: HDF5TestFiles.config, tensors: tensors, tokenizer: tokenizer, generationConfig: Data("{}".utf8))
        let path = files.path("other.h5")
        try HDF5Writer.write(original, to: path)

        let restored = try HDF5Reader.read(path: path)
        #expect(restored.tensors.map(\.name) == ["mask", "codes", "offsets", "double", "empty"])
        #expect(restored.tensors.map(\.tensor.dtype) == [.bool, .int8, .uint64, .float64, .float32])
        #expect(restored.tensors.map(\.tensor.shape) == [[3], [2], [1], [2], [0, 4]])
        for (left, right) in zip(original.tensors, restored.tensors) {
            #expect(Array(left.tensor.storage.bytes) == Array(right.tensor.storage.bytes), "\(left.name)")
        }
        #expect(restored.tokenizer == tokenizer)
        #expect(restored.tokenizerConfig == nil)
        #expect(restored.generationConfig == Data("{}".utf8))
    }

    @Test func tensorInfosAndSummaryDescribeTheFile() throws {
        let files = try HDF5TestFiles()
        defer { files.remove() }
        let path = files.path("tiny.h5")
        try HDF5Writer.write(try HDF5TestFiles.tinyCheckpoint(), to: path)

        let infos = try HDF5Reader.tensorInfos(path: path)
        #expect(
            infos.first
                == TensorInfo(name: "model.layers.0.self_attn.q_proj.weight", dtype: "F32", shape: [2, 3], byteCount: 24))
        #expect(infos.map(\.dtype) == ["F32", "F16", "BF16", "I32", "F32"])
        #expect(infos.last?.shape == [])

        let summary = try HDF5Reader.summary(path: path)
        #expect(summary.layoutVersion == 1)
        #expect(summary.isCreationOrdered)
        #expect(summary.tensors == infos)
        #expect(summary.parameterCount == 6 + 6 + 4 + 3 + 1)
        #expect(summary.auxiliaryFiles.map(\.name) == ["tokenizer.json", "tokenizer_config.json"])
        let text = summary.description
        #expect(text.contains(path) && text.contains("creation order") && text.contains("BF16 x1"))
    }

    @Test func writingReplacesAnExistingFileAndLeavesNoTemporaries() throws {
        let files = try HDF5TestFiles()
        defer { files.remove() }
        let path = files.path("model.h5")
        var checkpoint = try HDF5TestFiles.tinyCheckpoint()
        try HDF5Writer.write(checkpoint, to: path)
        checkpoint.tensors.removeLast(3)
        try HDF5Writer.write(checkpoint, to: path)
        #expect(try HDF5Reader.tensorInfos(path: path).count == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: files.directory) == ["model.h5"])
    }

    @Test func duplicateTensorNameFailsWithoutWritingAFile() throws {
        let files = try HDF5TestFiles()
        defer { files.remove() }
        var checkpoint = try HDF5TestFiles.tinyCheckpoint()
        checkpoint.tensors.append(checkpoint.tensors[0])
        let path = files.path("dup.h5")
        let text = HDF5TestFiles.errorText { () throws(FormatError) in try HDF5Writer.write(checkpoint, to: path) }
        #expect(text.contains(path) && text.contains("model.layers.0.self_attn.q_proj.weight"))
        #expect(text.contains("more than once"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: files.directory).isEmpty)
    }

    @Test func nameWithSlashIsRejected() throws {
        let files = try HDF5TestFiles()
        defer { files.remove() }
        var checkpoint = try HDF5TestFiles.tinyCheckpoint()
        checkpoint.tensors[0].name = "model/layers.0.weight"
        let path = files.path("slash.h5")
        let text = HDF5TestFiles.errorText { () throws(FormatError) in try HDF5Writer.write(checkpoint, to: path) }
        #expect(text.contains(path) && text.contains("'model/layers.0.weight' contains '/'"))
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    /// Files from other writers: no creation-order tracking (name order), tokenizer as a
    /// root string attribute, config as a fixed-length string, no layout version.
    @Test func readsFilesFromOtherWriters() throws {
        let files = try HDF5TestFiles()
        defer { files.remove() }
        let path = try files.makeFile("other.h5") { file in
            try HDF5TestFiles.addStringAttribute("config", HDF5TestFiles.configText, to: file)
            try HDF5TestFiles.addStringAttribute("tokenizer", #"{"v": 1}"#, to: file)
            try HDF5TestFiles.addFloatDataset("b.weight", dimensions: [2], values: [1, 2], to: file)
            try HDF5TestFiles.addFloatDataset("a.weight", dimensions: [1, 1], values: [3], to: file)
        }
        let checkpoint = try HDF5Reader.read(path: path)
        #expect(checkpoint.tensors.map(\.name) == ["a.weight", "b.weight"])
        #expect(try checkpoint.tensors[1].tensor.floatValues() == [1, 2])
        #expect(checkpoint.tokenizer == Data(#"{"v": 1}"#.utf8))
        #expect(checkpoint.config == HDF5TestFiles.config)
        let summary = try HDF5Reader.summary(path: path)
        #expect(summary.layoutVersion == nil && !summary.isCreationOrdered)
    }
}
