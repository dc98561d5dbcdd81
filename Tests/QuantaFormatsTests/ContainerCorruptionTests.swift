import Foundation
import QuantaFormats
import QuantaTensor
import Testing

@Suite struct ContainerCorruptionTests {
    @Test(arguments: [nil, 3] as [Int32?])
    func flippedByteInEveryArrayNamesItsTensor(zstdLevel: Int32?) throws {
        let bytes = try TinyContainerModel().bytes(zstdLevel: zstdLevel)
        let (dataStart, container) = try containerLayout(bytes)
        var owners: [(name: String, array: ContainerArrayEntry)] = container.fileEntries
        for entry in container.tensorEntries { owners += entry.arrays.map { (entry.name, $0) } }
        #expect(owners.count == 2 + 3 + 4 * 3 + 1)
        for (name, array) in owners where array.storedByteCount > 0 {
            var corrupt = bytes
            corrupt[dataStart + array.offset + array.storedByteCount / 2] ^= 0x10
            // Eager verification fails at open.
            expectFormatError(["'\(name)'", "'\(array.role)'", "checksum"]) {
                _ = try QuantaContainer(data: Data(corrupt), path: "x.qnta", verify: true)
            }
            // Lazy verification fails on first access to that tensor (or file) only.
            let lazy = try QuantaContainer(data: Data(corrupt), path: "x.qnta", verify: false)
            expectFormatError(["'\(name)'", "checksum"]) {
                if array.role == "file" { _ = try lazy.file(named: name) } else { _ = try lazy.tensor(named: name) }
            }
            for other in lazy.tensorNames where other != name { _ = try lazy.tensor(named: other) }
        }
    }

    @Test func truncatedFileIsAClearError() throws {
        let bytes = try TinyContainerModel().bytes()
        for length in [0, 3, 10, 100, bytes.count - 1] {
            #expect(throws: FormatError.self) { _ = try QuantaContainer(data: Data(bytes.prefix(length)), verify: false) }
        }
        expectFormatError(["truncated", "data section"]) {
            _ = try QuantaContainer(data: Data(bytes.dropLast()), path: "t.qnta", verify: false)
        }
        expectFormatError(["unexpected bytes after the data section"]) {
            _ = try QuantaContainer(data: Data(bytes + [0]), path: "t.qnta", verify: false)
        }
    }

    @Test func wrongMagicFutureVersionAndHugeHeader() throws {
        var bytes = try TinyContainerModel().bytes()
        var wrong = bytes
        wrong[0] = UInt8(ascii: "G")
        expectFormatError(["magic", "not a Quanta container"]) { _ = try QuantaContainer(data: Data(wrong), verify: false) }
        var future = bytes
        future[4] = 2
        expectFormatError(["version 2", "newer", "upgrade quanta"]) { _ = try QuantaContainer(data: Data(future), verify: false) }
        future[4] = 0
        expectFormatError(["version 0"]) { _ = try QuantaContainer(data: Data(future), verify: false) }
        bytes[15] = 0x7F
        expectFormatError(["header length"]) { _ = try QuantaContainer(data: Data(bytes), verify: false) }
    }

    @Test func invalidHeaderJSON() throws {
        let bytes = containerBytes(header: #"{"tool": {"name": "quanta", "version": "0.1.0"}, "tensors": [,]}"#, data: [])
        expectFormatError(["invalid JSON"]) { _ = try QuantaContainer(data: Data(bytes), path: "j.qnta") }
        let notObject = containerBytes(header: "[1, 2]", data: [])
        expectFormatError(["not an object"]) { _ = try QuantaContainer(data: Data(notObject), path: "j.qnta") }
        let noTensors = containerBytes(header: #"{"tool":{"name":"q","version":"1"},"config":{},"data_size":0}"#, data: [])
        #expect(throws: FormatError.self) { _ = try QuantaContainer(data: Data(noTensors), path: "j.qnta") }
    }

    /// A valid hand-built container with one f32 tensor, as a baseline for the edits below.
    @Test func handBuiltContainerIsValidAndIgnoresUnknownKeys() throws {
        let data = (0..<128).map { UInt8($0) }
        let array = arrayText(role: "data", dtype: "F32", shape: [4, 8], offset: 0, count: 128, data: data)
        var header = containerHeader(tensors: #"{"name":"w","format":"f32","shape":[4,8],"future_key":1,"arrays":["# + array + "]}", dataSize: 128)
        header.removeLast()
        header += #","a_later_optional_key":{"x":[1,2]}}"#
        let container = try QuantaContainer(data: Data(containerBytes(header: header, data: data)), path: "h.qnta")
        #expect(container.tensorInfos == [TensorInfo(name: "w", dtype: "F32", shape: [4, 8], byteCount: 128)])
    }

    @Test func offsetPastTheEndIsOutOfRange() throws {
        let data = [UInt8](repeating: 1, count: 128)
        let array = arrayText(role: "data", dtype: "F32", shape: [4, 8], offset: 64, count: 128, data: data)
        let header = containerHeader(tensors: #"{"name":"w","format":"f32","shape":[4,8],"arrays":["# + array + "]}", dataSize: 128)
        expectFormatError(["'w'", "outside the file"]) { _ = try QuantaContainer(data: Data(containerBytes(header: header, data: data)), path: "o.qnta") }
        let huge = arrayText(role: "data", dtype: "F32", shape: [4, 8], offset: Int.max - 63, count: 128, data: data)
        let hugeHeader = containerHeader(tensors: #"{"name":"w","format":"f32","shape":[4,8],"arrays":["# + huge + "]}", dataSize: 128)
        #expect(throws: FormatError.self) { _ = try QuantaContainer(data: Data(containerBytes(header: hugeHeader, data: data)), path: "o.qnta") }
        let misaligned = arrayText(role: "data", dtype: "F32", shape: [2, 8], offset: 32, count: 64, data: data)
        let misalignedHeader = containerHeader(tensors: #"{"name":"w","format":"f32","shape":[2,8],"arrays":["# + misaligned + "]}", dataSize: 128)
        expectFormatError(["offset", "multiple of 64"]) { _ = try QuantaContainer(data: Data(containerBytes(header: misalignedHeader, data: data)), path: "o.qnta") }
    }

    @Test func overlappingArraysAndDuplicateNames() throws {
        let data = (0..<192).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let first = arrayText(role: "data", dtype: "F32", shape: [32], offset: 0, count: 128, data: data)
        let second = arrayText(role: "data", dtype: "F32", shape: [16], offset: 64, count: 64, data: data)
        let overlapping = containerHeader(
            tensors: #"{"name":"a","format":"f32","shape":[32],"arrays":["# + first + #"]},{"name":"b","format":"f32","shape":[16],"arrays":["# + second + "]}",
            dataSize: 192)
        expectFormatError(["'a'", "'b'", "overlap"]) { _ = try QuantaContainer(data: Data(containerBytes(header: overlapping, data: data)), path: "v.qnta") }
        let duplicate = containerHeader(
            tensors: #"{"name":"b","format":"f32","shape":[16],"arrays":["# + second + #"]},{"name":"b","format":"f32","shape":[16],"arrays":["# + second + "]}",
            dataSize: 192)
        expectFormatError(["'b'", "more than once"]) { _ = try QuantaContainer(data: Data(containerBytes(header: duplicate, data: data)), path: "v.qnta") }
    }

    @Test func unknownTensorFormatNamesFormatAndToolVersion() throws {
        let data = [UInt8](repeating: 0, count: 64)
        let array = arrayText(role: "data", dtype: "I8", shape: [64], offset: 0, count: 64, data: data)
        let header = containerHeader(
            tensors: #"{"name":"w","format":"w8a8","minimum_tool_version":"0.4.0","shape":[8,8],"arrays":["# + array + "]}", dataSize: 64)
        expectFormatError(["'w'", "'w8a8'", "quanta 0.4.0"]) { _ = try QuantaContainer(data: Data(containerBytes(header: header, data: data)), path: "f.qnta") }
        let withoutMinimum = containerHeader(tensors: #"{"name":"w","format":"w4a4","shape":[8,8],"arrays":["# + array + "]}", dataSize: 64)
        expectFormatError(["'w4a4'", "0.1.0"]) { _ = try QuantaContainer(data: Data(containerBytes(header: withoutMinimum, data: data)), path: "f.qnta") }
    }

    @Test func packedShapeMismatchAndBadPermutation() throws {
        // int4 [2, 8] g8: codes [2, 4], scales [2, 1], zeros [2, 1]; permutation with a repeat.
        var data = [UInt8](repeating: 0, count: 256)
        let scale = Float16(0.5).bitPattern
        data[64] = UInt8(scale & 0xFF); data[65] = UInt8(scale >> 8); data[66] = data[64]; data[67] = data[65]
        let permutation: [Int32] = [0, 1, 2, 3, 4, 5, 6, 6]
        permutation.withUnsafeBytes { for (index, byte) in $0.enumerated() { data[192 + index] = byte } }
        func tensor(codesShape: [Int], permutation: Bool) -> String {
            var arrays = [
                arrayText(role: "codes", dtype: "U8", shape: codesShape, offset: 0, count: codesShape.reduce(1, *), data: data),
                arrayText(role: "scales", dtype: "F16", shape: [2, 1], offset: 64, count: 4, data: data),
                arrayText(role: "zeros", dtype: "U8", shape: [2, 1], offset: 128, count: 2, data: data),
            ]
            if permutation { arrays.append(arrayText(role: "input_permutation", dtype: "I32", shape: [8], offset: 192, count: 32, data: data)) }
            return #"{"name":"p","format":"packed","shape":[2,8],"bits":4,"group_size":8,"symmetric":false,"arrays":["#
                + arrays.joined(separator: ",") + "]}"
        }
        let wrongShape = containerHeader(tensors: tensor(codesShape: [2, 8], permutation: false), dataSize: 256)
        expectFormatError(["'p'", "codes", "[2, 4]"]) { _ = try QuantaContainer(data: Data(containerBytes(header: wrongShape, data: data)), path: "p.qnta") }
        let good = containerHeader(tensors: tensor(codesShape: [2, 4], permutation: false), dataSize: 256)
        let container = try QuantaContainer(data: Data(containerBytes(header: good, data: data)), path: "p.qnta")
        #expect(container.tensorInfos[0].dtype == "int4-channel")
        let badPermutation = containerHeader(tensors: tensor(codesShape: [2, 4], permutation: true), dataSize: 256)
        let lazy = try QuantaContainer(data: Data(containerBytes(header: badPermutation, data: data)), path: "p.qnta")
        expectFormatError(["'p'", "not a permutation"]) { _ = try lazy.tensor(named: "p") }
    }

    /// Random byte flips, truncations and insertions must only ever throw, never crash.
    @Test func fuzzedContainersNeverCrash() throws {
        let original = try TinyContainerModel().bytes(zstdLevel: 3)
        var random = TestRandom(state: 0x5EED)
        var opened = 0
        let iterations = 3000
        for _ in 0..<iterations {
            var bytes = original
            for _ in 0..<(1 + random.below(3)) {
                switch random.below(10) {
                case 0..<6:
                    // Bias flips towards the preamble and header, where parsing happens.
                    let limit = random.below(4) == 0 ? bytes.count : min(bytes.count, 1024)
                    if limit > 0 { bytes[random.below(limit)] ^= UInt8(1 << random.below(8)) }
                case 6..<8:
                    bytes = Array(bytes.prefix(random.below(bytes.count + 1)))
                default:
                    let position = random.below(bytes.count + 1)
                    bytes.insert(contentsOf: (0..<(1 + random.below(8))).map { _ in UInt8(random.below(256)) }, at: position)
                }
            }
            do {
                let container = try QuantaContainer(data: Data(bytes), path: "fuzz.qnta", verify: random.below(2) == 0)
                _ = container.tensorInfos
                _ = try container.dequantizedCheckpoint()
                opened += 1
            } catch {
                // Any FormatError is fine; the test is that nothing traps.
            }
        }
        #expect(opened < iterations)
    }
}
