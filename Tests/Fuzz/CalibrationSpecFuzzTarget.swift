import Foundation
import QuantaPipeline

extension FuzzTargets {
    /// Calibration spec YAML: `CalibrationSpec.load(path:)` (strict decoding + validation),
    /// then drawing windows from a short token list as the calibration stage does.
    static let calibration = FuzzTarget(
        name: "calibration",
        summary: "CalibrationSpec.load(path:) on the bytes (a tmpfs file); windows(from:sourcePath:) on 4096 tokens",
        maximumLength: 4096,
        run: { data in
            let path = FuzzScratch.write(data, name: "calibration.yaml")
            guard let spec = try? CalibrationSpec.load(path: path) else { return }
            _ = spec.json
            _ = try? spec.windows(from: tokens, sourcePath: "tokens")
        },
        seeds: { [] })

    private static let tokens = Array(0..<4096)
}
