import Foundation
import QuantaFormats
import QuantaTensor
import Testing

/// Reading GGUF files written by gguf-py (`Resources/make_gguf_fixtures.py`, gguf 0.19.0).
@Suite struct GGUFReaderTests {
    static let dequantizedTypes = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"]

    /// Each type's tensor must equal gguf-py `gguf.quants.dequantize` bit for bit.
    @Test(arguments: dequantizedTypes)
    func dequantizesBitExactly(typeName: String) throws {
        let file = try GGUFFile(path: GGUFFixtures.path("quants.gguf"))
        let tensor = try #require(file.tensor(named: typeName))
        #expect(tensor.type.name == typeName)
        #expect(tensor.shape == [2, 256])
        let expected = try GGUFFixtures.floats("quants-\(typeName).f32")
        let actual = try file.floatValues(of: tensor)
        #expect(actual.count == expected.count)
        let mismatches = zip(actual, expected).enumerated().filter { $0.element.0.bitPattern != $0.element.1.bitPattern }
        let mismatchCount = mismatches.count
        let first = mismatches.first.map { "element \($0.offset): \($0.element.0) vs \($0.element.1)" } ?? ""
        #expect(mismatchCount == 0, "\(first)")
        let owned = try file.floatTensor(named: typeName)
        #expect(owned.dtype == .float32 && owned.shape == [2, 256])
        #expect(try owned.floatValues().map(\.bitPattern) == actual.map(\.bitPattern))
    }

    @Test func listsTensorInfosInRowMajorShape() throws {
        let file = try GGUFFile(path: GGUFFixtures.path("quants.gguf"))
        #expect(file.version == 3)
        #expect(file.architecture == "test")
        #expect(file.tensorInfos.map(\.dtype) == Self.dequantizedTypes)
        let q41 = try #require(file.tensorInfos.first { $0.name == "Q4_1" })
        #expect(q41.shape == [2, 256])
        #expect(q41.byteCount == 2 * 256 / 32 * 20)
        #expect(file.dataOffset % file.alignment == 0)
    }

    /// Every GGUF value type, nested arrays included, reads back as gguf-py wrote it.
    @Test func readsMetadataOfEveryValueType() throws {
        let file = try GGUFFile(path: GGUFFixtures.path("metadata.gguf"))
        let expected = try JSONValue.read(path: GGUFFixtures.path("metadata.json"))
        let order = try #require(expected["keys_in_order"]?.arrayValues()).compactMap(\.stringValue)
        #expect(file.metadata.map(\.key) == order)
        #expect(file.alignment == 64)
        #expect(file.dataOffset % 64 == 0)
        let values = try #require(expected["values"])
        for entry in file.metadata {
            let pair = try #require(values[entry.key]?.arrayValues())
            let typeName = try #require(pair[0].stringValue)
            #expect(String(describing: entry.value.type).lowercased() == typeName.lowercased(), "\(entry.key)")
            #expect(Self.matches(entry.value, pair[1]), "\(entry.key): \(entry.value) vs \(pair[1])")
        }
        // 1.8e19 does not fit in Int: the typed accessor says so instead of wrapping.
        expectFormatError(["metadata.gguf", "test.uint64"]) { _ = try file.integer("test.uint64") }
        #expect(file.value(forKey: "test.uint64") == .uint64(18_000_000_000_000_000_000))
        #expect(try file.integer("test.int64") == -9_000_000_000_000_000_000)
        #expect(try file.double("test.float32") == 0.15625)
        #expect(try file.bool("test.bool_true") == true)
        #expect(try file.string("test.string") == "héllo wörld ✓")
        #expect(try file.strings("test.array_string") == ["a", "", "ccc"])
        #expect(try file.integers("test.array_int32") == [1, -2, 3])
        let nested: GGUFValue = .array(.array, [.array(.int32, [.int32(1), .int32(2)]), .array(.int32, [.int32(3)])])
        #expect(file.value(forKey: "test.array_nested") == nested)
        #expect(try file.string("absent.key") == nil)
        expectFormatError(["metadata.gguf", "test.string", "expected an integer"]) { _ = try file.integer("test.string") }
        #expect(try file.floatValues(of: try #require(file.tensor(named: "small"))) == (0..<8).map(Float.init))
    }

    /// Compares a GGUF value with the JSON the generator wrote.
    static func matches(_ value: GGUFValue, _ json: JSONValue) -> Bool {
        switch value {
        case .array(_, let items):
            guard case .array(let expected) = json, expected.count == items.count else { return false }
            return zip(items, expected).allSatisfy { matches($0, $1) }
        case .string(let text): return json.stringValue == text
        case .bool(let flag): return json == .bool(flag)
        case .float32, .float64: return value.doubleValue == json.doubleValue
        case .uint64(let number): return json.doubleValue == Double(number)
        default: return value.integerValue.map(Int64.init) == json.integerValue
        }
    }
}

extension JSONValue {
    fileprivate func arrayValues() -> [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }
}
