import Foundation
import QuantaFormats

extension FuzzTargets {
    /// The Quanta container: preamble, header JSON, tensor table and data section
    /// (`QuantaContainer(data:)`), then every tensor and file. An input whose only fault is a
    /// checksum is retried with its checksums recomputed, so mutations reach past the CRCs.
    static let container = FuzzTarget(
        name: "container",
        summary: "QuantaContainer(data:verify:) (retried with checksums repaired), tensor(at:) + floatTensor() "
            + "for each tensor, file(named:), QuantizedModel.fromContainer",
        maximumLength: 65536,
        run: { data in
            guard let container = openContainer(data) else { return }
            _ = container.tensorInfos
            // Each tensor on its own (dequantizedCheckpoint() does the same in one call and
            // stops at the first error), then the files and the exporters' view.
            for index in container.tensorEntries.indices {
                _ = try? container.tensor(at: index).floatTensor()
            }
            for name in container.fileNames { _ = try? container.file(named: name) }
            _ = try? QuantizedModel.fromContainer(container)
        },
        seeds: { try SeedModels.containerFiles() })

    static func openContainer(_ data: Data) -> QuantaContainer? {
        do {
            return try QuantaContainer(data: data, path: "fuzz.quanta", verify: true)
        } catch .checksumMismatch {
            guard let repaired = ContainerChecksums.repaired(data) else { return nil }
            return try? QuantaContainer(data: repaired, path: "fuzz.quanta", verify: true)
        } catch {
            return nil
        }
    }
}

/// Rewrites a container's `crc32c:XXXXXXXX` checksums to match its bytes (same length, so
/// the layout is unchanged): each array's checksum text, in header order, is replaced by the
/// CRC32C of the stored bytes it describes.
enum ContainerChecksums {
    static func repaired(_ data: Data) -> Data? {
        var bytes = [UInt8](data)
        let preamble = QuantaContainerFormat.preambleSize
        guard bytes.count >= preamble else { return nil }
        let headerLength = bytes[8..<16].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard headerLength <= UInt64(bytes.count - preamble) else { return nil }
        let dataStart = preamble + Int(headerLength)
        guard let header = try? JSONValue.parse(Data(bytes[preamble..<dataStart]), path: "repair") else { return nil }
        var arrays: [JSONValue] = []
        if case .array(let files)? = header["files"] { arrays += files.compactMap { $0["array"] } }
        if case .array(let tensors)? = header["tensors"] {
            for tensor in tensors { if case .array(let items)? = tensor["arrays"] { arrays += items } }
        }
        var cursor = preamble
        for array in arrays {
            guard let offset = array["offset"]?.integerValue, let count = array["stored_byte_count"]?.integerValue,
                let old = array["checksum"]?.stringValue, old.utf8.count == 15,
                offset >= 0, count >= 0, offset <= Int64(bytes.count), count <= Int64(bytes.count),
                dataStart + Int(offset) + Int(count) <= bytes.count
            else { continue }
            let start = dataStart + Int(offset)
            let checksum = CRC32C.checksum(Array(bytes[start..<(start + Int(count))]))
            let hex = String(checksum, radix: 16)
            let replacement = Array(("crc32c:" + String(repeating: "0", count: 8 - hex.count) + hex).utf8)
            let target = Array(old.utf8)
            guard let found = firstIndex(of: target, in: bytes, from: cursor, end: dataStart) else { continue }
            bytes.replaceSubrange(found..<(found + target.count), with: replacement)
            cursor = found + target.count
        }
        return Data(bytes)
    }

    private static func firstIndex(of pattern: [UInt8], in bytes: [UInt8], from start: Int, end: Int) -> Int? {
        guard end - start >= pattern.count else { return nil }
        for index in start...(end - pattern.count) where bytes[index] == pattern[0] {
            if bytes[index..<(index + pattern.count)].elementsEqual(pattern) { return index }
        }
        return nil
    }
}
