import ArgumentParser
import QuantaFormats
import QuantaTensor

/// `quanta convert INPUT --output OUT`: GGUF / HDF5 / Hugging Face → Hugging Face or HDF5.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a model between GGUF, Hugging Face (safetensors) and HDF5.",
        discussion: """
            GGUF files are imported by dequantizing every tensor to float32 and undoing
            llama.cpp's Q/K row permutation; the tokenizer is rebuilt as tokenizer.json.
            The output format follows --to, or the output name (.h5/.hdf5 → HDF5).
            """
    )

    @Argument(help: "Input: a .gguf file, a Hugging Face model directory, or an .h5 file.")
    var input: String

    @Option(name: .shortAndLong, help: "Output directory (Hugging Face) or file (HDF5).")
    var output: String

    @Option(help: "Output format: huggingface or hdf5 (default: from the output name).")
    var to: OutputFormat?

    @Option(help: "Floating-point dtype of the written weights: F32, F16 or BF16 (default: as read).")
    var dtype: DType?

    @Option(help: "Largest safetensors shard in bytes before splitting.")
    var maxShardBytes: Int = HuggingFaceDirectory.defaultMaximumShardBytes

    @OptionGroup var replace: ReplaceOption

    enum OutputFormat: String, ExpressibleByArgument {
        case huggingface, hdf5
    }

    func validate() throws {
        if let dtype, !dtype.isFloatingPoint { throw ValidationError("--dtype must be F32, F16 or BF16") }
        if maxShardBytes <= 0 { throw ValidationError("--max-shard-bytes must be positive") }
    }

    func run() throws {
        let format = to ?? (output.hasSuffix(".h5") || output.hasSuffix(".hdf5") ? .hdf5 : .huggingface)
        try AtomicOutput.check(output, kind: format == .hdf5 ? .file : .directory, inputs: [input], force: replace.force)
        var checkpoint = try ModelFiles.loadCheckpoint(path: input)
        if let dtype {
            checkpoint.tensors = try checkpoint.tensors.map { item in
                NamedTensor(name: item.name, tensor: try item.tensor.converted(to: dtype))
            }
        }
        try AtomicOutput.replacing(output, force: replace.force) {
            switch format {
            case .huggingface:
                try HuggingFaceDirectory.write(checkpoint, to: output, maximumShardBytes: maxShardBytes)
            case .hdf5:
                try HDF5Writer.write(checkpoint, to: output)
            }
        }
        print("wrote \(output) (\(format.rawValue), \(checkpoint.tensors.count) tensors, \(checkpoint.parameterCount) parameters)")
    }
}

extension DType: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.uppercased()) }
}
