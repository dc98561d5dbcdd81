import Foundation

/// Errors of recipes, calibration specs and the staged run. Messages name the file, the
/// line or field, and what to do next.
public enum PipelineError: LocalizedError, Equatable {
    case invalidYAML(path: String, line: Int?, detail: String)
    case unknownKey(path: String, line: Int?, key: String, allowed: [String])
    case invalidValue(path: String, line: Int?, field: String, detail: String)
    case missingValue(path: String, line: Int?, field: String)
    case calibrationSource(path: String, detail: String)
    case targetMatchesNothing(recipe: String, stage: Int, pattern: String)
    case unsupported(detail: String)

    public var errorDescription: String? {
        switch self {
        case .invalidYAML(let path, let line, let detail):
            "\(Self.location(path, line)): invalid YAML: \(detail)"
        case .unknownKey(let path, let line, let key, let allowed):
            "\(Self.location(path, line)): unknown key '\(key)'; allowed here: \(allowed.joined(separator: ", "))"
        case .invalidValue(let path, let line, let field, let detail):
            "\(Self.location(path, line)): '\(field)': \(detail)"
        case .missingValue(let path, let line, let field):
            "\(Self.location(path, line)): required key '\(field)' is missing"
        case .calibrationSource(let path, let detail):
            "\(path): \(detail)"
        case .targetMatchesNothing(let recipe, let stage, let pattern):
            "\(recipe): stage \(stage + 1): target '\(pattern)' matches no layer of the model; fix the pattern"
        case .unsupported(let detail):
            detail
        }
    }

    static func location(_ path: String, _ line: Int?) -> String {
        line.map { "\(path):\($0)" } ?? path
    }
}
