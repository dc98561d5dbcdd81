import Foundation
import QuantaFormats
import Testing

/// Corrupt, truncated and hostile GGUF input: every defect is a `FormatError` that names the
/// file and the problem (and the tensor/key and byte offset where there is one), never a crash
/// or a giant allocation. Files are crafted with `GGUFBuilder` or mutated from fixtures.
@Suite struct GGUFValidationTests {
    @Test func craftedBaselineIsValid() throws {
        let file = try GGUFFile(path: try GGUFBuilder().write())
        #expect(file.tensors.map(\.shape) == [[2, 8]])
        #expect(file.architecture == "llama")
    }

    @Test func rejectsTruncatedFiles() throws {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: GGUFFixtures.path("tiny-llama.gguf"))))
        // Inside the header: a named, located truncation error.
        let path = try GGUFFixtures.temporaryFile(Array(bytes[0..<100]), name: "cut.gguf")
        expectFormatError(["cut.gguf", "truncated", "at byte"]) { _ = try GGUFFile(path: path) }
        // Inside the tensor data: the last tensor's data lies outside the file.
        let dataCut = try GGUFFixtures.temporaryFile(Array(bytes.dropLast(300)), name: "data-cut.gguf")
        expectFormatError(["data-cut.gguf", "data lies outside the file", "ends past the file's"]) { _ = try GGUFFile(path: dataCut) }
        // Every prefix length fails cleanly.
        for length in stride(from: 0, to: bytes.count - 64, by: 97) {
            let prefix = try GGUFFixtures.temporaryFile(Array(bytes[0..<length]), name: "prefix.gguf")
            #expect(throws: FormatError.self) { try GGUFFile(path: prefix) }
        }
    }

    @Test func rejectsBadMagic() throws {
        var builder = GGUFBuilder()
        builder.magic = Array("GGML".utf8)
        let path = try builder.write()
        expectFormatError([path, "bad magic", "byte 0"]) { _ = try GGUFFile(path: path) }
    }

    @Test(arguments: [UInt32(1), 4, 0x0300_0000])
    func rejectsUnsupportedVersion(version: UInt32) throws {
        var builder = GGUFBuilder()
        builder.version = version
        let path = try builder.write()
        expectFormatError([path, "unsupported GGUF version \(version)", "byte 4"]) { _ = try GGUFFile(path: path) }
        if version == 0x0300_0000 {
            expectFormatError(["big-endian"]) { _ = try GGUFFile(path: path) }
        }
    }

    @Test func rejectsAbsurdCounts() throws {
        var builder = GGUFBuilder()
        builder.tensorCount = 1 << 60
        let tensors = try builder.write()
        expectFormatError([tensors, "tensor count 1152921504606846976"]) { _ = try GGUFFile(path: tensors) }
        builder = GGUFBuilder()
        builder.metadataCount = UInt64.max
        let keys = try builder.write()
        expectFormatError([keys, "metadata count", "absurdly large"]) { _ = try GGUFFile(path: keys) }
        builder = GGUFBuilder()
        builder.metadata.append(("huge.array", GGUFBuilder.uint32(9) + GGUFBuilder.uint32(4) + GGUFBuilder.uint64(1 << 40)))
        let array = try builder.write()
        expectFormatError([array, "huge.array", "claims 1099511627776 elements"]) { _ = try GGUFFile(path: array) }
    }

    @Test func rejectsStringLengthPastTheEnd() throws {
        var builder = GGUFBuilder()
        builder.metadata = [("general.name", GGUFBuilder.uint32(8) + GGUFBuilder.uint64(1 << 50))]
        let path = try builder.write()
        expectFormatError([path, "general.name", "truncated", "at byte 48", "claims 1125899906842624 bytes"]) { _ = try GGUFFile(path: path) }
    }

    @Test func rejectsTooManyDimensions() throws {
        var builder = GGUFBuilder()
        builder.tensors[0].dimensions = [1, 1, 1, 1, 16]
        let path = try builder.write()
        expectFormatError([path, "'weight'", "n_dims 5", "at byte"]) { _ = try GGUFFile(path: path) }
    }

    @Test func rejectsOverflowingDimensions() throws {
        var builder = GGUFBuilder()
        builder.tensors[0].dimensions = [1 << 40, 1 << 40]
        let path = try builder.write()
        expectFormatError([path, "'weight'", "overflow"]) { _ = try GGUFFile(path: path) }
    }

    @Test func rejectsUnknownGGMLType() throws {
        var builder = GGUFBuilder()
        builder.tensors[0].type = 99
        let path = try builder.write()
        expectFormatError([path, "'weight'", "unknown ggml type 99", "at byte"]) { _ = try GGUFFile(path: path) }
    }

    @Test func rejectsPartialBlocks() throws {
        var builder = GGUFBuilder()
        builder.tensors[0] = .init(name: "blocky", dimensions: [48, 1], type: 2, offset: 0)  // Q4_0, 32 per block
        let path = try builder.write()
        expectFormatError([path, "'blocky'", "not a multiple of Q4_0's block size 32"]) { _ = try GGUFFile(path: path) }
    }

    @Test func rejectsDataOutOfRange() throws {
        var builder = GGUFBuilder()
        builder.tensors[0].offset = 1024
        let path = try builder.write()
        expectFormatError([path, "'weight'", "outside the file", "offset 1024"]) { _ = try GGUFFile(path: path) }
        builder.tensors[0].offset = UInt64(Int.max) / 32 * 32
        let overflow = try builder.write()
        expectFormatError([overflow, "'weight'", "outside the file"]) { _ = try GGUFFile(path: overflow) }
    }

    @Test func rejectsMisalignedOffsets() throws {
        var builder = GGUFBuilder()
        builder.tensors[0].offset = 4
        let path = try builder.write()
        expectFormatError([path, "'weight'", "not a multiple of the alignment 32"]) { _ = try GGUFFile(path: path) }
    }

    @Test func rejectsOverlappingData() throws {
        var builder = GGUFBuilder()
        builder.tensors.append(.init(name: "second", dimensions: [8, 2], type: 0, offset: 32))
        builder.dataByteCount = 96
        let path = try builder.write()
        expectFormatError([path, "'weight' and 'second' overlap"]) { _ = try GGUFFile(path: path) }
    }

    @Test func rejectsDuplicateTensorNames() throws {
        var builder = GGUFBuilder()
        builder.dataByteCount = 128
        builder.tensors.append(.init(name: "weight", dimensions: [8, 2], type: 0, offset: 64))
        let path = try builder.write()
        expectFormatError([path, "'weight' appears more than once"]) { _ = try GGUFFile(path: path) }
    }

    @Test func rejectsDuplicateMetadataKeys() throws {
        var builder = GGUFBuilder()
        builder.metadata.append(("general.architecture", GGUFBuilder.stringValue("qwen2")))
        let path = try builder.write()
        expectFormatError([path, "general.architecture", "duplicate metadata key at byte"]) { _ = try GGUFFile(path: path) }
    }

    @Test func rejectsBadValueTypesAndAlignment() throws {
        var builder = GGUFBuilder()
        builder.metadata.append(("odd.type", GGUFBuilder.uint32(13) + [0]))
        let type = try builder.write()
        expectFormatError([type, "odd.type", "unknown GGUF value type 13"]) { _ = try GGUFFile(path: type) }
        builder = GGUFBuilder()
        builder.metadata.append(("general.alignment", GGUFBuilder.uint32Value(48)))
        let alignment = try builder.write()
        expectFormatError([alignment, "general.alignment", "power of two"]) { _ = try GGUFFile(path: alignment) }
        builder = GGUFBuilder()
        builder.metadata.append(("bad.utf8", GGUFBuilder.uint32(8) + GGUFBuilder.uint64(2) + [0xC3, 0x28]))
        let utf8 = try builder.write()
        expectFormatError([utf8, "bad.utf8", "not valid UTF-8"]) { _ = try GGUFFile(path: utf8) }
    }

    /// Random byte changes in the header must give a valid file or an error, never a trap.
    @Test func survivesHeaderCorruption() throws {
        let original = Array(try Data(contentsOf: URL(fileURLWithPath: GGUFFixtures.path("tiny-llama.gguf"))))
        var generator = SystemRandomNumberGenerator()
        let headerEnd = try GGUFFile(path: GGUFFixtures.path("tiny-llama.gguf")).dataOffset
        for _ in 0..<200 {
            var bytes = original
            for _ in 0..<3 {
                bytes[Int.random(in: 0..<headerEnd, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            let path = try GGUFFixtures.temporaryFile(bytes, name: "corrupt.gguf")
            do {
                let file = try GGUFFile(path: path)
                for tensor in file.tensors where GGUFDequantizer.supports(tensor.type) {
                    _ = try file.floatValues(of: tensor)
                }
            } catch {
                #expect(error.errorDescription?.contains("corrupt.gguf") == true)
            }
        }
    }

    @Test func unsupportedTypeIsReadableButNotDequantized() throws {
        var builder = GGUFBuilder()
        builder.tensors[0] = .init(name: "k2", dimensions: [256, 1], type: 10, offset: 0)  // Q2_K: 84 bytes
        builder.dataByteCount = 96
        let path = try builder.write()
        let file = try GGUFFile(path: path)
        #expect(file.tensorInfos == [TensorInfo(name: "k2", dtype: "Q2_K", shape: [1, 256], byteCount: 84)])
        expectFormatError([path, "'k2'", "Q2_K"]) { _ = try file.floatTensor(named: "k2") }
    }
}
