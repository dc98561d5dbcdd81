import Foundation
import QuantaTensor

/// Errors of every reader and writer in this module. Messages name the file, the tensor or
/// field, the problem, and what to do next.
public enum FormatError: LocalizedError {
    case fileNotFound(path: String)
    case cannotOpen(path: String, reason: String)
    case unknownFormat(path: String)
    case truncated(path: String, detail: String)
    case invalidHeader(path: String, detail: String)
    case invalidJSON(path: String, detail: String)
    case unsupportedDType(path: String, tensor: String, dtype: String)
    case shapeMismatch(path: String, tensor: String, detail: String)
    case offsetOutOfRange(path: String, tensor: String, detail: String)
    case overlappingTensors(path: String, first: String, second: String)
    case duplicateTensor(path: String, tensor: String)
    case missingField(path: String, field: String)
    case invalidField(path: String, field: String, detail: String)
    case missingTensor(path: String, tensor: String)
    case unexpectedTensor(path: String, tensor: String)
    case invalidTensor(path: String, tensor: String, underlying: TensorError)
    case hdf5(path: String, detail: String)
    case writeFailed(path: String, reason: String)
    /// A Quanta container of a newer (or invalid) major version than this reader supports.
    case unsupportedVersion(path: String, found: UInt32, supported: UInt32)
    /// A container tensor in a format this reader does not know (added by a later tool).
    case unsupportedTensorFormat(path: String, tensor: String, format: String, requiredTool: String)
    /// An array's stored bytes do not match the checksum recorded in the header.
    case checksumMismatch(path: String, tensor: String, array: String, expected: UInt32, actual: UInt32)
    /// Inputs to `PackedWeights.pack` (or packed components read back) that violate the
    /// packed layout.
    case invalidPackedWeights(tensor: String, detail: String)
    /// The file is valid but cannot be used this way.
    case unsupportedOperation(path: String, detail: String)
    /// A tensor or setting that the export target cannot hold exactly.
    case exportUnsupported(path: String, tensor: String, detail: String)

    public var errorDescription: String? {
        switch self {
        case .fileNotFound(let path):
            "\(path): no such file or directory; check the path"
        case .cannotOpen(let path, let reason):
            "\(path): cannot open (\(reason)); check permissions"
        case .unknownFormat(let path):
            "\(path): not a recognised weight file (expected a Hugging Face directory, .safetensors, .gguf, .h5 or a Quanta container)"
        case .truncated(let path, let detail):
            "\(path): file is truncated: \(detail); download or write it again"
        case .invalidHeader(let path, let detail):
            "\(path): invalid header: \(detail); the file is corrupt or not of this format"
        case .invalidJSON(let path, let detail):
            "\(path): invalid JSON: \(detail)"
        case .unsupportedDType(let path, let tensor, let dtype):
            "\(path): tensor '\(tensor)' has unsupported dtype \(dtype); convert it to F32, F16 or BF16 first"
        case .shapeMismatch(let path, let tensor, let detail):
            "\(path): tensor '\(tensor)': \(detail)"
        case .offsetOutOfRange(let path, let tensor, let detail):
            "\(path): tensor '\(tensor)' data lies outside the file: \(detail); the file is truncated or corrupt"
        case .overlappingTensors(let path, let first, let second):
            "\(path): tensors '\(first)' and '\(second)' overlap in the data section; the file is corrupt"
        case .duplicateTensor(let path, let tensor):
            "\(path): tensor '\(tensor)' appears more than once; remove the duplicate"
        case .missingField(let path, let field):
            "\(path): missing required field '\(field)'; add it"
        case .invalidField(let path, let field, let detail):
            "\(path): field '\(field)': \(detail)"
        case .missingTensor(let path, let tensor):
            "\(path): required tensor '\(tensor)' is missing; the checkpoint is incomplete"
        case .unexpectedTensor(let path, let tensor):
            "\(path): unexpected tensor '\(tensor)'; this architecture does not use it"
        case .invalidTensor(let path, let tensor, let underlying):
            "\(path): tensor '\(tensor)': \(underlying.localizedDescription)"
        case .hdf5(let path, let detail):
            "\(path): HDF5: \(detail)"
        case .writeFailed(let path, let reason):
            "\(path): cannot write (\(reason)); check free space and permissions"
        case .unsupportedVersion(let path, let found, let supported):
            found == 0
                ? "\(path): container version 0 is invalid; the file is corrupt"
                : "\(path): container version \(found) is newer than this reader supports (\(supported)); upgrade quanta to read it"
        case .unsupportedTensorFormat(let path, let tensor, let format, let requiredTool):
            "\(path): tensor '\(tensor)' uses format '\(format)', which this version of quanta cannot read; it needs \(requiredTool) or newer"
        case .checksumMismatch(let path, let tensor, let array, let expected, let actual):
            "\(path): tensor '\(tensor)' array '\(array)' fails its checksum (crc32c \(hex8(actual)), expected \(hex8(expected))); the file is corrupt, write or download it again"
        case .invalidPackedWeights(let tensor, let detail):
            "tensor '\(tensor)': invalid packed weights: \(detail)"
        case .unsupportedOperation(let path, let detail):
            "\(path): \(detail)"
        case .exportUnsupported(let path, let tensor, let detail):
            "\(path): cannot export '\(tensor)' exactly: \(detail); nothing was written"
        }
    }
}

/// `value` as 8 lowercase hex digits.
func hex8(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}
