import Foundation
import QuantaFormats

/// A calibration set, as a YAML file under `calibration/`:
///
///     source: wikitext-2/valid.txt   # relative to the data directory ($QUANTA_DATA)
///     samples: 32
///     sequence_length: 512
///     seed: 0
///     sampling: random               # random | consecutive
public struct CalibrationSpec: Codable, Sendable, Equatable {
    public enum Sampling: String, Codable, Sendable {
        /// `samples` windows at `random.randint(0, tokens − length − 1)` after `random.seed(seed)`,
        /// exactly as GPTQ's `datautils.py` draws them.
        case random
        /// Consecutive non-overlapping windows from the start of the text.
        case consecutive
    }

    public var source: String
    public var samples: Int
    public var sequenceLength: Int
    public var seed: UInt64
    public var sampling: Sampling

    enum CodingKeys: String, CodingKey {
        case source, samples, seed, sampling
        case sequenceLength = "sequence_length"
    }

    public init(source: String, samples: Int, sequenceLength: Int, seed: UInt64 = 0, sampling: Sampling = .random) {
        self.source = source
        self.samples = samples
        self.sequenceLength = sequenceLength
        self.seed = seed
        self.sampling = sampling
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        source = try container.decode(String.self, forKey: .source)
        samples = try container.decode(Int.self, forKey: .samples)
        sequenceLength = try container.decode(Int.self, forKey: .sequenceLength)
        seed = try container.decodeIfPresent(UInt64.self, forKey: .seed) ?? 0
        sampling = try container.decodeIfPresent(Sampling.self, forKey: .sampling) ?? .random
    }

    /// Reads and validates a calibration spec file.
    public static func load(path: String) throws(PipelineError) -> CalibrationSpec {
        let spec = try StrictYAMLDecoder().decode(CalibrationSpec.self, path: path)
        guard spec.samples >= 1 else {
            throw .invalidValue(path: path, line: nil, field: "samples", detail: "must be at least 1, got \(spec.samples)")
        }
        guard spec.sequenceLength >= 2 else {
            throw .invalidValue(
                path: path, line: nil, field: "sequence_length", detail: "must be at least 2, got \(spec.sequenceLength)")
        }
        return spec
    }

    /// The source file: absolute, or relative to `dataDirectory`.
    public func sourcePath(dataDirectory: String) -> String {
        source.hasPrefix("/") ? source : dataDirectory + "/" + source
    }

    /// The token windows of this spec drawn from `tokens` (the tokenized source).
    public func windows(from tokens: [Int], sourcePath: String) throws(PipelineError) -> [[Int]] {
        switch sampling {
        case .random:
            guard tokens.count >= sequenceLength + 1 else {
                throw .calibrationSource(
                    path: sourcePath,
                    detail: "has \(tokens.count) tokens; random windows of \(sequenceLength) need at least \(sequenceLength + 1)")
            }
            var random = PythonRandom(seed: seed)
            return (0..<samples).map { _ in
                let start = random.randomInteger(in: 0...(tokens.count - sequenceLength - 1))
                return Array(tokens[start..<(start + sequenceLength)])
            }
        case .consecutive:
            guard tokens.count >= samples * sequenceLength else {
                throw .calibrationSource(
                    path: sourcePath,
                    detail: "has \(tokens.count) tokens; \(samples) consecutive windows of \(sequenceLength) need \(samples * sequenceLength)")
            }
            return (0..<samples).map { Array(tokens[($0 * sequenceLength)..<(($0 + 1) * sequenceLength)]) }
        }
    }

    /// The data directory: `$QUANTA_DATA`, else `../shared/data` (relative to the working
    /// directory) when it exists.
    public static func defaultDataDirectory(environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(PipelineError) -> String
    {
        if let path = environment["QUANTA_DATA"] { return path }
        let fallback = FileManager.default.currentDirectoryPath + "/../shared/data"
        guard FileManager.default.fileExists(atPath: fallback) else {
            throw .calibrationSource(path: fallback, detail: "no data directory; set QUANTA_DATA to the folder holding wikitext-2/")
        }
        return (fallback as NSString).standardizingPath
    }
}

extension CalibrationSpec {
    /// The spec as stored in provenance (`quantization.json`, container headers), keys sorted.
    public var json: JSONValue {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // A plain struct of numbers and strings always encodes.
        return (try? encoder.encode(self)).flatMap { try? JSONValue.parse($0, path: "calibration") } ?? .null
    }
}
