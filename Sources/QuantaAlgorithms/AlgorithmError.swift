import Foundation

/// Errors of the quantization and pruning algorithms. Messages say what to do next.
public enum AlgorithmError: LocalizedError, Equatable {
    case invalidScheme(field: String, detail: String)
    case shapeMismatch(detail: String)
    case factorizationFailed(layer: String, detail: String)
    case noCalibrationData(layer: String)
    case invalidInput(detail: String)

    public var errorDescription: String? {
        switch self {
        case .invalidScheme(let field, let detail):
            "quantization scheme field '\(field)': \(detail)"
        case .shapeMismatch(let detail):
            "shapes do not match: \(detail)"
        case .factorizationFailed(let layer, let detail):
            "\(layer): \(detail); raise the dampening in the recipe"
        case .noCalibrationData(let layer):
            "\(layer): no calibration activations reached this layer; check the calibration set"
        case .invalidInput(let detail):
            "invalid input: \(detail); check the weights and calibration data for NaN or infinity"
        }
    }
}
