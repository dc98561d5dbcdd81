/// Shape arithmetic that never traps: element and byte counts are checked for overflow.
public enum Shape {
    /// The number of elements of `shape`, or a thrown error if a dimension is negative or
    /// the product overflows.
    public static func elementCount(_ shape: [Int]) throws(TensorError) -> Int {
        var count = 1
        for dimension in shape {
            guard dimension >= 0 else { throw .negativeDimension(shape: shape) }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw .shapeOverflow(shape: shape) }
            count = product
        }
        return count
    }

    /// The number of bytes of `shape` in `dtype`, checked for overflow.
    public static func byteCount(_ shape: [Int], dtype: DType) throws(TensorError) -> Int {
        let (bytes, overflow) = try elementCount(shape).multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else { throw .shapeOverflow(shape: shape) }
        return bytes
    }
}
