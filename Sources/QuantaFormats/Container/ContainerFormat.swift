import CZstd
import Foundation
import QuantaTensor

/// Constants of the Quanta container (docs/container.md).
public enum QuantaContainerFormat {
    /// `QNTA` at the byte level.
    public static let magic: [UInt8] = Array("QNTA".utf8)
    /// The major version this code reads and writes.
    public static let version: UInt32 = 1
    /// The minor version this code writes (compatible additions, informative only).
    public static let minorVersion = 0
    /// Alignment of the data section and of every array in it.
    public static let alignment = 64
    /// Bytes of magic, version and header length.
    public static let preambleSize = 16
    /// Headers longer than this are rejected before they are read.
    public static let maximumHeaderLength = 256 << 20
    /// The tool version written into `tool.version` by default.
    public static let toolVersion = "0.1.0"
    /// A compressed array may not claim more than this many times its stored size
    /// (zstd's own ceiling is about 32768:1), so a corrupt size cannot request a huge buffer.
    public static let maximumExpansion = 65536
    /// Compression is kept only if it saves at least this fraction.
    public static let minimumSaving = 0.05

    static func aligned(_ value: Int) -> Int { (value + alignment - 1) / alignment * alignment }
}

/// How an array is stored in the data section.
public enum ContainerCompression: String, Sendable, Equatable {
    case none
    case zstd
}

/// The format of a container tensor (`format` and its keys in the header).
public enum ContainerTensorFormat: Sendable, Equatable {
    /// `f32`, `f16` or `bf16`: one `data` array of that dtype.
    case dense(DType)
    /// `packed`: docs/packed-weights.md.
    case packed(bits: Int, groupSize: Int, symmetric: Bool)
    /// `sparse24` with F32/F16 kept values (docs/packed-weights.md, "2:4 sparse").
    case sparse24Float(DType)
    /// `sparse24` with packed kept values; `groupSize` counts inputs of the full matrix.
    case sparse24Packed(bits: Int, groupSize: Int, symmetric: Bool)

    /// The `format` name in the header.
    public var name: String {
        switch self {
        case .dense(let dtype): dtype.rawValue.lowercased()
        case .packed: "packed"
        case .sparse24Float, .sparse24Packed: "sparse24"
        }
    }
}

/// A tensor to write to, or read from, a container: dense float or packed.
public struct ContainerTensor: Sendable {
    public enum Content: Sendable {
        /// An F32, F16 or BF16 tensor, stored as is.
        case dense(Tensor)
        /// A packed quantized linear.
        case packed(PackedWeights)
        /// A 2:4 sparse linear.
        case sparse(SparseWeights)
    }

    public var name: String
    public var content: Content

    public init(name: String, content: Content) {
        self.name = name
        self.content = content
    }

    public init(name: String, dense tensor: Tensor) { self.init(name: name, content: .dense(tensor)) }
    public init(name: String, packed weights: PackedWeights) { self.init(name: name, content: .packed(weights)) }

    /// The logical shape (`[out, in]` for packed).
    public var shape: [Int] {
        switch content {
        case .dense(let tensor): tensor.shape
        case .packed(let weights): [weights.outputCount, weights.inputCount]
        case .sparse(let weights): [weights.outputCount, weights.inputCount]
        }
    }

    /// The tensor as floats: the values, or the packed weights dequantized (reference path).
    public func floatTensor() throws(FormatError) -> Tensor {
        do {
            switch content {
            case .dense(let tensor): return try Tensor(shape: tensor.shape, values: tensor.floatValues())
            case .packed(let weights): return try Tensor(shape: shape, values: weights.dequantize())
            case .sparse(let weights): return try Tensor(shape: shape, values: weights.dequantize())
            }
        } catch {
            throw .invalidTensor(path: "container", tensor: name, underlying: error)
        }
    }
}

/// zstd one-frame compression of whole arrays (libzstd, https://facebook.github.io/zstd/).
enum ZstdCodec {
    /// `source` compressed at `level`, or nil if compression fails.
    static func compress(_ source: UnsafeRawBufferPointer, level: Int32) -> [UInt8]? {
        let bound = ZSTD_compressBound(source.count)
        guard ZSTD_isError(bound) == 0 else { return nil }
        var output = [UInt8](repeating: 0, count: max(bound, 1))
        let written = output.withUnsafeMutableBytes { destination in
            ZSTD_compress(destination.baseAddress, destination.count, source.baseAddress, source.count, level)
        }
        guard ZSTD_isError(written) == 0 else { return nil }
        output.removeSubrange(written...)
        return output
    }

    /// Why a frame cannot hold exactly `byteCount` bytes (read from the frame header alone,
    /// before anything is allocated), or nil when its declared content size matches.
    static func checkContentSize(_ source: UnsafeRawBufferPointer, byteCount: Int) -> String? {
        guard let base = source.baseAddress else { return "empty zstd frame" }
        let declared = ZSTD_getFrameContentSize(base, source.count)
        // ZSTD_CONTENTSIZE_UNKNOWN and _ERROR are the two largest UInt64 values.
        guard declared < UInt64.max - 1 else { return "the zstd frame header is invalid or lacks its content size" }
        guard declared == UInt64(byteCount) else {
            return "the zstd frame declares \(declared) bytes, the header says \(byteCount)"
        }
        return nil
    }

    /// Decompresses one frame into exactly `destination.count` bytes; an error message if
    /// the frame is invalid or its size differs.
    static func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> String? {
        guard let sourceBase = source.baseAddress else { return "empty zstd frame" }
        let capacity = max(destination.count, 0)
        var scratch: UInt8 = 0
        let result = withUnsafeMutablePointer(to: &scratch) { fallback in
            ZSTD_decompress(destination.baseAddress ?? UnsafeMutableRawPointer(fallback), capacity, sourceBase, source.count)
        }
        if ZSTD_isError(result) != 0 { return "zstd: " + String(cString: ZSTD_getErrorName(result)) }
        guard result == destination.count else {
            return "zstd frame holds \(result) bytes, the header says \(destination.count)"
        }
        return nil
    }
}
