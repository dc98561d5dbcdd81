import QuantaTensor

/// Accumulates, per input feature `j`, the running mean over calibration samples of
/// `Σ_tokens x_j²` — Wanda's `scaler_row`.
///
/// Provenance: locuslab/wanda `lib/layerwrapper.py` `WrappedGPT.add_batch`: on each batch of
/// `k` samples, `s ← s · n/(n+k)`, `n ← n+k`, `s ← s + ‖X_j‖₂² / n` (float32).
public struct InputNormAccumulator: Sendable {
    public let inputSize: Int
    /// The running `s` (one entry per input feature).
    public private(set) var squaredNorms: [Float]
    public private(set) var sampleCount = 0

    public init(inputSize: Int) {
        precondition(inputSize >= 0, "inputSize must be non-negative")
        self.inputSize = inputSize
        squaredNorms = [Float](repeating: 0, count: inputSize)
    }

    /// Adds activations `[tokens × inputSize]` holding `samples` sequences (default 1).
    public mutating func add(_ activations: Matrix, samples: Int = 1) throws(AlgorithmError) {
        try HessianAccumulator.checkBatch(activations, samples: samples, inputSize: inputSize, accumulator: "the norm accumulator")
        let previous = sampleCount
        sampleCount += samples
        let decay = Float(previous) / Float(sampleCount)
        var sums = [Float](repeating: 0, count: inputSize)
        activations.values.withUnsafeBufferPointer { values in
            for token in 0..<activations.rows {
                let start = token * inputSize
                for feature in 0..<inputSize { sums[feature] += values[start + feature] * values[start + feature] }
            }
        }
        let count = Float(sampleCount)
        for feature in 0..<inputSize { squaredNorms[feature] = squaredNorms[feature] * decay + sums[feature] / count }
    }

    /// The accumulated norms; throws `noCalibrationData` if nothing was added.
    public func finalized(layer: String = "layer") throws(AlgorithmError) -> [Float] {
        guard sampleCount > 0 else { throw .noCalibrationData(layer: layer) }
        return squaredNorms
    }
}
