import Foundation
import QuantaTensor

/// Writes `.safetensors` files. The header is padded with spaces to an 8-byte boundary so
/// the data section is aligned, as the reference writer does.
public enum SafetensorsWriter {
    /// Writes `tensors` in order to `path` (atomically).
    public static func write(_ tensors: [NamedTensor], metadata: [(String, String)] = [("format", "pt")], to path: String)
        throws(FormatError)
    {
        var seen = Set<String>()
        var members: [(String, JSONValue)] = []
        if !metadata.isEmpty {
            members.append(("__metadata__", .object(metadata.map { ($0.0, JSONValue.string($0.1)) })))
        }
        var offset = 0
        for item in tensors {
            guard seen.insert(item.name).inserted else { throw .duplicateTensor(path: path, tensor: item.name) }
            let size = item.tensor.byteCount
            members.append(
                (
                    item.name,
                    .object([
                        ("dtype", .string(item.tensor.dtype.rawValue)),
                        ("shape", .array(item.tensor.shape.map { .integer(Int64($0)) })),
                        ("data_offsets", .array([.integer(Int64(offset)), .integer(Int64(offset + size))])),
                    ])
                ))
            offset += size
        }
        var header = Array(JSONValue.object(members).serialized(pretty: false).utf8)
        while (8 + header.count) % 8 != 0 { header.append(0x20) }
        try AtomicOutput.produce(path) { temporary throws(FormatError) in
            guard let stream = OutputStream(toFileAtPath: temporary, append: false) else {
                throw .writeFailed(path: path, reason: "cannot create file")
            }
            stream.open()
            defer { stream.close() }
            let length = UInt64(header.count)
            let prefix = (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) } + header
            try prefix.withUnsafeBytes { bytes in Result { () throws(FormatError) in try write(bytes, to: stream, path: path) } }
                .get()
            for item in tensors {
                try item.tensor.storage.withUnsafeBytes { bytes throws(FormatError) in try write(bytes, to: stream, path: path) }
            }
        }
    }

    static func write(_ bytes: UnsafeRawBufferPointer, to stream: OutputStream, path: String) throws(FormatError) {
        guard var pointer = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let written = stream.write(pointer, maxLength: min(remaining, 1 << 26))
            guard written > 0 else {
                throw .writeFailed(path: path, reason: stream.streamError?.localizedDescription ?? "write failed")
            }
            pointer += written
            remaining -= written
        }
    }
}
