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

    /// The most tokens a calibration set may hold (`samples × sequence_length`): 8× GPTQ's
    /// default of 128 × 2048, so a typo cannot ask for terabytes of activations.
    public static let maximumTokens = 1 << 21
    /// The longest window accepted.
    public static let maximumSequenceLength = 1 << 17

    /// Reads and validates a calibration spec file.
    public static func load(path: String) throws(PipelineError) -> CalibrationSpec {
        let spec = try StrictYAMLDecoder().decode(CalibrationSpec.self, path: path)
        try spec.validate(path: path)
        return spec
    }

    /// Checks the counts before anything is allocated for them.
    public func validate(path: String) throws(PipelineError) {
        guard (1...Self.maximumTokens).contains(samples) else {
            throw .invalidValue(path: path, line: nil, field: "samples", detail: "must be between 1 and \(Self.maximumTokens), got \(samples)")
        }
        guard (2...Self.maximumSequenceLength).contains(sequenceLength) else {
            throw .invalidValue(
                path: path, line: nil, field: "sequence_length",
                detail: "must be between 2 and \(Self.maximumSequenceLength), got \(sequenceLength)")
        }
        let (tokens, overflow) = samples.multipliedReportingOverflow(by: sequenceLength)
        guard !overflow, tokens <= Self.maximumTokens else {
            throw .invalidValue(
                path: path, line: nil, field: "samples",
                detail: "\(samples) windows of \(sequenceLength) tokens exceed the limit of \(Self.maximumTokens) calibration tokens; use fewer samples or shorter windows")
        }
        guard !source.isEmpty else {
            throw .invalidValue(path: path, line: nil, field: "source", detail: "is empty; name a text file under the data directory ($QUANTA_DATA)")
        }
    }

    /// The source file, which must lie inside `dataDirectory` (symbolic links resolved): a
    /// spec file cannot make the tool read any file on the machine. A text elsewhere is given
    /// on the command line (`quanta quantize --calibration-source PATH`).
    public func sourcePath(dataDirectory: String, specPath: String) throws(PipelineError) -> String {
        guard !source.hasPrefix("/") else {
            throw .invalidValue(
                path: specPath, line: nil, field: "source",
                detail: "'\(source)' is an absolute path; sources are relative to the data directory ($QUANTA_DATA), or give the file with --calibration-source")
        }
        let root = URL(fileURLWithPath: dataDirectory).standardizedFileURL.resolvingSymlinksInPath().path
        let candidate = URL(fileURLWithPath: dataDirectory + "/" + source).standardizedFileURL.resolvingSymlinksInPath().path
        guard candidate.hasPrefix(root + "/") else {
            throw .invalidValue(
                path: specPath, line: nil, field: "source",
                detail: "'\(source)' resolves to \(candidate), outside the data directory \(root); keep sources inside $QUANTA_DATA or give the file with --calibration-source")
        }
        return candidate
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
