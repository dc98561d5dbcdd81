import Foundation
import QuantaFormats

extension FuzzTargets {
    /// The exporters and their readers: a tiny model built from the input is written as GGUF
    /// (`GGUFExporter`, read back with `GGUFFile` + `GGUFImporter.importCheckpoint`) and as
    /// compressed-tensors (`CompressedTensorsExporter`, read back with
    /// `CompressedTensorsReader.dequantizedTensors`). An export may refuse the model with an
    /// error; one that succeeds must read back, and the exact mappings must give back every value.
    static let exportRoundTrip = FuzzTarget(
        name: "export",
        summary: "tiny model from the bytes → GGUFExporter → GGUFFile/GGUFImporter and → CompressedTensorsExporter → "
            + "CompressedTensorsReader; a successful export must read back with the same values",
        maximumLength: 4096,
        run: { data in
            guard let model = try? TinyModel.model(from: data),
                let expected = try? ExportRoundTrip.expectedValues(model)
            else {
                return
            }
            // One exporter per input (the last byte chooses), which halves the cost of an execution.
            let choice = data.last ?? 0
            if choice & 4 == 0 {
                ExportRoundTrip.gguf(model, expected: expected, choice: choice)
            } else {
                ExportRoundTrip.compressedTensors(model, expected: expected)
            }
        },
        seeds: { SeedModels.randomInputs(count: 12, maximumLength: 2048) })
}

enum ExportRoundTrip {
    static func expectedValues(_ model: QuantizedModel) throws -> [String: [Float]] {
        var result: [String: [Float]] = [:]
        for tensor in model.tensors { result[tensor.name] = try tensor.floatTensor().floatValues() }
        return result
    }

    static func gguf(_ model: QuantizedModel, expected: [String: [Float]], choice: UInt8) {
        let options = GGUFExporter.Options(
            asymmetricFourBit: choice & 1 == 0 ? .q5_0 : .q4_1, denseMatrixType: choice & 2 == 0 ? nil : .q8_0)
        let path = FuzzScratch.directory + "/export.gguf"
        try? FileManager.default.removeItem(atPath: path)
        do { try GGUFExporter.write(model, options: options, to: path) } catch { return }
        let checkpoint: ModelCheckpoint
        do { checkpoint = try GGUFImporter.importCheckpoint(path: path) } catch {
            fatalError("GGUFExporter wrote a file that GGUFImporter rejects: \(error.localizedDescription)")
        }
        let exact = choice & 3 == 0
        for named in checkpoint.tensors where exact {
            guard let values = try? named.tensor.floatValues() else {
                fatalError("\(named.name) is not float after import")
            }
            // The exact mappings give back every value; Q4_1 (m rounded to f16) and Q8_0 dense are not compared.
            guard values == expected[named.name] else { fatalError("GGUF round trip changed \(named.name)") }
        }
    }

    static func compressedTensors(_ model: QuantizedModel, expected: [String: [Float]]) {
        let directory = FuzzScratch.directory + "/export.ct"
        try? FileManager.default.removeItem(atPath: directory)
        do { try CompressedTensorsExporter.write(model, to: directory) } catch { return }
        let values: [String: [Float]]
        do { values = try CompressedTensorsReader.dequantizedTensors(directory: directory) } catch {
            fatalError(
                "CompressedTensorsExporter wrote a directory that CompressedTensorsReader rejects: \(error.localizedDescription)"
            )
        }
        for (name, floats) in expected {
            guard let read = values[name] else { fatalError("compressed-tensors round trip lost \(name)") }
            guard read == floats else { fatalError("compressed-tensors round trip changed \(name)") }
        }
    }
}
