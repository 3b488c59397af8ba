import Glibc
import TendControl
import TendSystem

/// `/metrics`: Prometheus text exposition (docs/metrics.md), computed when scraped from the control API
/// (`ping`, `status`, `dependencies`) and the manager's /proc entry; nothing runs between scrapes. The
/// names follow systemd_exporter's (`systemd_unit_state` → `tend_unit_state`), labelled with the full
/// unit name.
enum Metrics {
    static let states = ["active", "activating", "deactivating", "inactive", "failed", "reloading"]

    static func scrape(_ manager: ManagerLink) async throws -> String {
        let t0 = Posix.monotonicNow
        let ping: PingReply = try await manager.call(.ping)
        let latency = Double(Posix.monotonicNow.ns - t0.ns) / 1e9
        // The two large replies are asked for together: the manager answers one while this process decodes
        // the other.
        async let status: StatusReply = manager.call(.status(units: [], lines: 0))
        async let deps: DependenciesReply? = try? manager.call(.dependencies)
        let (s, d) = try await (status, deps)
        return render(ping: ping, latency: latency, units: s.units, deps: d?.units ?? [],
                      proc: ManagerProc.read(ping.pid), now: Posix.realtimeMicroseconds)
    }

    /// One metric family; samples are appended to one string (a scrape of 1000 units is ~12 000 lines).
    struct Family {
        var name: String
        var type: String
        var help: String
        var body = ""
        init(_ name: String, _ type: String, _ help: String) { (self.name, self.type, self.help) = (name, type, help) }
        mutating func add(_ labels: [(String, String)], _ value: Double) {
            body += name
            if !labels.isEmpty {
                body += "{"
                for (i, (k, v)) in labels.enumerated() {
                    if i > 0 { body += "," }
                    body += k
                    body += "=\""
                    body += escape(v)
                    body += "\""
                }
                body += "}"
            }
            body += " "
            body += format(value)
            body += "\n"
        }
        var text: String { body.isEmpty ? "" : "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n" + body }
    }

    static func render(ping: PingReply, latency: Double, units: [UnitInfo], deps: [AnalyzeUnit], proc: ManagerProc?,
                       now: UInt64) -> String
    {
        var state = Family("tend_unit_state", "gauge", "1 for the unit's active state, 0 for the others (systemd_exporter's systemd_unit_state).")
        var restarts = Family("tend_service_restart_total", "counter", "Automatic restarts of the service (NRestarts), since it was loaded.")
        var causes = Family("tend_service_restarts_by_cause_total", "counter", "Automatic restarts by the result that caused them (exit-code, signal, core-dump, watchdog, timeout, success, ...), since the unit was loaded.")
        var start = Family("tend_unit_start_time_seconds", "gauge", "When the unit last became active, seconds since the epoch (0 if never).")
        var uptime = Family("tend_unit_uptime_seconds", "gauge", "How long the unit has been active, 0 when it is not.")
        var tasks = Family("tend_unit_tasks_current", "gauge", "Threads of the unit's live processes.")
        var memory = Family("tend_unit_memory_rss_bytes", "gauge", "Resident memory of the unit's live processes, summed.")
        var processes = Family("tend_unit_processes", "gauge", "The unit's live processes.")
        var mainPID = Family("tend_service_main_pid", "gauge", "The main process id, 0 when there is none.")
        var exit = Family("tend_service_last_exit_status", "gauge", "The last main process exit: the status (code=exited) or the signal number, labelled with code.")
        var notify = Family("tend_service_notify_messages_total", "counter", "sd_notify messages received from the service, by result (accepted, rejected, malformed).")
        var ready = Family("tend_unit_time_to_ready_seconds", "gauge", "From the start of the attempt that got the unit active to its readiness, in the last start-up.")
        for u in units {
            let n = u.unit
            let type = String(n[n.index(after: n.lastIndex(of: ".") ?? n.startIndex)...])
            for s in states { state.add([("name", n), ("state", s), ("type", type)], u.active == s ? 1 : 0) }
            if type == "service" {
                restarts.add([("name", n)], Double(u.nRestarts ?? 0))
                for (cause, count) in (u.restartCauses ?? [:]).sorted(by: { $0.key < $1.key }) {
                    causes.add([("name", n), ("cause", cause)], Double(count))
                }
                mainPID.add([("name", n)], Double(u.mainPID ?? 0))
                if let e = u.execMain, !e.code.isEmpty { exit.add([("name", n), ("code", e.code)], Double(e.status)) }
                if let c = u.notify {
                    notify.add([("name", n), ("result", "accepted")], Double(c.accepted))
                    notify.add([("name", n), ("result", "rejected")], Double(c.rejected))
                    notify.add([("name", n), ("result", "malformed")], Double(c.malformed))
                }
            }
            let since = u.activeEnterTimestamp ?? 0
            start.add([("name", n)], Double(since) / 1e6)
            let active = u.active == "active" || u.active == "reloading"
            uptime.add([("name", n)], active && since > 0 ? max(0, Double(Int64(clamping: now) - since) / 1e6) : 0)
            if let t = u.tasks { tasks.add([("name", n)], Double(t)) }
            if let m = u.memoryBytes { memory.add([("name", n)], Double(m)) }
            if let tree = u.processTree { processes.add([("name", n)], Double(tree.count)) }
        }
        for d in deps {
            if let t = d.startDuration { ready.add([("name", d.name)], t) }
        }
        var up = Family("tend_manager_up", "gauge", "1: the manager answered this scrape.")
        up.add([], 1)
        var info = Family("tend_manager_info", "gauge", "The manager's release and protocol version.")
        info.add([("version", ping.tend), ("protocol", String(ping.version))], 1)
        var lat = Family("tend_manager_control_latency_seconds", "gauge", "Round trip of a ping on the control socket in this scrape: how long the manager's loop took to answer.")
        lat.add([], latency)
        var subs = Family("tend_manager_subscribers", "gauge", "Live event subscriptions (tend watch, tend web streams).")
        subs.add([], Double(ping.subscribers))
        var rejected = Family("tend_manager_rejected_requests_total", "counter", "Control connections refused and requests rejected as malformed, unknown, invalid or too large.")
        rejected.add([], Double(ping.rejected))
        var units_ = Family("tend_units", "gauge", "Loaded units.")
        units_.add([], Double(units.count))
        var rss = Family("tend_manager_resident_memory_bytes", "gauge", "The manager's resident memory (VmRSS).")
        var fds = Family("tend_manager_open_fds", "gauge", "The manager's open file descriptors.")
        if let proc {
            rss.add([], Double(proc.rss))
            fds.add([], Double(proc.fds))
        }
        return [up, info, lat, subs, rejected, units_, rss, fds, state, restarts, causes, start, uptime, ready, mainPID, exit,
                notify, processes, tasks, memory].map(\.text).joined()
    }

    static func escape(_ s: String) -> String {
        if !s.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == 10 }) { return s }
        var o = ""
        for c in s {
            switch c {
            case "\\": o += "\\\\"
            case "\"": o += "\\\""
            case "\n": o += "\\n"
            default: o.append(c)
            }
        }
        return o
    }

    static func format(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }
}

/// The manager's resident memory and descriptor count, from /proc (readable by the manager's own user).
struct ManagerProc {
    var rss: Int64
    var fds: Int

    static func read(_ pid: Int32) -> ManagerProc? {
        guard let status = Posix.readFile("/proc/\(pid)/status", limit: 1 << 16) else { return nil }
        var rss: Int64 = 0
        for line in String(decoding: status, as: UTF8.self).split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let kb = line.dropFirst(6).split(separator: " ").first.flatMap { Int64($0) } ?? 0
            rss = kb.multipliedReportingOverflow(by: 1024).overflow ? Int64.max : kb * 1024
        }
        var fds = 0
        if let d = opendir("/proc/\(pid)/fd") {
            while let e = readdir(d) {
                if e.pointee.d_name.0 != UInt8(ascii: ".") { fds += 1 }
            }
            closedir(d)
        }
        return ManagerProc(rss: rss, fds: fds)
    }
}
