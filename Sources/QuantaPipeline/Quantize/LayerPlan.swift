import QuantaAlgorithms

/// Which recipe stage quantizes each decoder linear, resolved once against the model's
/// layer names before any work starts (so a target that matches nothing fails fast).
public struct LayerPlan: Sendable {
    /// The linears of one decoder layer, in GPTQ's true-sequential order. Linears of one
    /// inner array read the same input (and share one Hessian).
    public static let sequentialGroups: [[String]] = [
        ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"],
        ["self_attn.o_proj"],
        ["mlp.gate_proj", "mlp.up_proj"],
        ["mlp.down_proj"],
    ]

    /// Stage index for each linear name (`model.layers.N.self_attn.q_proj`); absent when no
    /// stage targets it (it stays in full precision).
    public let assignments: [String: Int]
    public let layerCount: Int

    public init(recipe: Recipe, layerCount: Int, recipePath: String) throws(PipelineError) {
        let names = (0..<layerCount).flatMap { layer in
            Self.sequentialGroups.joined().map { "model.layers.\(layer).\($0)" }
        }
        var assignments: [String: Int] = [:]
        for (index, stage) in recipe.stages.enumerated() {
            // Transform stages (smoothquant, awq) resolve their targets per group as they run.
            let assigns = stage.algorithm.quantizesWeights
            var targets: [LayerPattern] = []
            var ignores: [LayerPattern] = []
            for text in stage.targets { targets.append(try LayerPattern(text)) }
            for text in stage.ignore { ignores.append(try LayerPattern(text)) }
            for target in targets where !names.contains(where: target.matches) {
                throw .targetMatchesNothing(recipe: recipePath, stage: index, pattern: target.text)
            }
            for name in names where assigns && assignments[name] == nil {
                if targets.contains(where: { $0.matches(name) }), !ignores.contains(where: { $0.matches(name) }) {
                    assignments[name] = index
                }
            }
        }
        self.assignments = assignments
        self.layerCount = layerCount
    }

    /// Whether any linear of the plan needs calibration activations (GPTQ, Wanda, SparseGPT,
    /// transforms, static activation scales).
    public func needsCalibration(recipe: Recipe) -> Bool {
        assignments.values.contains { ![RecipeStage.Algorithm.rtn, .absmax, .magnitude].contains(recipe.stages[$0].algorithm) }
            || recipe.stages.contains {
                $0.algorithm.isTransform || $0.activationAware.activations?.granularity == .perTensor
                    || $0.rotation?.mode == .learned
            }
    }
}
