import QuantaTensor

/// Typed metadata accessors and tensor access. Accessors return nil for an absent key and
/// throw `invalidField` naming the key when it holds another type.
extension GGUFFile {
    /// `general.architecture`, e.g. `llama`.
    public var architecture: String? { value(forKey: "general.architecture")?.stringValue }

    /// The tensor table in the module's common form (`dtype` is the ggml type name, e.g. `Q4_1`).
    public var tensorInfos: [TensorInfo] {
        tensors.map { TensorInfo(name: $0.name, dtype: $0.type.name, shape: $0.shape, byteCount: $0.dataRange.count) }
    }

    /// The value stored under `key`, if any.
    public func value(forKey key: String) -> GGUFValue? {
        metadataIndex(of: key).map { metadata[$0].value }
    }

    /// An integer value of any integer type.
    public func integer(_ key: String) throws(FormatError) -> Int? {
        try typed(key, "an integer") { $0.integerValue }
    }

    /// A floating-point (or integer) value as `Double`.
    public func double(_ key: String) throws(FormatError) -> Double? {
        try typed(key, "a number") { $0.doubleValue }
    }

    /// A string value.
    public func string(_ key: String) throws(FormatError) -> String? {
        try typed(key, "a string") { $0.stringValue }
    }

    /// A bool value.
    public func bool(_ key: String) throws(FormatError) -> Bool? {
        try typed(key, "a bool") { $0.boolValue }
    }

    /// An array of strings.
    public func strings(_ key: String) throws(FormatError) -> [String]? {
        try typed(key, "an array of strings") { value in
            guard case .array(.string, let items) = value else { return nil }
            return items.compactMap(\.stringValue)
        }
    }

    /// An array of integers (any integer element type).
    public func integers(_ key: String) throws(FormatError) -> [Int]? {
        try typed(key, "an array of integers") { value in
            guard let items = value.arrayValues else { return nil }
            let integers = items.compactMap(\.integerValue)
            return integers.count == items.count ? integers : nil
        }
    }

    private func typed<Result>(_ key: String, _ expected: String, _ convert: (GGUFValue) -> Result?)
        throws(FormatError) -> Result?
    {
        guard let value = value(forKey: key) else { return nil }
        guard let result = convert(value) else {
            throw .invalidField(path: path, field: key, detail: "expected \(expected), found a value of type \(value.type)")
        }
        return result
    }

    /// The tensor named `name`, if present.
    public func tensor(named name: String) -> GGUFTensor? {
        tensorPosition(of: name).map { tensors[$0] }
    }

    /// The tensor's elements dequantized to float32 in row-major order (bit-exact with gguf-py).
    public func floatValues(of tensor: GGUFTensor) throws(FormatError) -> [Float] {
        let source = try rawBytes(of: tensor)
        return [Float](unsafeUninitializedCapacity: tensor.elementCount) { buffer, initialized in
            GGUFDequantizer.dequantize(tensor.type, source: source, into: buffer)
            initialized = tensor.elementCount
        }
    }

    /// The tensor named `name` as an owned float32 `Tensor` in row-major shape.
    public func floatTensor(named name: String) throws(FormatError) -> Tensor {
        guard let tensor = tensor(named: name) else { throw .missingTensor(path: path, tensor: name) }
        let source = try rawBytes(of: tensor)
        let storage = TensorStorage(byteCount: tensor.elementCount * 4) { bytes in
            GGUFDequantizer.dequantize(tensor.type, source: source, into: bytes.bindMemory(to: Float.self))
        }
        do {
            return try Tensor(dtype: .float32, shape: tensor.shape, storage: storage)
        } catch {
            throw .invalidTensor(path: path, tensor: name, underlying: error)
        }
    }

    /// The raw bytes of a dequantizable tensor; valid while this file is alive.
    func rawBytes(of tensor: GGUFTensor) throws(FormatError) -> UnsafeRawBufferPointer {
        guard GGUFDequantizer.supports(tensor.type) else {
            throw .unsupportedDType(path: path, tensor: tensor.name, dtype: tensor.type.name)
        }
        return try mappedFile.slice(tensor.dataRange, for: "tensor '\(tensor.name)'")
    }
}
