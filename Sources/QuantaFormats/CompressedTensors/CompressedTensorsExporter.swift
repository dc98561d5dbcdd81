import Foundation
import QuantaTensor

/// Writes a model as a compressed-tensors checkpoint (the format of llm-compressor, loaded by
/// vLLM and by `transformers` with the `compressed-tensors` package), targeting the PyPI
/// version 0.20.x (`compressors/pack_quantized`, `compressors/naive_quantized`):
///
/// - weight-only linears as `pack-quantized`: `weight_packed` I32 `[out, ⌈in·b/32⌉]` (the
///   codes as one dense least-significant-bit-first stream per row, Quanta's unsigned codes
///   being CT's signed ones plus `2^(b−1)`), `weight_scale` `[out, groups]`,
///   `weight_zero_point` I32 `[⌈out·b/32⌉, groups]` (asymmetric only; packed along the
///   output dimension) and `weight_shape` I64 `[2]`;
/// - 8-bit symmetric weights with 8-bit activations (W8A8) as `int-quantized`: `weight` I8
///   (`code − 128`), `weight_scale` `[out, 1]`, and `input_scale` for static per-tensor
///   activations.
///
/// Codes and scales are Quanta's, unchanged. Input permutations (act-order groups that are
/// not contiguous), online rotations and a low-bit KV cache are errors.
public enum CompressedTensorsExporter {
    public static let version = "0.20.0"

    public struct Options: Sendable {
        /// Dtype of dense tensors and scales: nil keeps what the source stores (F16 matrices
        /// of a container stay F16, scales follow the embedding's dtype).
        public var denseType: DType?
        public init(denseType: DType? = nil) { self.denseType = denseType }
    }

    /// The scheme of one linear as a config group sees it.
    struct Scheme: Hashable {
        var bits: Int
        var symmetric: Bool
        /// nil: per channel.
        var groupSize: Int?
        var activation: ActivationScheme?
        var format: String { activation == nil ? "pack-quantized" : "int-quantized" }
    }

    public static func write(_ model: QuantizedModel, options: Options = Options(), to path: String) throws(FormatError) {
        if let transform = model.onlineTransforms.first {
            throw .exportUnsupported(
                path: model.path, tensor: "runtime.\(transform)",
                detail: "transformers ignores compressed-tensors transform_config, so online rotations and a low-bit KV cache cannot run there; remove \(transform) from the recipe")
        }
        let denseType = options.denseType ?? storedMatrixType(model)
        var tensors: [NamedTensor] = []
        var schemes: [Scheme: [String]] = [:]
        var ignored: [String] = []
        var quantized: [(module: String, name: String, weights: PackedWeights)] = []
        for item in model.tensors {
            let module = String(item.name.dropLast(".weight".count))
            switch item.content {
            case .packed(let packed): quantized.append((module, item.name, packed))
            case .sparse(let sparse):
                guard case .packed = sparse.values else {
                    try appendDense(item, module: module, type: denseType, to: &tensors, ignored: &ignored, path: model.path)
                    continue
                }
                quantized.append((module, item.name, try sparse.densePacked(name: item.name)))
            case .dense:
                try appendDense(item, module: module, type: denseType, to: &tensors, ignored: &ignored, path: model.path)
            }
        }
        let common = commonGroupSize(quantized.map(\.weights))
        for (module, name, weights) in quantized {
            let grouped = try regrouped(weights, groupSize: common ?? evenGroupSize(weights), name: name)
            let scheme = try scheme(of: grouped, activation: model.activations[module], name: name, path: model.path)
            schemes[scheme, default: []].append(module)
            tensors += try compressedTensors(grouped, module: module, scheme: scheme, scaleType: denseType, path: model.path)
        }
        guard !schemes.isEmpty else {
            throw .exportUnsupported(
                path: model.path, tensor: "model", detail: "no linear is quantized; a float model needs no compressed-tensors export (quanta convert writes a Hugging Face directory)")
        }
        if !model.tensors.contains(where: { $0.name == "lm_head.weight" }) { ignored.append("lm_head") }
        let configJSON = try configuration(model: model, schemes: schemes, ignored: ignored, denseType: denseType)
        let writtenTensors = tensors
        try AtomicOutput.produce(path) { temporary throws(FormatError) in
            do { try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: false) } catch {
                throw .writeFailed(path: path, reason: error.localizedDescription)
            }
            try AtomicOutput.write(Data(configJSON.serialized().utf8), to: temporary + "/config.json")
            try SafetensorsWriter.write(writtenTensors, to: temporary + "/model.safetensors")
            let extras = [
                ("tokenizer.json", model.tokenizer), ("tokenizer_config.json", model.tokenizerConfig),
                ("generation_config.json", model.generationConfig),
            ]
            for case (let name, let data?) in extras { try AtomicOutput.write(data, to: temporary + "/" + name) }
        }
    }

    /// F16 when the source stores its matrices in F16 (a container), else F32.
    static func storedMatrixType(_ model: QuantizedModel) -> DType {
        for item in model.tensors {
            if case .dense(let tensor) = item.content, tensor.shape.count == 2 { return tensor.dtype == .float16 ? .float16 : .float32 }
        }
        return .float32
    }

    static func appendDense(
        _ item: ContainerTensor, module: String, type: DType, to tensors: inout [NamedTensor], ignored: inout [String], path: String
    ) throws(FormatError) {
        let tensor = try item.floatTensor()
        let converted: Tensor
        do { converted = try tensor.converted(to: tensor.shape.count == 2 ? type : .float32) } catch {
            throw .invalidTensor(path: path, tensor: item.name, underlying: error)
        }
        tensors.append(NamedTensor(name: item.name, tensor: converted))
        if item.name.hasSuffix("_proj.weight") || item.name == "lm_head.weight" { ignored.append(module) }
    }

    /// compressed-tensors needs the input dimension to be whole groups, but Quanta ends a row
    /// with a narrower group (576 = 4·128 + 64): the same weights in groups of gcd(group, in)
    /// are exact, each lying inside one of Quanta's groups and taking its scale and zero
    /// point. Nil for per-channel weights.
    static func evenGroupSize(_ weights: PackedWeights) -> Int? {
        weights.groupSize >= weights.inputCount ? nil : greatestCommonDivisor(weights.groupSize, weights.inputCount)
    }

    /// One group size for every linear, when they share bits and symmetry and are all
    /// grouped: `transformers` decompresses every dense layer with the first config group,
    /// so a checkpoint it loads needs one scheme (the gcd of the even group sizes).
    static func commonGroupSize(_ weights: [PackedWeights]) -> Int? {
        guard let first = weights.first,
            weights.allSatisfy({ $0.bits == first.bits && $0.symmetric == first.symmetric && evenGroupSize($0) != nil })
        else { return nil }
        return weights.compactMap(evenGroupSize).reduce(0, greatestCommonDivisor)
    }

    static func greatestCommonDivisor(_ first: Int, _ second: Int) -> Int {
        var (a, b) = (first, second)
        while b != 0 { (a, b) = (b, a % b) }
        return a
    }

    /// `weights` in groups of `groupSize` (which divides the input count and the group
    /// size), each new group taking its enclosing group's scale and zero point.
    static func regrouped(_ weights: PackedWeights, groupSize: Int?, name: String) throws(FormatError) -> PackedWeights {
        guard let groupSize, groupSize != weights.groupSize, weights.inputPermutation == nil else { return weights }
        let columns = weights.inputCount
        let groups = weights.groupCount
        let newGroups = columns / groupSize
        let scales = weights.scaleValues()
        let zeros = weights.unpackedZeroPoints()
        var newScales = [Float](repeating: 0, count: weights.outputCount * newGroups)
        var newZeros = [UInt8](repeating: 0, count: weights.outputCount * newGroups)
        for row in 0..<weights.outputCount {
            for group in 0..<newGroups {
                let source = row * groups + group * groupSize / weights.groupSize
                newScales[row * newGroups + group] = scales[source]
                newZeros[row * newGroups + group] = zeros[source]
            }
        }
        return try PackedWeights.pack(
            name: name, codes: weights.unpackedCodes(), scales: newScales, zeroPoints: newZeros,
            groupIndex: (0..<columns).map { $0 / groupSize }, outputCount: weights.outputCount, inputCount: columns,
            bits: weights.bits, groupSize: groupSize, symmetric: weights.symmetric)
    }

    static func scheme(of weights: PackedWeights, activation: ActivationScheme?, name: String, path: String) throws(FormatError) -> Scheme {
        if weights.inputPermutation != nil {
            throw .exportUnsupported(
                path: path, tensor: name,
                detail: "act-order groups in permuted order (g_idx) were removed in compressed-tensors 0.19; use act_order: static (or none)")
        }
        let groupSize = weights.groupSize >= weights.inputCount ? nil : weights.groupSize
        if let activation {
            guard activation.bits == 8, weights.bits == 8, weights.symmetric, groupSize == nil, activation.clipRatio == 1 else {
                throw .exportUnsupported(
                    path: path, tensor: name,
                    detail: "activation quantization exports only as W8A8 (8-bit symmetric per-channel weights, 8-bit activations without clip_ratio); this linear is \(weights.label) with \(activation.bits)-bit activations")
            }
        }
        return Scheme(bits: weights.bits, symmetric: weights.symmetric, groupSize: groupSize, activation: activation)
    }

    static func compressedTensors(_ weights: PackedWeights, module: String, scheme: Scheme, scaleType: DType, path: String)
        throws(FormatError) -> [NamedTensor]
    {
        let rows = weights.outputCount
        let groups = weights.groupCount
        var result: [NamedTensor] = []
        do throws(TensorError) {
            let scales = try Tensor(shape: [rows, groups], values: weights.scaleValues()).converted(to: scaleType)
            if let activation = scheme.activation {
                let codes = weights.unpackedCodes().map { UInt8(bitPattern: Int8(Int($0) - 128)) }
                result.append(NamedTensor(name: module + ".weight", tensor: try Tensor(
                    dtype: .int8, shape: [rows, weights.inputCount], storage: TensorStorage(array: codes))))
                result.append(NamedTensor(name: module + ".weight_scale", tensor: scales))
                if let scale = activation.staticScale {
                    result.append(NamedTensor(name: module + ".input_scale", tensor: try Tensor(shape: [1], values: [scale]).converted(to: scaleType)))
                }
                return result
            }
            let traits = weights.traits
            let words = (weights.inputCount * traits.bits + 31) / 32
            let rowBytes = weights.rowByteCount
            let packed = weights.codes.storage.withUnsafeBytes { source in
                var bytes = [UInt8](repeating: 0, count: rows * words * 4)
                for row in 0..<rows {
                    for index in 0..<min(rowBytes, words * 4) { bytes[row * words * 4 + index] = source[row * rowBytes + index] }
                }
                return bytes
            }
            result.append(NamedTensor(name: module + ".weight_packed", tensor: try Tensor(
                dtype: .int32, shape: [rows, words], storage: TensorStorage(array: packed))))
            result.append(NamedTensor(name: module + ".weight_scale", tensor: scales))
            if !scheme.symmetric {
                result.append(NamedTensor(name: module + ".weight_zero_point", tensor: try zeroPointTensor(weights)))
            }
            let shape: [Int64] = [Int64(rows), Int64(weights.inputCount)]
            result.append(NamedTensor(name: module + ".weight_shape", tensor: try Tensor(
                dtype: .int64, shape: [2], storage: TensorStorage(array: shape))))
        } catch {
            throw .invalidTensor(path: path, tensor: module + ".weight", underlying: error)
        }
        return result
    }

    /// Zero points `[out, groups]` packed along the output dimension: column g's values form
    /// one bit stream, stored as words `[⌈out·b/32⌉, groups]` (CT `pack_to_int32(…, packed_dim=0)`).
    static func zeroPointTensor(_ weights: PackedWeights) throws(TensorError) -> Tensor {
        let rows = weights.outputCount
        let groups = weights.groupCount
        let zeros = weights.unpackedZeroPoints()
        let words = (rows * weights.bits + 31) / 32
        var bytes = [UInt8](repeating: 0, count: words * groups * 4)
        for group in 0..<groups {
            let column = (0..<rows).map { zeros[$0 * groups + group] }
            let stream = weights.traits.pack(column)
            for (index, byte) in stream.prefix(words * 4).enumerated() {
                // Byte `index` of the column's stream belongs to word index/4 of that column.
                bytes[((index / 4) * groups + group) * 4 + index % 4] = byte
            }
        }
        return try Tensor(dtype: .int32, shape: [words, groups], storage: TensorStorage(array: bytes))
    }
}

extension CompressedTensorsExporter {
    /// The model's `config.json` with `torch_dtype` and a `quantization_config` of one config
    /// group per scheme (targets `Linear` when one scheme covers every quantized linear,
    /// else the module names).
    static func configuration(model: QuantizedModel, schemes: [Scheme: [String]], ignored: [String], denseType: DType)
        throws(FormatError) -> JSONValue
    {
        guard case .object(var members) = try JSONValue.parse(model.config.encodedJSON(), path: model.path + " (config)") else {
            throw .invalidJSON(path: model.path, detail: "config is not an object")
        }
        members.removeAll { $0.0 == "torch_dtype" || $0.0 == "quantization_config" }
        members.append(("torch_dtype", .string(denseType == .float16 ? "float16" : "float32")))
        let ordered = schemes.sorted { ($0.value.first ?? "") < ($1.value.first ?? "") }
        var groups: [(String, JSONValue)] = []
        for (index, (scheme, modules)) in ordered.enumerated() {
            var weights: [(String, JSONValue)] = [
                ("num_bits", .integer(Int64(scheme.bits))), ("type", .string("int")), ("symmetric", .bool(scheme.symmetric)),
                ("strategy", .string(scheme.groupSize == nil ? "channel" : "group")),
                ("group_size", scheme.groupSize.map { .integer(Int64($0)) } ?? .null), ("block_structure", .null),
                ("dynamic", .bool(false)), ("actorder", .null), ("observer", .string("minmax")),
            ]
            if scheme.groupSize == nil { weights.removeAll { $0.0 == "group_size" } }
            var input: JSONValue = .null
            if let activation = scheme.activation {
                let isStatic = activation.staticScale != nil
                input = .object([
                    ("num_bits", .integer(8)), ("type", .string("int")), ("symmetric", .bool(true)),
                    ("strategy", .string(isStatic ? "tensor" : "token")), ("dynamic", .bool(!isStatic)),
                    ("observer", isStatic ? .string("minmax") : .null),
                ])
            }
            let targets: [JSONValue] = ordered.count == 1 ? [.string("Linear")] : modules.map { .string($0) }
            groups.append(("group_\(index)", .object([
                ("targets", .array(targets)), ("weights", .object(weights)), ("input_activations", input),
                ("output_activations", .null), ("format", .string(scheme.format)),
            ])))
        }
        let format = Set(ordered.map(\.key.format))
        members.append(("quantization_config", .object([
            ("quant_method", .string("compressed-tensors")),
            ("format", .string(format.count == 1 ? format.first! : "mixed-precision")),
            ("quantization_status", .string("compressed")), ("version", .string(version)),
            ("config_groups", .object(groups)), ("ignore", .array(ignored.map { .string($0) })),
            ("kv_cache_scheme", .null), ("sparsity_config", .object([])), ("transform_config", .object([])),
            ("global_compression_ratio", .null),
        ])))
        return .object(members)
    }
}
