import Foundation
import QuantaFormats

extension FuzzTargets {
    /// The compressed-tensors reader: the input is split into `config.json` and
    /// `model.safetensors` (a 4-byte little-endian length of the config, then both), written
    /// to a tmpfs directory and read back with `CompressedTensorsReader.dequantizedTensors`.
    static let compressedTensors = FuzzTarget(
        name: "compressed-tensors",
        summary: "CompressedTensorsReader.quantizationConfig + dequantizedTensors(directory:) on a tmpfs directory "
            + "(input: u32 config length, config.json, model.safetensors)",
        maximumLength: 65536,
        run: { data in
            let (configuration, weights) = CompressedTensorsInput.split(data)
            let directory = FuzzScratch.directory
            _ = FuzzScratch.write(configuration, name: "config.json")
            _ = FuzzScratch.write(weights, name: "model.safetensors")
            _ = try? CompressedTensorsReader.quantizationConfig(directory: directory)
            _ = try? CompressedTensorsReader.dequantizedTensors(directory: directory)
        },
        seeds: { try SeedModels.compressedTensorsInputs() })
}

/// The compressed-tensors target's input layout.
enum CompressedTensorsInput {
    static func split(_ data: Data) -> (configuration: Data, weights: Data) {
        let bytes = [UInt8](data)
        guard bytes.count >= 4 else { return (Data(), Data()) }
        let length = min(
            Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16 | Int(bytes[3]) << 24, bytes.count - 4)
        return (Data(bytes[4..<(4 + length)]), Data(bytes[(4 + length)...]))
    }

    static func join(configuration: Data, weights: Data) -> Data {
        let count = UInt32(configuration.count)
        return Data([UInt8(count & 0xFF), UInt8(count >> 8 & 0xFF), UInt8(count >> 16 & 0xFF), UInt8(count >> 24)])
            + configuration + weights
    }
}
