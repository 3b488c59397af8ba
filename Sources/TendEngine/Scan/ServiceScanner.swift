import CTend
import Glibc
import TendModel
import TendSystem

/// The scanned directories (`tend scan DIR`, `[Scan] Directory=`): which service directories are supervised,
/// and the inotify watches that tell when that changes. No polling: svscan and runsvdir look every 5 seconds,
/// tend when the kernel says an entry was created, removed, renamed or made executable.
final class ServiceScanner {
    let directories: [String]
    /// One inotify instance for the scanned directories and for the entries not yet services (a directory
    /// created before its `run`, a `run` not yet executable).
    var inotifyFD: Int32 = -1
    var inotifyToken: UInt64?
    /// Watch descriptor → the directory it watches.
    var watches: [Int32: String] = [:]
    var watched: Set<String> = []
    /// The services of the last scan, by name, and the scanned directory each came from.
    var current: [String: (scanned: ScannedService, root: String)] = [:]
    /// Names whose service exited on `x`: passed over until they leave the scanned directory.
    var exited: Set<String> = []
    /// Directories whose `supervise/lock` another supervisor holds: tried again at the next scan.
    var refused: Set<String> = []
    /// Messages already given, so a rescan does not repeat them.
    var told: Set<String> = []
    var rescanQueued = false

    init(directories: [String]) { self.directories = directories }
}

extension Manager {
    // MARK: - Scanning

    /// Starts watching the scanned directories and supervises what they hold. Called at boot, before the
    /// manager adopts what its holder kept, so services a previous manager ran are found under their names.
    func setUpScanning() {
        guard !options.scanDirectories.isEmpty else { return }
        let scanner = ServiceScanner(directories: options.scanDirectories)
        self.scanner = scanner
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        if fd < 0 {
            report(.error, "Cannot watch the scanned directories (inotify: \(Posix.errorText(errno))); they are read once.")
        } else {
            scanner.inotifyFD = fd
            do {
                scanner.inotifyToken = try loop.watch(fd) { [unowned self] _ in self.inotifyReadable() }
            } catch {
                report(.error, "Cannot watch the scanned directories: \(error)")
            }
        }
        for dir in scanner.directories {
            if !Posix.isDirectory(dir) {
                report(.warning, "The scanned directory \(dir) does not exist (or is not a directory): watching for it is not possible; nothing is supervised from it.")
                continue
            }
            addWatch(dir, mask: UInt32(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_ONLYDIR))
        }
        rescan(starting: false)
    }

    /// After adoption: starts every supervised service that is not running and not `down`, loggers first.
    func startScannedServices() {
        guard let scanner else { return }
        for name in scanner.current.keys.sorted() { startPair(name) }
    }

    private func addWatch(_ dir: String, mask: UInt32) {
        guard let scanner, scanner.inotifyFD >= 0, !scanner.watched.contains(dir) else { return }
        let wd = inotify_add_watch(scanner.inotifyFD, dir, mask)
        if wd >= 0 {
            scanner.watches[wd] = dir
            scanner.watched.insert(dir)
        }
    }

    private func inotifyReadable() {
        guard let scanner else { return }
        var buffer = [UInt8](repeating: 0, count: 8192)
        var gone: [Int32] = []
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(scanner.inotifyFD, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            var offset = 0
            while offset + 16 <= n {
                let (wd, mask, len) = buffer.withUnsafeBytes { raw -> (Int32, UInt32, Int) in
                    (raw.loadUnaligned(fromByteOffset: offset, as: Int32.self),
                     raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self),
                     Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self)))
                }
                if mask & UInt32(IN_IGNORED) != 0 { gone.append(wd) }
                offset += 16 + len
            }
        }
        for wd in gone {
            if let dir = scanner.watches.removeValue(forKey: wd) { scanner.watched.remove(dir) }
        }
        guard !scanner.rescanQueued else { return }
        scanner.rescanQueued = true
        // Coalesced: a `cp -r` or an untar is one rescan once the loop has read everything.
        loop.afterEvents { [unowned self] in
            self.scanner?.rescanQueued = false
            self.rescan(starting: true)
        }
    }

    /// Reads the scanned directories and brings the supervised set in line: new services are taken and
    /// started (unless `down`), vanished ones are stopped and forgotten.
    func rescan(starting: Bool) {
        guard let scanner else { return }
        let fileUnits = Set(units.values.filter { $0.directory == nil }.map { $0.name.description })
        var found: [String: (ScannedService, String)] = [:]
        for root in scanner.directories {
            var entries: [ServiceDirectoryEntry] = []
            for name in listDirectory(root) where !name.hasPrefix(".") {
                let path = root + "/" + name
                guard Posix.isDirectory(path) else { continue }
                let run = path + "/run"
                let hasRun = Glibc.access(run, F_OK) == 0
                let executable = hasRun && Posix.isExecutable(run)
                entries.append(ServiceDirectoryEntry(
                    name: name, isDirectory: true, hasRun: hasRun, runExecutable: executable,
                    hasDown: Glibc.access(path + "/down", F_OK) == 0,
                    hasLog: Posix.isDirectory(path + "/log") && Posix.isExecutable(path + "/log/run")))
                // Not a service yet: watch it, so its `run` appearing (or becoming executable) is seen.
                if !executable {
                    addWatch(path, mask: UInt32(IN_CREATE | IN_MOVED_TO | IN_ATTRIB | IN_CLOSE_WRITE | IN_ONLYDIR))
                }
            }
            let decision = ServiceDirectoryScan.decide(entries, existingUnits: fileUnits)
            for problem in decision.problems where !scanner.told.contains(problem) {
                scanner.told.insert(problem)
                report(.warning, problem)
            }
            for service in decision.services {
                if let (_, other) = found[service.name] {
                    let text = "\(root)/\(service.name): a service of that name is supervised from \(other) already; not supervised"
                    if scanner.told.insert(text).inserted { report(.warning, text) }
                    continue
                }
                found[service.name] = (service, root)
            }
        }
        // `x`-exited services stay out until their directory leaves the scanned directory.
        scanner.exited = scanner.exited.filter { found[$0] != nil }
        for name in scanner.current.keys.sorted() where found[name] == nil {
            scanner.current[name] = nil
            removePair(name)
        }
        for (name, (service, root)) in found.sorted(by: { $0.key < $1.key })
        where scanner.current[name] == nil && !scanner.exited.contains(name) {
            if takePair(service, root: root) {
                scanner.current[name] = (service, root)
                if starting { startPair(name) }
            }
        }
    }

    // MARK: - Taking and releasing a pair

    /// Takes `supervise/` of the service (and of its `log/`), and registers their units. False when the
    /// directory can't be supervised (another supervisor holds it; said once).
    private func takePair(_ service: ScannedService, root: String) -> Bool {
        guard let scanner else { return false }
        let path = root + "/" + service.name
        let supervise: SuperviseDirectory
        do {
            supervise = try SuperviseDirectory(serviceDirectory: path)
        } catch {
            if scanner.refused.insert(path).inserted { report(.error, error.description) }
            return false
        }
        scanner.refused.remove(path)
        var logSupervise: SuperviseDirectory?
        if service.hasLog {
            do {
                logSupervise = try SuperviseDirectory(serviceDirectory: path + "/log")
            } catch {
                supervise.close()
                if scanner.refused.insert(path).inserted { report(.error, error.description) }
                return false
            }
        }
        let main = registerDirectoryUnit(service.name, path: path, role: .service, supervise: supervise,
                                         normallyDown: !service.startsAutomatically)
        if let logSupervise {
            let logger = registerDirectoryUnit(service.name, path: path + "/log", role: .log, supervise: logSupervise,
                                               normallyDown: Glibc.access(path + "/log/down", F_OK) == 0)
            var fds: [Int32] = [-1, -1]
            var e: Int32 = 0
            // A previous manager's pipe, kept by the holder with what is still in it, before a new one.
            if let r = holder?.take("pipe \(main.name) 0"), let w = holder?.take("pipe \(main.name) 1") {
                fds = [r, w]
            } else {
                e = ctend_pipe(&fds, 0)
                if e == 0 {
                    _ = ctend_set_pipe_size(fds[1], 1 << 20)
                    holder?.hold("pipe \(main.name)", [fds[0], fds[1]])
                }
            }
            if e == 0 {
                let pipe = LogPipe(read: fds[0], write: fds[1])
                main.directory?.pipe = pipe
                logger.directory?.pipe = pipe
            } else {
                report(.error, "\(path): cannot create the pipe to log/run (\(Posix.errorText(e))); its output goes to tend's log instead.")
            }
            main.directory?.partner = logger.name.description
            logger.directory?.partner = main.name.description
        }
        report(.info, "Supervising \(path)\(service.hasLog ? " and its log/" : "")\(service.startsAutomatically ? "" : " (down: not started)").")
        return true
    }

    private func registerDirectoryUnit(
        _ name: String, path: String, role: ServiceDirectoryRole, supervise: SuperviseDirectory, normallyDown: Bool
    ) -> Unit {
        let unitName = ServiceDirectoryConfig.unitName(name, role: role)
        var files = ServiceDirectoryFiles()
        files.hasFinish = Posix.isExecutable(path + "/finish")
        func firstLine(_ file: String) -> String? {
            guard let bytes = Posix.readFile(path + "/" + file, limit: 4096) else { return nil }
            return String(decoding: bytes.prefix { $0 != 10 }, as: UTF8.self)
        }
        files.timeoutKill = firstLine("timeout-kill")
        files.notificationFD = firstLine("notification-fd")
        files.maxDeathTally = firstLine("max-death-tally")
        files.downSignal = firstLine("down-signal")
        var (config, problems) = role == .service
            ? ServiceDirectoryConfig.make(name: unitName, directory: path, files: files)
            : ServiceDirectoryConfig.makeLogger(name: unitName, directory: path, files: files)
        // `run` gets the manager's environment, as under supervise and runsv.
        config.passEnvironment = Array(system.environment.keys)
        for p in problems { report(.warning, p) }
        problems.removeAll()
        let unit = Unit(name: unitName, result: UnitLoadResult(config: config, diagnostics: []), now: system.monotonicNow)
        guard let service = unit.service else { return unit }
        let d = DirectoryUnit(service: service, path: path, serviceName: name, role: role, normallyDown: normallyDown)
        d.supervise = supervise
        // A previous manager's record: if the process it names is adopted as the main one, its time stands.
        if let old = Posix.readFile(supervise.path + "/status", limit: 64).flatMap(SuperviseStatus.parse), old.pid != 0 {
            (d.since, d.sincePID) = (old.since, old.pid)
        }
        unit.kind = .directory(d)
        registry.insert(unit)
        do {
            d.controlToken = try loop.watch(supervise.controlFD) { [unowned self, unowned unit] _ in self.controlReadable(unit) }
        } catch {
            report(.error, "\(path): cannot watch supervise/control: \(error)")
        }
        writeStatus(unit)
        jobs.invalidate()
        return unit
    }

    /// Starts the logger (first, as runsv) and the service of a pair, each unless `down`.
    private func startPair(_ name: String) {
        for role in [ServiceDirectoryRole.log, .service] {
            let unitName = ServiceDirectoryConfig.unitName(name, role: role).description
            guard let unit = units[unitName], let d = unit.directory, !d.normallyDown,
                unit.activeState == .inactive || unit.activeState == .failed
            else { continue }
            submit(.start, unit: unitName, wait: false) { _ in }
        }
    }

    /// The directory left the scanned directory: stop the service, then its logger (which reads what the
    /// service wrote last), then forget both.
    private func removePair(_ name: String) {
        let main = units[ServiceDirectoryConfig.unitName(name, role: .service).description]
        let logger = units[ServiceDirectoryConfig.unitName(name, role: .log).description]
        main?.directory?.removed = true
        logger?.directory?.removed = true
        if let main { report(.info, "\(main.directory?.path ?? name) is gone: stopping \(main.name).") }
        if let main, main.activeState != .inactive && main.activeState != .failed {
            submit(.stop, unit: main.name.description, wait: false) { _ in }
        } else if let main {
            forgetIfDone(main)
        }
    }

    /// A removed (or `x`-exited) unit that is down is released: its `supervise/` closed (clients see
    /// "supervise not running"), its unit forgotten; the logger follows its service.
    func forgetIfDone(_ unit: Unit) {
        guard let d = unit.directory, d.removed || d.exitWhenDown,
            unit.activeState == .inactive || unit.activeState == .failed
        else { return }
        if d.role == .service, let partnerName = d.partner, let partner = units[partnerName], let pd = partner.directory {
            pd.removed = pd.removed || d.removed
            pd.exitWhenDown = pd.exitWhenDown || d.exitWhenDown
            if partner.activeState != .inactive && partner.activeState != .failed {
                submit(.stop, unit: partnerName, wait: false) { _ in }
                release(unit)
                return
            }
            release(partner)
        }
        release(unit)
    }

    private func release(_ unit: Unit) {
        guard let d = unit.directory else { return }
        if let token = d.controlToken { loop.unwatch(token) }
        d.controlToken = nil
        if d.exitWhenDown && !d.removed { _ = writeStatus(unit) }
        d.supervise?.close()
        d.supervise = nil
        if let r = d.readiness {
            loop.unwatch(r.token)
            system.close(r.fd)
            d.readiness = nil
        }
        // The pipe goes with the second unit of the pair.
        if let pipe = d.pipe, d.partner.flatMap({ units[$0] }) == nil {
            system.close(pipe.read)
            system.close(pipe.write)
            holder?.release("pipe \(d.role == .service ? unit.name.description : d.partner ?? "")")
        }
        d.pipe = nil
        unit.log?.drainAll()
        registry.remove(unit.name.description)
        jobs.invalidate()
        if d.exitWhenDown && !d.removed, d.role == .service { scanner?.exited.insert(d.serviceName) }
        if d.role == .service { scanner?.current[d.serviceName] = nil }
        report(.info, "\(d.path): no longer supervised.")
    }

    // MARK: - State

    /// A directory unit changed state: its `supervise/` records follow, and a removed one is let go.
    func directoryStateChanged(_ unit: Unit, to: ServiceState) {
        guard let d = unit.directory else { return }
        if to == .start || to == .startPre { d.started = true }
        if unit.service?.machine.mainPID == nil {
            d.gotTerm = false
            d.paused = false
        }
        if to != .start && to != .running, let r = d.readiness {
            loop.unwatch(r.token)
            system.close(r.fd)
            d.readiness = nil
        }
        writeStatus(unit)
        if to == .dead || to == .failed { forgetIfDone(unit) }
    }

    /// Writes `supervise/status`, `stat` and `pid` if what they say changed.
    @discardableResult
    func writeStatus(_ unit: Unit) -> Bool {
        // A directory moved out of the scanned one: its files are no longer where they were.
        guard let d = unit.directory, let supervise = d.supervise, !d.removed else { return false }
        let status = d.status(realtimeMicroseconds: system.realtimeMicroseconds)
        guard status != d.lastStatus else { return true }
        d.lastStatus = status
        if let problem = supervise.write(status) {
            if scanner?.told.insert(problem).inserted ?? true { report(.warning, problem) }
            return false
        }
        return true
    }

    // MARK: - Control letters

    private func controlReadable(_ unit: Unit) {
        guard let d = unit.directory, let supervise = d.supervise else { return }
        let (commands, garbage) = supervise.readCommands()
        for g in garbage { report(.warning, g) }
        d.pendingLetters += commands
        runPendingLetters(unit)
    }

    /// Carries out the letters in order; one with an executable `control/LETTER` (runit) waits for the script,
    /// whose exit 0 replaces the default action.
    private func runPendingLetters(_ unit: Unit) {
        guard let d = unit.directory else { return }
        while !d.overrideRunning, !d.pendingLetters.isEmpty {
            let (letter, command) = d.pendingLetters.removeFirst()
            let scripts = SuperviseCommand.overrideScripts(for: letter).map { d.path + "/" + $0 }
                .filter { Posix.isExecutable($0) }
            if scripts.isEmpty {
                apply(command, to: unit)
            } else {
                d.overrideRunning = true
                runOverride(unit, scripts[...], command: command)
            }
        }
    }

    private func runOverride(_ unit: Unit, _ scripts: ArraySlice<String>, command: SuperviseCommand) {
        guard let d = unit.directory, let script = scripts.first, let config = unit.config else { return }
        let done: (Bool) -> Void = { [unowned self, unowned unit] replaced in
            if scripts.count > 1 {
                self.runOverride(unit, scripts.dropFirst(), command: command)
                return
            }
            d.overrideRunning = false
            if !replaced { self.apply(command, to: unit) }
            self.runPendingLetters(unit)
        }
        var words = ExecCommand(words: [script])
        words.noExpansion = true
        let out = d.role == .service ? d.pipe?.write ?? -1 : -1
        let request = SpawnRequest(config: config, command: words, kind: .execStart, stdio: [-1, out, -1],
                                   extraEnvironment: [], managerEnvironment: system.environment,
                                   defaultWorkingDirectory: d.path)
        do {
            let (p, _) = try system.spawn(request)
            tracker.trackHelper(p.pid) { cause in
                if case .exited(0) = cause { done(true) } else { done(false) }
            }
        } catch {
            report(.warning, "\(script): \(error); the default action is taken")
            done(false)
        }
    }

    /// The default action of a control letter, as runsv's `ctrl()` (and supervise's `doit()`).
    private func apply(_ command: SuperviseCommand, to unit: Unit) {
        guard let d = unit.directory, var config = unit.config, let m = unit.machine else { return }
        let name = unit.name.description
        let running = m.mainPID != nil
        switch command {
        case .up:
            d.exitWhenDown = false
            if config.restart != .always {
                config.restart = .always
                unit.service?.machine.updateConfig(config)
            }
            submit(.start, unit: name, wait: false) { _ in }
        case .once:
            if config.restart != .no {
                config.restart = .no
                unit.service?.machine.updateConfig(config)
            }
            if !running && m.activeState != .activating { submit(.start, unit: name, wait: false) { _ in } }
        case .down:
            if running { d.gotTerm = true }
            submit(.stop, unit: name, wait: false) { _ in }
        case .exit:
            // runsv ignores `x` for the logger: it exits with its service.
            guard d.role == .service else { break }
            d.exitWhenDown = true
            if !running && m.activeState != .activating && m.activeState != .deactivating { forgetIfDone(unit) }
        case .signal(let sig):
            guard running else { break }
            if sig == SIGSTOP { d.paused = true }
            if sig == SIGCONT { d.paused = false }
            if sig == SIGTERM { d.gotTerm = true }
            tracker.signal(unit, .main, sig)
        }
        writeStatus(unit)
    }

    // MARK: - Spawning

    /// What a directory unit's command gets beyond a unit's: the pipe to its logger (or from its service) and
    /// `finish`'s two arguments. Called by the exec context for directory units only.
    static func directoryStdio(_ d: DirectoryUnit, kind: CommandKind, stdio: inout [Int32]) {
        guard let pipe = d.pipe else { return }
        switch d.role {
        case .service: stdio[1] = pipe.write
        case .log: if kind == .execStart { stdio[0] = pipe.read }
        }
    }

    /// s6's `notification-fd`: a pipe whose write end is descriptor N in `run`; a line on it means ready.
    func readinessPipe(_ unit: Unit, fd number: Int32) -> Int32? {
        guard let d = unit.directory else { return nil }
        var fds: [Int32] = [-1, -1]
        guard ctend_pipe(&fds, 1) == 0 else { return nil }
        if let old = d.readiness {
            loop.unwatch(old.token)
            system.close(old.fd)
        }
        let readEnd = fds[0]
        do {
            let token = try loop.watch(readEnd) { [unowned self, unowned unit] _ in self.readinessReadable(unit) }
            d.readiness = (readEnd, token)
        } catch {
            system.close(readEnd)
            system.close(fds[1])
            return nil
        }
        return fds[1]
    }

    private func readinessReadable(_ unit: Unit) {
        guard let d = unit.directory, let r = d.readiness else { return }
        var buffer = [UInt8](repeating: 0, count: 512)
        var ready = false
        var closed = false
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(r.fd, $0.baseAddress, $0.count) }
            if n > 0 {
                if buffer[0..<n].contains(10) { ready = true }
                continue
            }
            closed = n == 0 || errno != EAGAIN && errno != EINTR
            break
        }
        if ready || closed {
            loop.unwatch(r.token)
            system.close(r.fd)
            d.readiness = nil
        }
        if ready { dispatch(unit, .notify(.ready)) }
    }
}
