import Foundation
import QuantaPipeline
import Testing

@Suite struct CalibrationSpecTests {
    @Test func pythonRandomMatchesCPython() {
        // python3: random.seed(0); [random.randint(0, 273868-512-1) for _ in range(5)]
        var random = PythonRandom(seed: 0)
        #expect((0..<5).map { _ in random.randomInteger(in: 0...(273_868 - 512 - 1)) }
            == [201_979, 220_500, 21_225, 135_746, 268_055])
        // python3: random.seed(12345678901); [random.getrandbits(32) for _ in range(3)], random.randint(0, 10)
        var large = PythonRandom(seed: 12_345_678_901)
        #expect((0..<3).map { _ in large.randomBits(32) } == [4_063_089_813, 2_562_312_935, 1_408_749_075])
        #expect(large.randomInteger(in: 0...10) == 6)
    }

    @Test func shippedSpecsParse() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let small = try CalibrationSpec.load(path: root + "/calibration/wikitext2-valid-32x512.yaml")
        #expect(small == CalibrationSpec(source: "wikitext-2/valid.txt", samples: 32, sequenceLength: 512))
        let large = try CalibrationSpec.load(path: root + "/calibration/wikitext2-valid-128x2048.yaml")
        #expect(large.samples == 128 && large.sequenceLength == 2048)
    }

    @Test func randomWindowsAreReproducible() throws {
        let spec = CalibrationSpec(source: "x", samples: 4, sequenceLength: 8, seed: 3)
        let tokens = Array(0..<100)
        let first = try spec.windows(from: tokens, sourcePath: "x")
        #expect(first == (try spec.windows(from: tokens, sourcePath: "x")))
        #expect(first.allSatisfy { $0.count == 8 && $0 == Array($0[0]..<($0[0] + 8)) })
    }

    @Test func tooFewTokensIsAnError() {
        let spec = CalibrationSpec(source: "x", samples: 4, sequenceLength: 8, sampling: .consecutive)
        #expect(throws: PipelineError.calibrationSource(
            path: "short.txt", detail: "has 20 tokens; 4 consecutive windows of 8 need 32")) {
            try spec.windows(from: Array(0..<20), sourcePath: "short.txt")
        }
        #expect(throws: PipelineError.self) {
            try CalibrationSpec(source: "x", samples: 1, sequenceLength: 8).windows(from: Array(0..<8), sourcePath: "s")
        }
    }

    @Test func unknownKeysAndWrongTypesNameTheLine() throws {
        let decoder = StrictYAMLDecoder()
        #expect(throws: PipelineError.unknownKey(
            path: "c.yaml", line: 3, key: "sequence_lenght", allowed: ["samples", "sampling", "seed", "sequence_length", "source"])) {
            try decoder.decode(CalibrationSpec.self, from: "source: a\nsamples: 2\nsequence_lenght: 8\nsequence_length: 8\n", path: "c.yaml")
        }
        #expect {
            try decoder.decode(CalibrationSpec.self, from: "source: a\nsamples: many\nsequence_length: 8\n", path: "c.yaml")
        } throws: { error in
            let text = (error as? PipelineError)?.errorDescription ?? ""
            return text.contains("c.yaml:2") && text.contains("samples") && text.contains("integer")
        }
        #expect {
            try decoder.decode(CalibrationSpec.self, from: "source: a\nsamples: 2\n", path: "c.yaml")
        } throws: { error in
            ((error as? PipelineError)?.errorDescription ?? "").contains("sequence_length")
        }
        #expect {
            try decoder.decode(CalibrationSpec.self, from: "source: [a\n", path: "c.yaml")
        } throws: { error in
            ((error as? PipelineError)?.errorDescription ?? "").contains("invalid YAML")
        }
    }
}

/// Calibration specs cannot ask for unbounded work or read files outside the data directory.
@Suite struct CalibrationSpecBoundsTests {
    static func message(_ body: () throws -> Void) -> String {
        do { try body() } catch { return (error as? LocalizedError)?.errorDescription ?? "\(error)" }
        return "no error"
    }

    @Test func countsAreBoundedBeforeAnyWindowIsDrawn() {
        let cases: [(String, String)] = [
            ("samples: 1099511627776\nsequence_length: 512", "'samples': must be between 1 and 2097152"),
            ("samples: 0\nsequence_length: 512", "'samples'"),
            ("samples: 4\nsequence_length: 1099511627776", "'sequence_length'"),
            ("samples: 65536\nsequence_length: 65536", "exceed the limit of 2097152 calibration tokens"),
        ]
        for (counts, fragment) in cases {
            let text = "source: wikitext-2/valid.txt\n" + counts + "\n"
            let message = Self.message {
                try StrictYAMLDecoder().decode(CalibrationSpec.self, from: text, path: "c.yaml").validate(path: "c.yaml")
            }
            #expect(message.contains("c.yaml") && message.contains(fragment), "\(message)")
        }
    }

    @Test func sourcesStayInsideTheDataDirectory() throws {
        let root = NSTemporaryDirectory() + "quanta-data-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/data/wikitext-2", withIntermediateDirectories: true)
        try Data("text".utf8).write(to: URL(fileURLWithPath: root + "/data/wikitext-2/valid.txt"))
        try Data("secret".utf8).write(to: URL(fileURLWithPath: root + "/outside.txt"))
        try FileManager.default.createSymbolicLink(atPath: root + "/data/link.txt", withDestinationPath: root + "/outside.txt")
        func spec(_ source: String) -> CalibrationSpec { CalibrationSpec(source: source, samples: 1, sequenceLength: 8) }
        #expect(try spec("wikitext-2/valid.txt").sourcePath(dataDirectory: root + "/data", specPath: "c.yaml").hasSuffix("/data/wikitext-2/valid.txt"))
        for (source, fragment) in [
            ("/etc/passwd", "is an absolute path"), ("../outside.txt", "outside the data directory"),
            ("wikitext-2/../../outside.txt", "outside the data directory"), ("link.txt", "outside the data directory"),
        ] {
            let message = Self.message { _ = try spec(source).sourcePath(dataDirectory: root + "/data", specPath: "c.yaml") }
            #expect(message.contains("c.yaml") && message.contains("'source'") && message.contains(fragment), "\(message)")
        }
    }
}
