import Glibc
import Testing
import TendSystem

/// Debian's own `nginx.service`, `memcached.service` and `redis-server.service`, copied unchanged from the
/// packages (installed by `.ci/run`), start under tend and answer on loopback. A drop-in per unit moves each to a
/// free loopback port with a test configuration (and nginx's pid file into the test's directory); every other
/// line, the sandboxing ones included, is the package's. The units exercise `Type=forking` with `PIDFile=` and an
/// `ExecStop=` of start-stop-daemon (nginx), a Perl wrapper that execs the daemon, which drops to its own user
/// (memcached), and `Type=notify` with `User=`, `UMask=` and a `LimitNOFILE=` above the hard limit (redis).
@Suite(.serialized)
struct DebianServicesTests {
    /// The unit file a Debian package installed, if it did and we are root (the units switch users, and
    /// memcached's wrapper refuses to run as anyone else).
    static func packaged(_ unit: String, binary: String) -> String? {
        guard getuid() == 0, Posix.isExecutable(binary) else { return nil }
        return ["/lib/systemd/system/", "/usr/lib/systemd/system/"].map { $0 + unit }
            .first { Posix.readFile($0) != nil }
    }

    static let nginx = packaged("nginx.service", binary: "/usr/sbin/nginx")
    static let memcached = packaged("memcached.service", binary: "/usr/bin/memcached")
    static let redis = packaged("redis-server.service", binary: "/usr/bin/redis-server")

    /// A harness holding the package's unit file byte for byte, plus `drop-in` as `NAME.service.d/test.conf`.
    static func harness(unit path: String, dropIn: (DaemonHarness) -> String) -> DaemonHarness {
        // In /run, not /tmp: memcached and redis have PrivateTmp=, so their configuration and the notify socket
        // must be somewhere the service's own /tmp doesn't hide (as /run/tend and /etc are for real services).
        let h = DaemonHarness(base: "/run")
        // Services that run as another user (redis) reach their notify socket under the state directory, which
        // for root is /run/tend, 0755; the harness's private directory is 0700.
        chmod(h.root, 0o755)
        let name = String(path[path.index(after: path.lastIndex(of: "/")!)...])
        let original = Posix.readFile(path) ?? []
        h.writeFile(h.units + "/" + name, String(decoding: original, as: UTF8.self))
        #expect(Posix.readFile(h.units + "/" + name) == original, "the unit is copied unchanged")
        try? Posix.mkdirs(h.units + "/" + name + ".d")
        h.writeFile(h.units + "/" + name + ".d/test.conf", dropIn(h))
        // Every directive the package's unit carries is one tend knows (implemented, or ignored with a warning).
        let verify = runCommand([tendBinary, "verify", h.units + "/" + name])
        #expect(verify.status == 0 && !verify.stderr.contains("unknown directive") && !verify.stdout.contains("unknown directive"),
                "\(verify.stdout)\(verify.stderr)")
        return h
    }

    // MARK: nginx

    @Test(.enabled(if: nginx != nil, "needs root and Debian's nginx package (nginx-light, installed by .ci/run)"))
    func nginxForksServesReloadsAndStopsThroughStartStopDaemon() throws {
        let port = try #require(Self.freePort())
        var dir = ""
        let h = Self.harness(unit: Self.nginx!) { h in
            dir = h.root + "/nginx"
            try? Posix.mkdirs(dir)
            h.writeFile(dir + "/nginx.conf", """
                worker_processes 2;
                pid \(dir)/nginx.pid;
                error_log stderr notice;
                events { worker_connections 64; }
                http {
                    access_log off;
                    server {
                        listen 127.0.0.1:\(port);
                        location / { return 200 "served by tend\\n"; }
                    }
                }

                """)
            // The package's commands with `-c` the test configuration; its pid file and ExecStop= follow it there.
            let nginx = "/usr/sbin/nginx -c \(dir)/nginx.conf"
            return """
                [Service]
                PIDFile=\(dir)/nginx.pid
                ExecStartPre=
                ExecStartPre=\(nginx) -t -q -g 'daemon on; master_process on;'
                ExecStart=
                ExecStart=\(nginx) -g 'daemon on; master_process on;'
                ExecReload=
                ExecReload=\(nginx) -g 'daemon on; master_process on;' -s reload
                ExecStop=
                ExecStop=-/sbin/start-stop-daemon --quiet --stop --retry QUIT/5 --pidfile \(dir)/nginx.pid

                """
        }
        h.start(extraArgs: ["--no-start"])
        let started = h.tend("start", "nginx")
        #expect(started.status == 0, "\(started.stderr) \(h.tend("status", "nginx").stdout)")

        // The main process is the daemonized master named by the pid file, with its workers under it.
        let main = h.mainPID("nginx")
        let pidFile = h.readFile(dir + "/nginx.pid").split(separator: "\n").first.map(String.init)
        #expect(main > 0 && pidFile == "\(main)", "main \(main), pid file \(pidFile ?? "none")")
        #expect(ProcessTable.stat(main)?.comm == "nginx")
        let status = h.tend("status", "nginx", "-n", "0")
        #expect(status.stdout.contains("Active: active (running)"), "\(status.stdout)")
        #expect(status.stdout.contains("Main PID: \(main) (nginx)"), "\(status.stdout)")

        #expect(Self.ask(port: port, "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n", until: "served by tend\n")?
            .hasPrefix("HTTP/1.1 200 OK\r\n") == true)
        var workers: [ProcessInfo] = []
        #expect(waitUntil(5) {
            workers = Self.processes(under: h.managerPID).filter { $0.ppid == main }
            return workers.count == 2
        }, "workers: \(workers.map(\.pid))")

        // ExecReload= (nginx -s reload) leaves the master and replaces the workers.
        #expect(h.tend("reload", "nginx").status == 0)
        #expect(h.mainPID("nginx") == main)
        #expect(waitUntil(5) { workers.allSatisfy { !processExists($0.pid) } }, "the old workers exit after a reload")
        #expect(Self.ask(port: port, "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n", until: "served by tend\n")?
            .hasPrefix("HTTP/1.1 200 OK\r\n") == true)

        // The stop goes through ExecStop= (start-stop-daemon sends SIGQUIT, nginx's graceful stop) and ends with
        // every process of the unit gone.
        var all: [ProcessInfo] = []
        #expect(waitUntil(5) {
            all = Self.processes(under: h.managerPID)
            return all.count == 3
        }, "\(all.map { "\($0.pid) \($0.comm)" })")
        let stopped = h.tend("stop", "nginx")
        #expect(stopped.status == 0, "\(stopped.stderr)")
        #expect(all.allSatisfy { !processExists($0.pid) }, "processes left: \(all.filter { processExists($0.pid) }.map(\.pid))")
        #expect(Self.processes(under: h.managerPID).isEmpty)
        #expect(h.active("nginx") == "inactive")
        #expect(h.tend("logs", "nginx", "-o", "cat").stdout.contains("signal 3 (SIGQUIT) received"))
        let after = h.tend("status", "nginx", "-n", "0").stdout
        let stopLine = after.split(separator: "\n").first { $0.contains("ExecStop=/sbin/start-stop-daemon --quiet --stop --retry QUIT/5") }
        #expect(stopLine?.hasSuffix("(code=exited, status=0/SUCCESS)") == true, "\(after)")
    }

    // MARK: memcached

    @Test(.enabled(if: memcached != nil, "needs root and Debian's memcached package (installed by .ci/run)"))
    func memcachedStartsThroughItsWrapperAndServes() throws {
        let port = try #require(Self.freePort())
        let user = try #require(Posix.user(named: "memcache"), "the package creates the memcache user")
        let h = Self.harness(unit: Self.memcached!) { h in
            // The package's /etc/memcached.conf, on a free port and without the pid file in /run.
            h.writeFile(h.root + "/memcached.conf", "-m 16\n-p \(port)\n-U 0\n-u memcache\n-l 127.0.0.1\n")
            return """
                [Service]
                ExecStart=
                ExecStart=/usr/share/memcached/scripts/systemd-memcached-wrapper \(h.root)/memcached.conf

                """
        }
        h.start(extraArgs: ["--no-start"])
        let started = h.tend("start", "memcached")
        #expect(started.status == 0, "\(started.stderr)")
        // The Perl wrapper execs memcached, which keeps the pid and drops to its own user.
        let main = h.mainPID("memcached")
        #expect(main > 0)
        #expect(waitUntil(5) { ProcessTable.stat(main)?.comm == "memcached" && Self.uid(main) == user.uid },
                "\(ProcessTable.stat(main)?.comm ?? "gone") uid \(Self.uid(main).map(String.init) ?? "?")")
        let status = h.tend("status", "memcached", "-n", "0")
        #expect(status.stdout.contains("Active: active (running)") && status.stdout.contains("Main PID: \(main) (memcached)"),
                "\(status.stdout)")

        var answer: String?
        #expect(waitUntil(5) {
            answer = Self.ask(port: port, "version\r\n", until: "\r\n")
            return answer != nil
        })
        #expect(answer?.hasPrefix("VERSION ") == true, "\(answer ?? "no answer")")

        let all = Self.processes(under: h.managerPID)
        #expect(all.map(\.pid) == [main])
        #expect(h.tend("stop", "memcached").status == 0)
        #expect(!processExists(main))
        #expect(Self.processes(under: h.managerPID).isEmpty)
        #expect(h.active("memcached") == "inactive")
        #expect(h.status("memcached")?["nRestarts"]?.int == 0, "Restart=always does not undo a stop")
    }

    // MARK: redis

    @Test(.enabled(if: redis != nil, "needs root and Debian's redis-server package (installed by .ci/run)"))
    func redisIsReadyThroughSdNotifyAndServes() throws {
        let port = try #require(Self.freePort())
        let user = try #require(Posix.user(named: "redis"), "the package creates the redis user")
        let h = Self.harness(unit: Self.redis!) { h in
            // The package's configuration, included, with the port, pid file, log and data moved to the test.
            let dir = h.root + "/redis"
            try? Posix.mkdirs(dir)
            chown(dir, user.uid, user.gid)
            h.writeFile(dir + "/redis.conf", """
                include /etc/redis/redis.conf
                port \(port)
                bind 127.0.0.1
                pidfile \(dir)/redis-server.pid
                logfile ""
                dir \(dir)
                save ""

                """)
            return """
                [Service]
                ExecStart=
                ExecStart=/usr/bin/redis-server \(dir)/redis.conf --supervised systemd --daemonize no

                """
        }
        h.start(extraArgs: ["--no-start"])
        let started = h.tend("start", "redis-server")
        #expect(started.status == 0, "\(started.stderr) \(h.tend("status", "redis-server").stdout)")

        // `tend start` returned once READY=1 came, so redis listens already: no waiting.
        #expect(Self.ask(port: port, "PING\r\n", until: "\r\n") == "+PONG\r\n")
        let main = h.mainPID("redis-server")
        #expect(main > 0 && ProcessTable.stat(main)?.comm == "redis-server")
        #expect(Self.uid(main) == user.uid, "User=redis")
        #expect(Self.field("Umask", of: main) == "0007", "UMask=007")
        // Its sandbox, as the package wrote it: NoNewPrivileges=, an empty CapabilityBoundingSet=, a mount namespace of
        // its own (PrivateTmp=, ProtectSystem=strict, ...), RestrictNamespaces= (seccomp), RuntimeDirectory=redis.
        #expect(Self.field("NoNewPrivs", of: main) == "1")
        #expect(Self.field("CapBnd", of: main) == "0000000000000000")
        #expect(Self.field("Seccomp", of: main) == "2")
        let ns = { (pid: String) -> String? in
            var buf = [CChar](repeating: 0, count: 64)
            let n = readlink("/proc/\(pid)/ns/mnt", &buf, 63)
            return n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
        }
        #expect(ns(String(main)) != nil && ns(String(main)) != ns("self"), "a mount namespace of its own")
        var st = stat()
        #expect(lstat("/run/redis", &st) == 0 && st.st_uid == user.uid && st.st_mode & 0o7777 == 0o2755, "RuntimeDirectory=redis, mode 2755")
        // LimitNOFILE=65535: as asked, or the closest the manager may set (its hard limit, without CAP_SYS_RESOURCE).
        let hard = Self.openFilesLimit(h.managerPID)?.hard ?? 0
        let expected = hard >= 65535 || Self.hasCapSysResource(h.managerPID) ? 65535 : hard
        #expect(Self.openFilesLimit(main)?.soft == expected, "\(String(describing: Self.openFilesLimit(main))), manager's hard limit \(hard)")
        let status = h.tend("status", "redis-server", "-n", "0").stdout
        #expect(status.contains("Active: active (running)") && status.contains("Main PID: \(main) (redis-server)"), "\(status)")
        #expect(status.contains("Status: \"Ready to accept connections\""), "STATUS= from sd_notify: \(status)")

        let all = Self.processes(under: h.managerPID)
        #expect(!all.isEmpty && all.allSatisfy { $0.session == ProcessTable.stat(main)?.session })
        #expect(h.tend("stop", "redis-server").status == 0)
        #expect(all.allSatisfy { !processExists($0.pid) })
        #expect(Self.processes(under: h.managerPID).isEmpty)
        #expect(h.active("redis-server") == "inactive")
    }

    // MARK: helpers

    /// A loopback TCP port nothing listens on right now (bound to 0, read back, released).
    static func freePort() -> UInt16? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var addr = loopback(port: 0)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        return ok ? UInt16(bigEndian: addr.sin_port) : nil
    }

    static func loopback(port: UInt16) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        return addr
    }

    /// Sends `request` to 127.0.0.1:`port` and reads the answer until it ends with `until` or the server closes;
    /// nil if nothing could be exchanged. Reads and writes time out after 3 s.
    static func ask(port: UInt16, _ request: String, until end: String) -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var tv = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = loopback(port: port)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0, (try? Posix.write(fd, Array(request.utf8))) == request.utf8.count else { return nil }
        var got: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        repeat {
            let n = read(fd, &buf, buf.count)
            if n <= 0 { break }
            got += buf[0..<n]
        } while !String(decoding: got, as: UTF8.self).hasSuffix(end)
        return got.isEmpty ? nil : String(decoding: got, as: UTF8.self)
    }

    /// Every live process under the manager (a subreaper: a service's processes all stay in its subtree).
    static func processes(under manager: Int32) -> [ProcessInfo] {
        (ProcessTable.descendants(of: manager) ?? ProcessTable.scan()).filter { $0.state != "Z" }
    }

    /// A line of /proc/PID/status, without its name.
    static func field(_ name: String, of pid: Int32) -> String? {
        let text = String(decoding: Posix.readFile("/proc/\(pid)/status") ?? [], as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return nil }
        return line.dropFirst(name.count + 1).trimmingCharacters(in: " \t")
    }

    static func uid(_ pid: Int32) -> uid_t? {
        field("Uid", of: pid)?.split(whereSeparator: { $0 == "\t" || $0 == " " }).first.flatMap { uid_t($0) }
    }

    static func hasCapSysResource(_ pid: Int32) -> Bool {
        guard let hex = field("CapEff", of: pid), let caps = UInt64(hex, radix: 16) else { return false }
        return caps & (1 << 24) != 0
    }

    static func openFilesLimit(_ pid: Int32) -> (soft: UInt64, hard: UInt64)? {
        let text = String(decoding: Posix.readFile("/proc/\(pid)/limits") ?? [], as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Max open files") }) else { return nil }
        let words = line.split(separator: " ", omittingEmptySubsequences: true)
        guard words.count >= 5, let soft = UInt64(words[3]), let hard = UInt64(words[4]) else { return nil }
        return (soft, hard)
    }
}

private extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var s = self[...]
        while let c = s.first, set.contains(c) { s = s.dropFirst() }
        while let c = s.last, set.contains(c) { s = s.dropLast() }
        return String(s)
    }
}
