/// GPT-2's reversible byte ↔ printable-scalar mapping (`bytes_to_unicode` in OpenAI's
/// gpt-2 encoder.py; tokenizers/src/pre_tokenizers/byte_level.rs). Printable Latin-1 bytes
/// (`!`…`~`, `¡`…`¬`, `®`…`ÿ`) map to themselves; the other 68 bytes map, in byte order,
/// to U+0100, U+0101, ….
struct ByteLevelAlphabet: Sendable {
    /// The scalar for each byte.
    let scalars: [Unicode.Scalar]
    /// The byte for each scalar value below 0x144 (the largest mapped scalar is U+0143), or -1.
    private let bytes: [Int16]

    init() {
        var scalars = [Unicode.Scalar](repeating: " ", count: 256)
        var bytes = [Int16](repeating: -1, count: 0x144)
        var next: UInt32 = 256
        for byte in 0..<256 {
            let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
            let value = printable ? UInt32(byte) : next
            if !printable { next += 1 }
            scalars[byte] = Unicode.Scalar(value)!
            bytes[Int(value)] = Int16(byte)
        }
        self.scalars = scalars
        self.bytes = bytes
    }

    /// The byte that `scalar` stands for, or nil when it is not in the alphabet.
    @inline(__always)
    func byte(for scalar: Unicode.Scalar) -> UInt8? {
        let value = Int(scalar.value)
        guard value < bytes.count, bytes[value] >= 0 else { return nil }
        return UInt8(bytes[value])
    }

    /// The UTF-8 bytes of `text`, each replaced by its scalar.
    func map(_ text: ArraySlice<Unicode.Scalar>) -> [Unicode.Scalar] {
        var output: [Unicode.Scalar] = []
        output.reserveCapacity(text.count + text.count / 2)
        for scalar in text {
            let value = scalar.value
            if value < 0x80 {
                output.append(scalars[Int(value)])
            } else {
                for byte in UTF8.encode(scalar)! { output.append(scalars[Int(byte)]) }
            }
        }
        return output
    }
}
