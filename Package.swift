// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "pushy",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "pushy-server", targets: ["pushy-server"]),
        .executable(name: "pushy-client", targets: ["pushy-client"]),
        .executable(name: "pushy", targets: ["pushy"]),
        .executable(name: "pushy-swarm", targets: ["pushy-swarm"]),
        .executable(name: "pushy-bench", targets: ["pushy-bench"]),
        .executable(name: "pushy-floor", targets: ["pushy-floor"]),
        // The parser modules as libraries, for the fuzz package in Fuzz/ (docs/fuzzing.md).
        .library(name: "PushyProtocol", targets: ["PushyProtocol"]),
        .library(name: "PushyCore", targets: ["PushyCore"]),
        .library(name: "PushyZMQ", targets: ["PushyZMQ"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", exact: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // libzmq (Debian libzmq3-dev) — only PushyZMQ imports it.
        .systemLibrary(name: "CZMQ", path: "Sources/CZMQ", providers: [.apt(["libzmq3-dev"])]),
        // OpenSSL libcrypto (Debian libssl-dev) for the raw PKCS#1 type-1 RSA primitive swift-crypto lacks.
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", providers: [.apt(["libssl-dev"])]),

        // The two posix_spawn file actions Swift's Glibc module does not import.
        .target(name: "CPushySys"),

        // Pure modules.
        .target(name: "PushyProtocol", dependencies: [
            "COpenSSL",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
        ]),
        .target(name: "PushyCore", dependencies: ["PushyProtocol"]),

        // I/O modules.
        // Links .build-zmq/lib/libzmq.a when scripts/build-libzmq.sh has built it (make does), else
        // the system libzmq: the linker searches this folder first and falls back on its own.
        .target(name: "PushyZMQ", dependencies: ["CZMQ"], linkerSettings: [
            .unsafeFlags(["-L", Context.packageDirectory + "/.build-zmq/lib"]),
            .linkedLibrary("sodium"), .linkedLibrary("stdc++"),
        ]),
        .target(name: "PushyStore", dependencies: [
            "PushyProtocol", "PushyCore",
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        // The PostgreSQL store (issue 17), a module of its own: only it imports postgres-nio, as
        // only PushyStore imports GRDB (docs/decisions.md).
        .target(name: "PushyPostgres", dependencies: [
            "PushyProtocol", "PushyStore",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            // Only for the pool's error type (a database unreachable for over a minute).
            .product(name: "_ConnectionPoolModule", package: "postgres-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "PushyAPIClient", dependencies: [
            "PushyProtocol",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        .target(name: "PushyServer", dependencies: [
            "PushyProtocol", "PushyCore", "PushyZMQ", "PushyStore", "PushyPostgres", "CPushySys",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ], resources: [
            // The web dashboard's HTML, CSS and JavaScript (issue 15; DashboardAssets, docs/dashboard.md).
            .copy("Dashboard"),
        ]),
        // The `pushy` CLI's commands (parsing, validation, output), a library so their parsing is
        // tested on its own (PushyCLITests). It reaches the server only through PushyAPIClient.
        .target(name: "PushyCLI", dependencies: [
            "PushyAPIClient", "PushyProtocol",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Yams", package: "Yams"),
        ]),
        .target(name: "PushyAgent", dependencies: [
            "PushyProtocol", "PushyCore", "PushyZMQ", "PushyAPIClient", "CPushySys",
            .product(name: "Logging", package: "swift-log"),
        ]),

        // Thin executables.
        .executableTarget(name: "pushy-server", dependencies: [
            "PushyServer", "PushyZMQ",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "pushy-client", dependencies: [
            "PushyAgent", "PushyCore", "PushyProtocol", "PushyAPIClient",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "pushy", dependencies: ["PushyCLI"]),

        // Many virtual agents in one process, speaking the real protocol (benchmarks, scale tests).
        .target(name: "PushySwarm", dependencies: [
            "PushyProtocol", "PushyCore", "PushyZMQ", "PushyAPIClient",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "pushy-swarm", dependencies: [
            "PushySwarm",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // The floor (issue 16): Pushy's traffic over the same libzmq with no Pushy work; pushy-bench runs it.
        .executableTarget(name: "pushy-floor", dependencies: [
            "PushyZMQ",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "pushy-bench", dependencies: [
            "PushySwarm", "PushyAPIClient", "PushyProtocol", "PushyServer", "PushyStore", "PushyZMQ", "PushyPostgres",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        .testTarget(name: "PushyProtocolTests", dependencies: ["PushyProtocol"]),
        .testTarget(name: "PushyCoreTests", dependencies: ["PushyCore"]),
        .testTarget(name: "PushyZMQTests", dependencies: ["PushyZMQ"]),
        .testTarget(name: "PushyStoreTests", dependencies: [
            "PushyStore", "PushyPostgres", "PushyPostgresTestSupport",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Throwaway PostgreSQL databases for the tests (PUSHY_TEST_POSTGRES_URL, scripts/pg-test-cluster.sh).
        .target(name: "PushyPostgresTestSupport", dependencies: [
            "PushyPostgres",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Tests/PushyPostgresTestSupport"),
        // The CLI's argument parsing and output formatting (no server, no sockets).
        .testTarget(name: "PushyCLITests", dependencies: [
            "PushyCLI", "PushyAPIClient", "PushyProtocol",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Deadlines, child processes and fixture RSA keys shared by the test targets.
        .target(name: "PushyTestSupport", dependencies: ["CPushySys", "PushyProtocol"], path: "Tests/PushyTestSupport",
                exclude: ["Fixtures"]),
        // The server's engine and API over in-memory twins (no sockets, no disk): the REST API at
        // router level through HummingbirdTesting.
        .testTarget(name: "PushyServerTests", dependencies: [
            "PushyServer", "PushyStore", "PushyProtocol", "PushyCore", "PushyZMQ", "PushyTestSupport", "PushySwarm",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The agent's settings and its runtime over a fake server link, transport and process launcher.
        .testTarget(name: "PushyAgentTests", dependencies: [
            "PushyAgent", "PushyCore", "PushyProtocol", "PushyZMQ", "PushyTestSupport",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "PushyIntegrationTests", dependencies: [
            "PushyTestSupport", "PushyServer", "PushyAgent", "PushyAPIClient", "PushyProtocol", "PushySwarm", "PushyZMQ",
            "PushyStore", "PushyPostgres", "PushyPostgresTestSupport",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
    ]
)
