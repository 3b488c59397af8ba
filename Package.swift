// swift-tools-version: 6.0
import PackageDescription

// The layers (docs/architecture.md): arrows point down only, and each is a module, so a wrong arrow is a
// compile error. TendModel sees no operating system; TendEngine reaches it only through TendSystem.
let package = Package(
    name: "tend",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "tend", targets: ["tend"]),
        .executable(name: "tendd", targets: ["tendd"]),
        // The web front end and HTTP API (docs/web.md), exec'd by `tend web`: the only binary with NIO in it.
        .executable(name: "tend-web", targets: ["tend-web"]),
        // The service side of sd_notify, for Swift programs run by tend or systemd. Depends on nothing.
        .library(name: "SDNotify", targets: ["SDNotify"]),
        // Only for the libFuzzer targets in Fuzz/, a package of their own (built with sanitizers by Fuzz/run, never
        // by the tests): a package can depend on another's modules only through a product. Not an API.
        .library(name: "TendDecoders", targets: ["TendModel", "TendEngine", "TendControl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // RealModule: pow() for the restart backoff without importing Glibc into the model.
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
        // tend-web only (docs/web.md): the HTTP server. Never a dependency of tendd or tend.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        // The few things Swift can't do safely: fork/exec with child-side setup, epoll, signalfd,
        // pidfd, recvmsg with credentials. One .c, one header.
        .target(name: "CTend"),
        // Pure: unit files and the directive table, the service state machine, notify parsing, transactions,
        // the dependency graph. No Glibc, no clock, no files.
        .target(name: "TendModel", dependencies: [.product(name: "RealModule", package: "swift-numerics")]),
        // The only door to the operating system: the System protocol and its real implementation (spawn,
        // signal, pidfd, reap, /proc, clock, files), the epoll event loop.
        .target(name: "TendSystem", dependencies: ["TendModel", "CTend"]),
        // The engine, written against TendSystem: unit registry, job engine, process tracker, notify receiver,
        // exec context, log capture and log queries. No printing.
        .target(name: "TendEngine", dependencies: ["TendModel", "TendSystem"]),
        // The control protocol: typed requests, replies and errors, their wire codec, the client.
        .target(name: "TendControl", dependencies: ["TendModel", "TendSystem"]),
        // The manager's side of the control socket: requests → engine calls, engine events → subscribers.
        .target(name: "TendServer", dependencies: ["TendEngine", "TendControl", "TendSystem", "TendModel"]),
        // Text renderings shared by the CLI and the coming web front end: status, analyze (SVG, dot, trees).
        .target(name: "TendFormat", dependencies: ["TendModel", "TendControl", "TendSystem"]),
        .target(name: "SDNotify"),
        // The manager, exec'd by `tend daemon`: no ArgumentParser, no Foundation, a small footprint.
        .executableTarget(
            name: "tendd",
            dependencies: ["TendEngine", "TendServer", "TendControl", "TendSystem", "TendModel", "CTend",
                           .product(name: "Logging", package: "swift-log")]),
        // The command: argument parsing and output formatting only.
        .executableTarget(
            name: "tend",
            dependencies: [
                "TendModel", "TendSystem", "TendEngine", "TendControl", "TendFormat", "SDNotify",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The web front end: a separate process that talks to the manager only through the control socket
        // (TendControl), so NIO and Foundation stay out of tendd and tend (docs/web.md).
        .executableTarget(
            name: "tend-web",
            dependencies: ["TendControl", "TendFormat", "TendSystem", "TendModel",
                           "TendEngine", .product(name: "Logging", package: "swift-log"),
                           .product(name: "Hummingbird", package: "hummingbird")]),
        // An example service using SDNotify (readiness, watchdog, fd store); the integration tests run it.
        .executableTarget(name: "notify-echo", dependencies: ["SDNotify"]),
        // Fakes of the system (a manual clock, a fake process table, a fake event loop) for fast engine tests.
        .target(name: "TendTestSupport", dependencies: ["TendEngine", "TendSystem", "TendModel"],
                path: "Tests/TendTestSupport"),
        .testTarget(name: "TendUnitTests",
                    dependencies: ["TendModel", "TendSystem", "TendEngine", "TendControl", "TendServer", "TendFormat",
                                   "TendTestSupport", "SDNotify"]),
        .testTarget(name: "TendIntegrationTests", dependencies: ["TendModel", "TendSystem", "TendEngine", "TendControl", "CTend"]),
    ]
)
