import Foundation
import QuantaAlgorithms
import QuantaFormats
import QuantaModel
import QuantaPipeline
import QuantaTensor
import Testing

@Suite struct SparsityPipelineTests {
    func run(_ recipe: Recipe, windows: [[Int]]) throws -> (TransformerModel, QuantizationOutcome) {
        var model = try TransformerModel(checkpoint: tinyModelCheckpoint())
        let plan = try LayerPlan(recipe: recipe, layerCount: 2, recipePath: "t")
        let outcome = try SequentialQuantizer(recipe: recipe, plan: plan, context: .serial())
            .run(model: &model, windows: windows)
        return (model, outcome)
    }

    func recipe(_ algorithm: RecipeStage.Algorithm, _ knobs: SparsityKnobs) -> Recipe {
        Recipe(name: "s", stages: [RecipeStage(algorithm: algorithm, sparsity: knobs)])
    }

    /// Each row of every decoder linear keeps at most 2 of each 4 consecutive inputs.
    func expectTwoOfFour(_ model: TransformerModel) {
        for layer in model.layers {
            for linear in [layer.attention.queryProjection, layer.attention.outputProjection, layer.feedForward.downProjection] {
                let weight = (linear as! DenseLinear).weight
                for row in 0..<weight.rows {
                    for start in stride(from: 0, to: weight.columns, by: 4) {
                        #expect((start..<(start + 4)).filter { weight[row, $0] != 0 }.count <= 2)
                    }
                }
            }
        }
    }

    @Test func pruningStagesParseAndRejectForeignKnobs() throws {
        let text = """
            name: s
            stages:
              - algorithm: sparsegpt
                sparsity: "2:4"
                block_size: 64
                scheme: {bits: 4, group_size: 128}
            """
        let recipe = try Recipe.parse(text, path: "r.yaml")
        #expect(recipe.stages[0].sparsity == SparsityKnobs(
            pattern: .twoOfFour, blockSize: 64, quantization: QuantizationScheme(bits: 4, groupSize: 128)))
        #expect(try Recipe.parse("name: w\nstages:\n  - algorithm: wanda\n    sparsity: 50%\n", path: "r.yaml")
            .stages[0].sparsity?.pattern == .unstructured(ratio: 0.5))
        // Round trip through the recipe JSON keeps the knobs.
        let decoded = try JSONDecoder().decode(Recipe.self, from: recipe.encodedJSON())
        #expect(decoded == recipe)
        for (bad, fragments) in [
            ("  - algorithm: magnitude\n    sparsity: \"2:4\"\n    block_size: 8\n", ["r.yaml:5", "block_size"]),
            ("  - algorithm: wanda\n    sparsity: \"2:4\"\n    scheme: {bits: 4}\n", ["r.yaml:5", "scheme"]),
            ("  - algorithm: sparsegpt\n    sparsity: \"3:3\"\n", ["sparsity", "N < M"]),
            ("  - algorithm: sparsegpt\n    sparsity: \"2:4\"\n    block_size: 6\n", ["block_size", "multiple"]),
            ("  - algorithm: magnitude\n", ["sparsity"]),
        ] {
            do {
                _ = try Recipe.parse("name: x\nstages:\n" + bad, path: "r.yaml")
                Issue.record("expected an error for \(bad)")
            } catch {
                let message = error.errorDescription ?? ""
                for fragment in fragments { #expect(message.contains(fragment), "'\(message)' lacks '\(fragment)'") }
            }
        }
    }

    @Test func magnitudeNeedsNoCalibration() throws {
        let (model, outcome) = try run(recipe(.magnitude, SparsityKnobs(pattern: .twoOfFour)), windows: [])
        #expect(outcome.pruned.count == 14 && outcome.records.isEmpty)
        expectTwoOfFour(model)
        // f16 kept values plus a 2-bit position each: half of 18 bits.
        #expect(outcome.bitsPerWeight == 9)
    }

    @Test func sparseGPTBeatsWandaBeatsMagnitudeOnCalibrationData() throws {
        let windows = tinyWindows(count: 6, length: 24)
        let reference = try TransformerModel(checkpoint: tinyModelCheckpoint())
        var errors: [Double] = []
        for algorithm in [RecipeStage.Algorithm.magnitude, .wanda, .sparsegpt] {
            let (model, outcome) = try run(recipe(algorithm, SparsityKnobs(pattern: .twoOfFour, blockSize: 8)), windows: windows)
            expectTwoOfFour(model)
            #expect(outcome.pruned.count == 14)
            #expect(outcome.pruned.allSatisfy { $0.algorithm == algorithm && $0.weight.sparsity == 0.5 })
            errors.append(try outputError(model, reference, windows: windows))
        }
        #expect(errors[2] < errors[1] && errors[1] < errors[0], "\(errors)")
    }

    @Test func jointSparseGPTRecordsQuantizedSparseWeights() throws {
        let scheme = QuantizationScheme(bits: 4, groupSize: 8)
        let knobs = SparsityKnobs(pattern: .twoOfFour, blockSize: 8, quantization: scheme)
        let (model, outcome) = try run(recipe(.sparsegpt, knobs), windows: tinyWindows(count: 4, length: 16))
        expectTwoOfFour(model)
        #expect(outcome.records.count == 14 && outcome.pruned.isEmpty)
        #expect(outcome.records.allSatisfy { $0.sparsity == .twoOfFour && $0.weight.scheme == scheme })
        // Half the codes of 4 bits plus 2-bit positions, and a 16-bit scale + 4-bit zero per 8.
        #expect(abs(outcome.bitsPerWeight - (3 + 20.0 / 8)) < 1e-9)
        let record = outcome.records[0]
        #expect((model.layers[0].attention.queryProjection as! DenseLinear).weight == record.weight.dequantized)
    }

    @Test func simulatedOutputHoldsThePrunedWeights() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sparse-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let recipe = recipe(.magnitude, SparsityKnobs(pattern: .structured(kept: 4, of: 8)))
        let (model, outcome) = try run(recipe, windows: [])
        try SimulatedModelWriter.write(
            checkpoint: try tinyModelCheckpoint(), outcome: outcome, recipe: recipe, calibration: nil, to: directory)
        let reloaded = try TransformerModel(checkpoint: try ModelFiles.loadCheckpoint(path: directory))
        #expect((reloaded.layers[1].feedForward.downProjection as! DenseLinear).weight
            == (model.layers[1].feedForward.downProjection as! DenseLinear).weight)
        let metadata = try QuantizationMetadata.read(path: directory + "/quantization.json")
        #expect(metadata.tensors["model.layers.1.mlp.down_proj"]?.sparsity == "4:8")
    }

    @Test func containerStoresTwoOfFourTensorsCompactly() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sparse-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let windows = tinyWindows(count: 4, length: 16)
        let joint = recipe(.sparsegpt, SparsityKnobs(
            pattern: .twoOfFour, blockSize: 8, quantization: QuantizationScheme(bits: 4, groupSize: 8)))
        let pruned = recipe(.wanda, SparsityKnobs(pattern: .twoOfFour))
        for (name, recipe) in [("joint", joint), ("pruned", pruned)] {
            let (model, outcome) = try run(recipe, windows: windows)
            let path = directory + "/\(name).quanta"
            try ContainerExporter.write(
                checkpoint: try tinyModelCheckpoint(), outcome: outcome, recipe: recipe, calibration: nil, to: path)
            let container = try QuantaContainer(path: path, verify: true)
            let tensor = try container.tensor(named: "model.layers.1.mlp.down_proj.weight")
            guard case .sparse(let sparse) = tensor.content else {
                Issue.record("\(name): down_proj is not stored as sparse24")
                continue
            }
            let simulated = (model.layers[1].feedForward.downProjection as! DenseLinear).weight.values
            if name == "joint" {
                #expect(sparse.label == "sparse24-int4-g8")
                #expect(sparse.dequantize() == simulated)
            } else {
                // Pruning-only values are stored as f16, like the container's dense tensors.
                #expect(sparse.label == "sparse24-f16")
                #expect(sparse.dequantize() == simulated.map { Float(Float16($0)) })
            }
        }
    }
}
