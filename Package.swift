// swift-tools-version:6.0
import PackageDescription

/// Release builds are the only ones the numeric tests and benchmarks run on (see scripts/test.sh).
let optimize: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release))]

let package = Package(
    name: "AdapterPS",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "adapterps", targets: ["adapterps"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // C libraries, found through pkg-config (see shared notes: headers of OpenBLAS itself).
        .systemLibrary(name: "CZeroMQ", pkgConfig: "libzmq", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),

        .target(name: "Kernels", dependencies: ["COpenBLAS"], swiftSettings: optimize),
        .target(
            name: "ModelFiles", dependencies: ["Kernels", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: optimize),
        .target(name: "Tokenizers", dependencies: ["ModelFiles"], swiftSettings: optimize),
        .target(name: "Llama", dependencies: ["Kernels", "ModelFiles"], swiftSettings: optimize),
        .target(name: "Training", dependencies: ["Llama", "Kernels", "ModelFiles", "Tokenizers"], swiftSettings: optimize),
        .target(name: "Wire", dependencies: ["CLZ4", "CZeroMQ"], swiftSettings: optimize),
        .target(name: "Cluster", dependencies: ["Training", "Wire", "Llama"], swiftSettings: optimize),
        .executableTarget(
            name: "adapterps",
            dependencies: [
                "Cluster", "Training", "Llama", "Kernels", "ModelFiles", "Tokenizers", "Wire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: optimize),

        .testTarget(name: "SystemLibrariesTests", dependencies: ["CZeroMQ", "COpenBLAS", "CLZ4"]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels"]),
        .testTarget(name: "ModelFilesTests", dependencies: ["ModelFiles", "Kernels"]),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers", "ModelFiles"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Llama", "Tokenizers", "ModelFiles"]),
        // Slow tests that run the adapterps binary as a user would (real processes, real files).
        .testTarget(name: "EndToEndTests", dependencies: ["ModelFiles", "Kernels", "Wire"]),
        .testTarget(name: "LlamaTests", dependencies: ["Llama", "ModelFiles", "Tokenizers", "Kernels"]),
        .testTarget(name: "WireTests", dependencies: ["Wire"]),
    ]
)
