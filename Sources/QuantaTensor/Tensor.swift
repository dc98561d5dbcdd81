/// A stored tensor: dtype, row-major shape and bytes. Formats produce and consume these;
/// computation converts them to `Float` arrays.
public struct Tensor: Sendable {
    public let dtype: DType
    public let shape: [Int]
    public let storage: TensorStorage

    /// Wraps `storage` after checking that its size matches `shape` and `dtype`.
    public init(dtype: DType, shape: [Int], storage: TensorStorage) throws(TensorError) {
        let expected = try Shape.byteCount(shape, dtype: dtype)
        guard expected == storage.bytes.count else {
            throw .byteCountMismatch(shape: shape, dtype: dtype, expected: expected, actual: storage.bytes.count)
        }
        self.dtype = dtype
        self.shape = shape
        self.storage = storage
    }

    /// A float32 tensor holding `values`.
    public init(shape: [Int], values: [Float]) throws(TensorError) {
        try self.init(dtype: .float32, shape: shape, storage: TensorStorage(array: values))
    }

    public var elementCount: Int { shape.reduce(1, *) }
    public var byteCount: Int { storage.bytes.count }

    /// The values widened to `Float` (exact for F16/BF16/F32; F64 rounds).
    public func floatValues() throws(TensorError) -> [Float] {
        let count = elementCount
        guard dtype.isFloatingPoint else { throw .notFloatingPoint(dtype: dtype) }
        return storage.withUnsafeBytes { bytes in
            [Float](unsafeUninitializedCapacity: count) { destination, initialized in
            guard let out = destination.baseAddress, let base = bytes.baseAddress, count > 0 else {
                initialized = 0
                return
            }
            switch dtype {
            case .float32:
                out.update(from: base.assumingMemoryBound(to: Float.self), count: count)
            case .float16:
                HalfPrecision.widenHalf(base.assumingMemoryBound(to: UInt16.self), into: out, count: count)
            case .bfloat16:
                HalfPrecision.widenBFloat16(base.assumingMemoryBound(to: UInt16.self), into: out, count: count)
            case .float64:
                let doubles = base.assumingMemoryBound(to: Double.self)
                for index in 0..<count { out[index] = Float(doubles[index]) }
            default:
                break
            }
            initialized = count
            }
        }
    }

    /// This tensor converted to `target` (a floating-point dtype), or itself if it already is.
    public func converted(to target: DType) throws(TensorError) -> Tensor {
        if target == dtype { return self }
        guard target.isFloatingPoint else { throw .notFloatingPoint(dtype: target) }
        let values = try floatValues()
        let storage: TensorStorage
        switch target {
        case .float32:
            storage = TensorStorage(array: values)
        case .float16:
            storage = TensorStorage(array: values.map { HalfPrecision.halfBits(from: $0) })
        case .bfloat16:
            storage = TensorStorage(array: values.map { HalfPrecision.bfloat16Bits(from: $0) })
        default:
            storage = TensorStorage(array: values.map { Double($0) })
        }
        return try Tensor(dtype: target, shape: shape, storage: storage)
    }
}
