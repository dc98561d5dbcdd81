import QuantaTensor

/// Accumulates the layer-wise Hessian `H = (2/n) Σ x xᵀ` of the reconstruction loss
/// `‖W X − Ŵ X‖²` over calibration inputs, as a running average like GPTQ's `add_batch`.
///
/// Provenance: E. Frantar et al., "GPTQ", ICLR 2023, §3 ("the Hessian H_F = 2 X_F X_Fᵀ");
/// reference `GPTQ.add_batch` (github.com/IST-DASLab/gptq, gptq.py): on each batch of `k`
/// samples, `H ← H · n/(n+k)`, `n ← n+k`, `H ← H + (2/n) · Xᵀ X` where `X` holds the batch's
/// token rows. As in the reference, `n` counts calibration *samples* (sequences), not token
/// rows: the reference forwards one sequence per call, so each call adds 1. The overall scale
/// of `H` does not change GPTQ's result (only its reported loss).
///
/// Precision: float32 storage and a float32 BLAS product, like the reference. The running
/// average keeps entries at the size of `E[x xᵀ]` however many samples arrive, each update
/// is one GEMM (the dominant calibration cost, so single precision halves it), and the solver
/// factorizes in double precision, which is where conditioning matters. Dead inputs (a zero
/// diagonal entry) are left as they are; `GPTQSolver` handles them.
public struct HessianAccumulator: Sendable {
    /// The input dimension (columns of the activations, size of `H`).
    public let inputSize: Int
    /// The running `H` (symmetric, `inputSize × inputSize`).
    public private(set) var hessian: Matrix
    /// Samples (sequences) accumulated so far (`n` above).
    public private(set) var sampleCount: Int = 0
    /// Token rows accumulated so far.
    public private(set) var rowCount: Int = 0

    /// An empty accumulator for activations with `inputSize` features.
    public init(inputSize: Int) {
        precondition(inputSize >= 0, "inputSize must be non-negative")
        self.inputSize = inputSize
        self.hessian = Matrix(rows: inputSize, columns: inputSize)
    }

    /// Adds a batch of activations `[tokens × inputSize]` holding `samples` calibration
    /// sequences (default 1, one sequence per call as in the reference).
    public mutating func add(_ activations: Matrix, samples: Int = 1) throws(AlgorithmError) {
        try Self.checkBatch(activations, samples: samples, inputSize: inputSize, accumulator: "the Hessian")
        let previous = sampleCount
        sampleCount += samples
        rowCount += activations.rows
        let decay = Float(previous) / Float(sampleCount)
        let weight = 2 / Float(sampleCount)
        guard activations.rows > 0, inputSize > 0 else {
            hessian = Matrix(rows: inputSize, columns: inputSize, exactly: hessian.values.map { $0 * decay })
            return
        }
        // H ← decay · H + (2/n) · Xᵀ X in one GEMM (C = alpha · AᵀA + beta · C).
        do {
            try BLAS.gemm(activations, transposeA: true, activations, alpha: weight, beta: decay, into: &hessian)
        } catch {
            throw .shapeMismatch(detail: "Hessian update failed: \(error)")
        }
    }

    /// The accumulated Hessian; throws `noCalibrationData` if nothing was added.
    public func finalized(layer: String = "layer") throws(AlgorithmError) -> Matrix {
        guard sampleCount > 0 else { throw .noCalibrationData(layer: layer) }
        return hessian
    }

    /// Throws unless `activations` has `inputSize` features and `samples` is positive.
    static func checkBatch(_ activations: Matrix, samples: Int, inputSize: Int, accumulator: String) throws(AlgorithmError) {
        guard activations.columns == inputSize else {
            throw .shapeMismatch(
                detail: "activations have \(activations.columns) features, \(accumulator) expects \(inputSize)")
        }
        guard samples > 0 else { throw .invalidInput(detail: "a batch must hold at least one sample, got \(samples)") }
    }
}
