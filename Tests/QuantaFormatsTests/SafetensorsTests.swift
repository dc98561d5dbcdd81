import Foundation
import QuantaFormats
import QuantaTensor
import Testing

@Suite struct SafetensorsTests {
    @Test func roundTripKeepsNamesDtypesShapesAndBytes() throws {
        let directory = try TemporaryDirectory()
        let first = try Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let second = try Tensor(shape: [4], values: [0.5, -1, 65504, 1e-3]).converted(to: .float16)
        let third = try Tensor(shape: [3], values: [1, 2.5, -3]).converted(to: .bfloat16)
        let path = directory.file("model.safetensors")
        try SafetensorsWriter.write(
            [NamedTensor(name: "a", tensor: first), NamedTensor(name: "b", tensor: second),
             NamedTensor(name: "c", tensor: third)], to: path)
        let file = try SafetensorsFile(path: path)
        #expect(file.entries.map(\.name) == ["a", "b", "c"])
        #expect(file.entries.map(\.dtype) == [.float32, .float16, .bfloat16])
        let tensors = try file.tensors()
        #expect(try tensors[0].tensor.floatValues() == [1, 2, 3, 4, 5, 6])
        #expect(try tensors[1].tensor.floatValues() == [0.5, -1, 65504, Float(Float16(1e-3))])
        #expect(try tensors[2].tensor.floatValues() == [1, 2.5, -3])
        #expect(file.metadata.first?.0 == "format")
        // The header is padded so that data starts 8-byte aligned.
        let raw = try Data(contentsOf: URL(fileURLWithPath: path))
        let headerLength = raw.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect((8 + headerLength) % 8 == 0)
    }

    @Test func readsFileWrittenByPythonSafetensorsLayout() throws {
        // Header in the exact form the Python library writes (compact JSON, sorted keys).
        let directory = try TemporaryDirectory()
        let values: [Float] = [1, -2]
        let data = values.withUnsafeBytes { [UInt8]($0) }
        let header = #"{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        let path = try directory.write(safetensorsBytes(header: header, data: data), to: "x.safetensors")
        #expect(try SafetensorsFile(path: path).tensors()[0].tensor.floatValues() == values)
    }

    @Test func fileShorterThanHeaderLengthIsTruncated() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write([1, 2, 3], to: "short.safetensors")
        expectFormatError(["short.safetensors", "truncated", "8-byte header length"]) { _ = try SafetensorsFile(path: path) }
    }

    @Test func headerLengthPastEndIsTruncated() throws {
        let directory = try TemporaryDirectory()
        var bytes = safetensorsBytes(header: "{}", data: [])
        bytes[0] = 200
        let path = try directory.write(bytes, to: "long.safetensors")
        expectFormatError(["long.safetensors", "truncated", "JSON header"]) { _ = try SafetensorsFile(path: path) }
    }

    @Test func hugeHeaderLengthIsRejectedBeforeReading() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x7B], to: "huge.safetensors")
        expectFormatError(["huge.safetensors", "header length"]) { _ = try SafetensorsFile(path: path) }
    }

    @Test func invalidJSONNamesOffset() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write(safetensorsBytes(header: #"{"w": {"dtype": }"#, data: []), to: "bad.safetensors")
        expectFormatError(["bad.safetensors", "invalid JSON", "at byte"]) { _ = try SafetensorsFile(path: path) }
    }

    @Test func offsetsOutsideDataAreRejected() throws {
        let directory = try TemporaryDirectory()
        let header = #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#
        let path = try directory.write(safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 8)), to: "o.safetensors")
        expectFormatError(["o.safetensors", "'w'", "outside the file", "data section has 8 bytes"]) {
            _ = try SafetensorsFile(path: path)
        }
    }

    @Test func overlappingTensorsAreRejected() throws {
        let directory = try TemporaryDirectory()
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        let path = try directory.write(safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 12)), to: "ov.safetensors")
        expectFormatError(["ov.safetensors", "'a'", "'b'", "overlap"]) { _ = try SafetensorsFile(path: path) }
    }

    @Test func unknownDtypeIsRejected() throws {
        let directory = try TemporaryDirectory()
        let header = #"{"w":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}"#
        let path = try directory.write(safetensorsBytes(header: header, data: [0]), to: "d.safetensors")
        expectFormatError(["d.safetensors", "'w'", "unsupported dtype F4"]) { _ = try SafetensorsFile(path: path) }
    }

    @Test func elementCountMustMatchShape() throws {
        let directory = try TemporaryDirectory()
        let header = #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#
        let path = try directory.write(safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 8)), to: "s.safetensors")
        expectFormatError(["s.safetensors", "'w'", "needs 12 bytes", "span 8"]) { _ = try SafetensorsFile(path: path) }
    }

    @Test func overflowingDimensionsAreRejected() throws {
        let directory = try TemporaryDirectory()
        let header = #"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#
        let path = try directory.write(safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 8)), to: "big.safetensors")
        expectFormatError(["big.safetensors", "'w'", "more elements than fit"]) { _ = try SafetensorsFile(path: path) }
    }

    @Test func duplicateNamesAreRejected() throws {
        let directory = try TemporaryDirectory()
        let header = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        let path = try directory.write(safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 8)), to: "dup.safetensors")
        expectFormatError(["dup.safetensors", "'w'", "more than once"]) { _ = try SafetensorsFile(path: path) }
    }

    @Test func missingFileIsNamed() {
        expectFormatError(["/nonexistent/m.safetensors", "no such file"]) {
            _ = try SafetensorsFile(path: "/nonexistent/m.safetensors")
        }
    }

    @Test func writerRejectsDuplicateNamesAndLeavesNoFile() throws {
        let directory = try TemporaryDirectory()
        let tensor = try Tensor(shape: [1], values: [1])
        let path = directory.file("out.safetensors")
        expectFormatError(["out.safetensors", "'x'"]) {
            try SafetensorsWriter.write([NamedTensor(name: "x", tensor: tensor), NamedTensor(name: "x", tensor: tensor)], to: path)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }
}
