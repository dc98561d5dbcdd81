#if !QUANTA_LIBFUZZER
    import Foundation

    /// The plain build (no libFuzzer): replays corpus files or directories through the selected
    /// target, so `swift build` links and a crash found by the fuzzer reproduces under a debugger.
    ///
    ///     QUANTA_FUZZ_TARGET=gguf QuantaFuzz FILE|DIR...
    ///     QuantaFuzz --write-seeds DIR
    ///     QuantaFuzz --list
    @main
    struct QuantaFuzzReplay {
        static func main() {
            let arguments = Array(CommandLine.arguments.dropFirst())
            if arguments.first == "--list" {
                for target in FuzzTargets.all { print("\(target.name)\t\(target.maximumLength)\t\(target.summary)") }
                return
            }
            if arguments.first == "--write-seeds", arguments.count == 2 {
                exit(SeedWriter.writeAll(to: arguments[1]) ? 0 : 1)
            }
            var count = 0
            for argument in arguments {
                for path in files(at: argument) {
                    guard let data = FileManager.default.contents(atPath: path) else {
                        FileHandle.standardError.write(Data("QuantaFuzz: cannot read \(path)\n".utf8))
                        exit(1)
                    }
                    _ = data.withUnsafeBytes { fuzzOneInput($0.bindMemory(to: UInt8.self).baseAddress, $0.count) }
                    count += 1
                }
            }
            print("QuantaFuzz: \(FuzzTargets.selected.name): replayed \(count) inputs")
        }

        /// `path` itself, or the regular files directly inside it, sorted.
        static func files(at path: String) -> [String] {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
                return [path]
            }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            return names.sorted().map { path + "/" + $0 }
        }
    }
#endif
