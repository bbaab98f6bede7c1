// swift-tools-version:6.2
// libFuzzer harnesses for Pushy's parsers (docs/fuzzing.md). A package of its own so that its
// instrumented build (scratch path Fuzz/.build-fuzz) never touches the normal one. Build and run
// with `make fuzz` (scripts/fuzz.sh); the harnesses only link with `-sanitize=fuzzer`, which
// provides `main`.
import PackageDescription

/// One executable per harness, each defining only `LLVMFuzzerTestOneInput`.
let harnesses: [(name: String, module: String)] = [
    ("fuzz-message-header", "PushyProtocol"),
    ("fuzz-json", "PushyProtocol"),
    ("fuzz-agent-message", "PushyProtocol"),
    ("fuzz-server-message", "PushyProtocol"),
    ("fuzz-rest", "PushyProtocol"),
    ("fuzz-search", "PushyCore"),
    ("fuzz-signing", "PushyProtocol"),
    ("fuzz-z85", "PushyZMQ"),
    ("fuzz-keys", "PushyProtocol"),
]

let package = Package(
    name: "pushy-fuzz",
    platforms: [.macOS(.v15)],
    products: harnesses.map { .executable(name: $0.name, targets: [$0.name]) },
    dependencies: [.package(name: "pushy", path: "..")],
    targets: [
        // `fuzzCheck` (stop with a message) and input helpers shared by the harnesses.
        .target(name: "FuzzSupport", dependencies: ["CFuzzDriver"]),
        // The declaration of libFuzzer's `LLVMFuzzerRunDriver`.
        .target(name: "CFuzzDriver"),
    ] + harnesses.map {
        .executableTarget(name: $0.name, dependencies: ["FuzzSupport", .product(name: $0.module, package: "pushy")])
    }
)
