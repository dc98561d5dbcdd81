import Foundation
import QuantaFormats
import QuantaModel
import QuantaTensor

/// The staged run behind `quanta quantize`: load → calibrate → quantize → write.
public struct QuantizationJob {
    public var modelPath: String
    public var recipePath: String
    public var calibrationPath: String?
    public var outputPath: String
    public var context: ComputeContext
    /// Replaces the calibration spec's seed when set.
    public var calibrationSeed: UInt64?
    /// Containers: store arrays zstd-compressed where that saves at least 5%.
    public var compressContainer = true
    /// Write the result in an export format instead (`.gguf` outputs imply GGUF).
    public var exportFormat: ExportFormat?
    /// `--force`: replace a non-empty directory or an entry of the other kind at the output
    /// (set aside until the new output is complete). Inputs are never replaced.
    public var replaceExisting = false
    /// `--calibration-source`: the calibration text, instead of the spec's `source` under
    /// the data directory.
    public var calibrationSourcePath: String?
    public var log: (String) -> Void

    public init(
        modelPath: String, recipePath: String, calibrationPath: String?, outputPath: String, context: ComputeContext,
        calibrationSeed: UInt64? = nil, log: @escaping (String) -> Void
    ) {
        self.calibrationSeed = calibrationSeed
        self.modelPath = modelPath
        self.recipePath = recipePath
        self.calibrationPath = calibrationPath
        self.outputPath = outputPath
        self.context = context
        self.log = log
    }

    /// Whether `path` names a Quanta container (`.quanta`) rather than a simulated directory.
    public static func writesContainer(_ path: String) -> Bool { path.hasSuffix(".quanta") }

    /// What the output path will hold: exports as their format says, containers are files,
    /// simulated outputs directories.
    public var outputKind: OutputEntryKind {
        if let format = exportFormat ?? ExportFormat.implied(by: outputPath) { return format.outputKind }
        return Self.writesContainer(outputPath) ? .file : .directory
    }

    /// Runs the job; returns the outcome (also written to `outputPath`).
    @discardableResult
    public func run() throws -> QuantizationOutcome {
        let exportFormat = self.exportFormat ?? ExportFormat.implied(by: outputPath)
        let inputs = [modelPath, recipePath] + [calibrationPath, calibrationSourcePath].compactMap { $0 }
        try AtomicOutput.check(outputPath, kind: outputKind, inputs: inputs, force: replaceExisting)
        let recipe = try Recipe.load(path: recipePath)
        try recipe.check(fits: .of(path: outputPath, format: exportFormat), recipePath: recipePath)
        let checkpoint = try ModelFiles.loadCheckpoint(path: modelPath)
        var model = try TransformerModel(checkpoint: checkpoint, computeContext: context)
        let plan = try LayerPlan(recipe: recipe, layerCount: model.layers.count, recipePath: recipePath)
        var calibration: CalibrationSpec?
        var windows: [[Int]] = []
        if plan.needsCalibration(recipe: recipe) {
            guard let calibrationPath else {
                throw PipelineError.unsupported(
                    detail: "\(recipePath) uses GPTQ, which needs calibration data; give --calibration calibration/NAME.yaml")
            }
            var spec = try CalibrationSpec.load(path: calibrationPath)
            if let calibrationSeed { spec.seed = calibrationSeed }
            let source = try calibrationSourcePath ?? spec.sourcePath(
                dataDirectory: try CalibrationSpec.defaultDataDirectory(), specPath: calibrationPath)
            guard FileManager.default.fileExists(atPath: source) else {
                throw PipelineError.calibrationSource(path: source, detail: "calibration text not found; set QUANTA_DATA or give --calibration-source")
            }
            try AtomicOutput.check(outputPath, kind: outputKind, inputs: [source], force: replaceExisting)
            let tokenizer = try Tokenizer(checkpoint: checkpoint, path: modelPath)
            let tokens = tokenizer.encode(try TextFile.read(path: source))
            windows = try spec.windows(from: tokens, sourcePath: source)
            calibration = spec
            log("calibration: \(windows.count) windows of \(spec.sequenceLength) tokens from \(source)")
        }
        let quantizer = SequentialQuantizer(recipe: recipe, plan: plan, context: context, log: log)
        let outcome = try quantizer.run(model: &model, windows: windows)
        try AtomicOutput.replacing(outputPath, force: replaceExisting) {
            if let exportFormat {
                let quantized = try ContainerExporter.quantizedModel(checkpoint: checkpoint, outcome: outcome, path: modelPath)
                try ModelExport.write(quantized, format: exportFormat, to: outputPath, force: replaceExisting)
            } else if Self.writesContainer(outputPath) {
                try ContainerExporter.write(
                    checkpoint: checkpoint, outcome: outcome, recipe: recipe, calibration: calibration,
                    compress: compressContainer, to: outputPath)
            } else {
                try SimulatedModelWriter.write(
                    checkpoint: checkpoint, outcome: outcome, recipe: recipe, calibration: calibration, to: outputPath)
            }
        }
        log(String(format: "wrote %@: %d linears quantized, %d pruned only, %.3f bits per weight, %.1f s", outputPath,
                   outcome.records.count, outcome.pruned.count, outcome.bitsPerWeight, outcome.seconds))
        return outcome
    }
}
