import Foundation
import QuantaFormats
import QuantaTensor
import Testing

@Suite struct ContainerRoundTripTests {
    @Test(arguments: [nil, 3] as [Int32?])
    func writeThenReadKeepsEverything(zstdLevel: Int32?) throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("tiny.qnta")
        let model = try TinyContainerModel()
        try model.write(to: path, zstdLevel: zstdLevel)

        let container = try QuantaContainer(path: path, verify: true)
        #expect(container.version == 1)
        #expect(container.toolName == "quanta")
        #expect(container.toolVersion == QuantaContainerFormat.toolVersion)
        #expect(container.config == tinyConfig())
        #expect(container.provenance == model.provenance)
        #expect(container.tensorNames == model.tensors.map(\.name))
        #expect(container.fileNames == ["tokenizer.json", "tokenizer_config.json"])
        for file in model.files { #expect(try container.file(named: file.name) == file.data) }
        #expect(try container.file(named: "generation_config.json") == nil)

        for original in model.tensors {
            let read = try container.tensor(named: original.name)
            #expect(read.shape == original.shape)
            let expected = try #require(model.expected[original.name])
            #expect(try read.floatTensor().floatValues() == expected, "\(original.name)")
            switch (original.content, read.content) {
            case (.dense(let a), .dense(let b)):
                #expect(a.dtype == b.dtype)
                #expect(a.storage.withUnsafeBytes { Array($0) } == b.storage.withUnsafeBytes { Array($0) })
            case (.packed(let a), .packed(let b)):
                #expect(a.bits == b.bits && a.groupSize == b.groupSize && a.symmetric == b.symmetric)
                #expect(a.unpackedCodes() == b.unpackedCodes())
                #expect(a.permutation() == b.permutation())
            default:
                Issue.record("\(original.name): content kind changed")
            }
        }
        // Uncompressed arrays sit at 64-byte-aligned addresses of the mapping.
        let embedding = try container.tensor(named: "model.embed_tokens.weight")
        if case .dense(let tensor) = embedding.content {
            #expect(Int(bitPattern: tensor.storage.bytes.baseAddress) % 64 == 0)
        }
        for entry in container.tensorEntries {
            for array in entry.arrays { #expect(array.offset % 64 == 0) }
        }

        let compressed = container.fileEntries[0].array.compression
        #expect(compressed == (zstdLevel == nil ? .none : .zstd))
        if zstdLevel != nil { #expect(container.fileEntries[0].array.storedByteCount < container.fileEntries[0].array.byteCount) }

        let infos = container.tensorInfos
        #expect(infos.map(\.dtype) == ["F32", "F16", "BF16", "int4-g4", "int3-g5", "int2-channel", "int8-channel"])
        #expect(infos[3].shape == [8, 8])

        let checkpoint = try container.dequantizedCheckpoint()
        #expect(checkpoint.tensors.count == model.tensors.count)
        #expect(try checkpoint.tensor(named: "model.layers.0.mlp.down_proj.weight")?.floatValues()
            == model.expected["model.layers.0.mlp.down_proj.weight"])
        #expect(checkpoint.tokenizer == model.files[0].data)
    }

    @Test func lazyVerificationOpensWithoutReadingData() throws {
        let bytes = try TinyContainerModel().bytes()
        let container = try QuantaContainer(data: Data(bytes), verify: false)
        #expect(container.tensorEntries.count == 7)
        try container.verifyAll()
        _ = try container.tensors()
    }

    @Test func detectAndSummaryKnowTheContainer() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("tiny.qnta")
        try TinyContainerModel().write(to: path)
        #expect(try ModelFormat.detect(path: path) == .quanta)
        let summary = try ModelFiles.summary(path: path)
        #expect(summary.format == .quanta)
        #expect(summary.architecture == "llama")
        #expect(summary.tensorCount == 7)
        #expect(summary.dtypeCounts.map(\.dtype).contains("int4-g4"))
        expectFormatError(["packed weights", "dequantizedCheckpoint"]) { _ = try ModelFiles.loadCheckpoint(path: path) }
    }

    @Test func writerRejectsBadInputs() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("bad.qnta")
        let tensor = try Tensor(shape: [2], values: [1, 2])
        expectFormatError(["'a'", "more than once"]) {
            try QuantaContainerWriter.write(
                to: path, config: tinyConfig(),
                tensors: [ContainerTensor(name: "a", dense: tensor), ContainerTensor(name: "a", dense: tensor)])
        }
        let integers = try Tensor(dtype: .int32, shape: [1], storage: TensorStorage(array: [Int32(1)]))
        expectFormatError(["'i'", "I32"]) {
            try QuantaContainerWriter.write(to: path, config: tinyConfig(), tensors: [ContainerTensor(name: "i", dense: integers)])
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
