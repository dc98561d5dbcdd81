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
    /// True for a memory map (released with `munmap`), false for an in-memory copy.
    private let isMapped: Bool

    public init(path: String) throws(FormatError) {
        self.path = path
        isMapped = true
        // O_NONBLOCK: opening a FIFO or a device must not wait; fstat below refuses them.
        let descriptor = open(path, O_RDONLY | O_NONBLOCK)
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
            throw .cannotOpen(path: path, reason: "not a regular file (a FIFO, device or socket); give a file")
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

    /// A copy of `data` in memory, read like a mapped file (fuzzing, tests); `path` labels errors.
    public init(data: Data, path: String = "<memory>") {
        self.path = path
        isMapped = false
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: data.count, alignment: 64)
        buffer.copyBytes(from: data)
        bytes = UnsafeRawBufferPointer(buffer)
    }

    deinit {
        guard let base = bytes.baseAddress else { return }
        if isMapped {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        } else {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        }
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
