import Foundation
import QuantaAlgorithms
import QuantaFormats
import QuantaModel
import QuantaTensor

/// The activation-aware transform stages (`smoothquant`, `awq`) inside the sequential run.
///
/// Before a layer is quantized, its full-precision forward pass is replayed group by group
/// (`ScalingMappings.llama` order: q/k/v, o, gate/up, down). For each mapping a transform
/// stage targets, the activation statistics of the group's input are taken, the scales
/// chosen (SmoothQuant's formula or AWQ's grid search), `1/s` folded into the predecessor
/// and `s` into the linears, and the group's inputs rescaled, so the layer's function is
/// unchanged. AWQ's clipping search then runs on every targeted linear except q/k, with the
/// scaled inputs (as llm-awq `run_awq`: scales first, then clipping). The quantizing
/// stages then see the transformed layer.
extension SequentialQuantizer {
    /// Tokens the clipping search samples from the calibration inputs (llm-awq
    /// `n_sample_token`).
    static let clipSampleTokens = 512

    var transformStages: [Int] { recipe.stages.indices.filter { recipe.stages[$0].algorithm.isTransform } }

    /// Applies every transform stage to `layer`, whose input hidden states are `hidden`.
    func transform(layer: inout DecoderLayer, hidden: [Matrix]) throws {
        guard !transformStages.isEmpty else { return }
        var clipSamples: [String: Matrix] = [:]
        let mappings = ScalingMappings.llama
        let positions = 0..<(hidden.first?.rows ?? 0)
        var attentionInputs = hidden.map { layer.inputNorm.apply($0) }
        try transform(mapping: mappings[0], layer: &layer, inputs: &attentionInputs, clipSamples: &clipSamples)
        var noCache: KVCache.Layer? = nil
        var attended = attentionInputs.map {
            layer.attention.attended($0, positions: positions, cache: &noCache, context: context)
        }
        try transform(mapping: mappings[1], layer: &layer, inputs: &attended, clipSamples: &clipSamples)
        var residual = hidden
        for sample in residual.indices {
            DecoderLayer.addInPlace(layer.attention.outputProjection.apply(attended[sample]), to: &residual[sample])
        }
        var feedForwardInputs = residual.map { layer.postAttentionNorm.apply($0) }
        try transform(mapping: mappings[2], layer: &layer, inputs: &feedForwardInputs, clipSamples: &clipSamples)
        var activations = feedForwardInputs.map { layer.feedForward.activation($0, context: context) }
        try transform(mapping: mappings[3], layer: &layer, inputs: &activations, clipSamples: &clipSamples)
        for (suffix, samples) in clipSamples.sorted(by: { $0.key < $1.key }) {
            try clip(suffix, of: &layer, samples: samples)
        }
    }

    /// The transform stages that cover `mapping` in `layer`, in recipe order; throws when a
    /// stage targets only part of the group or a group without a foldable predecessor.
    func stagesCovering(_ mapping: ScalingMapping, in layer: DecoderLayer) throws -> [Int] {
        var result: [Int] = []
        let names = mapping.linears.map { "\(layer.name).\($0)" }
        for index in transformStages {
            let stage = recipe.stages[index]
            let targets = try stage.targets.map { text throws(PipelineError) in try LayerPattern(text) }
            let ignores = try stage.ignore.map { text throws(PipelineError) in try LayerPattern(text) }
            let matched = names.filter { name in
                targets.contains { $0.matches(name) } && !ignores.contains { $0.matches(name) }
            }
            guard !matched.isEmpty else { continue }
            let algorithm = stage.algorithm.rawValue
            guard matched.count == names.count else {
                throw PipelineError.unsupported(
                    detail: "stage \(index + 1) (\(algorithm)) targets \(matched.joined(separator: ", ")) but not "
                        + "\(names.filter { !matched.contains($0) }.joined(separator: ", ")); linears that share an input "
                        + "are scaled together: target all of them or none")
            }
            if let detail = foldProblem(mapping, in: layer) {
                // The default target ("Linear") means every foldable group.
                if stage.targets == ["Linear"] { continue }
                throw PipelineError.unsupported(
                    detail: "stage \(index + 1) (\(algorithm)) cannot smooth \(names.joined(separator: ", ")): \(detail); "
                        + "remove it from the stage's targets")
            }
            result.append(index)
        }
        return result
    }

    /// Why `mapping`'s scales cannot be folded into its predecessor in `layer`, or nil.
    func foldProblem(_ mapping: ScalingMapping, in layer: DecoderLayer) -> String? {
        guard case .linear(let suffix) = mapping.predecessor else { return nil }
        let producer = layer[keyPath: DecoderLayer.linearPath(suffix)]
        let reader = layer[keyPath: DecoderLayer.linearPath(mapping.linears[0])]
        guard producer.outputCount == reader.inputCount else {
            return "its predecessor \(suffix) has \(producer.outputCount) outputs but it reads \(reader.inputCount) inputs "
                + "(grouped-query attention), so no foldable predecessor exists"
        }
        return nil
    }

    private func transform(
        mapping: ScalingMapping, layer: inout DecoderLayer, inputs: inout [Matrix], clipSamples: inout [String: Matrix]
    ) throws {
        try scale(mapping: mapping, layer: &layer, inputs: &inputs)
        // llm-awq clips every linear of the block but q/k, scaled or not (o_proj under
        // grouped-query attention), with its inputs after the scaling.
        let clipped = awqClipTargets(mapping, in: layer)
        if !clipped.isEmpty {
            let samples = Self.sampledTokens(inputs, count: Self.clipSampleTokens)
            for suffix in clipped { clipSamples[suffix] = samples }
        }
    }

    /// The linears of `mapping` an AWQ stage with clipping targets, q/k excepted.
    func awqClipTargets(_ mapping: ScalingMapping, in layer: DecoderLayer) -> [String] {
        let stages = transformStages.filter { recipe.stages[$0].algorithm == .awq && recipe.stages[$0].activationAware.clip }
        return mapping.linears.filter { suffix in
            guard !(suffix.hasSuffix("q_proj") || suffix.hasSuffix("k_proj")) else { return false }
            let name = "\(layer.name).\(suffix)"
            return stages.contains { index in
                let stage = recipe.stages[index]
                let targeted = stage.targets.contains { (try? LayerPattern($0))?.matches(name) ?? false }
                let ignored = stage.ignore.contains { (try? LayerPattern($0))?.matches(name) ?? false }
                return targeted && !ignored
            }
        }
    }

    private func scale(mapping: ScalingMapping, layer: inout DecoderLayer, inputs: inout [Matrix]) throws {
        for stageIndex in try stagesCovering(mapping, in: layer) {
            let stage = recipe.stages[stageIndex]
            let label = "\(layer.name) \(mapping.linears.map { $0.split(separator: ".").last! }.joined(separator: "/"))"
            let statistics = try ActivationStatistics(inputs)
            let weights = try mapping.linears.map { try denseLinear($0, of: layer).weight }
            let scales: [Float]
            switch stage.algorithm {
            case .smoothquant:
                scales = try SmoothQuantSolver.scales(
                    activationMaximum: statistics.absoluteMaximum, weights: weights, alpha: stage.activationAware.alpha)
            case .awq:
                let searchInputs = Array(inputs.prefix(stage.activationAware.searchSamples ?? inputs.count))
                let reference = try moduleOutput(mapping, layer: layer, inputs: searchInputs, weights: nil)
                let search = try AWQSolver.searchScales(
                    activationMean: statistics.absoluteMean, weights: weights, scheme: stage.scheme,
                    gridSize: stage.activationAware.gridSize, duoScaling: stage.activationAware.duoScaling
                ) { candidates in
                    let output = try moduleOutput(mapping, layer: layer, inputs: searchInputs, weights: candidates)
                    return Self.meanSquaredDifference(output, reference)
                }
                log(String(format: "%@: awq alpha %.2f, loss %.4g (alpha 0: %.4g)", label, search.alpha, search.loss,
                           search.lossHistory.first ?? .nan))
                scales = search.scales
            case .rtn, .gptq, .absmax, .magnitude, .wanda, .sparsegpt, .rotation:
                continue
            }
            try fold(scales, mapping: mapping, into: &layer)
            for index in inputs.indices { ChannelScaling.divideColumns(&inputs[index], by: scales) }
            if stage.algorithm == .smoothquant {
                log(String(format: "%@: smoothquant alpha %.2f, act absmax %.3g -> %.3g", label, stage.activationAware.alpha,
                           statistics.tensorAbsoluteMaximum, statistics.divided(by: scales).tensorAbsoluteMaximum))
            }
        }
    }

    /// AWQ's clipping of one linear, with the scheme of the stage that scaled it.
    private func clip(_ suffix: String, of layer: inout DecoderLayer, samples: Matrix) throws {
        guard let stageIndex = transformStages.last(where: { recipe.stages[$0].algorithm == .awq }) else { return }
        let scheme = recipe.stages[stageIndex].scheme
        let path = DecoderLayer.linearPath(suffix)
        let dense = try denseLinear(suffix, of: layer)
        let maxima = try AWQSolver.searchClipping(weight: dense.weight, inputs: samples, scheme: scheme)
        let clipped = AWQSolver.clip(dense.weight, maxima: maxima, scheme: scheme)
        layer[keyPath: path] = try DenseLinear(weight: clipped, bias: dense.bias, name: "\(layer.name).\(suffix)")
    }

    private func denseLinear(_ suffix: String, of layer: DecoderLayer) throws -> DenseLinear {
        guard let dense = layer[keyPath: DecoderLayer.linearPath(suffix)] as? DenseLinear else {
            throw PipelineError.unsupported(
                detail: "\(layer.name).\(suffix) is already quantized; put smoothquant/awq stages before quantizing stages")
        }
        return dense
    }

    /// Divides the predecessor's channels by `scales` and multiplies the linears' columns.
    func fold(_ scales: [Float], mapping: ScalingMapping, into layer: inout DecoderLayer) throws {
        switch mapping.predecessor {
        case .inputNorm:
            ChannelScaling.divideGain(&layer.inputNorm.weight, by: scales)
        case .postAttentionNorm:
            ChannelScaling.divideGain(&layer.postAttentionNorm.weight, by: scales)
        case .linear(let suffix):
            let producer = try denseLinear(suffix, of: layer)
            var weight = producer.weight
            var bias = producer.bias
            ChannelScaling.divideRows(&weight, bias: &bias, by: scales)
            layer[keyPath: DecoderLayer.linearPath(suffix)] = try DenseLinear(
                weight: weight, bias: bias, name: "\(layer.name).\(suffix)")
        }
        for suffix in mapping.linears {
            let dense = try denseLinear(suffix, of: layer)
            var weight = dense.weight
            ChannelScaling.multiplyColumns(&weight, by: scales)
            layer[keyPath: DecoderLayer.linearPath(suffix)] = try DenseLinear(
                weight: weight, bias: dense.bias, name: "\(layer.name).\(suffix)")
        }
    }

    /// The output of the module `mapping` inspects, per sample, with the group's linears
    /// replaced by `weights` (or as they are).
    private func moduleOutput(_ mapping: ScalingMapping, layer: DecoderLayer, inputs: [Matrix], weights: [Matrix]?) throws
        -> [Matrix]
    {
        var candidate = layer
        if let weights {
            for (suffix, weight) in zip(mapping.linears, weights) {
                let dense = try denseLinear(suffix, of: layer)
                candidate[keyPath: DecoderLayer.linearPath(suffix)] = try DenseLinear(weight: weight, bias: dense.bias)
            }
        }
        switch mapping.inspected {
        case .attention:
            return inputs.map { input in
                var noCache: KVCache.Layer? = nil
                let attended = candidate.attention.attended(
                    input, positions: 0..<input.rows, cache: &noCache, context: context)
                return candidate.attention.outputProjection.apply(attended)
            }
        case .feedForward:
            return inputs.map { candidate.feedForward.downProjection.apply(candidate.feedForward.activation($0, context: context)) }
        case .linears:
            return inputs.map { input in
                let outputs = mapping.linears.map { candidate[keyPath: DecoderLayer.linearPath($0)].apply(input) }
                return outputs.count == 1 ? outputs[0] : Self.concatenatedColumns(outputs)
            }
        }
    }

    static func concatenatedColumns(_ parts: [Matrix]) -> Matrix {
        let rows = parts.first?.rows ?? 0
        let columns = parts.reduce(0) { $0 + $1.columns }
        var result = Matrix(rows: rows, columns: columns)
        for row in 0..<rows {
            var offset = row * columns
            for part in parts {
                result.values.replaceSubrange(offset..<(offset + part.columns), with: part.row(row))
                offset += part.columns
            }
        }
        return result
    }

    /// Mean of the squared element differences over every sample.
    static func meanSquaredDifference(_ left: [Matrix], _ right: [Matrix]) -> Double {
        var sum = 0.0
        var count = 0
        for (a, b) in zip(left, right) {
            a.values.withUnsafeBufferPointer { x in
                b.values.withUnsafeBufferPointer { y in
                    var partial: Float = 0
                    var blockSum = 0.0
                    for index in 0..<x.count {
                        let difference = x[index] - y[index]
                        partial += difference * difference
                        if index & 1023 == 1023 {
                            blockSum += Double(partial)
                            partial = 0
                        }
                    }
                    sum += blockSum + Double(partial)
                }
            }
            count += a.values.count
        }
        return count > 0 ? sum / Double(count) : 0
    }

    /// Every `stride`-th token of the samples' rows concatenated, `stride = total / count`
    /// (llm-awq `input_feat[:, 0::n_token // n_sample_token]`).
    static func sampledTokens(_ samples: [Matrix], count: Int) -> Matrix {
        let columns = samples.first?.columns ?? 0
        let total = samples.reduce(0) { $0 + $1.rows }
        let stride = max(total / max(count, 1), 1)
        var values: [Float] = []
        var rows = 0
        var global = 0
        for sample in samples {
            for row in 0..<sample.rows {
                if global % stride == 0 {
                    values += sample.row(row)
                    rows += 1
                }
                global += 1
            }
        }
        return try! Matrix(rows: rows, columns: columns, values: values)
    }
}

extension SequentialQuantizer {
    /// `max |x|` over every sample.
    static func absoluteMaximum(_ samples: [Matrix]) -> Float {
        var largest: Float = 0
        for sample in samples { for value in sample.values { largest = max(largest, abs(value)) } }
        return largest
    }

    /// `scheme` with its static scale set from the calibration absmax when per-tensor.
    static func calibrated(_ scheme: ActivationScheme, inputMaximum: Float?) -> ActivationScheme {
        var result = scheme
        if scheme.granularity == .perTensor {
            result.staticScale = max(inputMaximum ?? 0, ActivationScheme.minimumRange) / scheme.maximumMagnitude
        }
        return result
    }

    /// The simulated linear: the dequantized weight, with the activation fake-quantized
    /// first when the stage quantizes activations — as `IntegerSimulatedLinear` (bit-identical
    /// to the runtime's integer kernels) when `weight` is symmetric per channel.
    static func simulatedLinear(_ dense: DenseLinear, weight: QuantizedWeight, activation: ActivationScheme?) -> any LinearOperator {
        guard let activation else { return dense }
        if let codes = weight.symmetricPerChannelCodes,
            let exact = IntegerSimulatedLinear(
                weightCodes: codes, weightScales: weight.scales.values, bias: dense.bias, activation: activation)
        {
            return exact
        }
        return ActivationQuantizedLinear(base: dense, activation: activation)
    }

    /// The norm gains and dense linear weights of every layer, after the transforms (or the
    /// rotation).
    static func transformedTensors(of model: TransformerModel) throws -> [NamedTensor] {
        var tensors: [NamedTensor] = []
        for layer in model.layers {
            tensors.append(NamedTensor(
                name: layer.name + ".input_layernorm.weight",
                tensor: try Tensor(shape: [layer.inputNorm.weight.count], values: layer.inputNorm.weight)))
            tensors.append(NamedTensor(
                name: layer.name + ".post_attention_layernorm.weight",
                tensor: try Tensor(shape: [layer.postAttentionNorm.weight.count], values: layer.postAttentionNorm.weight)))
            for suffix in LayerPlan.sequentialGroups.joined() {
                var linear = layer[keyPath: DecoderLayer.linearPath(suffix)]
                if let wrapped = linear as? HadamardInputLinear { linear = wrapped.inner }  // R4: stored as W·H
                guard let dense = linear as? DenseLinear else { continue }
                tensors.append(NamedTensor(name: "\(layer.name).\(suffix).weight", tensor: try dense.weight.tensor()))
                if let bias = dense.bias {
                    tensors.append(NamedTensor(name: "\(layer.name).\(suffix).bias", tensor: try Tensor(shape: [bias.count], values: bias)))
                }
            }
        }
        return tensors
    }
}
