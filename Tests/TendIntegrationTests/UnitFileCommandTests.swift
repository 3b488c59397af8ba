import Glibc
import Testing
import TendControl

/// The unit-file commands systemctl users type (mask, unmask, list-unit-files, edit, cat of several units) and
/// the terminal habits (colour, pager, options before the command), against a running manager.
@Suite(.serialized)
struct UnitFileCommandTests {
    static let hasScript = access("/usr/bin/script", X_OK) == 0

    @Test func maskStopsEverythingFromStartingUnmaskUndoesIt() {
        let h = DaemonHarness()
        h.writeUnit("web.service", "[Unit]\nDescription=Web\n[Service]\nExecStart=/bin/sleep 1000\n[Install]\nWantedBy=multi-user.target\n")
        h.writeUnit("app.service", "[Unit]\nRequires=web.service\nAfter=web.service\n[Service]\nExecStart=/bin/sleep 1000\n")
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "web").status == 0)
        let mask = h.tend("mask", "web")
        #expect(mask.status == 0 && mask.stdout.contains("masked/web.service → /dev/null"), "\(mask.stdout)\(mask.stderr)")
        #expect(h.active("web") == "active", "masking doesn't stop a running unit")
        #expect(h.tend("is-enabled", "web").stdout == "masked\n")
        #expect(h.tend("status", "web").stdout.contains("Loaded: masked (Reason: Unit web.service is masked.)"))
        #expect(h.tend("stop", "web").status == 0, "a masked unit can be stopped")
        let start = h.tend("start", "web")
        #expect(start.status != 0 && start.stderr.contains("Unit web.service is masked."), "\(start.stderr)")
        #expect(h.tend("start", "app").status != 0, "not even as a dependency")
        #expect(h.active("web") == "inactive")
        let files = h.tend("list-unit-files")
        #expect(files.stdout.contains("web.service masked\n") && files.stdout.contains("app.service static\n"), "\(files.stdout)")
        #expect(h.tend("list-unit-files", "--state", "masked").stdout.contains("1 unit files listed."))
        #expect(h.tend("list-unit-files", "ap*").stdout.hasPrefix("UNIT FILE   STATE\napp.service static\n"))
        let unmask = h.tend("unmask", "web")
        #expect(unmask.status == 0 && unmask.stdout.contains("Removed"), "\(unmask.stdout)")
        #expect(h.tend("start", "app").status == 0)
        #expect(h.active("web") == "active")
        let rows = (try? JSON.parse(h.tend("list-unit-files", "web", "-o", "json").stdout))?.array ?? []
        #expect(rows.count == 1 && rows.first?["state"]?.string == "disabled" && rows.first?["unit"]?.string == "web.service")
    }

    @Test func editWritesADropInAndReloads() {
        let h = DaemonHarness()
        h.writeUnit("web.service", "[Service]\nExecStart=/bin/sh -c 'echo \"greeting=$GREETING\"; exec sleep 1000'\n")
        h.start()
        #expect(h.waitFor("web", sub: "running"))
        // An editor that keeps what it was given (the template) and puts one directive in the kept part.
        let editor = h.root + "/editor.sh"
        h.writeFile(editor, """
            #!/bin/sh
            cp "$1" \(h.root)/seen
            printf '[Service]\\nEnvironment=GREETING=hello\\n\\n### Edits below this comment will be discarded\\nExecStart=/bin/false\\n' > "$1"
            """, mode: 0o755)
        let r = runCommand([tendBinary, "edit", "web"], environment: ["TEND_STATE_DIR": h.state, "EDITOR": editor])
        #expect(r.status == 0, "\(r.stderr)")
        let dropIn = h.units + "/web.service.d/override.conf"
        #expect(h.readFile(dropIn) == "[Service]\nEnvironment=GREETING=hello\n")
        #expect(h.readFile(h.root + "/seen").contains("# ExecStart=/bin/sh -c"), "the unit file is shown as comments")
        #expect(h.tend("restart", "web").status == 0)
        #expect(waitUntil { h.tend("logs", "web", "-o", "cat").stdout.contains("greeting=hello\n") }, "reloaded")
        // An editor that leaves nothing cancels, and a failing one changes nothing.
        let empty = runCommand([tendBinary, "edit", "web", "--drop-in", "more"],
                               environment: ["TEND_STATE_DIR": h.state, "EDITOR": "truncate -s 0"])
        #expect(empty.status == 0 && empty.stderr.contains("canceled: temporary file is empty"), "\(empty.stderr)")
        #expect(access(h.units + "/web.service.d/more.conf", F_OK) != 0)
        let failing = runCommand([tendBinary, "edit", "web"], environment: ["TEND_STATE_DIR": h.state, "EDITOR": "false"])
        #expect(failing.status != 0 && h.readFile(dropIn) == "[Service]\nEnvironment=GREETING=hello\n")
        #expect(listing(h.units + "/web.service.d") == ["override.conf"], "no temporary file left")
        // --full edits a copy of the unit file itself.
        let full = runCommand([tendBinary, "edit", "--full", "web"],
                              environment: ["TEND_STATE_DIR": h.state, "EDITOR": "sed -i s/sleep/sleep/"])
        #expect(full.status == 0 && h.readFile(h.units + "/web.service").contains("exec sleep 1000"), "\(full.stderr)")
        #expect(runCommand([tendBinary, "edit", "nosuch"], environment: ["TEND_STATE_DIR": h.state, "EDITOR": "true"]).status != 0)
    }

    @Test func catOfSeveralUnitsAndOptionsBeforeTheCommand() throws {
        let h = DaemonHarness()
        h.writeUnit("a.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        h.writeUnit("b.service", "[Service]\nExecStart=/bin/sleep 999\n")
        h.start()
        let cat = h.tend("cat", "a", "b").stdout
        #expect(cat.contains("# \(h.units)/a.service\n[Service]\nExecStart=/bin/sleep 1000\n\n# \(h.units)/b.service\n"), "\(cat)")
        let json = h.tend("-o", "json", "status", "a", "-n", "0")
        #expect((try JSON.parse(json.stdout)).array?.first?["unit"]?.string == "a.service", "\(json.stderr)")
        #expect(h.tend("--output=json", "list").stdout.hasPrefix("["))
        #expect(h.tend("--no-pager", "-l", "status", "a").status == 0)
        #expect(h.tend("--no-pager", "list", "--no-color").status == 0)
    }

    /// On a terminal (a pty made by script(1)): systemctl's colours and a pager; never in a pipe.
    @Test(.enabled(if: hasScript, "script(1) from util-linux is not installed"))
    func colourAndPagerOnATerminalOnly() {
        let h = DaemonHarness()
        h.writeUnit("ok.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        h.writeUnit("bad.service", "[Service]\nExecStart=/bin/false\n")
        h.start()
        #expect(h.waitFor("ok", sub: "running"))
        #expect(waitUntil { h.active("bad") == "failed" })
        func onTTY(_ command: String, _ env: [String: String] = [:]) -> String {
            var e = ["TEND_STATE_DIR": h.state, "PAGER": "sed s/^/PAGED:/", "TERM": "xterm"]
            e.removeValue(forKey: "NO_COLOR")
            for (k, v) in env { e[k] = v }
            return runCommand(["/usr/bin/script", "-qec", "\(tendBinary) \(command)", "/dev/null"], environment: e).stdout
        }
        let ok = onTTY("status ok -n 0", ["NO_COLOR": ""])
        #expect(ok.contains("PAGED:\u{1B}[0;1;32m●\u{1B}[0m ok.service"), "\(ok)")
        #expect(ok.contains("Active: \u{1B}[0;1;32mactive (running)\u{1B}[0m"))
        let bad = onTTY("status bad -n 0", ["NO_COLOR": ""])
        #expect(bad.contains("\u{1B}[0;1;31m×\u{1B}[0m bad.service") && bad.contains("Active: \u{1B}[0;1;31mfailed\u{1B}[0m (Result: exit-code)"), "\(bad)")
        #expect(!onTTY("status ok -n 0", ["NO_COLOR": "1"]).contains("\u{1B}["), "NO_COLOR")
        #expect(!onTTY("--no-color status ok -n 0", ["NO_COLOR": ""]).contains("\u{1B}["))
        #expect(!onTTY("status ok -n 0 --no-pager", ["NO_COLOR": ""]).contains("PAGED:"))
        #expect(onTTY("list --no-color").contains("PAGED:● bad.service"))
        #expect(onTTY("logs bad --log-dir \(h.logs)").contains("PAGED:"), "journalctl pages too")
        #expect(!onTTY("logs bad --no-pager --log-dir \(h.logs)").contains("PAGED:"))
        // In a pipe: neither.
        let piped = h.tend("status", "ok", "-n", "0").stdout
        #expect(!piped.contains("\u{1B}[") && piped.hasPrefix("● ok.service"))
    }

    func listing(_ dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}
