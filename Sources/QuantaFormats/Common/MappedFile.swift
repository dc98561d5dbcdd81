import Foundation
import QuantaTensor

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file. Tensors borrow its bytes and keep it alive.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let bytes: UnsafeRawBufferPointer

    public init(path: String) throws(FormatError) {
        self.path = path
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            if errno == ENOENT { throw .fileNotFound(path: path) }
            throw .cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw .cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw .cannotOpen(path: path, reason: "not a regular file")
        }
        let size = Int(status.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), base != MAP_FAILED else {
            throw .cannotOpen(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }

    public var count: Int { bytes.count }

    /// The bytes in `range`, or a `truncated` error naming `what` if the file is too short.
    public func slice(_ range: Range<Int>, for what: @autoclosure () -> String) throws(FormatError)
        -> UnsafeRawBufferPointer
    {
        guard range.lowerBound >= 0, range.upperBound <= bytes.count else {
            throw .truncated(
                path: path,
                detail: "\(what()) needs bytes \(range.lowerBound)..<\(range.upperBound) but the file has \(bytes.count)")
        }
        return UnsafeRawBufferPointer(rebasing: bytes[range])
    }

    /// A tensor borrowing `range` of this file.
    public func tensor(named name: String, dtype: DType, shape: [Int], range: Range<Int>) throws(FormatError)
        -> Tensor
    {
        let slice = try self.slice(range, for: "tensor '\(name)'")
        do {
            return try Tensor(dtype: dtype, shape: shape, storage: TensorStorage(borrowing: slice, owner: self))
        } catch {
            throw .invalidTensor(path: path, tensor: name, underlying: error)
        }
    }
}
