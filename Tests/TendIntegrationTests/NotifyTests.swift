import CTend
import Glibc
import Testing
import TendControl
import TendModel
import TendSystem
import TendEngine

/// A tiny sd_notify client written the way a non-Swift service would do it: Python's standard library only.
let pythonNotify = """
    import os, socket, sys
    def notify(text, fds=None):
        path = os.environ["NOTIFY_SOCKET"]
        if path.startswith("@"):
            path = "\\0" + path[1:]
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.connect(path)
        data = text.encode("latin-1") if isinstance(text, str) else text
        if fds:
            socket.send_fds(s, [data], fds)
        else:
            s.send(data)
        s.close()

    """

/// sd_notify against a real manager: Type=notify, NotifyAccess=, the watchdog, MAINPID=, EXTEND_TIMEOUT_USEC=,
/// the fd store, malformed input. Services are shell scripts and Python programs, not our own client.
@Suite(.serialized)
struct NotifyTests {
    func python(_ h: DaemonHarness, _ name: String, _ body: String) -> String {
        let path = h.root + "/" + name
        h.writeFile(path, pythonNotify + body)
        return path
    }

    @Test func shellServiceIsActivatingUntilTendNotifyReady() {
        let h = DaemonHarness()
        let gate = h.root + "/gate"
        h.writeUnit("shell.service", """
            [Service]
            Type=notify
            NotifyAccess=all
            ExecStart=/bin/sh -c 'while [ ! -e \(gate) ]; do sleep 0.02; done; \(tendBinary) notify --ready --status="Serving 3 clients"; exec sleep 1000'
            """)
        h.start()
        #expect(h.waitFor("shell", sub: "start"))
        #expect(h.active("shell") == "activating")
        h.writeFile(gate, "")
        #expect(h.waitFor("shell", sub: "running"))
        #expect(h.status("shell")?["statusText"]?.string == "Serving 3 clients")
        #expect(h.tend("status", "shell").stdout.contains("Status: \"Serving 3 clients\""))
    }

    @Test func neverReadyFailsAfterTimeoutStartSec() {
        let h = DaemonHarness()
        h.writeUnit("mute.service", "[Service]\nType=notify\nTimeoutStartSec=1\nExecStart=/bin/sleep 1000\n")
        h.start(extraArgs: ["--no-start"])
        let r = h.tend("start", "mute")
        #expect(r.status == 1)
        #expect(r.stderr.contains("timeout"))
        let s = h.status("mute")
        #expect(s?["result"]?.string == "timeout")
        #expect(s?["active"]?.string == "failed")
    }

    @Test func notifyAccessMainIgnoresReadyFromAChild() {
        let h = DaemonHarness()
        let script = python(h, "child.py", "notify('READY=1')\n")
        h.writeUnit("strict.service", """
            [Service]
            Type=notify
            NotifyAccess=main
            TimeoutStartSec=30
            ExecStart=/bin/sh -c 'python3 \(script); exec sleep 1000'
            """)
        h.start()
        #expect(waitUntil { (h.status("strict")?["notify"]?["rejected"]?.int ?? 0) >= 1 })
        #expect(h.sub("strict") == "start")
        #expect(h.tend("stop", "strict").status == 0)
    }

    @Test func notifyAccessAllAcceptsAChildAndMainAcceptsTheMainProcess() {
        let h = DaemonHarness()
        let child = python(h, "child.py", "notify('READY=1')\n")
        let main = python(h, "main.py", "import time\nnotify('READY=1\\nSTATUS=main speaking')\ntime.sleep(1000)\n")
        h.writeUnit("open.service", "[Service]\nType=notify\nNotifyAccess=all\nExecStart=/bin/sh -c 'python3 \(child); exec sleep 1000'\n")
        h.writeUnit("mainonly.service", "[Service]\nType=notify\nExecStart=/usr/bin/env python3 \(main)\n")
        h.start()
        #expect(h.waitFor("open", sub: "running"))
        #expect(h.waitFor("mainonly", sub: "running"))
        #expect(h.status("mainonly")?["statusText"]?.string == "main speaking")
    }

    @Test func watchdogMissIsKilledWithSIGABRTAndRestarted() {
        let h = DaemonHarness()
        let script = python(h, "dog.py", """
            import time
            notify("READY=1")
            for i in range(3):
                notify("WATCHDOG=1")
                time.sleep(0.1)
            time.sleep(1000)

            """)
        h.writeUnit("dog.service", """
            [Service]
            Type=notify
            WatchdogSec=400ms
            Restart=on-watchdog
            RestartSec=100ms
            ExecStart=/usr/bin/env python3 \(script)
            """)
        h.start()
        #expect(waitUntil(10) { (h.status("dog")?["nRestarts"]?.int ?? 0) >= 1 })
        let log = h.tend("logs", "dog", "-n", "50").stdout
        #expect(log.contains("Watchdog timeout"))
        #expect(log.contains("Main process exited, code=killed, signal=ABRT"))
        #expect(h.tend("stop", "dog").status == 0)
    }

    @Test func watchdogEnvironmentIsSetForTheMainProcess() {
        let h = DaemonHarness()
        let out = h.root + "/env"
        h.writeUnit("wenv.service", """
            [Service]
            WatchdogSec=5s
            ExecStart=/bin/sh -c 'echo "$${WATCHDOG_USEC} $${WATCHDOG_PID} $$$$" > \(out); exec sleep 1000'
            """)
        h.start()
        #expect(waitUntil { h.readFile(out).hasSuffix("\n") })
        let parts = h.readFile(out).split(separator: " ").map { $0.trimmingCharacters(in: "\n") }
        #expect(parts.count == 3)
        #expect(parts.first == "5000000")
        #expect(parts.count == 3 && parts[1] == parts[2], "WATCHDOG_PID must be the main process's own pid")
    }

    @Test func mainPIDMessageSwitchesTheTrackedPid() {
        let h = DaemonHarness()
        let pidFile = h.root + "/pid"
        h.writeUnit("handover.service", """
            [Service]
            Type=notify
            NotifyAccess=all
            ExecStart=/bin/sh -c 'sleep 1000 & echo $! > \(pidFile); \(tendBinary) notify --ready --pid=$!; wait'
            """)
        h.start()
        #expect(h.waitFor("handover", sub: "running"))
        let sleeper = Int32(h.readFile(pidFile).trimmingCharacters(in: "\n")) ?? -1
        #expect(waitUntil { h.mainPID("handover") == sleeper })
        // The new main process dying ends the service.
        _ = kill(sleeper, SIGKILL)
        #expect(waitUntil { h.active("handover") != "active" })
    }

    @Test func extendTimeoutKeepsASlowStarterAlive() {
        let h = DaemonHarness()
        let script = python(h, "slow.py", """
            import time
            time.sleep(0.2)
            notify("EXTEND_TIMEOUT_USEC=4000000")
            time.sleep(1.6)
            notify("READY=1")
            time.sleep(1000)

            """)
        h.writeUnit("slow.service", "[Service]\nType=notify\nTimeoutStartSec=1\nExecStart=/usr/bin/env python3 \(script)\n")
        h.start(extraArgs: ["--no-start"])
        let r = h.tend("start", "slow")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(h.sub("slow") == "running")
    }

    @Test func malformedAndOversizedMessagesAreCountedAndHarmless() {
        let h = DaemonHarness()
        let script = python(h, "junk.py", """
            import time
            notify(b"\\x00\\x01\\x02garbage")
            notify(b"READY=maybe")
            notify(b"STATUS=" + b"x" * 5000)
            notify(b"STATUS=caf\\xe9 latin-1\\nREADY=1")
            time.sleep(1000)

            """)
        h.writeUnit("junk.service", "[Service]\nType=notify\nExecStart=/usr/bin/env python3 \(script)\n")
        h.start()
        #expect(h.waitFor("junk", sub: "running"))
        let n = h.status("junk")?["notify"]
        #expect(n?["malformed"]?.int == 3)
        #expect(n?["accepted"]?.int == 1)
        #expect(h.status("junk")?["statusText"]?.string == "caf\u{FFFD} latin-1")
        #expect(h.tend("show", "junk", "-p", "NotifyMessagesMalformed").stdout == "NotifyMessagesMalformed=3\n")
    }

    /// Another user floods every notify socket (they are writable by all, as systemd's): a service's own
    /// non-blocking READY=1 still gets through, and so does a service started during the flood. The flooder's
    /// uid is muted after a few refusals, so each datagram of it costs the manager a receive and nothing more.
    @Test(.enabled(if: getuid() == 0 && Posix.user(named: "nobody") != nil, "needs root to run a flooder as nobody"))
    func aFloodFromAnotherUserDoesNotStopReady() {
        let h = DaemonHarness()
        chmod(h.root, 0o755)
        let flags = h.root + "/flags"
        mkdir(flags, 0o777)
        chmod(flags, 0o777)
        let notifyDir = h.state + "/notify"
        let flood = h.root + "/flood.py"
        h.writeFile(flood, """
            import os, socket, time
            own = os.environ.get("NOTIFY_SOCKET", "")
            os.fork(); os.fork()  # four senders
            socks, sent, end, last = {}, 0, time.time() + 20, 0
            while time.time() < end and not os.path.exists("\(flags)/stop"):
                if time.time() - last > 0.2:
                    last = time.time()
                    for name in os.listdir("\(notifyDir)"):
                        p = "\(notifyDir)/" + name
                        if p != own and p not in socks:
                            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.setblocking(False); socks[p] = s
                for p, s in socks.items():
                    for _ in range(200):
                        try: s.sendto(b"READY=1\\nSTATUS=flood", p); sent += 1
                        except OSError: pass
                if sent > 20000 and not os.path.exists("\(flags)/flooding"):
                    open("\(flags)/flooding", "w").close()

            """)
        let victim = python(h, "victim.py", """
            import errno, os, socket, time
            while not os.path.exists("\(flags)/flooding"): time.sleep(0.01)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.setblocking(False)
            tries = 0
            while True:
                tries += 1
                try: s.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"]); break
                except BlockingIOError:
                    if tries >= 200: raise
                    time.sleep(0.01)
            print("ready after", tries, "tries", flush=True)
            time.sleep(1000)

            """)
        let other = python(h, "other.py", "notify(\"READY=1\")\nimport time\ntime.sleep(1000)\n")
        h.writeUnit("victim.service", "[Service]\nType=notify\nNotifyAccess=all\nExecStart=/usr/bin/env python3 \(victim)\n")
        h.writeUnit("other.service", "[Service]\nType=notify\nNotifyAccess=all\nExecStart=/usr/bin/env python3 \(other)\n")
        h.writeUnit("flood.service", "[Service]\nUser=nobody\nExecStart=/usr/bin/env python3 \(flood)\n")
        h.start(extraArgs: ["--no-start"])
        defer { h.writeFile(flags + "/stop", "") }
        #expect(h.tend("start", "--no-block", "victim").status == 0)
        #expect(h.tend("start", "flood").status == 0)
        #expect(waitUntil(15) { access(flags + "/flooding", F_OK) == 0 },
                "the flood is on: \(h.tend("logs", "flood", "-o", "cat").stdout)")
        #expect(h.waitFor("victim", sub: "running", timeout: 15), "the victim's own READY=1 got through")
        let started = h.tend(["start", "other"], timeout: 15)
        #expect(started.status == 0 && h.active("other") == "active", "a service started during the flood: \(started.stderr)")
        #expect((h.status("victim")?["notify"]?["rejected"]?.int ?? 0) > 1000, "the flood reached the victim's socket")
        #expect(h.status("victim")?["statusText"]?.string != "flood", "nothing of the flood was taken")
        let uid = Posix.user(named: "nobody")!.uid
        #expect(h.daemonLog.contains("Notify messages from uid \(uid) refused 64 times in a second"), "\(h.daemonLog.suffix(2000))")
    }

    @Test func notifyReloadSignalsAndWaitsForReloadingThenReady() {
        let h = DaemonHarness()
        let count = h.root + "/reloads"
        let script = python(h, "reload.py", """
            import signal, time
            def hup(sig, frame):
                notify("RELOADING=1\\nMONOTONIC_USEC=%d" % (time.monotonic_ns() // 1000))
                with open("\(count)", "a") as f: f.write("r\\n")
                notify("READY=1")
            signal.signal(signal.SIGHUP, hup)
            notify("READY=1")
            while True: time.sleep(1000)

            """)
        h.writeUnit("rel.service", "[Service]\nType=notify-reload\nExecStart=/usr/bin/env python3 \(script)\n")
        h.start()
        #expect(h.waitFor("rel", sub: "running"))
        let pid = h.mainPID("rel")
        #expect(h.tend("reload", "rel").status == 0)
        #expect(h.readFile(count) == "r\n")
        #expect(h.mainPID("rel") == pid)
        #expect(h.sub("rel") == "running")
    }

    @Test func fdStoreKeepsTheListeningSocketAcrossRestart() {
        let h = DaemonHarness()
        let portFile = h.root + "/port"
        let server = python(h, "echo.py", """
            import os, socket, time
            fds = int(os.environ.get("LISTEN_FDS", "0")) if os.environ.get("LISTEN_PID") == str(os.getpid()) else 0
            if fds:
                srv = socket.socket(fileno=3)
            else:
                srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                srv.bind(("127.0.0.1", 0))
                srv.listen(128)
                notify("FDSTORE=1\\nFDNAME=listener", [srv.fileno()])
                with open("\(portFile)", "w") as f: f.write(str(srv.getsockname()[1]))
            notify("READY=1\\nSTATUS=%s" % ("inherited" if fds else "fresh"))
            while True:
                c, _ = srv.accept()
                data = c.recv(100)
                c.sendall(data)
                c.close()

            """)
        h.writeUnit("echo.service", """
            [Service]
            Type=notify
            FileDescriptorStoreMax=4
            ExecStart=/usr/bin/env python3 \(server)
            """)
        h.start()
        #expect(h.waitFor("echo", sub: "running"))
        #expect(waitUntil { !h.readFile(portFile).isEmpty })
        let port = h.readFile(portFile)
        let clientScript = h.root + "/client.py"
        h.writeFile(clientScript, """
            import socket, sys, time
            ok = refused = other = 0
            end = time.monotonic() + float(sys.argv[2])
            while time.monotonic() < end:
                try:
                    c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
                    c.sendall(b"ping")
                    ok += c.recv(10) == b"ping"
                    c.close()
                except ConnectionRefusedError:
                    refused += 1
                except OSError:
                    other += 1
                time.sleep(0.005)
            print(ok, refused, other)

            """)
        let clientOut = h.root + "/client.out"
        let client = h.spawnBackground(["/usr/bin/env", "python3", clientScript, port, "3"], stdout: clientOut)
        let firstPID = h.mainPID("echo")
        for _ in 0..<3 {
            #expect(h.tend("restart", "echo").status == 0)
            usleep(200_000)  // let the client talk to this instance before the next restart
        }
        var st: Int32 = 0
        _ = waitpid(client, &st, 0)
        let counts = h.readFile(clientOut).split(separator: " ").compactMap { Int($0.trimmingCharacters(in: "\n")) }
        #expect(counts.count == 3)
        #expect(counts.first ?? 0 > 10, "the client must have talked to the service: \(counts)")
        #expect(counts.count == 3 && counts[1] == 0, "ECONNREFUSED during restarts: \(counts)")
        #expect(h.mainPID("echo") != firstPID)
        #expect(h.status("echo")?["statusText"]?.string == "inherited")
        #expect(h.status("echo")?["fdStore"]?.int == 1)
        // A stop for good empties the store: the port is closed.
        #expect(h.tend("stop", "echo").status == 0)
        #expect(h.status("echo")?["fdStore"] == nil)
    }

    @Test func tendNotifyWithoutASocketFails() {
        let r = runCommand([tendBinary, "notify", "--ready"], environment: ["NOTIFY_SOCKET": ""])
        #expect(r.status == 1)
        #expect(r.stderr.contains("NOTIFY_SOCKET"))
    }
}


/// The Swift example service (SDNotify) under a real manager: readiness, status, watchdog pings and the fd store.
@Suite(.serialized)
struct SwiftClientTests {
    @Test func notifyEchoKeepsItsSocketAndPingsTheWatchdog() throws {
        let h = DaemonHarness()
        let binary = String(tendBinary.dropLast("tend".count)) + "notify-echo"
        h.writeUnit("swecho.service", """
            [Service]
            Type=notify
            WatchdogSec=300ms
            FileDescriptorStoreMax=1
            ExecStart=\(binary) 0
            """)
        h.start()
        #expect(h.waitFor("swecho", sub: "running"))
        let status = h.status("swecho")?["statusText"]?.string ?? ""
        #expect(status.hasPrefix("Echoing on 127.0.0.1:"))
        let port = UInt16(status.split(separator: ":").last ?? "") ?? 0
        #expect(port > 0)
        // Pings keep it alive well past the watchdog interval.
        let first = h.mainPID("swecho")
        usleep(1_000_000)
        #expect(h.mainPID("swecho") == first)
        #expect(h.status("swecho")?["nRestarts"]?.int == 0)
        #expect(h.tend("restart", "swecho").status == 0)
        #expect(h.mainPID("swecho") != first)
        #expect(h.tend("logs", "swecho", "-o", "cat", "-n", "20").stdout.contains("listening on 127.0.0.1:\(port) (socket kept by the manager)\n"))
        #expect(echo(port: port, "hello") == "hello")
    }

    func echo(port: UInt16, _ text: String) -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { return nil }
        _ = text.withCString { write(fd, $0, strlen($0)) }
        var buf = [UInt8](repeating: 0, count: 100)
        let n = read(fd, &buf, 100)
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : nil
    }
}
