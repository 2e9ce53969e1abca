// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Spool",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SpoolCore", targets: ["SpoolCore"]),
        .library(name: "SpoolSQLite", targets: ["SpoolSQLite"]),
        .library(name: "SpoolPostgres", targets: ["SpoolPostgres"]),
        .library(name: "SpoolWorker", targets: ["SpoolWorker"]),
        .library(name: "SpoolServer", targets: ["SpoolServer"]),
        .library(name: "SpoolTestSupport", targets: ["SpoolTestSupport"]),
        .library(name: "AMQPClient", targets: ["AMQPClient"]),
        .library(name: "SpoolAMQP", targets: ["SpoolAMQP"]),
        .library(name: "SQSClient", targets: ["SQSClient"]),
        .library(name: "SpoolSQS", targets: ["SpoolSQS"]),
        .library(name: "SpoolHTTP", targets: ["SpoolHTTP"]),
        .library(name: "SpoolMirror", targets: ["SpoolMirror"]),
        .library(name: "SpoolMirrorPostgres", targets: ["SpoolMirrorPostgres"]),
        .library(name: "SpoolReplication", targets: ["SpoolReplication"]),
        .library(name: "SpoolReplicationSQLite", targets: ["SpoolReplicationSQLite"]),
        .executable(name: "spool", targets: ["spool"]),
        .executable(name: "AMQPFrameFuzz", targets: ["AMQPFrameFuzz"]),
        .executable(name: "SQSResponseFuzz", targets: ["SQSResponseFuzz"]),
        .executable(name: "ReplicationFrameFuzz", targets: ["ReplicationFrameFuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        .target(
            name: "SpoolCore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
            ]
        ),
        .target(
            name: "SpoolSQLite",
            dependencies: [
                "SpoolCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "SpoolPostgres",
            dependencies: [
                "SpoolCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "SpoolWorker",
            dependencies: [
                "SpoolCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "SpoolServer",
            dependencies: [
                "SpoolCore",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                "SpoolWorker",
                "SpoolHTTP",
                "SpoolMirror",
                "SpoolReplication",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdHTTP2", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.embedInCode("Dashboard"), .embedInCode("openapi.yaml")]
        ),
        .target(
            name: "SpoolMirror",
            dependencies: ["SpoolCore", .product(name: "Logging", package: "swift-log"), .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "SpoolMirrorSQLite",
            dependencies: [
                "SpoolCore",
                "SpoolMirror",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .target(
            name: "SpoolReplication",
            dependencies: ["SpoolCore", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "SpoolReplicationSQLite",
            dependencies: [
                "SpoolCore",
                "SpoolReplication",
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "SpoolMirrorPostgres",
            dependencies: [
                "SpoolCore",
                "SpoolMirror",
                "SpoolPostgres",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "SpoolHTTP",
            dependencies: [
                "SpoolCore",
                "SpoolWorker",
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(
            name: "SpoolTestSupport",
            dependencies: ["SpoolCore"]
        ),
        .target(
            name: "SpoolBench",
            dependencies: [
                "SpoolCore",
                "SpoolSQLite",
                "SpoolWorker",
                "SpoolServer",
                "SpoolHTTP",
                "SpoolTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "spool",
            dependencies: [
                "SpoolReplicationSQLite",
                "SpoolBench",
                "SQSClient",
                "SpoolSQS",
                "SpoolHTTP",
                "SpoolMirror",
                "SpoolMirrorSQLite",
                "SpoolMirrorPostgres",
                "SpoolCore",
                "SpoolSQLite",
                "SpoolPostgres",
                "SpoolWorker",
                "SpoolServer",
                "SpoolAMQP",
                "AMQPClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        .target(
            name: "AMQPClient",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "SpoolAMQP",
            dependencies: [
                "AMQPClient",
                "SpoolCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(name: "FuzzDriver"),
        .executableTarget(
            name: "AMQPFrameFuzz",
            dependencies: ["AMQPClient", "FuzzDriver"]
        ),
        .executableTarget(
            name: "SQSResponseFuzz",
            dependencies: ["SQSClient", "FuzzDriver"]
        ),
        .executableTarget(
            name: "ReplicationFrameFuzz",
            dependencies: ["SpoolReplication", "FuzzDriver"]
        ),
        .target(
            name: "SQSClient",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(
            name: "SpoolSQS",
            dependencies: ["SpoolCore", "SQSClient"]
        ),
        .testTarget(
            name: "SpoolSQSTests",
            dependencies: ["SpoolSQS", "SQSClient", "SpoolCore", "SpoolTestSupport"],
            exclude: ["boto"]
        ),
        .testTarget(
            name: "SpoolMirrorTests",
            dependencies: [
                "SpoolMirror", "SpoolMirrorSQLite", "SpoolMirrorPostgres", "SpoolCore", "SpoolTestSupport", "SpoolSQLite", "SpoolAMQP", "SpoolSQS",
                "SQSClient", "SpoolPostgres",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .testTarget(
            name: "SpoolReplicationTests",
            dependencies: ["SpoolReplication", "SpoolReplicationSQLite", "SpoolCore", "SpoolTestSupport"]
        ),
        .testTarget(
            name: "SpoolHTTPTests",
            dependencies: [
                "SpoolHTTP", "SpoolCore", "SpoolWorker", "SpoolSQLite", "SpoolTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "SQSClientTests",
            dependencies: ["SQSClient", "SpoolCore", "SpoolTestSupport"],
            exclude: ["SigV4Vectors"]
        ),
        .testTarget(
            name: "SpoolBenchTests",
            dependencies: ["SpoolBench", "SpoolCore", "SpoolSQLite", "SpoolTestSupport"]
        ),
        .testTarget(
            name: "AMQPClientTests",
            dependencies: [
                "AMQPClient",
                "SpoolCore",
                "SpoolTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "SpoolAMQPTests",
            dependencies: [
                "SpoolAMQP",
                "AMQPClient",
                "SpoolCore",
                "SpoolTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["pika"]
        ),
        .testTarget(
            name: "SpoolCoreTests",
            dependencies: ["SpoolCore", "SpoolTestSupport"]
        ),
        .testTarget(
            name: "SpoolSQLiteTests",
            dependencies: ["SpoolSQLite", "SpoolTestSupport", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(
            name: "SpoolPostgresTests",
            dependencies: [
                "SpoolPostgres", "SpoolWorker", "SpoolTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "SpoolWorkerTests",
            dependencies: [
                "SpoolWorker", "SpoolSQLite", "SpoolTestSupport",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ]
        ),
        .testTarget(
            name: "SpoolServerTests",
            dependencies: [
                "SpoolServer", "SpoolCore", "SpoolWorker", "SpoolSQLite", "SpoolTestSupport", "SpoolHTTP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "SpoolCLITests",
            dependencies: [
                "SpoolCore", "SpoolSQLite", "SpoolPostgres", "SpoolTestSupport", "AMQPClient", "SpoolAMQP", "SpoolMirror", "SpoolMirrorSQLite", "SpoolReplicationSQLite",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
    ]
)
