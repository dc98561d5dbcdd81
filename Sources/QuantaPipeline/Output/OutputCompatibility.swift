import QuantaAlgorithms
import QuantaFormats

/// What each kind of `quantize` output can hold, checked against the recipe before any work,
/// so a scheme nothing can pack fails in a second, not after the run. The exporters check
/// the same again on the actual tensors (`GGMLBlockEncoder`, `CompressedTensorsExporter`).
public enum OutputKind: Sendable, Equatable {
    /// A simulated directory: float weights plus codes; holds any scheme.
    case simulated
    /// A `.quanta` container: the packed layouts of docs/packed-weights.md.
    case container
    case export(ExportFormat)

    public static func of(path: String, format: ExportFormat?) -> OutputKind {
        if let format = format ?? ExportFormat.implied(by: path) { return .export(format) }
        return QuantizationJob.writesContainer(path) ? .container : .simulated
    }
}

extension Recipe {
    /// Throws naming the recipe, the stage and the knob when `output` cannot hold what a
    /// stage produces.
    public func check(fits output: OutputKind, recipePath: String) throws(PipelineError) {
        guard output != .simulated else { return }
        func fail(_ stage: Int, _ field: String, _ detail: String) -> PipelineError {
            .invalidValue(path: recipePath, line: nil, field: "stages[\(stage)].\(field)", detail: detail)
        }
        let target: String
        switch output {
        case .export(let format): target = format.rawValue
        default: target = "a .quanta container"
        }
        for (index, stage) in stages.enumerated() where stage.algorithm.quantizesWeights {
            let scheme = stage.scheme
            guard PackedWeightTraits.forBits(scheme.bits) != nil else {
                throw fail(index, "scheme.bits", "\(scheme.bits)-bit codes cannot be packed into \(target) (2, 3, 4 or 8 bits); write a simulated directory or change bits")
            }
            guard case .export(let format) = output else { continue }
            if format == .gguf, WeightFormatTable.ggmlTargets(bits: scheme.bits, symmetric: scheme.symmetric).isEmpty {
                throw fail(index, "scheme.bits", "no ggml block type holds \(scheme.bits)-bit codes")
            }
            if let actOrder = stage.gptq?.actOrder, actOrder != .none, actOrder != .static {
                throw fail(index, "act_order", "\(actOrder.rawValue) act-order permutes groups, which \(format.rawValue) cannot hold; use act_order: static or none")
            }
            if let activation = stage.activationAware.activations, activation.bits < 8 || (format == .compressedTensors && activation.bits != 8) {
                throw fail(index, "activations.bits", "\(activation.bits)-bit activations have no \(format.rawValue) form; use 8 or no activation quantization")
            }
            if format == .gguf, let groupSize = scheme.groupSize, groupSize % GGMLBlockEncoder.blockElements != 0 {
                throw fail(index, "scheme.group_size", "groups of \(groupSize) split ggml's blocks of 32 inputs; use a multiple of 32 or per channel")
            }
        }
        if case .export(let format) = output {
            if kvCache != nil {
                throw .invalidValue(path: recipePath, line: nil, field: "kv_cache", detail: "\(format.rawValue) has no low-bit KV cache; remove kv_cache")
            }
            if let rotation, rotation.onlineDownProjection || rotation.queryKeyRotation {
                throw fail(0, rotation.onlineDownProjection ? "online_down_proj" : "online_query_key", "online Hadamard rotations cannot run in \(format.rawValue); set online_down_proj and online_query_key to false (fused rotations export)")
            }
        }
    }
}
