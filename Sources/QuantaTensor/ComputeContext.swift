import COpenBLAS
import Dispatch
import Foundation

/// The explicit execution settings every numeric routine takes instead of global state:
/// how many threads to use and the seed for anything random.
public struct ComputeContext: Sendable, Equatable {
    /// Worker threads for `parallelFor` (at least 1).
    public var threadCount: Int
    /// The root seed; derive per-task generators with `randomGenerator(stream:)`.
    public var seed: UInt64

    /// A context with `threadCount` workers (default: the active processor count) and `seed`.
    public init(threadCount: Int = ProcessInfo.processInfo.activeProcessorCount, seed: UInt64 = 0) {
        precondition(threadCount >= 1, "threadCount must be at least 1")
        self.threadCount = threadCount
        self.seed = seed
    }

    /// A single-threaded context (deterministic order, no dispatch overhead).
    public static func serial(seed: UInt64 = 0) -> ComputeContext {
        ComputeContext(threadCount: 1, seed: seed)
    }

    /// A generator for the independent stream `stream` of this context's seed.
    public func randomGenerator(stream: UInt64 = 0) -> RandomGenerator {
        RandomGenerator(seed: seed, stream: stream)
    }

    /// The contiguous chunks `range` is split into: at most `threadCount`, sizes differing by
    /// at most one, in order, none empty.
    public func chunks(of range: Range<Int>) -> [Range<Int>] {
        let count = range.count
        guard count > 0 else { return [] }
        let chunkCount = min(threadCount, count)
        let baseSize = count / chunkCount
        let remainder = count % chunkCount
        var result: [Range<Int>] = []
        result.reserveCapacity(chunkCount)
        var start = range.lowerBound
        for chunk in 0..<chunkCount {
            let size = baseSize + (chunk < remainder ? 1 : 0)
            result.append(start..<(start + size))
            start += size
        }
        return result
    }

    /// Runs `body` once per chunk of `range` (see `chunks(of:)`), concurrently when
    /// `threadCount > 1` and serially on the calling thread when it is 1. Returns when every
    /// chunk is done. Chunks must write disjoint data.
    public func parallelFor(_ range: Range<Int>, body: @Sendable (Range<Int>) -> Void) {
        let parts = chunks(of: range)
        if parts.count <= 1 {
            for part in parts { body(part) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: parts.count) { chunk in body(parts[chunk]) }
    }

    /// Runs `body(row, values)` for every row of `matrix`, rows split across threads as in
    /// `parallelFor`. `values` is that row's mutable storage, valid only during the call.
    public func parallelForRows(
        of matrix: inout Matrix, body: @Sendable (_ row: Int, _ values: UnsafeMutableBufferPointer<Float>) -> Void
    ) {
        let rows = matrix.rows
        let columns = matrix.columns
        matrix.values.withUnsafeMutableBufferPointer { buffer in
            let base = SendablePointer(buffer.baseAddress)
            parallelFor(0..<rows) { rowRange in
                guard let start = base.pointer else { return }
                for row in rowRange {
                    body(row, UnsafeMutableBufferPointer(start: start + row * columns, count: columns))
                }
            }
        }
    }

    /// Sets OpenBLAS's worker-thread count to this context's `threadCount`. OpenBLAS keeps
    /// this setting process-wide (its state, not ours), so call it once where the pipeline
    /// starts. On small shared machines 1 BLAS thread is often fastest; pass an explicit
    /// count to `applyBLASThreadCount(_:)` to override.
    public func applyBLASThreadCount() {
        Self.applyBLASThreadCount(threadCount)
    }

    /// Sets OpenBLAS's process-wide worker-thread count to `count` (at least 1).
    public static func applyBLASThreadCount(_ count: Int) {
        openblas_set_num_threads(Int32(clamping: max(1, count)))
    }

    /// OpenBLAS's current worker-thread count.
    public static var blasThreadCount: Int { Int(openblas_get_num_threads()) }
}

/// A base address handed to concurrent chunks that write disjoint ranges of one buffer.
/// Used only inside `parallelForRows`, whose `withUnsafe…` scope outlives every chunk.
private struct SendablePointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>?
    init(_ pointer: UnsafeMutablePointer<Float>?) { self.pointer = pointer }
}
