import Glibc
import Testing

@testable import TendModel
@testable import TendSystem
@testable import TendEngine

/// A temporary directory tree for loader tests, removed again by `remove()`.
final class TempTree {
    let root: String

    init() {
        var template = Array("/tmp/tend-unitfile-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        root = String(decoding: template.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Writes `bytes` to `root/relative`, creating the directories on the way.
    func write(_ relative: String, bytes: [UInt8]) {
        let path = root + "/" + relative
        var dir = ""
        for component in path.split(separator: "/").dropLast() {
            dir += "/" + component
            mkdir(dir, 0o755)
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        precondition(fd >= 0, "cannot create \(path)")
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                precondition(n > 0)
                offset += n
            }
        }
        close(fd)
    }

    func write(_ relative: String, _ text: String) { write(relative, bytes: Array(text.utf8)) }

    func symlink(_ relative: String, to target: String) {
        let path = root + "/" + relative
        var dir = ""
        for component in path.split(separator: "/").dropLast() {
            dir += "/" + component
            mkdir(dir, 0o755)
        }
        _ = Glibc.symlink(target, path)
    }

    func path(_ relative: String) -> String { root + "/" + relative }

    func remove() { removeTree(root) }

    private func removeTree(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for entry in listDirectory(path) { removeTree(path + "/" + entry) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}

let huobiUnit = """
    [Unit]
    Description=huobi downloader
    After=network.target
    [Service]
    Type=simple
    User=root
    WorkingDirectory=/srv/atom
    ExecStart=/usr/bin/python3 exchange/downloader.py huobi /data/huobi.log
    Restart=always
    RestartSec=5
    StartLimitIntervalSec=0
    RestartPreventExitStatus=SIGKILL
    [Install]
    WantedBy=multi-user.target

    """

@Suite struct UnitFileLoaderTests {
    func name(_ s: String) -> UnitName { UnitName(parsing: s)! }

    /// The example puts `StartLimitIntervalSec=` in [Service], where systemd's directive table does not have it
    /// (only the legacy `StartLimitInterval=` is kept there): systemd logs "Unknown key name" and keeps the 10 s
    /// default. tend does the same, with a warning that says where the directive belongs.
    @Test func huobiExampleLoadsWithoutErrors() throws {
        let tree = TempTree()
        defer { tree.remove() }
        tree.write("units/huobi.service", huobiUnit)
        let loader = UnitLoader(searchPaths: [tree.path("units")], context: testContext)
        let result = loader.load(name("huobi"))
        #expect(!result.hasErrors)
        #expect(
            texts(result.diagnostics) == [
                tree.path("units/huobi.service")
                    + ":11: warning: StartLimitIntervalSec=: unknown directive in [Service] (it belongs in [Unit]), ignoring"
            ])
        let config = try #require(result.config)
        #expect(config.fragmentPath == tree.path("units/huobi.service"))
        #expect(config.description == "huobi downloader")
        #expect(config.after == ["network.target"])
        #expect(config.type == .simple)
        #expect(config.user == "root")
        #expect(config.workingDirectory == "/srv/atom")
        #expect(
            config.execStart.map(\.words) == [
                ["/usr/bin/python3", "exchange/downloader.py", "huobi", "/data/huobi.log"]
            ])
        #expect(config.restart == .always)
        #expect(config.restartSec == .seconds(5))
        #expect(config.startLimitInterval == .seconds(10))
        #expect(config.restartPreventExitStatus == ExitStatusSet(signals: [9]))
        #expect(config.wantedBy == ["multi-user.target"])
    }

    @Test func huobiExampleWithStartLimitInUnitDisablesTheLimit() throws {
        var lines: [String] = []
        for line in huobiUnit.split(separator: "\n").map(String.init) where line != "StartLimitIntervalSec=0" {
            lines.append(line)
            if line == "[Unit]" { lines.append("StartLimitIntervalSec=0") }
        }
        let fixed = lines.joined(separator: "\n")
        let (config, diags) = parseUnit(fixed, name: "huobi.service")
        #expect(diags.isEmpty)
        #expect(config.startLimitInterval == .zero)
    }

    @Test func firstSearchPathWins() throws {
        let tree = TempTree()
        defer { tree.remove() }
        tree.write("a/web.service", "[Service]\nExecStart=/bin/a\n")
        tree.write("b/web.service", "[Service]\nExecStart=/bin/b\n")
        let loader = UnitLoader(searchPaths: [tree.path("a"), tree.path("b")], context: testContext)
        let config = try #require(loader.load(name("web.service")).config)
        #expect(config.execStart.first?.words == ["/bin/a"])
    }

    @Test func dropInsApplyInLexicalOrderAcrossSearchPaths() throws {
        let tree = TempTree()
        defer { tree.remove() }
        tree.write("b/web.service", "[Service]\nExecStart=/bin/web\nEnvironment=BASE=1\n")
        tree.write("a/web.service.d/20-middle.conf", "[Service]\nRestart=on-failure\nEnvironment=B=a\n")
        tree.write("b/web.service.d/20-middle.conf", "[Service]\nRestart=always\nEnvironment=SHADOWED=1\n")
        tree.write("b/web.service.d/10-first.conf", "[Service]\nRestart=no\nEnvironment=A=b\n")
        tree.write("b/web.service.d/30-last.conf", "[Service]\nRestartSec=7\nEnvironment=\nEnvironment=C=b\n")
        tree.write("b/web.service.d/ignored.txt", "[Service]\nRestartSec=99\n")
        let loader = UnitLoader(searchPaths: [tree.path("a"), tree.path("b")], context: testContext)
        let result = loader.load(name("web"))
        #expect(result.diagnostics.isEmpty)
        let config = try #require(result.config)
        #expect(
            config.dropInPaths == [
                tree.path("b/web.service.d/10-first.conf"), tree.path("a/web.service.d/20-middle.conf"),
                tree.path("b/web.service.d/30-last.conf"),
            ])
        #expect(config.restart == .onFailure)
        #expect(config.restartSec == .seconds(7))
        // 30-last.conf reset the list and added C.
        #expect(config.environment.map(\.key) == ["C"])
    }

    @Test func dropInReplacesExecStartByResettingIt() throws {
        let tree = TempTree()
        defer { tree.remove() }
        tree.write("u/web.service", "[Service]\nExecStart=/bin/web --old\n")
        tree.write("u/web.service.d/override.conf", "[Service]\nExecStart=\nExecStart=/bin/web --new\n")
        let result = UnitLoader(searchPaths: [tree.path("u")], context: testContext).load(name("web"))
        #expect(result.diagnostics.isEmpty)
        #expect(result.config?.execStart.map(\.words) == [["/bin/web", "--new"]])
    }

    @Test func dropInAddingASecondExecStartIsAnError() throws {
        let tree = TempTree()
        defer { tree.remove() }
        tree.write("u/web.service", "[Service]\nExecStart=/bin/web --old\n")
        tree.write("u/web.service.d/override.conf", "[Service]\nExecStart=/bin/web --new\n")
        let result = UnitLoader(searchPaths: [tree.path("u")], context: testContext).load(name("web"))
        #expect(
            texts(result.diagnostics) == [
                tree.path("u/web.service.d/override.conf")
                    + ":2: Service has more than one ExecStart= command, which is only allowed for Type=oneshot services"
            ])
    }

    @Test func dropInDiagnosticsNameTheDropIn() throws {
        let tree = TempTree()
        defer { tree.remove() }
        tree.write("u/web.service", "[Service]\nExecStart=/bin/web\n")
        tree.write("u/web.service.d/override.conf", "[Service]\n\nRestart=sometimes\n")
        let loader = UnitLoader(searchPaths: [tree.path("u")], context: testContext)
        let result = loader.load(name("web"))
        #expect(
            texts(result.diagnostics) == [
                tree.path("u/web.service.d/override.conf") + #":3: Restart=: unknown value "sometimes""#
            ])
        #expect(result.hasErrors)
    }

    @Test func templateIsInstantiatedWithItsAndTheInstanceDropIns() throws {
        let tree = TempTree()
        defer { tree.remove() }
        tree.write("u/getty@.service", "[Unit]\nDescription=Getty on %I\n[Service]\nExecStart=/sbin/agetty %I\n")
        tree.write("u/getty@.service.d/10-template.conf", "[Service]\nRestart=always\nRestartSec=1\n")
        tree.write("u/getty@tty1.service.d/20-instance.conf", "[Service]\nRestartSec=2\n")
        let loader = UnitLoader(searchPaths: [tree.path("u")], context: testContext)
        let result = loader.load(name("getty@tty1.service"))
        #expect(result.diagnostics.isEmpty)
        let config = try #require(result.config)
        #expect(config.name.description == "getty@tty1.service")
        #expect(config.fragmentPath == tree.path("u/getty@.service"))
        #expect(config.description == "Getty on tty1")
        #expect(config.execStart.first?.words == ["/sbin/agetty", "tty1"])
        #expect(config.restart == .always)
        #expect(config.restartSec == .seconds(2))
        #expect(config.dropInPaths.count == 2)

        // Another instance gets only the template's drop-in.
        let other = try #require(loader.load(name("getty@tty2.service")).config)
        #expect(other.restartSec == .seconds(1))
        #expect(other.execStart.first?.words == ["/sbin/agetty", "tty2"])
    }

    @Test func instanceFileTakesPrecedenceOverTheTemplate() throws {
        let tree = TempTree()
        defer { tree.remove() }
        tree.write("u/getty@.service", "[Service]\nExecStart=/sbin/agetty %I\n")
        tree.write("u/getty@special.service", "[Service]\nExecStart=/bin/special %i\n")
        let loader = UnitLoader(searchPaths: [tree.path("u")], context: testContext)
        let config = try #require(loader.load(name("getty@special.service")).config)
        #expect(config.execStart.first?.words == ["/bin/special", "special"])
    }

    @Test func missingUnitHasNoConfigAndAnError() {
        let loader = UnitLoader(searchPaths: ["/nonexistent-tend-dir"], context: testContext)
        let result = loader.load(name("ghost"))
        #expect(result.config == nil)
        #expect(result.hasErrors)
        #expect(texts(result.diagnostics) == ["ghost.service:0: unit ghost.service not found in /nonexistent-tend-dir"])
    }

    @Test func missingExecStartIsReportedAtTheFragment() throws {
        let tree = TempTree()
        defer { tree.remove() }
        tree.write("u/empty.service", "[Unit]\nDescription=nothing to run\n")
        tree.write("u/simple.service", "[Service]\nType=simple\n")
        let loader = UnitLoader(searchPaths: [tree.path("u")], context: testContext)
        // Without Type= and ExecStart= systemd implies Type=oneshot, which then needs ExecStop=.
        let result = loader.load(name("empty"))
        #expect(result.config?.type == .oneshot)
        #expect(
            texts(result.diagnostics) == [
                tree.path("u/empty.service") + ":1: Service has no ExecStart= and no ExecStop= setting"
            ])
        let simple = loader.load(name("simple"))
        #expect(simple.config?.type == .simple)
        #expect(
            texts(simple.diagnostics) == [
                tree.path("u/simple.service")
                    + ":1: Service has no ExecStart= setting, which is only allowed for Type=oneshot services"
            ])
    }

    @Test func maskedUnitHasNoConfig() {
        let tree = TempTree()
        defer { tree.remove() }
        tree.symlink("u/off.service", to: "/dev/null")
        let loader = UnitLoader(searchPaths: [tree.path("u")], context: testContext)
        let result = loader.load(name("off"))
        #expect(result.config == nil)
        #expect(result.diagnostics.map(\.message) == ["unit off.service is masked"])
    }

    @Test func stopOnlyServiceWithoutTypeIsAnImplicitOneshot() throws {
        let tree = TempTree()
        defer { tree.remove() }
        tree.write("u/setup.service", "[Service]\nRemainAfterExit=yes\nExecStop=/bin/teardown\n")
        let result = UnitLoader(searchPaths: [tree.path("u")], context: testContext).load(name("setup"))
        #expect(result.diagnostics.isEmpty)
        #expect(result.config?.type == .oneshot)
        #expect(result.config?.timeoutStart == .infinity)
    }

    @Test func emptyUnitFileIsMaskedToo() {
        let tree = TempTree()
        defer { tree.remove() }
        tree.write("u/off.service", "")
        let result = UnitLoader(searchPaths: [tree.path("u")], context: testContext).load(name("off"))
        #expect(result.config == nil)
        #expect(result.diagnostics.map(\.message) == ["unit off.service is masked"])
    }

    @Test func junkFileGivesDiagnosticsNotACrash() throws {
        let tree = TempTree()
        defer { tree.remove() }
        var bytes: [UInt8] = Array("[Service]\nExecStart=/bin/true\n".utf8)
        var seed: UInt32 = 7
        for _ in 0..<50_000 {
            seed = seed &* 1_664_525 &+ 1_013_904_223
            bytes.append(UInt8(truncatingIfNeeded: seed >> 24))
        }
        tree.write("u/junk.service", bytes: bytes)
        let result = UnitLoader(searchPaths: [tree.path("u")], context: testContext).load(name("junk"))
        #expect(result.hasErrors)
        #expect(result.config?.execStart.count == 1)
    }

    @Test func oversizedFileIsRefused() {
        let tree = TempTree()
        defer { tree.remove() }
        tree.write("u/big.service", bytes: [UInt8](repeating: UInt8(ascii: "#"), count: maximumUnitFileSize + 1))
        let result = UnitLoader(searchPaths: [tree.path("u")], context: testContext).load(name("big"))
        #expect(result.config == nil)
        #expect(
            result.diagnostics.map(\.message) == [
                tree.path("u/big.service") + " is larger than 8 MiB, refusing to parse it"
            ])
    }

    @Test func loadFileUsesTheFileNameAndNoDropIns() throws {
        let tree = TempTree()
        defer { tree.remove() }
        tree.write("x/api@.service", "[Service]\nExecStart=/bin/api %i\n")
        tree.write("x/api@.service.d/10.conf", "[Service]\nRestart=always\n")
        let loader = UnitLoader(searchPaths: [], context: testContext)
        let result = loader.loadFile(path: tree.path("x/api@.service"))
        #expect(result.diagnostics.isEmpty)
        let config = try #require(result.config)
        #expect(config.name.description == "api@test_instance.service", "a template is checked as an instance")
        #expect(config.execStart.first?.words == ["/bin/api", "test_instance"])
        #expect(config.restart == .no)
        #expect(loader.loadFile(path: tree.path("x/none.service")).config == nil)
    }

    /// `tend verify getty@.service`: what needs an instance is not an error (systemd-analyze verify checks a
    /// template as `NAME@test_instance`).
    @Test func verifyOfATemplateUsesAPlaceholderInstance() throws {
        let tree = TempTree()
        defer { tree.remove() }
        tree.write("x/getty@.service", "[Unit]\nAfter=%i.device\nBindsTo=dev-%i.device\n[Service]\nUser=%i\nExecStart=/sbin/agetty %I\n")
        let result = UnitLoader(searchPaths: [], context: testContext).loadFile(path: tree.path("x/getty@.service"))
        #expect(result.diagnostics.filter { $0.severity == .error }.isEmpty, "\(result.diagnostics.map(\.description))")
        #expect(result.config?.user == "test_instance")
    }

    @Test func listUnitNamesIsSortedDeduplicatedAndSkipsTemplates() {
        let tree = TempTree()
        defer { tree.remove() }
        tree.write("a/web.service", "")
        tree.write("a/app.target", "")
        tree.write("a/getty@.service", "")
        tree.write("a/notes.txt", "")
        tree.write("a/web.service.d/x.conf", "")
        tree.write("b/web.service", "")
        tree.write("b/db.service", "")
        tree.write("b/sock.socket", "")
        let loader = UnitLoader(
            searchPaths: [tree.path("a"), tree.path("b"), tree.path("missing")],
            context: testContext)
        #expect(loader.listUnitNames().map(\.description) == ["app.target", "db.service", "web.service"])
    }

    @Test func catTextPrintsFragmentAndDropInsWithHeaders() {
        let tree = TempTree()
        defer { tree.remove() }
        tree.write("u/web.service", "[Service]\nExecStart=/bin/web\n")
        tree.write("u/web.service.d/override.conf", "[Service]\nRestart=always")
        let loader = UnitLoader(searchPaths: [tree.path("u")], context: testContext)
        #expect(
            loader.catText(UnitName(parsing: "web")!) == """
                # \(tree.path("u/web.service"))
                [Service]
                ExecStart=/bin/web

                # \(tree.path("u/web.service.d/override.conf"))
                [Service]
                Restart=always

                """)
        #expect(loader.catText(UnitName(parsing: "nope")!) == nil)
    }

    @Test func targetLoadsWithoutExecStart() throws {
        let tree = TempTree()
        defer { tree.remove() }
        tree.write("u/app.target", "[Unit]\nDescription=App\nWants=web.service\n")
        let result = UnitLoader(searchPaths: [tree.path("u")], context: testContext).load(name("app.target"))
        #expect(result.diagnostics.isEmpty)
        #expect(result.config?.wants == ["web.service"])
    }

    @Test func currentContextHasRootOrUserDefaults() {
        let ctx = SpecifierContext.current(environment: [
            "HOME": "/home/test", "XDG_RUNTIME_DIR": "/run/user/4242", "XDG_CONFIG_HOME": "/cfg",
        ])
        if getuid() == 0 {
            #expect(ctx.runtimeDir == "/run")
            #expect(ctx.stateDir == "/var/lib")
            #expect(ctx.cacheDir == "/var/cache")
            #expect(ctx.logsDir == "/var/log")
            #expect(ctx.configDir == "/etc")
            #expect(ctx.userName == "root")
        } else {
            #expect(ctx.runtimeDir == "/run/user/4242")
            #expect(ctx.configDir == "/cfg")
            #expect(ctx.cacheDir == "/home/test/.cache")
            #expect(ctx.stateDir == "/home/test/.local/state")
            #expect(ctx.logsDir == "/home/test/.local/state/log")
        }
        #expect(ctx.uid == getuid())
        #expect(ctx.home == "/home/test")
        #expect(!ctx.hostName.isEmpty)
    }
}
