import Foundation
import QuantaFormats
import QuantaTensor
import Testing

/// Deterministic pseudo-random numbers for tests (SplitMix64).
struct TestRandom {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

/// Plain quantized-weight arrays as the quantizer produces them.
struct PlainQuantized {
    var outputCount: Int
    var inputCount: Int
    var bits: Int
    var groupSize: Int
    var symmetric: Bool
    var codes: [UInt8]
    var scales: [Float]
    var zeroPoints: [UInt8]
    var groupIndex: [Int]

    var groupCount: Int { (inputCount + groupSize - 1) / groupSize }

    /// Random codes, f16-exact scales, zero points; act-order shuffles the group index.
    init(outputCount: Int, inputCount: Int, bits: Int, groupSize: Int, symmetric: Bool = false, actOrder: Bool = false, seed: UInt64) {
        var random = TestRandom(state: seed)
        self.outputCount = outputCount
        self.inputCount = inputCount
        self.bits = bits
        self.groupSize = groupSize
        self.symmetric = symmetric
        let maximum = (1 << bits) - 1
        let groups = (inputCount + groupSize - 1) / groupSize
        codes = (0..<(outputCount * inputCount)).map { _ in UInt8(random.below(maximum + 1)) }
        scales = (0..<(outputCount * groups)).map { _ in Float(Float16(Float(random.below(10_000) + 1) * 1e-5)) }
        zeroPoints = (0..<(outputCount * groups)).map { _ in symmetric ? UInt8(1 << (bits - 1)) : UInt8(random.below(maximum + 1)) }
        var order = Array(0..<inputCount)
        if actOrder {
            for index in stride(from: inputCount - 1, to: 0, by: -1) { order.swapAt(index, random.below(index + 1)) }
        }
        // GPTQ act-order: the k-th processed column (order[k]) belongs to group k / groupSize.
        var groupIndex = [Int](repeating: 0, count: inputCount)
        for (position, column) in order.enumerated() { groupIndex[column] = position / groupSize }
        self.groupIndex = groupIndex
    }

    func pack(name: String = "w") throws -> PackedWeights {
        try PackedWeights.pack(
            name: name, codes: codes, scales: scales, zeroPoints: zeroPoints, groupIndex: groupIndex,
            outputCount: outputCount, inputCount: inputCount, bits: bits, groupSize: groupSize, symmetric: symmetric)
    }

    /// scale · (code − zero) in the original column order, straight from the plain arrays.
    func expected() -> [Float] {
        var result = [Float](repeating: 0, count: outputCount * inputCount)
        for row in 0..<outputCount {
            for column in 0..<inputCount {
                let group = groupIndex[column]
                result[row * inputCount + column] =
                    scales[row * groupCount + group]
                    * (Float(codes[row * inputCount + column]) - Float(zeroPoints[row * groupCount + group]))
            }
        }
        return result
    }
}

@Suite struct ContainerPackingTests {
    @Test(arguments: [2, 3, 4, 8])
    func roundTripOddSizesAndNarrowLastGroup(bits: Int) throws {
        // in = 45: not a multiple of 8 (3-bit unit) nor of the group size 16; last group 13 wide.
        let plain = PlainQuantized(outputCount: 5, inputCount: 45, bits: bits, groupSize: 16, seed: UInt64(bits))
        let packed = try plain.pack()
        let traits = try #require(PackedWeightTraits.forBits(bits))
        #expect(packed.codes.shape == [5, traits.packedByteCount(valueCount: 45)!])
        #expect(packed.scales.shape == [5, 3])
        #expect(packed.zeros.shape == [5, traits.packedByteCount(valueCount: 3)!])
        #expect(packed.inputPermutation == nil)
        #expect(packed.unpackedCodes() == plain.codes)
        #expect(packed.unpackedZeroPoints() == plain.zeroPoints)
        #expect(packed.dequantize() == plain.expected())
        #expect(packed.label == "int\(bits)-g16")
    }

    @Test(arguments: [2, 3, 4, 8])
    func perChannelAndSymmetric(bits: Int) throws {
        let plain = PlainQuantized(outputCount: 3, inputCount: 19, bits: bits, groupSize: 19, symmetric: true, seed: 7)
        let packed = try plain.pack()
        #expect(packed.groupCount == 1)
        #expect(packed.label == "int\(bits)-channel")
        #expect(packed.dequantize() == plain.expected())
    }

    @Test(arguments: [2, 3, 4, 8])
    func actOrderStoresPermutationAndDequantizesInOriginalOrder(bits: Int) throws {
        let plain = PlainQuantized(outputCount: 4, inputCount: 70, bits: bits, groupSize: 32, actOrder: true, seed: 99)
        let packed = try plain.pack()
        let permutation = try #require(packed.permutation())
        #expect(permutation.sorted() == Array(0..<70))
        // Packed column j is original column permutation[j], and it sits in group j / 32.
        for (position, column) in permutation.enumerated() { #expect(plain.groupIndex[column] == position / 32) }
        #expect(packed.dequantize() == plain.expected())
    }

    @Test func rowBytesFollowTheLayoutTable() throws {
        #expect(PackedWeightTraits.forBits(3)!.packedByteCount(valueCount: 576) == 216)
        #expect(PackedWeightTraits.forBits(3)!.packedByteCount(valueCount: 9) == 6)
        #expect(PackedWeightTraits.forBits(4)!.packedByteCount(valueCount: 5) == 3)
        #expect(PackedWeightTraits.forBits(2)!.packedByteCount(valueCount: 5) == 2)
        #expect(PackedWeightTraits.forBits(8)!.packedByteCount(valueCount: 5) == 5)
        #expect(PackedWeightTraits.forBits(5) == nil)
        #expect(PackedWeightTraits.all.map(\.name) == ["int2", "int3", "int4", "int8"])
        #expect(PackedWeightTraits.forBits(4)!.bitsPerWeight(groupSize: 128, inputCount: 576, hasPermutation: false) == 4.15625)
    }

    @Test func bitLevelLayoutMatchesTheSpec() throws {
        // 4-bit: code 2k low nibble, 2k+1 high nibble.
        #expect(PackedWeightTraits.forBits(4)!.pack([1, 2, 3]) == [0x21, 0x03])
        // 2-bit: code 4k+j in bits 2j.
        #expect(PackedWeightTraits.forBits(2)!.pack([1, 2, 3, 0, 3]) == [0b00_11_10_01, 0b11])
        // 3-bit: 24-bit LE word of bytes 3k…3k+2, code 8k+j at bits 3j.
        let codes: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 0, 5]
        var word: UInt32 = 0
        for (j, code) in codes.prefix(8).enumerated() { word |= UInt32(code) << (3 * j) }
        #expect(PackedWeightTraits.forBits(3)!.pack(codes) == [
            UInt8(word & 0xFF), UInt8((word >> 8) & 0xFF), UInt8(word >> 16), 5, 0, 0,
        ])
    }

    @Test func invalidInputsAreClearErrors() throws {
        var plain = PlainQuantized(outputCount: 2, inputCount: 8, bits: 4, groupSize: 4, seed: 1)
        plain.scales[1] = 0.1  // not f16-representable
        expectFormatError(["'w'", "scale", "f16"]) { _ = try plain.pack() }
        plain = PlainQuantized(outputCount: 2, inputCount: 8, bits: 4, groupSize: 4, seed: 1)
        plain.codes[3] = 16
        expectFormatError(["code 16", "exceeds 15"]) { _ = try plain.pack() }
        plain = PlainQuantized(outputCount: 2, inputCount: 8, bits: 4, groupSize: 4, seed: 1)
        plain.groupIndex = [0, 0, 0, 1, 1, 1, 1, 1]
        expectFormatError(["group 0 has 3 columns"]) { _ = try plain.pack() }
        plain = PlainQuantized(outputCount: 2, inputCount: 8, bits: 4, groupSize: 4, symmetric: true, seed: 1)
        plain.zeroPoints[0] = 3
        expectFormatError(["symmetric", "must be 8"]) { _ = try plain.pack() }
        plain = PlainQuantized(outputCount: 2, inputCount: 8, bits: 5, groupSize: 4, seed: 1)
        expectFormatError(["bits 5"]) { _ = try plain.pack() }
    }

    @Test func crc32cMatchesPublishedCheckValues() {
        // RFC 3720 B.4 and the CRC catalogue check value.
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum(Array(0..<32)) == 0x46DD_794E)
        #expect(CRC32C.checksum([]) == 0)
        // Incremental updates at odd split points equal the one-shot value.
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var crc = CRC32C()
        crc.update(Array(bytes[0..<13]))
        crc.update(Array(bytes[13..<500]))
        crc.update(Array(bytes[500...]))
        #expect(crc.value == CRC32C.checksum(bytes))
    }
}
