import CTend
import Glibc
import Testing
import TendControl
import TendModel
import TendSystem

/// `tend web` against a real manager: the JSON API and its security (token, session + CSRF, Host and Origin,
/// unit names, stream bounds), server-sent events of the subscription and of a unit's log, /metrics (checked
/// by promtool when present), the OpenAPI document (openapi-spec-validator when present), the dashboard in
/// headless Chromium (when present), and `tend -H` over a real sshd (when present, as root).
@Suite(.serialized) struct WebTests {
    static let hello = "[Unit]\nDescription=Says hello\n[Service]\nExecStart=/bin/sh -c 'echo \"hello $$$$\"; echo \"oops $$$$\" >&2; exec sleep 1000'\n"

    func harness() -> DaemonHarness {
        let h = DaemonHarness()
        h.writeUnit("web.service", Self.hello)
        h.writeUnit("crash.service", "[Service]\nExecStart=/bin/sh -c 'sleep 1; exit 3'\n")
        h.start()
        #expect(h.tend("start", "web").status == 0)
        return h
    }

    @Test func listenAddressesAndTheTokenFile() throws {
        let h = DaemonHarness()
        let open = runCommand([tendBinary, "web", "--listen", "0.0.0.0:0", "--state-dir", h.state])
        #expect(open.status == 64)
        #expect(open.stderr.contains("not a loopback address"))
        let bad = runCommand([tendBinary, "web", "--listen", "127.0.0.1:99999", "--state-dir", h.state])
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("HOST:PORT"))
        // A token file others may read is refused.
        h.writeFile(h.root + "/loose.token", "0123456789abcdef0123\n", mode: 0o644)
        let loose = runCommand([tendBinary, "web", "--listen", "127.0.0.1:0", "--token-file", h.root + "/loose.token", "--state-dir", h.state])
        #expect(loose.status == 1)
        #expect(loose.stderr.contains("chmod 600"))

        h.start()
        let web = WebProcess(h)
        var st = stat()
        #expect(stat(web.tokenFile, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o600)
        #expect(web.token.count == 64)
        #expect(web.request("GET", "/api/v1/units").status == 200)
    }

    @Test func theAPIServesUnitsAndJobsOnlyToTheTokenOrASessionWithItsCSRFToken() throws {
        let h = harness()
        let web = WebProcess(h)
        let none = web.request("GET", "/api/v1/units", bearer: false)
        #expect(none.status == 401)
        #expect(none.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
        let list = web.request("GET", "/api/v1/units")
        #expect(list.status == 200)
        let names = list.json?["units"]?.array?.compactMap { $0["unit"]?.string } ?? []
        #expect(names.contains("web.service"))
        let one = web.request("GET", "/api/v1/units/web")
        #expect(one.json?["unit"]?["active"]?.string == "active")
        #expect(one.json?["unit"]?["description"]?.string == "Says hello")
        #expect(web.request("GET", "/api/v1/units/web/file").json?["text"]?.string?.contains("Says hello") == true)

        // Refused requests change nothing.
        let pid = h.mainPID("web")
        #expect(pid > 0)
        #expect(web.request("POST", "/api/v1/units/web/restart", bearer: false).status == 401)
        #expect(web.request("POST", "/api/v1/units/web/restart", headers: ["Authorization": "Bearer nope"]).status == 401)
        #expect(web.request("POST", "/api/v1/units/web/restart", host: "evil.example:80").status == 403)
        #expect(web.request("POST", "/api/v1/units/web/restart", headers: ["Origin": "http://evil.example"]).status == 403)
        #expect(web.request("GET", "/api/v1/units", host: "rebound.example").status == 403)
        #expect(h.mainPID("web") == pid)

        // The token restarts it.
        let r = web.request("POST", "/api/v1/units/web/restart")
        #expect(r.status == 200, "\(r.body)")
        let second = h.mainPID("web")
        #expect(second > 0 && second != pid)

        // A browser session: the cookie alone is not enough to change anything; with the CSRF token it is.
        let session = try #require(web.login())
        #expect(web.request("GET", "/api/v1/units", headers: ["Cookie": session.cookie], bearer: false).status == 200)
        #expect(web.request("POST", "/api/v1/units/web/restart", headers: ["Cookie": session.cookie], bearer: false).status == 403)
        #expect(web.request("POST", "/api/v1/units/web/restart", headers: ["Cookie": session.cookie, "X-CSRF-Token": "x"], bearer: false).status == 403)
        #expect(h.mainPID("web") == second)
        let ok = web.request("POST", "/api/v1/units/web/restart", headers: ["Cookie": session.cookie, "X-CSRF-Token": session.csrf], bearer: false)
        #expect(ok.status == 200)
        #expect(h.mainPID("web") != second)
        // A wrong login gets 401 and no cookie; pages without a session redirect to the login.
        let wrong = web.request("POST", "/login", headers: ["Content-Type": "application/x-www-form-urlencoded"], body: "token=nope", bearer: false)
        #expect(wrong.status == 401)
        #expect(wrong.header("Set-Cookie") == nil)
        #expect(web.request("GET", "/", bearer: false).header("Location")?.hasPrefix("/login") == true)
        let page = web.request("GET", "/units/web.service", headers: ["Cookie": session.cookie], bearer: false)
        #expect(page.status == 200)
        #expect(page.body.contains("Says hello"))
        #expect(page.header("Content-Security-Policy")?.contains("default-src 'self'") == true)

        // Names are checked before anything reaches the manager.
        #expect(web.request("GET", "/api/v1/units/..%2F..%2Fetc%2Fpasswd").status == 400)
        #expect(web.request("GET", "/api/v1/units/a%20b").status == 400)
        #expect(web.request("GET", "/api/v1/units/nope.service").status == 404)
        #expect(web.request("GET", "/api/v1/units/web%2Eservice").json?["unit"]?["unit"]?.string == "web.service")
        #expect(web.request("POST", "/api/v1/units/nope.service/start").status == 404)
        #expect(web.request("POST", "/api/v1/units/web/explode").status == 404)
        // A job that fails is a conflict, not a server error.
        #expect(web.request("POST", "/api/v1/units/web/reload").status == 409)
    }

    @Test func eventsAndLogsStreamAsServerSentEvents() throws {
        let h = harness()
        let web = WebProcess(h)
        let events = try #require(web.openStream("/api/v1/events"))
        let logs = try #require(web.openStream("/api/v1/units/web/logs?follow=1&lines=50"))
        let pid = h.mainPID("web")
        #expect(logs.read(timeout: 10) { String(decoding: $0, as: UTF8.self).contains("event: caught-up") })
        #expect(logs.text.contains("\"text\":\"hello \(pid)\""))
        #expect(logs.text.contains("\"stream\":\"stderr\""))

        #expect(web.request("POST", "/api/v1/units/web/restart").status == 200)
        let start = Posix.monotonicNow
        let next = h.mainPID("web")
        #expect(next != pid)
        // The new process's line arrives within a second of the restart.
        #expect(logs.read(timeout: 1) { String(decoding: $0, as: UTF8.self).contains("\"text\":\"hello \(next)\"") })
        #expect(Posix.monotonicNow.ns - start.ns < 1_000_000_000)
        #expect(events.read(timeout: 5) { String(decoding: $0, as: UTF8.self).contains("\"event\":\"job\",\"unit\":\"web.service\",\"job\":\"restart\"") })
        #expect(events.text.contains("\"active\":\"deactivating\""))

        // Past records, filtered.
        let grep = web.request("GET", "/api/v1/units/web/logs?grep=%5Ehello&lines=10")
        let texts = grep.json?["entries"]?.array?.compactMap { $0["text"]?.string } ?? []
        #expect(texts.count >= 2)
        #expect(texts.allSatisfy { $0.hasPrefix("hello ") })
        #expect(web.request("GET", "/api/v1/units/web/logs?grep=%28").status == 400)
        #expect(web.request("GET", "/api/v1/units/web/logs?since=whenever").status == 400)
        #expect(web.request("GET", "/api/v1/units/web/logs?lines=-1").status == 400)
        let future = web.request("GET", "/api/v1/units/web/logs?since=%2B1h")
        #expect(future.status == 200)
        #expect(future.json?["entries"]?.array?.isEmpty == true)
    }

    @Test func streamsAreBoundedPerClient() throws {
        let h = harness()
        let web = WebProcess(h)
        var open: [HTTPConnection] = []
        for _ in 0..<16 {
            let c = try #require(web.openStream("/api/v1/events"))
            #expect(c.text.hasPrefix("HTTP/1.1 200"))
            open.append(c)
        }
        let refused = web.request("GET", "/api/v1/units/web/logs?follow=1")
        #expect(refused.status == 429)
        // Ordinary requests still work, and the manager holds the 16 subscriptions, no more.
        #expect(web.request("GET", "/api/v1/units").status == 200)
        let ping = try ControlClient.call(stateDir: h.state, .ping, as: PingReply.self)
        #expect(ping.subscribers == 16)
        open.removeAll()
    }

    @Test func metricsInPrometheusTextFormat() throws {
        let h = harness()
        h.tend("start", "crash")
        #expect(h.waitFor("crash", sub: "failed"))
        // A service that fails and is restarted: its restarts are counted by cause.
        h.writeUnit("flap.service", "[Unit]\nStartLimitBurst=100\n[Service]\nExecStart=/bin/sh -c 'exit 2'\nRestart=on-failure\nRestartSec=50ms\n")
        h.tend("start", "flap")
        #expect(waitUntil(10) { (h.status("flap")?["restartCauses"]?["exit-code"]?.int ?? 0) >= 2 })
        h.tend("stop", "flap")
        let flaps = h.status("flap")?["restartCauses"]?["exit-code"]?.int ?? 0
        let web = WebProcess(h)
        #expect(web.request("GET", "/metrics", bearer: false).status == 401)
        let m = web.request("GET", "/metrics")
        #expect(m.status == 200)
        #expect(m.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(m.body.contains("tend_unit_state{name=\"web.service\",state=\"active\",type=\"service\"} 1\n"))
        #expect(m.body.contains("tend_unit_state{name=\"crash.service\",state=\"failed\",type=\"service\"} 1\n"))
        #expect(m.body.contains("tend_service_restart_total{name=\"web.service\"} 0\n"))
        #expect(m.body.contains("tend_service_last_exit_status{name=\"crash.service\",code=\"exited\"} 3\n"))
        #expect(m.body.contains("# TYPE tend_service_restart_total counter\n"))
        #expect(m.body.contains("tend_service_restarts_by_cause_total{name=\"flap.service\",cause=\"exit-code\"} \(flaps)\n"))
        #expect(m.body.contains("tend_manager_up 1\n"))
        let pid = h.mainPID("web")
        #expect(m.body.contains("tend_service_main_pid{name=\"web.service\"} \(pid)\n"))
        #expect(m.body.contains("tend_manager_open_fds "))
        if let promtool = which("promtool") {
            h.writeFile(h.root + "/metrics.txt", m.body)
            let check = runCommand(["/bin/sh", "-c", "\(promtool) check metrics < \(h.root)/metrics.txt"])
            #expect(check.status == 0, "promtool: \(check.stdout)\(check.stderr)")
        } else {
            print("note: promtool (Debian's prometheus package) is not installed; the metrics text is not checked by it")
        }
    }

    @Test(.enabled(if: which("openapi-spec-validator") != nil, "needs openapi-spec-validator from PyPI (installed by .ci/run)"))
    func theOpenAPIDocumentValidates() {
        let r = runCommand([which("openapi-spec-validator")!, ManPageTests.repository + "/docs/openapi.yaml"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("OK"))
    }

    /// schemathesis generates requests from docs/openapi.yaml (valid and invalid, bounded in number and time):
    /// no 500, replies as the document says, and the manager still answers afterwards.
    @Test(.enabled(if: which("schemathesis") != nil, "needs schemathesis from PyPI (installed by .ci/run)"))
    func anAPIFuzzerFindsNoServerErrorAndTheManagerSurvives() throws {
        let h = harness()
        let web = WebProcess(h)
        let managerPID = h.currentManagerPID()
        // Run in the test's directory: schemathesis keeps a cache (.schemathesis/) in the current one.
        let r = runCommand(["/bin/sh", "-c", "cd \"$1\" && shift && exec \"$@\"", "sh", h.root,
                            which("schemathesis")!, "run", ManPageTests.repository + "/docs/openapi.yaml",
                            "--url", "http://127.0.0.1:\(web.port)", "-H", "Authorization: Bearer \(web.token)",
                            "--max-examples", "10", "--phases", "coverage,fuzzing", "--request-timeout", "1",
                            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"],
                           environment: ["SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"], timeout: 240)
        #expect(r.status == 0, "\(r.stdout.suffix(4000))\(r.stderr.suffix(2000))")
        #expect(r.stdout.contains("passed"))
        #expect(h.currentManagerPID() == managerPID)
        #expect(web.request("GET", "/api/v1/units").status == 200)
    }

    @Test(.enabled(if: which("nm") != nil, "needs binutils' nm"))
    func tendWebIsASeparateBinaryAndTheOthersLinkNoHTTPServer() throws {
        #expect(Posix.isExecutable(WebProcess.binary))
        let dir = String(tendBinary[..<(tendBinary.lastIndex(of: "/") ?? tendBinary.startIndex)])
        func count(_ binary: String) -> Int {
            let r = runCommand(["/bin/sh", "-c", "nm '\(binary)' | grep -c 'NIOCore\\|Hummingbird' || true"])
            return Int(r.stdout.trimmingCharacters(in: "\n")) ?? -1
        }
        // The check sees them where they are.
        #expect(count(WebProcess.binary) > 0)
        for binary in [tendBinary, dir + "/tendd"] {
            #expect(count(binary) == 0, "\(binary) contains NIO or Hummingbird symbols")
        }
    }

    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: Posix.isExecutable)
    static let chromedriver = ["/usr/bin/chromedriver"].first(where: Posix.isExecutable)
    static let selenium = which("python3").map { runCommand([$0, "-c", "import selenium"]).status == 0 } ?? false

    /// The dashboard in a real browser (Tests/browser/dashboard.py): restart changes the pid shown, a crash turns
    /// the row red without a reload, a line appears in the live log within a second; screenshots at laptop and
    /// phone sizes go to .build/web-screenshots (or $TEND_SCREENSHOT_DIR).
    @Test(.enabled(if: chromium != nil && chromedriver != nil && selenium,
                   "needs Debian's chromium and chromium-driver and selenium from PyPI (installed by .ci/run)"))
    func theDashboardInHeadlessChromium() throws {
        let h = harness()
        let web = WebProcess(h)
        let shots = Posix.environment()["TEND_SCREENSHOT_DIR"] ?? ManPageTests.repository + "/.build/web-screenshots"
        try? Posix.mkdirs(shots)
        let r = runCommand([which("python3")!, ManPageTests.repository + "/Tests/browser/dashboard.py",
                            "http://127.0.0.1:\(web.port)", web.token, shots, Self.chromium!, Self.chromedriver!],
                           timeout: 150)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr.suffix(3000))")
        #expect(r.stdout.contains("\"ok\": true"))
        print("dashboard: \(r.stdout.trimmingCharacters(in: "\n")); screenshots in \(shots)")
    }

    static let sshd = ["/usr/sbin/sshd"].first(where: Posix.isExecutable)

    /// `tend -H root@127.0.0.1 ...` through a real sshd on a loopback port with a generated key: the
    /// remote command's output (JSON) and exit status come back unchanged.
    @Test(.enabled(if: sshd != nil && which("ssh") != nil && which("ssh-keygen") != nil && getuid() == 0,
                   "needs openssh-server and openssh-client and root (installed by .ci/run)"))
    func tendDashHRunsTheCommandOverSSH() throws {
        let h = harness()
        let dir = h.root + "/ssh"
        try Posix.mkdirs(dir, mode: 0o700)
        #expect(runCommand([which("ssh-keygen")!, "-q", "-t", "ed25519", "-N", "", "-f", dir + "/host"]).status == 0)
        #expect(runCommand([which("ssh-keygen")!, "-q", "-t", "ed25519", "-N", "", "-f", dir + "/client"]).status == 0)
        h.writeFile(dir + "/authorized_keys", h.readFile(dir + "/client.pub"), mode: 0o600)
        let port = freePort()
        h.writeFile(dir + "/sshd_config", """
            Port \(port)
            ListenAddress 127.0.0.1
            HostKey \(dir)/host
            AuthorizedKeysFile \(dir)/authorized_keys
            PidFile \(dir)/sshd.pid
            PermitRootLogin prohibit-password
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            StrictModes no
            LogLevel ERROR

            """)
        try? Posix.mkdirs("/run/sshd", mode: 0o755)
        let sshd = h.spawnBackground([Self.sshd!, "-D", "-e", "-f", dir + "/sshd_config"], stdout: dir + "/sshd.out")
        #expect(sshd > 0)
        defer {
            _ = kill(sshd, SIGTERM)
            var st: Int32 = 0
            _ = waitpid(sshd, &st, 0)
        }
        let env = ["TEND_SSH": "\(which("ssh")!) -p \(port) -i \(dir)/client -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
                   "TEND_REMOTE_COMMAND": tendBinary]
        var status = CommandResult(status: -1, stdout: "", stderr: "")
        // sshd is up when it answers (bounded).
        waitUntil(10) {
            status = runCommand([tendBinary, "-H", "root@127.0.0.1", "-o", "json", "status", "web", "--state-dir", h.state, "-n", "0"], environment: env)
            return status.status != 255
        }
        #expect(status.status == 0, "\(status.stderr)")
        let json = try JSON.parse(status.stdout)
        #expect(json.array?.first?["unit"]?.string == "web.service")
        #expect(json.array?.first?["mainPID"]?.int == Int64(h.mainPID("web")))
        // Exit statuses are the remote tend's: 4 for a unit that doesn't exist, 3 for one that is not active.
        let missing = runCommand([tendBinary, "-H", "root@127.0.0.1", "status", "nope", "--state-dir", h.state], environment: env)
        #expect(missing.status == 4)
        let inactive = runCommand([tendBinary, "-H", "root@127.0.0.1", "status", "crash", "--state-dir", h.state], environment: env)
        #expect(inactive.status == 3)
        // Arguments with spaces and quotes arrive as they were.
        let weird = runCommand([tendBinary, "-H", "root@127.0.0.1", "status", "it's a unit", "--state-dir", h.state], environment: env)
        #expect(weird.stderr.contains("it's a unit") || weird.stdout.contains("it's a unit"), "\(weird.stdout)\(weird.stderr)")
        // ssh's own failure is 255.
        let unreachable = runCommand([tendBinary, "-H", "root@127.0.0.1", "status"],
                                     environment: ["TEND_SSH": "\(which("ssh")!) -p 1 -o ConnectTimeout=2", "TEND_REMOTE_COMMAND": tendBinary])
        #expect(unreachable.status == 255)
        #expect(runCommand([tendBinary, "-H"]).status == 64)
    }
}

/// A TCP port free on 127.0.0.1 now (bound to port 0, read, closed).
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { Posix.close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}
