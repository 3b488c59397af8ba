import Glibc
import SDNotify
import Testing

/// The client library's environment handling (sd_watchdog_enabled(3), sd_listen_fds(3)). Serialized: these
/// tests change the process environment.
@Suite(.serialized)
struct SDNotifyTests {
    @Test func noSocketMeansNoOp() throws {
        unsetenv("NOTIFY_SOCKET")
        #expect(SDNotify.socketPath == nil)
        #expect(SDNotify.ready() == false)
        #expect(try SDNotify.send(["READY=1"]) == false)
        #expect(try SDNotify.barrier() == false)
    }

    @Test func watchdogIntervalHonoursWatchdogPID() {
        setenv("WATCHDOG_USEC", "3000000", 1)
        unsetenv("WATCHDOG_PID")
        #expect(SDNotify.watchdogInterval() == .seconds(3))
        setenv("WATCHDOG_PID", String(getpid()), 1)
        #expect(SDNotify.watchdogInterval() == .seconds(3))
        setenv("WATCHDOG_PID", String(getpid() + 1), 1)
        #expect(SDNotify.watchdogInterval() == nil)
        unsetenv("WATCHDOG_USEC")
        unsetenv("WATCHDOG_PID")
        #expect(SDNotify.watchdogInterval() == nil)
    }

    @Test func listenFDsOnlyForThisProcessAndUnsetAfterwards() {
        setenv("LISTEN_PID", String(getpid() + 1), 1)
        setenv("LISTEN_FDS", "2", 1)
        #expect(SDNotify.listenFDs(unsetEnvironment: false).isEmpty)
        setenv("LISTEN_PID", String(getpid()), 1)
        setenv("LISTEN_FDNAMES", "web:admin", 1)
        let fds = SDNotify.listenFDs()
        #expect(fds == [.init(fd: 3, name: "web"), .init(fd: 4, name: "admin")])
        #expect(getenv("LISTEN_FDS") == nil && getenv("LISTEN_PID") == nil && getenv("LISTEN_FDNAMES") == nil)
    }

    @Test func sendsADatagramWithDescriptorsToAnAbstractSocket() throws {
        // A receiver of our own, so the wire format is checked without a manager.
        let name = "tend-sdnotify-test-\(getpid())"
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = [UInt8(0)] + Array(name.utf8)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
        let len = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        #expect(rc == 0)
        setenv("NOTIFY_SOCKET", "@" + name, 1)
        defer { unsetenv("NOTIFY_SOCKET") }
        #expect(SDNotify.ready(status: "up"))
        var buf = [UInt8](repeating: 0, count: 256)
        let n = recv(fd, &buf, buf.count, 0)
        #expect(String(decoding: buf[0..<max(0, n)], as: UTF8.self) == "READY=1\nSTATUS=up")
        #expect(SDNotify.notify(status: "busy", mainPID: 4242, watchdog: true, extra: ["X_CUSTOM=1"]))
        let m = recv(fd, &buf, buf.count, 0)
        #expect(String(decoding: buf[0..<max(0, m)], as: UTF8.self) == "STATUS=busy\nMAINPID=4242\nWATCHDOG=1\nX_CUSTOM=1")
        #expect(SDNotify.notify() == false, "an empty message is not sent")
        // With a descriptor (SCM_RIGHTS): what arrives is a new descriptor for the same pipe.
        var p: [Int32] = [-1, -1]
        #expect(pipe(&p) == 0)
        #expect(try SDNotify.storeFDs([p[0]], name: "pipe"))
        var control = [UInt8](repeating: 0, count: 64)
        let got = buf.withUnsafeMutableBytes { b in control.withUnsafeMutableBytes { c -> Int in
            var iov = iovec(iov_base: b.baseAddress, iov_len: b.count)
            return withUnsafeMutablePointer(to: &iov) { iovp in
                var msg = msghdr()
                msg.msg_iov = iovp
                msg.msg_iovlen = 1
                msg.msg_control = c.baseAddress
                msg.msg_controllen = c.count
                let r = recvmsg(fd, &msg, 0)
                #expect(msg.msg_controllen > 0)
                return r
            }
        } }
        #expect(got > 0)
        close(p[0])
        close(p[1])
    }
}
