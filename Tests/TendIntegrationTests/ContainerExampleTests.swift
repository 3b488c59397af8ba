import Glibc
import Testing
import TendSystem

/// examples/container/: its units load without a problem, and the Kubernetes manifest passes a schema check
/// (kubernetes-validate from PyPI, which `.ci/run` installs; no cluster runs here).
@Suite struct ContainerExampleTests {
    static let directory: String = {
        var path = #filePath  // .../Tests/TendIntegrationTests/ContainerExampleTests.swift
        for _ in 0..<3 { path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }
        return path + "/examples/container"
    }()
    static let validator: String? = {
        let path = Posix.environment()["PATH"] ?? ""
        return path.split(separator: ":").map { "\($0)/kubernetes-validate" }.first(where: Posix.isExecutable)
    }()

    @Test func theExampleUnitsVerify() {
        let r = runCommand([tendBinary, "verify", Self.directory + "/units/web.service", Self.directory + "/units/setup.service"])
        #expect(r.status == 0 && r.stdout.isEmpty && r.stderr.isEmpty, "\(r)")
    }

    @Test(.enabled(if: validator != nil, "kubernetes-validate (PyPI) is not installed"))
    func theManifestPassesTheSchema() {
        let r = runCommand([Self.validator!, "--strict", Self.directory + "/kubernetes.yaml"], timeout: 60)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("passed"), "\(r.stdout)")
    }

    @Test func theImageRunsTheDaemonWithTheProbesTheManifestUses() {
        let dockerfile = Posix.readFile(Self.directory + "/Dockerfile").map { String(decoding: $0, as: UTF8.self) } ?? ""
        let manifest = Posix.readFile(Self.directory + "/kubernetes.yaml").map { String(decoding: $0, as: UTF8.self) } ?? ""
        #expect(dockerfile.contains("\"/usr/local/bin/tend\", \"daemon\""))
        #expect(manifest.contains("\"is-system-running\", \"--quiet\""))
        // The probe commands exist with those options (an unknown option would exit 64).
        #expect(runCommand([tendBinary, "is-system-running", "--quiet", "--state-dir", "/nonexistent-tend-state"]).status == 1)
        #expect(runCommand([tendBinary, "is-active", "--quiet", "web", "--state-dir", "/nonexistent-tend-state"]).status != 64)
    }
}
