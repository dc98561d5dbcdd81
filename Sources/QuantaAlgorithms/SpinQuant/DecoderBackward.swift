import Foundation
import QuantaTensor

/// The weights of one LLaMA decoder layer as plain matrices (`[out × in]`), for the
/// differentiable forward/backward pass rotation learning needs.
public struct DecoderLayerWeights: Sendable {
    public var query, key, value, output, gate, up, down: Matrix
    public var inputGain, postAttentionGain: [Float]

    public init(
        query: Matrix, key: Matrix, value: Matrix, output: Matrix, gate: Matrix, up: Matrix, down: Matrix,
        inputGain: [Float], postAttentionGain: [Float]
    ) {
        (self.query, self.key, self.value, self.output) = (query, key, value, output)
        (self.gate, self.up, self.down) = (gate, up, down)
        (self.inputGain, self.postAttentionGain) = (inputGain, postAttentionGain)
    }
}

/// Shape and constants of a decoder layer; `cosine`/`sine` are the rotary tables for the
/// window's positions (`positions × headDimension/2`, HF `rotate_half` layout), supplied by
/// the model so every RoPE variant is handled where it is defined.
public struct DecoderLayerGeometry: Sendable {
    public var heads, kvHeads, headDimension: Int
    public var epsilon: Float
    public var cosine, sine: [Float]

    public init(heads: Int, kvHeads: Int, headDimension: Int, epsilon: Float, cosine: [Float], sine: [Float]) {
        (self.heads, self.kvHeads, self.headDimension, self.epsilon) = (heads, kvHeads, headDimension, epsilon)
        (self.cosine, self.sine) = (cosine, sine)
    }
}

/// Where the forward pass lets a quantizer round a tensor: the input rows of each group of
/// linears, and the keys (after RoPE) and values entering the KV cache.
public enum DecoderQuantizationSite: Sendable, CaseIterable {
    case attentionInput, outputProjectionInput, feedForwardInput, downProjectionInput, key, value
}

/// A fake quantizer at a site: rounds `values` in place and may return how the gradient of
/// its output becomes the gradient of its input beyond the identity (`nil`: the plain
/// straight-through estimator).
public typealias DecoderSiteQuantizer = (inout Matrix, DecoderQuantizationSite) -> (@Sendable (inout Matrix) -> Void)?

/// What the forward pass keeps for the backward pass.
public struct DecoderLayerTape: Sendable {
    var input, normalized, rotatedQuery, rotatedKey, value, attended, residual, postNormalized, gate, up, activation: Matrix
    var inputScale, postScale: [Float]
    var probabilities: [Matrix]
    /// The quantizers' gradient adjustments by site.
    var adjustments: [DecoderQuantizationSite: @Sendable (inout Matrix) -> Void] = [:]

    func adjust(_ gradient: inout Matrix, _ site: DecoderQuantizationSite) { adjustments[site]?(&gradient) }
}

/// Gradients of one decoder layer's weights, shaped like the weights.
public typealias DecoderLayerGradients = DecoderLayerWeights

/// A reverse-mode pass through one LLaMA decoder layer (RMSNorm, q/k/v, RoPE, causal GQA
/// softmax attention, o, residual, RMSNorm, SwiGLU, residual) in float32, written out by hand
/// for the rotation-learning loss; checked against finite differences in the tests.
///
/// Provenance: the layer equations of transformers `modeling_llama.py`; standard backward
/// formulas (softmax: dS = P ⊙ (dP − rowsum(dP ⊙ P)); RMSNorm: dx = r·u − r³·x·(u·x)/d with
/// u = g ⊙ dy; SiLU′(z) = σ(z)(1 + z(1 − σ(z)))).
public enum DecoderBackward {
    /// The layer output for `input` (`tokens × hidden`) and the tape for `backward`.
    /// `quantizer` (fake quantization at each `DecoderQuantizationSite`) is passed through by
    /// the backward pass as the identity (the straight-through estimator) plus the adjustment
    /// it returns, if any.
    public static func forward(
        _ input: Matrix, weights: DecoderLayerWeights, geometry: DecoderLayerGeometry,
        quantizer: DecoderSiteQuantizer? = nil
    ) throws(TensorError) -> (output: Matrix, tape: DecoderLayerTape) {
        var adjustments: [DecoderQuantizationSite: @Sendable (inout Matrix) -> Void] = [:]
        func quantize(_ values: inout Matrix, _ site: DecoderQuantizationSite) {
            if let adjustment = quantizer?(&values, site) { adjustments[site] = adjustment }
        }
        var (normalized, inputScale) = rmsNorm(input, gain: weights.inputGain, epsilon: geometry.epsilon)
        quantize(&normalized, .attentionInput)
        var query = try BLAS.multiply(normalized, weights.query, transposeB: true)
        var key = try BLAS.multiply(normalized, weights.key, transposeB: true)
        var value = try BLAS.multiply(normalized, weights.value, transposeB: true)
        rope(&query, geometry, inverse: false)
        rope(&key, geometry, inverse: false)
        quantize(&key, .key)
        quantize(&value, .value)
        var attended = Matrix(rows: input.rows, columns: geometry.heads * geometry.headDimension)
        var probabilities: [Matrix] = []
        let scale = 1 / Float(geometry.headDimension).squareRoot()
        for head in 0..<geometry.heads {
            let group = head / (geometry.heads / geometry.kvHeads)
            let headQuery = slice(query, head, geometry.headDimension)
            let headKey = slice(key, group, geometry.headDimension)
            var scores = try BLAS.multiply(headQuery, headKey, transposeB: true)
            for row in 0..<scores.rows {
                var maximum = -Float.infinity
                for column in 0...row { maximum = max(maximum, scores[row, column] * scale) }
                var sum: Float = 0
                for column in 0..<scores.columns {
                    let probability = column <= row ? exp(scores[row, column] * scale - maximum) : 0
                    scores[row, column] = probability
                    sum += probability
                }
                for column in 0...row { scores[row, column] /= sum }
            }
            place(try BLAS.multiply(scores, slice(value, group, geometry.headDimension)), into: &attended, head, geometry.headDimension)
            probabilities.append(scores)
        }
        quantize(&attended, .outputProjectionInput)
        var residual = try BLAS.multiply(attended, weights.output, transposeB: true)
        add(input, to: &residual)
        var (postNormalized, postScale) = rmsNorm(residual, gain: weights.postAttentionGain, epsilon: geometry.epsilon)
        quantize(&postNormalized, .feedForwardInput)
        let gate = try BLAS.multiply(postNormalized, weights.gate, transposeB: true)
        let up = try BLAS.multiply(postNormalized, weights.up, transposeB: true)
        var activation = gate
        for index in activation.values.indices { activation.values[index] = silu(gate.values[index]) * up.values[index] }
        quantize(&activation, .downProjectionInput)
        var output = try BLAS.multiply(activation, weights.down, transposeB: true)
        add(residual, to: &output)
        let tape = DecoderLayerTape(
            input: input, normalized: normalized, rotatedQuery: query, rotatedKey: key, value: value, attended: attended,
            residual: residual, postNormalized: postNormalized, gate: gate, up: up, activation: activation,
            inputScale: inputScale, postScale: postScale, probabilities: probabilities, adjustments: adjustments)
        return (output, tape)
    }

    /// The gradient of the input and of every weight, given the gradient of the output.
    public static func backward(
        _ outputGradient: Matrix, tape: DecoderLayerTape, weights: DecoderLayerWeights, geometry: DecoderLayerGeometry
    ) throws(TensorError) -> (input: Matrix, weights: DecoderLayerGradients) {
        // Feed-forward block.
        var activationGradient = try BLAS.multiply(outputGradient, weights.down)
        tape.adjust(&activationGradient, .downProjectionInput)
        let downGradient = try BLAS.multiply(outputGradient, transposeA: true, tape.activation)
        var gateGradient = tape.gate
        var upGradient = tape.up
        for index in gateGradient.values.indices {
            let z = tape.gate.values[index]
            let sigmoid = 1 / (1 + exp(-z))
            gateGradient.values[index] = activationGradient.values[index] * tape.up.values[index] * sigmoid * (1 + z * (1 - sigmoid))
            upGradient.values[index] = activationGradient.values[index] * z * sigmoid
        }
        let gateWeightGradient = try BLAS.multiply(gateGradient, transposeA: true, tape.postNormalized)
        let upWeightGradient = try BLAS.multiply(upGradient, transposeA: true, tape.postNormalized)
        var postNormalizedGradient = try BLAS.multiply(gateGradient, weights.gate)
        add(try BLAS.multiply(upGradient, weights.up), to: &postNormalizedGradient)
        tape.adjust(&postNormalizedGradient, .feedForwardInput)
        var residualGradient = outputGradient
        let (postInputGradient, postGainGradient) = rmsNormBackward(
            postNormalizedGradient, input: tape.residual, scale: tape.postScale, gain: weights.postAttentionGain)
        add(postInputGradient, to: &residualGradient)

        // Attention block.
        var attendedGradient = try BLAS.multiply(residualGradient, weights.output)
        tape.adjust(&attendedGradient, .outputProjectionInput)
        let outputWeightGradient = try BLAS.multiply(residualGradient, transposeA: true, tape.attended)
        let dimension = geometry.headDimension
        var queryGradient = Matrix(rows: tape.rotatedQuery.rows, columns: tape.rotatedQuery.columns)
        var keyGradient = Matrix(rows: tape.rotatedKey.rows, columns: tape.rotatedKey.columns)
        var valueGradient = Matrix(rows: tape.value.rows, columns: tape.value.columns)
        let scale = 1 / Float(dimension).squareRoot()
        for head in 0..<geometry.heads {
            let group = head / (geometry.heads / geometry.kvHeads)
            let probabilities = tape.probabilities[head]
            let headOutputGradient = slice(attendedGradient, head, dimension)
            let headValue = slice(tape.value, group, dimension)
            var scoreGradient = try BLAS.multiply(headOutputGradient, headValue, transposeB: true)  // dP
            accumulate(try BLAS.multiply(probabilities, transposeA: true, headOutputGradient), into: &valueGradient, group, dimension)
            for row in 0..<scoreGradient.rows {
                var dot: Float = 0
                for column in 0...row { dot += scoreGradient[row, column] * probabilities[row, column] }
                for column in 0..<scoreGradient.columns {
                    scoreGradient[row, column] = probabilities[row, column] * (scoreGradient[row, column] - dot) * scale
                }
            }
            accumulate(
                try BLAS.multiply(scoreGradient, slice(tape.rotatedKey, group, dimension)), into: &queryGradient, head, dimension)
            accumulate(
                try BLAS.multiply(scoreGradient, transposeA: true, slice(tape.rotatedQuery, head, dimension)),
                into: &keyGradient, group, dimension)
        }
        tape.adjust(&keyGradient, .key)
        tape.adjust(&valueGradient, .value)
        rope(&queryGradient, geometry, inverse: true)
        rope(&keyGradient, geometry, inverse: true)
        let queryWeightGradient = try BLAS.multiply(queryGradient, transposeA: true, tape.normalized)
        let keyWeightGradient = try BLAS.multiply(keyGradient, transposeA: true, tape.normalized)
        let valueWeightGradient = try BLAS.multiply(valueGradient, transposeA: true, tape.normalized)
        var normalizedGradient = try BLAS.multiply(queryGradient, weights.query)
        add(try BLAS.multiply(keyGradient, weights.key), to: &normalizedGradient)
        add(try BLAS.multiply(valueGradient, weights.value), to: &normalizedGradient)
        tape.adjust(&normalizedGradient, .attentionInput)
        var inputGradient = residualGradient
        let (attentionInputGradient, inputGainGradient) = rmsNormBackward(
            normalizedGradient, input: tape.input, scale: tape.inputScale, gain: weights.inputGain)
        add(attentionInputGradient, to: &inputGradient)
        let gradients = DecoderLayerGradients(
            query: queryWeightGradient, key: keyWeightGradient, value: valueWeightGradient, output: outputWeightGradient,
            gate: gateWeightGradient, up: upWeightGradient, down: downGradient, inputGain: inputGainGradient,
            postAttentionGain: postGainGradient)
        return (inputGradient, gradients)
    }

    // MARK: - Pieces

    static func silu(_ z: Float) -> Float { z / (1 + exp(-z)) }

    /// `g ⊙ x · r` per row with `r = 1/√(mean x² + ε)`; returns the output and each row's `r`.
    public static func rmsNorm(_ input: Matrix, gain: [Float], epsilon: Float) -> (Matrix, [Float]) {
        var output = input
        var scales = [Float](repeating: 0, count: input.rows)
        for row in 0..<input.rows {
            var sum: Float = 0
            for column in 0..<input.columns { sum += input[row, column] * input[row, column] }
            let scale = 1 / (sum / Float(input.columns) + epsilon).squareRoot()
            scales[row] = scale
            for column in 0..<input.columns { output[row, column] = gain[column] * input[row, column] * scale }
        }
        return (output, scales)
    }

    /// RMSNorm's input and gain gradients.
    public static func rmsNormBackward(_ outputGradient: Matrix, input: Matrix, scale: [Float], gain: [Float]) -> (Matrix, [Float]) {
        var inputGradient = input
        var gainGradient = [Float](repeating: 0, count: gain.count)
        let width = Float(input.columns)
        for row in 0..<input.rows {
            let r = scale[row]
            var dot: Float = 0
            for column in 0..<input.columns {
                dot += gain[column] * outputGradient[row, column] * input[row, column]
                gainGradient[column] += outputGradient[row, column] * input[row, column] * r
            }
            for column in 0..<input.columns {
                inputGradient[row, column] =
                    r * gain[column] * outputGradient[row, column] - r * r * r * input[row, column] * dot / width
            }
        }
        return (inputGradient, gainGradient)
    }

    /// The rotary embedding of every head of `matrix` (rows = positions), or its transpose
    /// (the backward pass) when `inverse`.
    static func rope(_ matrix: inout Matrix, _ geometry: DecoderLayerGeometry, inverse: Bool) {
        let dimension = geometry.headDimension
        let half = dimension / 2
        for row in 0..<matrix.rows {
            for head in 0..<(matrix.columns / dimension) {
                let base = head * dimension
                for index in 0..<half {
                    let cosine = geometry.cosine[row * half + index]
                    let sine = inverse ? -geometry.sine[row * half + index] : geometry.sine[row * half + index]
                    let first = matrix[row, base + index]
                    let second = matrix[row, base + index + half]
                    matrix[row, base + index] = first * cosine - second * sine
                    matrix[row, base + index + half] = second * cosine + first * sine
                }
            }
        }
    }

    static func slice(_ matrix: Matrix, _ head: Int, _ dimension: Int) -> Matrix {
        var result = Matrix(rows: matrix.rows, columns: dimension)
        for row in 0..<matrix.rows {
            for column in 0..<dimension { result[row, column] = matrix[row, head * dimension + column] }
        }
        return result
    }

    static func place(_ block: Matrix, into matrix: inout Matrix, _ head: Int, _ dimension: Int) {
        for row in 0..<block.rows {
            for column in 0..<dimension { matrix[row, head * dimension + column] = block[row, column] }
        }
    }

    static func accumulate(_ block: Matrix, into matrix: inout Matrix, _ head: Int, _ dimension: Int) {
        for row in 0..<block.rows {
            for column in 0..<dimension { matrix[row, head * dimension + column] += block[row, column] }
        }
    }

    static func add(_ source: Matrix, to target: inout Matrix) {
        for index in target.values.indices { target.values[index] += source.values[index] }
    }
}
