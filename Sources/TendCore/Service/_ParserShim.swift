// TEMPORARY until the parser branch lands (it provides Signals); removed at merge.
public enum Signals {
    static let table: [(String, Int32)] = [("HUP",1),("INT",2),("QUIT",3),("ILL",4),("TRAP",5),("ABRT",6),("BUS",7),("FPE",8),("KILL",9),("USR1",10),("SEGV",11),("USR2",12),("PIPE",13),("ALRM",14),("TERM",15),("STKFLT",16),("CHLD",17),("CONT",18),("STOP",19),("TSTP",20),("TTIN",21),("TTOU",22),("URG",23),("XCPU",24),("XFSZ",25),("VTALRM",26),("PROF",27),("WINCH",28),("IO",29),("PWR",30),("SYS",31)]
    public static func number(named s: String) -> Int32? {
        if let n = Int32(s) { return n }
        let n = s.uppercased().hasPrefix("SIG") ? String(s.uppercased().dropFirst(3)) : s.uppercased()
        return table.first { $0.0 == n }?.1
    }
    public static func name(_ n: Int32) -> String? { table.first { $0.1 == n }?.0 }
}
public func parseEnvironmentFile(_ text: String) -> [(key: String, value: String)] { [] }
extension ExecCommand { public func expandedWords(environment: [String: String]) -> [String] { words } }
public struct SpecifierContext: Sendable { public static func current(environment: [String: String]) -> SpecifierContext { .init() } }
public struct UnitLoadResult: Sendable { public var config: ServiceConfig?; public var diagnostics: [Diagnostic]; public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } } }
public struct UnitLoader: Sendable {
    public var searchPaths: [String]; public var context: SpecifierContext
    public init(searchPaths: [String], context: SpecifierContext) { self.searchPaths = searchPaths; self.context = context }
    public func load(_ name: UnitName) -> UnitLoadResult { UnitLoadResult(config: nil, diagnostics: []) }
    public func loadFile(path: String) -> UnitLoadResult { UnitLoadResult(config: nil, diagnostics: []) }
    public func listUnitNames() -> [UnitName] { [] }
    public func catText(_ name: UnitName) -> String? { nil }
}
public func parseTimeSpan(_ s: String) -> TimeSpan? { nil }
