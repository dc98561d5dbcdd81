import Foundation
import QuantaFormats

extension FuzzTargets {
    /// config.json: decoding and validation through `ModelConfig.decode(_:path:)`; a config
    /// that decodes must encode to JSON that decodes again to the same values.
    static let modelConfig = FuzzTarget(
        name: "config",
        summary: "ModelConfig.decode(_:path:) (decode + validate); encodedJSON() must decode back to the same config",
        maximumLength: 16384,
        run: { data in
            guard let config = try? ModelConfig.decode(data, path: "config.json") else { return }
            let encoded = config.encodedJSON()
            guard let again = try? ModelConfig.decode(encoded, path: "config.json (re-encoded)") else {
                fatalError(
                    "a valid config does not decode after encodedJSON(): \(String(decoding: encoded, as: UTF8.self))")
            }
            precondition(again.encodedJSON() == encoded, "encodedJSON() of a decoded config is not stable")
        },
        seeds: { try SeedModels.configFiles() })
}
