// swift-tools-version:6.1
// The floor of an HTTP/1 server, for BENCHMARKS.md ("From Python", "Over HTTP"): what a server that
// does nothing but answer costs per request on this machine, on SwiftNIO alone (`nio-floor`) and
// through Hummingbird 2 (`hb-floor`), the HTTP server `spool serve` is built on.
import PackageDescription

let package = Package(
    name: "nio-floor",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
    ],
    targets: [
        .executableTarget(name: "nio-floor", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .executableTarget(name: "hb-floor", dependencies: [
            .product(name: "Hummingbird", package: "hummingbird"),
        ]),
    ]
)
