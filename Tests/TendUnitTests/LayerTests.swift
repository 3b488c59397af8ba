import Glibc
import Testing
@testable import TendModel
import TendSystem

/// The layers of docs/architecture.md. SwiftPM turns most wrong arrows into compile errors (TendModel depends on
/// no other module of ours); what it can't forbid, an import of the C library or Foundation, is checked here.
@Suite struct LayerTests {
    static let root: String = {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }
        return path
    }()

    static func swiftFiles(_ dir: String) -> [String] {
        var out: [String] = []
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasPrefix(".") { continue }
            let path = dir + "/" + name
            if name.hasSuffix(".swift") { out.append(path) } else if e.pointee.d_type == UInt8(DT_DIR) { out += swiftFiles(path) }
        }
        return out
    }

    static func imports(_ path: String) -> [String] {
        guard let f = fopen(path, "r") else { return [] }
        defer { fclose(f) }
        var lines: [String] = []
        var buf = [CChar](repeating: 0, count: 4096)
        while fgets(&buf, 4096, f) != nil {
            let line = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if line.hasPrefix("import ") || line.hasPrefix("@testable import ") {
                lines.append(String(line.split(separator: " ").last ?? "").trimmingCharacters(in: " \n"))
            }
        }
        return lines
    }

    @Test func theModelImportsNoOperatingSystem() {
        let files = Self.swiftFiles(Self.root + "/Sources/TendModel")
        #expect(files.count > 10)
        for file in files {
            for module in Self.imports(file) {
                #expect(module == "RealModule", "\(file) imports \(module): TendModel is pure")
            }
        }
    }

    @Test func theManagerLinksNeitherFoundationNorArgumentParser() {
        for dir in ["TendModel", "TendSystem", "TendEngine", "TendServer", "TendControl", "tendd"] {
            for file in Self.swiftFiles(Self.root + "/Sources/" + dir) {
                for module in Self.imports(file) {
                    #expect(!["Foundation", "FoundationEssentials", "ArgumentParser", "NIO", "NIOCore"].contains(module),
                            "\(file) imports \(module)")
                }
            }
        }
    }

    @Test func theModelsSignalNumbersAreLinuxs() {
        let pairs: [(Int32, Int32)] = [
            (TendModel.SIGHUP, Glibc.SIGHUP), (TendModel.SIGINT, Glibc.SIGINT), (TendModel.SIGQUIT, Glibc.SIGQUIT),
            (TendModel.SIGILL, Glibc.SIGILL), (TendModel.SIGTRAP, Glibc.SIGTRAP), (TendModel.SIGABRT, Glibc.SIGABRT),
            (TendModel.SIGBUS, Glibc.SIGBUS), (TendModel.SIGFPE, Glibc.SIGFPE), (TendModel.SIGKILL, Glibc.SIGKILL),
            (TendModel.SIGUSR1, Glibc.SIGUSR1), (TendModel.SIGSEGV, Glibc.SIGSEGV), (TendModel.SIGUSR2, Glibc.SIGUSR2),
            (TendModel.SIGPIPE, Glibc.SIGPIPE), (TendModel.SIGALRM, Glibc.SIGALRM), (TendModel.SIGTERM, Glibc.SIGTERM),
            (TendModel.SIGSTKFLT, Glibc.SIGSTKFLT), (TendModel.SIGCHLD, Glibc.SIGCHLD), (TendModel.SIGCONT, Glibc.SIGCONT),
            (TendModel.SIGSTOP, Glibc.SIGSTOP), (TendModel.SIGTSTP, Glibc.SIGTSTP), (TendModel.SIGTTIN, Glibc.SIGTTIN),
            (TendModel.SIGTTOU, Glibc.SIGTTOU), (TendModel.SIGURG, Glibc.SIGURG), (TendModel.SIGXCPU, Glibc.SIGXCPU),
            (TendModel.SIGXFSZ, Glibc.SIGXFSZ), (TendModel.SIGVTALRM, Glibc.SIGVTALRM), (TendModel.SIGPROF, Glibc.SIGPROF),
            (TendModel.SIGWINCH, Glibc.SIGWINCH), (TendModel.SIGIO, Glibc.SIGIO), (TendModel.SIGPWR, Glibc.SIGPWR),
            (TendModel.SIGSYS, Glibc.SIGSYS),
        ]
        for (model, glibc) in pairs { #expect(model == glibc) }
    }

    @Test func isoTimestampsMatchGmtime() {
        // The model's own calendar arithmetic against the C library's, across leap years and centuries.
        var seconds: Int64 = 0
        while seconds < 8_000_000_000 {
            var t = time_t(seconds)
            var tm = tm()
            gmtime_r(&t, &tm)
            let days = seconds / 86_400
            let (y, m, d) = LogFormat.civilDate(daysSinceEpoch: days)
            #expect(y == Int64(tm.tm_year) + 1900 && m == Int(tm.tm_mon) + 1 && d == Int(tm.tm_mday), "at \(seconds)")
            #expect(LogFormat.daysSinceEpoch(year: y, month: m, day: Int64(d)) == days)
            seconds += 86_400 * 37 + 3_601
        }
    }
}
