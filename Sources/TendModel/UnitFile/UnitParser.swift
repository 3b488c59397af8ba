/// Parsing one unit file's text into a `ServiceConfig`, and the checks made once all files are applied.

/// Files larger than this are refused (systemd's own fuzzers cap unit files far lower; real units are a few KiB).
package let maximumUnitFileSize = 8 << 20

/// After this many diagnostics in one file the parser stops reporting (binary junk would give one per line).
let maximumDiagnosticsPerFile = 200

/// Parses one file's text into `config`: called for the fragment and then for each drop-in in turn, so later
/// files override or extend what earlier ones set. Every problem is appended to `diagnostics` with `file:line`;
/// parsing continues after each one.
public func parseUnitText(
    _ text: String, file: String, into config: inout ServiceConfig, context: SpecifierContext,
    diagnostics: inout [Diagnostic]
) {
    var found: [Diagnostic] = []
    func add(_ severity: Diagnostic.Severity, _ line: Int, _ directive: String?, _ message: String) {
        found.append(
            Diagnostic(
                severity: severity, location: SourceLocation(file: file, line: line), directive: directive,
                message: message))
    }
    defer { diagnostics += capped(found) }
    if text.utf8.count > maximumUnitFileSize {
        add(.error, 1, nil, "file is larger than \(maximumUnitFileSize >> 20) MiB, refusing to parse it")
        return
    }
    let resolver = SpecifierResolver(name: config.name, context: context, fragmentPath: config.fragmentPath)
    let allowedSections = DirectiveTable.sections(forSuffix: config.name.suffix)
    var section: String?
    var sectionKnown = false

    for entry in logicalLines(text) {
        switch entry {
        case .problem(let message, let line):
            add(.error, line, nil, message)
        case .invalidSection(let message, let line):
            add(.error, line, nil, message)
            section = ""
            sectionKnown = false
        case .section(let name, let line):
            section = name
            sectionKnown = allowedSections.contains(name)
            if !sectionKnown && !name.hasPrefix("X-") {
                add(.warning, line, nil, "unknown section [\(shortened(name))], ignoring it")
            }
        case .assignment(let key, let value, let line):
            guard let section else {
                add(.error, line, nil, "assignment \"\(shortened(key))=\" outside of any section")
                continue
            }
            if !sectionKnown || key.hasPrefix("X-") { continue }
            if let directive = DirectiveTable.lookup(section: section, name: key) {
                var ctx = DirectiveContext(
                    resolver: resolver, location: SourceLocation(file: file, line: line), directive: key)
                directive.parse(value, &config, &ctx)
                found += ctx.diagnostics
            } else if DirectiveTable.isIgnored(section: section, name: key) {
                add(.warning, line, key, "not supported by tend, ignored")
            } else {
                let elsewhere = DirectiveTable.sections(containing: key).filter { allowedSections.contains($0) }
                if let other = elsewhere.first {
                    add(.warning, line, key, "unknown directive in [\(section)] (it belongs in [\(other)]), ignoring")
                } else {
                    add(.warning, line, key, "unknown directive, ignoring")
                }
            }
        }
    }
}

/// At most `maximumDiagnosticsPerFile` diagnostics, then one that counts the rest (an error if any of them is).
/// Parsing itself never stops early, so the configuration is the same whether problems are shown or not.
private func capped(_ found: [Diagnostic]) -> [Diagnostic] {
    guard found.count > maximumDiagnosticsPerFile else { return found }
    let rest = found[maximumDiagnosticsPerFile...]
    let severity: Diagnostic.Severity = rest.contains { $0.severity == .error } ? .error : .warning
    return Array(found[..<maximumDiagnosticsPerFile]) + [
        Diagnostic(
            severity: severity, location: rest.first!.location, directive: nil,
            message: "\(rest.count) more problems in this file not shown")
    ]
}

/// Defaults that depend on more than one directive, applied once all files are read (systemd's
/// `service_add_extras()`): without `Type=` and `ExecStart=` a service is `Type=oneshot`, and a `Type=oneshot`
/// service without `TimeoutStartSec=` has no start timeout.
package func finalizeServiceConfig(_ config: inout ServiceConfig) {
    guard config.name.suffix == "service" else { return }
    if !config.typeDefined && config.execStart.isEmpty { config.type = .oneshot }
    if config.type == .oneshot && !config.timeoutStartDefined { config.timeoutStart = .infinity }
}

/// The checks systemd makes once all files are loaded (`service_verify()`), reported at `file`'s line 1.
package func validateServiceConfig(_ config: ServiceConfig, file: String) -> [Diagnostic] {
    guard config.name.suffix == "service" else { return [] }
    var out: [Diagnostic] = []
    func error(_ location: SourceLocation?, _ message: String) {
        out.append(
            Diagnostic(
                severity: .error, location: location ?? SourceLocation(file: file, line: 1), directive: nil,
                message: message))
    }
    if config.type != .oneshot {
        if config.execStart.isEmpty {
            error(nil, "Service has no ExecStart= setting, which is only allowed for Type=oneshot services")
        } else if config.execStart.count > 1 {
            error(
                config.execStart[1].location,
                "Service has more than one ExecStart= command, which is only allowed for Type=oneshot services")
        }
    } else {
        if config.execStart.isEmpty && config.execStop.isEmpty && config.successAction == .none {
            error(nil, "Service has no ExecStart= and no ExecStop= setting")
        }
        if config.restart == .always || config.restart == .onSuccess {
            error(nil, "Restart=\(config.restart.rawValue) is not allowed for Type=oneshot services")
        }
    }
    return out
}
