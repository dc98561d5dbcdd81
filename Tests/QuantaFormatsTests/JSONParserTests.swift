import Foundation
import QuantaFormats
import Testing

@Suite struct JSONParserTests {
    @Test func keepsKeyOrderAndTypes() throws {
        let value = try JSONValue.parse(Data(#"{"b": 1, "a": [true, null, 2.5, "x\u00e9\n"]}"#.utf8), path: "t.json")
        guard case .object(let members) = value else { Issue.record("not an object"); return }
        #expect(members.map(\.0) == ["b", "a"])
        #expect(value["b"] == .integer(1))
        #expect(value["a"] == .array([.bool(true), .null, .number(2.5), .string("xé\n")]))
    }

    @Test func reportsOffsetOfError() {
        #expect {
            try JSONValue.parse(Data(#"{"a": tru}"#.utf8), path: "bad.json")
        } throws: { error in
            let text = (error as? FormatError)?.errorDescription ?? ""
            return text.contains("bad.json") && text.contains("at byte 6")
        }
    }

    @Test func roundTripsThroughSerializer() throws {
        let text = #"{"z":[1,2.5,"q\"uote"],"a":{"n":null,"t":false}}"#
        let value = try JSONValue.parse(Data(text.utf8), path: "t.json")
        #expect(value.serialized(pretty: false) == text)
        #expect(try JSONValue.parse(Data(value.serialized().utf8), path: "t.json") == value)
    }
}
