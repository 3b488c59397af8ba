// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "tend",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "tend", targets: ["tend"]),
        .executable(name: "tendd", targets: ["tendd"]),
        // The service side of sd_notify, for Swift programs run by tend or systemd. Depends on nothing.
        .library(name: "SDNotify", targets: ["SDNotify"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // The few things Swift can't do safely: fork/exec with child-side setup, epoll, signalfd,
        // pidfd, recvmsg with credentials. One .c, one header.
        .target(name: "CTend"),
        // The engine: unit-file parser, service state machine, manager, logs, runtime. No printing.
        .target(name: "TendCore", dependencies: ["CTend"]),
        // The control protocol: request/response types and their wire codec.
        .target(name: "TendControl", dependencies: ["TendCore", "CTend"]),
        .target(name: "SDNotify"),
        // The manager, exec'd by `tend daemon`: no ArgumentParser, no Foundation, a small footprint.
        .executableTarget(
            name: "tendd",
            dependencies: ["TendCore", "TendControl", "CTend", .product(name: "Logging", package: "swift-log")]),
        // The command: argument parsing and output formatting only.
        .executableTarget(
            name: "tend",
            dependencies: [
                "TendCore", "TendControl", "CTend", "SDNotify",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // An example service using SDNotify (readiness, watchdog, fd store); the integration tests run it.
        .executableTarget(name: "notify-echo", dependencies: ["SDNotify"]),
        .testTarget(name: "TendCoreTests", dependencies: ["TendCore", "TendControl", "SDNotify"]),
        .testTarget(name: "TendIntegrationTests", dependencies: ["TendCore", "TendControl", "CTend"]),
    ]
)
