import Foundation
import QuantaAlgorithms
import Testing

@Suite struct QuantizationSchemeTests {
    func decode(_ json: String) throws -> QuantizationScheme {
        try JSONDecoder().decode(QuantizationScheme.self, from: Data(json.utf8))
    }

    @Test func decodesDefaultsAndPerChannelMarker() throws {
        let scheme = try decode(#"{"bits": 4, "group_size": -1}"#)
        #expect(scheme == QuantizationScheme(bits: 4))
        #expect(scheme.groupSize == nil && !scheme.symmetric && scheme.clipping == .none)
        #expect(try decode(#"{"bits": 3}"#).groupSize == nil)
        #expect(try decode(#"{"bits": 4, "group_size": 128, "symmetric": true}"#).groupSize == 128)
    }

    @Test func clippingDecodesFromNameOrObjectAndRoundTrips() throws {
        #expect(try decode(#"{"bits": 4, "clipping": "mse"}"#).clipping == .mse)
        #expect(try decode(#"{"bits": 4, "clipping": {"method": "none"}}"#).clipping == .none)
        let custom = try decode(#"{"bits": 2, "group_size": 64, "clipping": {"method": "mse", "grid": 50, "norm": 2}}"#)
        let expected = QuantizationScheme.MeanSquaredErrorSearch(grid: 50, maxShrink: 0.2, norm: 2, patience: 5)
        #expect(custom.clipping == .meanSquaredError(expected))
        for scheme in [custom, QuantizationScheme(bits: 8, groupSize: 32, symmetric: true), QuantizationScheme(bits: 4)] {
            let data = try JSONEncoder().encode(scheme)
            #expect(try JSONDecoder().decode(QuantizationScheme.self, from: data) == scheme)
        }
        let text = String(decoding: try JSONEncoder().encode(custom), as: UTF8.self)
        #expect(text.contains("\"group_size\"") && text.contains("\"max_shrink\""))
    }

    @Test func validationNamesTheField() throws {
        func field(_ scheme: QuantizationScheme) -> String? {
            do {
                try scheme.validate()
                return nil
            } catch {
                if case .invalidScheme(let field, _) = error { return field }
                return "unexpected \(error)"
            }
        }
        #expect(field(QuantizationScheme(bits: 1)) == "bits")
        #expect(field(QuantizationScheme(bits: 9)) == "bits")
        #expect(field(QuantizationScheme(bits: 4, groupSize: 0)) == "group_size")
        #expect(field(QuantizationScheme(bits: 4, groupSize: -5)) == "group_size")
        let badGrid = QuantizationScheme.Clipping.meanSquaredError(.init(grid: 0))
        #expect(field(QuantizationScheme(bits: 4, clipping: badGrid)) == "clipping.grid")
        let badShrink = QuantizationScheme.Clipping.meanSquaredError(.init(maxShrink: 1.5))
        #expect(field(QuantizationScheme(bits: 4, clipping: badShrink)) == "clipping.max_shrink")
        for bits in [2, 3, 4, 8] { #expect(field(QuantizationScheme(bits: bits, groupSize: 128)) == nil) }
        #expect(throws: AlgorithmError.self) { try decode(#"{"bits": 16}"#) }
        #expect(throws: AlgorithmError.self) { try decode(#"{"bits": 4, "clipping": "percentile"}"#) }
        let message = AlgorithmError.invalidScheme(field: "group_size", detail: "0").errorDescription ?? ""
        #expect(message.contains("group_size"))
    }

    @Test func groupsAllowANarrowerLastGroup() {
        let scheme = QuantizationScheme(bits: 4, groupSize: 128)
        #expect(scheme.groupCount(columns: 576) == 5)
        #expect(scheme.groupColumns(3, columns: 576) == 384..<512)
        #expect(scheme.groupColumns(4, columns: 576) == 512..<576)
        #expect(QuantizationScheme(bits: 4).groupCount(columns: 576) == 1)
        #expect(QuantizationScheme(bits: 4).groupColumns(0, columns: 576) == 0..<576)
        #expect([2, 3, 4, 8].map { QuantizationScheme(bits: $0).maximumCode } == [3, 7, 15, 255])
    }
}
