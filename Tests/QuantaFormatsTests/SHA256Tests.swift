import QuantaFormats
import Testing

@Suite struct SHA256Tests {
    // Digests from FIPS 180-4 examples / `sha256sum`.
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func knownDigests(input: String, digest: String) {
        #expect(Array(input.utf8).withUnsafeBytes { SHA256.hexDigest($0) } == digest)
    }

    @Test func incrementalUpdatesEqualOneShot() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var hasher = SHA256()
        hasher.update(Array(bytes[0..<7]))
        hasher.update(Array(bytes[7..<130]))
        hasher.update(Array(bytes[130...]))
        let incremental = hasher.finalize()
        var oneShot = SHA256()
        oneShot.update(bytes)
        #expect(incremental == oneShot.finalize())
    }
}
