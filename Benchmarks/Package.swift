// swift-tools-version:6.1
import PackageDescription

// Micro-benchmarks of Spool's hot paths, kept out of the root package so `swift test` there
// stays fast. Run from this directory: `swift package benchmark` (see BENCHMARKS.md).
let package = Package(
    name: "SpoolBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Spool", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "SpoolHotPaths",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SpoolCore", package: "Spool"),
                .product(name: "SpoolSQLite", package: "Spool"),
            ],
            path: "Benchmarks/SpoolHotPaths",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
