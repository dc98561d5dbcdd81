import QuantaTensor

/// Per-input-channel statistics of the activations entering a linear layer, accumulated
/// over calibration samples: `max|x_j|` (SmoothQuant's activation scale) and `mean|x_j|`
/// (AWQ's activation magnitude), over every token seen.
///
/// Provenance: SmoothQuant `calibration.py` `get_act_scales` (running `abs().max(dim=0)`);
/// llm-awq `auto_scale.py` `get_act_scale` (`abs().view(-1, C).mean(0)`).
public struct ActivationStatistics: Sendable, Equatable {
    /// `max|x_j|` per input channel.
    public private(set) var absoluteMaximum: [Float]
    /// `Σ |x_j|` per input channel, in double precision.
    public private(set) var absoluteSum: [Double]
    /// Tokens (rows) accumulated.
    public private(set) var tokenCount: Int

    public init(channels: Int) {
        absoluteMaximum = [Float](repeating: 0, count: channels)
        absoluteSum = [Double](repeating: 0, count: channels)
        tokenCount = 0
    }

    /// The statistics of `samples` (each `tokens × channels`).
    public init(_ samples: [Matrix]) throws(AlgorithmError) {
        self.init(channels: samples.first?.columns ?? 0)
        for sample in samples { try add(sample) }
    }

    public var channels: Int { absoluteMaximum.count }

    /// `mean|x_j|` per input channel (0 before any token).
    public var absoluteMean: [Float] {
        absoluteSum.map { tokenCount > 0 ? Float($0 / Double(tokenCount)) : 0 }
    }

    /// `max_j max|x_j|`: the per-tensor absmax.
    public var tensorAbsoluteMaximum: Float { absoluteMaximum.max() ?? 0 }

    /// Adds the rows of `sample` (`tokens × channels`).
    public mutating func add(_ sample: Matrix) throws(AlgorithmError) {
        guard sample.columns == channels else {
            throw .shapeMismatch(detail: "activation statistics over \(channels) channels got \(sample.columns) columns")
        }
        let columns = channels
        sample.values.withUnsafeBufferPointer { values in
            absoluteMaximum.withUnsafeMutableBufferPointer { maxima in
                absoluteSum.withUnsafeMutableBufferPointer { sums in
                    // Sum each row in float32 first, then accumulate rows in double: exact
                    // enough and vectorizable.
                    var rowSums = [Float](repeating: 0, count: columns)
                    let rowBlock = 64
                    for blockStart in stride(from: 0, to: sample.rows, by: rowBlock) {
                        for column in 0..<columns { rowSums[column] = 0 }
                        for row in blockStart..<min(blockStart + rowBlock, sample.rows) {
                            let start = row * columns
                            for column in 0..<columns {
                                let magnitude = abs(values[start + column])
                                maxima[column] = max(maxima[column], magnitude)
                                rowSums[column] += magnitude
                            }
                        }
                        for column in 0..<columns { sums[column] += Double(rowSums[column]) }
                    }
                }
            }
        }
        tokenCount += sample.rows
    }

    /// Statistics of the activations after dividing channel `j` by `scales[j]` (what a
    /// folded smoothing leaves the layer to see).
    public func divided(by scales: [Float]) -> ActivationStatistics {
        precondition(scales.count == channels, "one scale per channel")
        var result = self
        for index in 0..<channels {
            result.absoluteMaximum[index] = absoluteMaximum[index] / scales[index]
            result.absoluteSum[index] = absoluteSum[index] / Double(scales[index])
        }
        return result
    }
}
