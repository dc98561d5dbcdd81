// swift-tools-version: 6.1
import PackageDescription

// Release code is built for AVX2 + FMA (Haswell or newer). Without a target CPU, Swift
// emits baseline SSE2 code and SIMD fused multiply-adds become libm calls per lane.
let vectorCodegen: [SwiftSetting] = [
    .unsafeFlags(["-target-cpu", "haswell"])
]

let package = Package(
    name: "Quanta",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "quanta", targets: ["quanta"]),
        .library(name: "QuantaRuntime", targets: ["QuantaRuntime"]),
        .library(name: "QuantaModel", targets: ["QuantaModel"]),
        .library(name: "QuantaFormats", targets: ["QuantaFormats"]),
        .library(name: "QuantaTensor", targets: ["QuantaTensor"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        .systemLibrary(name: "COpenBLAS", providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]),
        .systemLibrary(name: "CHDF5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CZstd", providers: [.apt(["libzstd-dev"])]),
        // Integer dot-product kernels (AVX2 via per-function target attributes; callers check the CPU).
        .target(name: "CQuantaKernels"),
        .target(
            name: "QuantaTensor",
            dependencies: ["COpenBLAS"],
            swiftSettings: vectorCodegen
        ),
        .target(
            name: "QuantaFormats",
            dependencies: ["QuantaTensor", "CHDF5", "CZstd"],
            swiftSettings: vectorCodegen
        ),
        .target(
            name: "QuantaModel",
            dependencies: ["QuantaTensor", "QuantaFormats"],
            swiftSettings: vectorCodegen
        ),
        .target(
            name: "QuantaAlgorithms",
            dependencies: ["QuantaTensor"],
            swiftSettings: vectorCodegen
        ),
        .target(
            name: "QuantaRuntime",
            dependencies: ["QuantaTensor", "QuantaFormats", "QuantaModel", "CQuantaKernels"],
            swiftSettings: vectorCodegen
        ),
        .target(
            name: "QuantaPipeline",
            dependencies: [
                "QuantaTensor", "QuantaFormats", "QuantaModel", "QuantaAlgorithms", "QuantaRuntime",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: vectorCodegen
        ),
        .executableTarget(
            name: "quanta",
            dependencies: [
                "QuantaTensor", "QuantaFormats", "QuantaModel", "QuantaRuntime", "QuantaPipeline",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: vectorCodegen
        ),
        .executableTarget(
            name: "QuantaBench",
            dependencies: ["QuantaTensor", "QuantaFormats", "QuantaModel", "QuantaRuntime"],
            path: "Benchmarks/QuantaBench",
            swiftSettings: vectorCodegen
        ),
        // libFuzzer targets for the parsers (Tests/Fuzz/README.md, `make fuzz`); a plain build
        // gives a replay tool that runs corpus files through the same entry point.
        .executableTarget(
            name: "QuantaFuzz",
            dependencies: ["QuantaTensor", "QuantaFormats", "QuantaModel", "QuantaPipeline"],
            path: "Tests/Fuzz",
            exclude: ["fuzz.mk", "fuzz-report.sh", "README.md", "Seeds"],
            swiftSettings: vectorCodegen
        ),
        .testTarget(
            name: "QuantaTensorTests",
            dependencies: ["QuantaTensor"],
            swiftSettings: vectorCodegen
        ),
        .testTarget(
            name: "QuantaFormatsTests",
            dependencies: ["QuantaFormats", "QuantaTensor"],
            resources: [.copy("Resources")],
            swiftSettings: vectorCodegen
        ),
        .testTarget(
            name: "QuantaModelTests",
            dependencies: ["QuantaModel", "QuantaFormats", "QuantaTensor"],
            swiftSettings: vectorCodegen
        ),
        .testTarget(
            name: "QuantaAlgorithmsTests",
            dependencies: ["QuantaAlgorithms", "QuantaTensor"],
            swiftSettings: vectorCodegen
        ),
        .testTarget(
            name: "QuantaPipelineTests",
            dependencies: ["QuantaPipeline", "QuantaAlgorithms", "QuantaModel", "QuantaFormats", "QuantaTensor"],
            swiftSettings: vectorCodegen
        ),
        .testTarget(
            name: "QuantaRuntimeTests",
            dependencies: ["QuantaRuntime", "QuantaModel", "QuantaFormats", "QuantaTensor"],
            swiftSettings: vectorCodegen
        ),
        // Tests on the real SmolLM2 model: need `make model` first (QUANTA_MODEL_GGUF).
        .testTarget(
            name: "QuantaRealModelTests",
            dependencies: [
                "QuantaPipeline", "QuantaAlgorithms", "QuantaRuntime", "QuantaModel", "QuantaFormats", "QuantaTensor",
            ],
            exclude: ["Python"],
            swiftSettings: vectorCodegen
        ),
    ]
)
