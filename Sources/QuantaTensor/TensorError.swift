import Foundation

/// Errors of the tensor core. Each message says what went wrong and what to do next.
public enum TensorError: LocalizedError, Equatable {
    case shapeOverflow(shape: [Int])
    case negativeDimension(shape: [Int])
    case byteCountMismatch(shape: [Int], dtype: DType, expected: Int, actual: Int)
    case notFloatingPoint(dtype: DType)
    case shapeMismatch(operation: String, detail: String)
    case factorizationFailed(routine: String, info: Int)
    case invalidArgument(operation: String, detail: String)

    public var errorDescription: String? {
        switch self {
        case .shapeOverflow(let shape):
            "shape \(shape) has more elements than fit in memory; check the dimensions in the file header"
        case .negativeDimension(let shape):
            "shape \(shape) has a negative dimension; the file header is corrupt"
        case .byteCountMismatch(let shape, let dtype, let expected, let actual):
            "shape \(shape) of \(dtype.rawValue) needs \(expected) bytes but \(actual) were given; the data is truncated or the shape is wrong"
        case .notFloatingPoint(let dtype):
            "\(dtype.rawValue) tensors cannot be converted to float; only F64/F32/F16/BF16 hold weights"
        case .shapeMismatch(let operation, let detail):
            "\(operation): shapes do not match (\(detail))"
        case .factorizationFailed(let routine, let info):
            info > 0
                ? "\(routine) failed (info \(info)): the matrix is not positive definite (or is singular) at order \(info); increase dampening"
                : "\(routine) failed (info \(info)): argument \(-info) is invalid or holds NaN/infinity; check the input for non-finite values"
        case .invalidArgument(let operation, let detail):
            "\(operation): \(detail)"
        }
    }
}
