/// Immutable bytes behind a tensor: either owned (allocated and freed here) or borrowed from
/// an owner that keeps them alive, such as a memory-mapped file.
public final class TensorStorage: @unchecked Sendable {
    public let bytes: UnsafeRawBufferPointer
    private let owner: AnyObject?
    private let ownsAllocation: Bool

    /// Copies `source` into a new 64-byte-aligned allocation.
    public init(copying source: UnsafeRawBufferPointer) {
        bytes = Self.allocateCopy(of: source)
        owner = nil
        ownsAllocation = true
    }

    /// Copies an array's contents.
    public init<Element>(array: [Element]) {
        bytes = array.withUnsafeBytes { Self.allocateCopy(of: $0) }
        owner = nil
        ownsAllocation = true
    }

    private static func allocateCopy(of source: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(source.count, 1), alignment: 64)
        if let base = source.baseAddress, source.count > 0 {
            buffer.baseAddress!.copyMemory(from: base, byteCount: source.count)
        }
        return UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<source.count])
    }

    /// Allocates zeroed storage and lets `initialize` fill it.
    public init(byteCount: Int, initialize: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        let usable = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<byteCount])
        do { try initialize(usable) } catch {
            buffer.deallocate()
            throw error
        }
        bytes = UnsafeRawBufferPointer(usable)
        owner = nil
        ownsAllocation = true
    }

    /// Borrows `bytes`, which stay valid as long as `owner` lives.
    public init(borrowing bytes: UnsafeRawBufferPointer, owner: AnyObject) {
        self.bytes = bytes
        self.owner = owner
        ownsAllocation = false
    }

    /// Calls `body` with the bytes while keeping this storage (and its owner) alive; prefer
    /// this to reading `bytes` when no other reference is guaranteed to outlive the use.
    public func withUnsafeBytes<Result, Failure: Error>(
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        defer { withExtendedLifetime(self) {} }
        return try body(bytes)
    }

    deinit {
        if ownsAllocation, let base = bytes.baseAddress { UnsafeMutableRawPointer(mutating: base).deallocate() }
    }
}
