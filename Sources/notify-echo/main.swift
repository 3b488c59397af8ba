// notify-echo: a small TCP echo service written against the SDNotify library, to show (and test) what a Swift
// service gains under tend or systemd: readiness, a status line, the watchdog, and a listening socket that
// survives restarts through the manager's fd store.
//
//   notify-echo PORT      listens on 127.0.0.1:PORT (0: any free port, printed on stdout)
import Glibc
import SDNotify

func fail(_ what: String) -> Never {
    perror(what)
    exit(1)
}

// A restart hands the socket back as fd 3; the first start makes one and gives the manager a copy.
var listener: Int32
let inherited = SDNotify.listenFDs().first { $0.name == "listener" }
if let inherited {
    listener = inherited.fd
} else {
    listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard listener >= 0 else { fail("socket") }
    var one: Int32 = 1
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(CommandLine.arguments.dropFirst().first.flatMap { UInt16($0) } ?? 0).bigEndian)
    addr.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    let bound = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0, listen(listener, 128) == 0 else { fail("bind/listen") }
    _ = try? SDNotify.storeFDs([listener], name: "listener")
}
var addr = sockaddr_in()
var len = socklen_t(MemoryLayout<sockaddr_in>.size)
_ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &len) } }
let port = UInt16(bigEndian: addr.sin_port)
let line = "listening on 127.0.0.1:\(port)\(inherited != nil ? " (socket kept by the manager)" : "")\n"
_ = line.withCString { write(1, $0, strlen($0)) }

SDNotify.ready(status: "Echoing on 127.0.0.1:\(port)")
let pingEvery = SDNotify.watchdogInterval().map { $0 / 2 }

var served = 0
var buf = [UInt8](repeating: 0, count: 4096)
while true {
    // Wait for a client, but wake up in time to ping the watchdog.
    var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
    let timeout = pingEvery.map { Int32($0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000) } ?? -1
    if poll(&pfd, 1, timeout) <= 0 {
        SDNotify.watchdog()
        continue
    }
    let client = accept(listener, nil, nil)
    if client < 0 { continue }
    let n = read(client, &buf, buf.count)
    if n > 0 { _ = write(client, buf, n) }
    close(client)
    served += 1
    if served % 100 == 0 { SDNotify.status("Echoing on 127.0.0.1:\(port), \(served) clients served") }
    SDNotify.watchdog()
}
