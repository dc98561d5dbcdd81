import ArgumentParser
import QuantaFormats
import QuantaTensor

/// `quanta export INPUT --format gguf|compressed-tensors --output PATH`.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a quantized (or float) model as GGUF for llama.cpp or compressed-tensors for vLLM / transformers.",
        discussion: """
            INPUT is a .quanta container, a simulated directory written by `quanta quantize`,
            or a float model. Quanta's codes and scales are written unchanged in the target's
            own layout (docs/export.md); what the target cannot hold exactly is an error
            naming the tensor, and nothing is written.
            """
    )

    @Argument(help: "A .quanta container, a simulated quantized directory, or a float model.")
    var input: String

    @Option(help: "gguf or compressed-tensors (default: gguf for an output ending in .gguf).")
    var format: ExportFormat?

    @Option(name: .shortAndLong, help: "Output: a .gguf file, or a new directory for compressed-tensors.")
    var output: String

    @Option(help: "GGUF: type of asymmetric 4-bit linears, Q5_0 (exact) or Q4_1 (smaller; m rounded to f16).")
    var asymmetricFourBit: GGMLType = .q5_0

    @Option(help: "Type of dense matrices (embedding, unquantized head) and of compressed-tensors scales: F32 or F16 (default: as stored); GGUF also Q8_0 (quantized like llama-quantize, not exact).")
    var denseType: GGMLType?

    @OptionGroup var replace: ReplaceOption

    func validate() throws {
        if format == nil, ExportFormat.implied(by: output) == nil {
            throw ValidationError("give --format gguf or --format compressed-tensors")
        }
        if ![.q5_0, .q4_1].contains(asymmetricFourBit) { throw ValidationError("--asymmetric-four-bit must be Q5_0 or Q4_1") }
        if let denseType, ![.f32, .f16, .q8_0].contains(denseType) || (denseType == .q8_0 && format == .compressedTensors) {
            throw ValidationError("--dense-type must be F32 or F16 (or Q8_0 for GGUF)")
        }
    }

    func run() throws {
        let format = self.format ?? ExportFormat.implied(by: output)!
        let model = try QuantizedModel.load(path: input)
        var options = ModelExport.Options()
        options.gguf.asymmetricFourBit = asymmetricFourBit
        options.gguf.denseMatrixType = denseType
        options.compressedTensors.denseType = denseType.map { $0 == .f16 ? .float16 : .float32 }
        try ModelExport.write(model, format: format, options: options, to: output, force: replace.force)
        print("wrote \(output) (\(format.rawValue), \(model.tensors.count) tensors from \(input))")
    }
}

extension ExportFormat: ExpressibleByArgument {}

extension GGMLType: ExpressibleByArgument {
    public init?(argument: String) {
        guard let type = GGMLType.allCases.first(where: { $0.name == argument.uppercased() }) else { return nil }
        self = type
    }
}
