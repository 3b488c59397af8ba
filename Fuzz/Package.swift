// swift-tools-version: 6.0
import PackageDescription

// libFuzzer targets for tend's input decoders. A package of its own so that the main package's build and tests
// never see sanitizer flags: `Fuzz/run` builds it with `--sanitize=fuzzer --sanitize=address` (see README.md).
// Each target is an executable whose entry point is LLVMFuzzerTestOneInput; libFuzzer supplies main.
let fuzzTargets: [(name: String, modules: [String])] = [
    ("fuzz-unitfile", ["TendModel"]),
    ("fuzz-exec", ["TendModel"]),
    ("fuzz-time", ["TendModel", "TendEngine"]),
    ("fuzz-notify", ["TendModel"]),
    ("fuzz-control", ["TendModel", "TendControl"]),
]

let package = Package(
    name: "tend-fuzz",
    dependencies: [.package(name: "tend", path: "..")],
    targets: fuzzTargets.map { target in
        .executableTarget(
            name: target.name,
            dependencies: [.product(name: "TendDecoders", package: "tend")],
            path: "Sources/\(target.name)",
            // -parse-as-library: no top-level code, so no `main` of Swift's to clash with libFuzzer's.
            swiftSettings: [.unsafeFlags(["-parse-as-library"])])
    }
)
