import Foundation

/// One fuzzed parser: its name (the value of `QUANTA_FUZZ_TARGET`), what it exercises, the
/// largest input worth trying, the function that runs one input, and the seeds the project
/// makes for it. A thrown error is the expected outcome for a bad input; a crash, trap,
/// hang or runaway allocation is a bug in the parser.
struct FuzzTarget: Sendable {
    let name: String
    let summary: String
    let maximumLength: Int
    let run: @Sendable (Data) -> Void
    /// Seed files by name, made by the project's own writers (fixtures are added by fuzz.mk).
    let seeds: @Sendable () throws -> [(name: String, data: Data)]
}

/// Every target, and the one this process runs.
enum FuzzTargets {
    static let all: [FuzzTarget] = [
        gguf, safetensors, hdf5, tokenizer, modelConfig, recipe, calibration, container, compressedTensors,
        exportRoundTrip,
    ]

    static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }

    /// The target named by `QUANTA_FUZZ_TARGET`; exits with the list when it is unset or unknown.
    static let selected: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["QUANTA_FUZZ_TARGET"] ?? ""
        if let target = named(name) { return target }
        FileHandle.standardError.write(
            Data(
                "QuantaFuzz: set QUANTA_FUZZ_TARGET to one of: \(all.map(\.name).joined(separator: ", "))\n".utf8))
        exit(2)
    }()
}

/// Runs one input through the selected target (libFuzzer's entry point, also used by replay).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let data = bytes.map { Data(bytes: $0, count: count) } ?? Data()
    FuzzTargets.selected.run(data)
    return 0
}

/// Called by libFuzzer before fuzzing: `QUANTA_FUZZ_WRITE_SEEDS=DIR` writes every target's
/// seeds under `DIR/<target>/` and exits, so the fuzzing binary itself makes its corpora.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(
    _ argumentCount: UnsafeMutablePointer<CInt>?,
    _ arguments: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?
) -> CInt {
    if let directory = ProcessInfo.processInfo.environment["QUANTA_FUZZ_WRITE_SEEDS"] {
        exit(SeedWriter.writeAll(to: directory) ? 0 : 1)
    }
    _ = FuzzTargets.selected
    return 0
}

#if QUANTA_LIBFUZZER
    /// libFuzzer's driver (compiler-rt `FuzzerDriver.cpp`): parses its flags and fuzzes `callback`.
    @_silgen_name("LLVMFuzzerRunDriver")
    func runFuzzerDriver(
        _ argumentCount: UnsafeMutablePointer<CInt>,
        _ arguments: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt

    /// SwiftPM links an executable's entry point under the name `QuantaFuzz_main` (it renames
    /// `main` so that tests can link executables); in the libFuzzer build that entry point
    /// hands the command line to libFuzzer's driver.
    @_cdecl("QuantaFuzz_main")
    public func fuzzMain(_ argumentCount: CInt, _ arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?)
        -> CInt
    {
        var count = argumentCount
        var vector = arguments
        return runFuzzerDriver(&count, &vector) { bytes, size in fuzzOneInput(bytes, size) }
    }
#endif
