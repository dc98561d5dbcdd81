import QuantaTensor

/// Re-quantizes an LM head to 8 bits at load, for decoding speed (`LoadedModel.HeadFormat.int8`):
/// symmetric absmax per group of 32 columns, `scale = f16(absmax / 127)`,
/// `code = clamp(round(w / scale), −127, 127) + 128` stored in the packed int8 layout with the
/// fixed zero point 128, so it runs on `PackedLinear`'s int8 kernels. 8.75 bits per weight
/// (an f16 scale and an 8-bit zero per 32 weights). It also rounds the head's input to
/// int8 (`ActivationPrecision.int8`, integer dot products). Not exact: it changes perplexity.
///
/// Provenance: the block size and absmax scaling follow ggml's `Q8_0` (llama.cpp,
/// `quantize_row_q8_0_ref`: 32 values, `d = amax / 127`, `q = round(x / d)`), which llama.cpp
/// uses for SmolLM2's tied embedding in every format of `shared/fixtures/llamacpp.json`.
public enum Int8Head {
    public static let groupSize = 32

    /// The packed operator for `values` (`outputCount × inputCount`, row-major).
    public static func quantize(
        _ values: [Float], outputCount: Int, inputCount: Int, context: ComputeContext, name: String
    ) throws(RuntimeError) -> PackedLinear {
        let layout = try PackedLayout(bits: 8, groupSize: min(groupSize, inputCount), inputCount: inputCount,
                                      outputCount: outputCount, name: name)
        guard values.count == outputCount * inputCount else {
            throw .invalidPackedWeight(name: name, detail: "\(values.count) values for \(outputCount) × \(inputCount)")
        }
        if let index = values.firstIndex(where: { !$0.isFinite }) {
            throw .invalidPackedWeight(name: name, detail: "element \(index) is \(values[index]); an int8 head needs finite weights")
        }
        let groups = layout.groups
        let g = layout.groupSize
        var codes = [UInt8](repeating: 128, count: outputCount * inputCount)
        var scales = [UInt16](repeating: 0, count: outputCount * groups)
        for row in 0..<outputCount {
            for group in 0..<groups {
                let start = row * inputCount + group * g
                let end = row * inputCount + min((group + 1) * g, inputCount)
                var maximum: Float = 0
                for index in start..<end { maximum = max(maximum, abs(values[index])) }
                let scale = Float(Float16(maximum / 127))
                scales[row * groups + group] = Float16(scale).bitPattern
                guard scale > 0 else { continue }
                for index in start..<end {
                    let code = max(-127, min(127, (values[index] / scale).rounded()))
                    codes[index] = UInt8(Int(code) + 128)
                }
            }
        }
        var head = try PackedLinear(
            bits: 8, groupSize: g, inputCount: inputCount, outputCount: outputCount, codes: TensorStorage(array: codes),
            scales: TensorStorage(array: scales), zeros: TensorStorage(array: [UInt8](repeating: 128, count: outputCount * groups)),
            context: context, name: name)
        // int8 weights × int8 activations (Q8_0 × Q8_0).
        head.activationPrecision = .int8
        return head
    }
}
