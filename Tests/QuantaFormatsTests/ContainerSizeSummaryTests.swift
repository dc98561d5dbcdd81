import Foundation
import QuantaFormats
import Testing

@Suite struct ContainerSizeSummaryTests {
    @Test func bitsPerWeightCountEveryComponent() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("tiny.qnta")
        try TinyContainerModel().write(to: path)
        let container = try QuantaContainer(path: path, verify: true)
        let size = container.sizeSummary
        // Hand-computed from docs/packed-weights.md, per tensor out·(rowBytes + 2·groups + zeroBytes) (+ 4·in):
        // int4 8×8 g4: 8·(4+4+1) = 72; int3 8×12 g5 act-order: 8·(6+6+3) + 48 = 168;
        // int2 12×8 channel: 12·(2+2+1) = 60; int8 12×8 channel: 12·(8+2+1) = 132.
        #expect(size.packedTensorCount == 4)
        #expect(size.packedParameterCount == 64 + 96 + 96 + 96)
        #expect(size.packedTraitsByteCount == 72 + 168 + 60 + 132)
        #expect(size.packedByteCount == 432)
        #expect(size.packedStoredByteCount == 432)  // written without zstd
        #expect(abs(size.bitsPerWeightLinears - 432.0 * 8 / 352) < 1e-12)
        // Nominal: 64·(4 + 20/4) + 96·(3 + 19/5 + 32/12) + 96·(2 + 18/8) + 96·(8 + 24/8) bits.
        #expect(abs(size.nominalBitsPerWeightLinears - (576 + 908.8 + 408 + 1056) / 352) < 1e-9)
        // Dense: f32 16×8, f16 [8], bf16 [8].
        #expect(size.denseParameterCount == 144)
        #expect(size.denseByteCount == 512 + 16 + 16)
        #expect(size.denseStoredByteCount == 512 + 16 + 16)
        let fileBytes = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        #expect(size.fileByteCount == fileBytes)
        #expect(abs(size.bitsPerWeightFile - Double(fileBytes * 8) / 496) < 1e-12)
        #expect(size.headerByteCount % 64 == 0)
        #expect(size.matchesTraits(arrayCount: container.arrayCount))
        #expect(size.uncompressedFileByteCount == fileBytes)  // nothing compressed
        #expect(container.arrayCount == 2 + 3 + 4 + 3 + 3 + 3)  // 2 files, 3 dense, 4 packed (one permuted)
    }

    @Test func compressionShrinksStoredBytesOnly() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("tiny.qnta")
        try TinyContainerModel().write(to: path, zstdLevel: 3)
        let container = try QuantaContainer(path: path, verify: true)
        let size = container.sizeSummary
        #expect(size.packedByteCount == 432)
        #expect(size.packedStoredByteCount <= 432)
        #expect(size.fileStoredByteCount < size.fileTableByteCount)
        #expect(size.uncompressedFileByteCount > size.fileByteCount)
        #expect(size.matchesTraits(arrayCount: container.arrayCount))
    }
}
