import Foundation
import QuantaFormats
import QuantaTensor
import Testing

@Suite struct SparseWeightsTests {
    /// A random `[rows × columns]` matrix with 2 non-zeros per group of 4 (some groups with
    /// fewer), on the f16 grid so f16 storage is exact.
    static func twoOfFour(rows: Int, columns: Int, seed: UInt64) -> [Float] {
        var generator = RandomGenerator(seed: seed)
        var values = [Float](repeating: 0, count: rows * columns)
        for row in 0..<rows {
            for group in 0..<(columns / 4) {
                let first = generator.nextInt(below: 4)
                let second = (first + 1 + generator.nextInt(below: 3)) % 4
                for position in [first, second] where generator.nextInt(below: 8) != 0 {
                    values[row * columns + 4 * group + position] = Float(Float16(generator.nextFloat(in: -1..<1)))
                }
            }
        }
        return values
    }

    @Test(arguments: [DType.float32, .float16])
    func floatValuesRoundTrip(valueType: DType) throws {
        let values = Self.twoOfFour(rows: 5, columns: 20, seed: 1)
        let sparse = try SparseWeights.pack(name: "w", values: values, outputCount: 5, inputCount: 20, valueType: valueType)
        #expect(sparse.dequantize() == values)
        #expect(sparse.metadata.shape == [5, 3])
        #expect(sparse.label == "sparse24-\(valueType.rawValue.lowercased())")
    }

    @Test func quantizedValuesRoundTrip() throws {
        // 4-bit codes, groups of 8 inputs; pruned entries hold the zero point.
        let rows = 3, columns = 24, groups = 3
        var generator = RandomGenerator(seed: 5)
        let zeroPoints = (0..<(rows * groups)).map { _ in UInt8(generator.nextInt(below: 16)) }
        let scales = (0..<(rows * groups)).map { _ in Float(Float16(0.01 + generator.nextFloat())) }
        let pattern = Self.twoOfFour(rows: rows, columns: columns, seed: 6)
        var codes = [UInt8](repeating: 0, count: rows * columns)
        var expected = [Float](repeating: 0, count: rows * columns)
        for index in codes.indices {
            let group = (index / columns) * groups + (index % columns) / 8
            codes[index] = pattern[index] == 0 ? zeroPoints[group] : UInt8(generator.nextInt(below: 16))
            expected[index] = scales[group] * (Float(codes[index]) - Float(zeroPoints[group]))
        }
        let sparse = try SparseWeights.pack(
            name: "w", codes: codes, scales: scales, zeroPoints: zeroPoints, outputCount: rows, inputCount: columns,
            bits: 4, groupSize: 8, symmetric: false)
        #expect(sparse.dequantize() == expected)
        #expect(sparse.label == "sparse24-int4-g8")
    }

    @Test func threeNonZerosInAGroupNameTheTensor() {
        var values = Self.twoOfFour(rows: 2, columns: 8, seed: 2)
        values[4] = 1; values[5] = 2; values[6] = 3
        #expect {
            try SparseWeights.pack(name: "layers.0.q.weight", values: values, outputCount: 2, inputCount: 8, valueType: .float32)
        } throws: { error in
            let message = (error as? FormatError)?.errorDescription ?? ""
            return message.contains("layers.0.q.weight") && message.contains("inputs 4…7") && message.contains("non-zeros; 2:4 sparsity allows 2")
        }
    }

    @Test func containerRoundTripAndMetadataCheckOnLoad() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("sparse.qnta")
        let values = Self.twoOfFour(rows: 4, columns: 16, seed: 3)
        let sparse = try SparseWeights.pack(name: "m.weight", values: values, outputCount: 4, inputCount: 16, valueType: .float16)
        try QuantaContainerWriter.write(
            to: path, config: tinyConfig(), files: [], provenance: .object([]),
            tensors: [ContainerTensor(name: "m.weight", content: .sparse(sparse))], options: .init(zstdLevel: nil))
        let container = try QuantaContainer(path: path, verify: true)
        #expect(container.tensorInfos[0].dtype == "sparse24-f16")
        #expect(try container.tensor(named: "m.weight").floatTensor().floatValues() == values)

        // Rewrite one metadata byte so a group lists position 1 twice, fix its checksum, and
        // the reader must refuse the tensor by name.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let entry = try #require(container.tensorEntries[0].arrays.first { $0.role == "sparsity_metadata" })
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16
        let start = 16 + headerLength + entry.offset
        bytes[start] = 0b0101
        let checksum = bytes[start..<(start + entry.byteCount)].withUnsafeBytes { CRC32C.checksum($0) }
        let old = Array(String(format: "crc32c:%08x", entry.checksum).utf8)
        let new = Array(String(format: "crc32c:%08x", checksum).utf8)
        let at = try #require((16..<(16 + headerLength)).first { Array(bytes[$0..<($0 + old.count)]) == old })
        bytes.replaceSubrange(at..<(at + old.count), with: new)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let corrupted = try QuantaContainer(path: path, verify: true)
        #expect {
            try corrupted.tensor(named: "m.weight")
        } throws: { error in
            let message = (error as? FormatError)?.errorDescription ?? ""
            return message.contains("m.weight") && message.contains("row 0") && message.contains("more than 2 non-zeros")
        }
    }
}
