import Foundation
import QuantaFormats

extension FuzzTargets {
    /// safetensors: the header length, the JSON header and its tensor table, then every tensor.
    static let safetensors = FuzzTarget(
        name: "safetensors",
        summary: "SafetensorsFile(file:) on an in-memory file; tensorInfos, tensors(), floatValues() per tensor",
        maximumLength: 65536,
        run: { data in
            let file: SafetensorsFile
            do { file = try SafetensorsFile(file: MappedFile(data: data, path: "fuzz.safetensors")) } catch { return }
            _ = file.tensorInfos
            guard let tensors = try? file.tensors() else { return }
            for named in tensors where named.tensor.dtype.isFloatingPoint { _ = try? named.tensor.floatValues() }
        },
        seeds: { try SeedModels.safetensorsFiles() })
}
