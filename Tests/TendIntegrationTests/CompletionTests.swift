import CTend
import Glibc
import Testing
import TendControl
import TendModel
import TendSystem

/// Shell completion as a shell runs it: the script `tend --generate-completion-script` writes is sourced in a
/// real bash, COMP_WORDS/COMP_CWORD are set as bash sets them when TAB is pressed, and the completion function
/// registered for `tend` is called; what it leaves in COMPREPLY is what the user would be offered.
@Suite(.serialized)
struct CompletionTests {
    static let bash = ["/bin/bash", "/usr/bin/bash"].first(where: Posix.isExecutable)
    static let zsh = ["/bin/zsh", "/usr/bin/zsh"].first(where: Posix.isExecutable)
    static let fish = ["/usr/bin/fish", "/bin/fish"].first(where: Posix.isExecutable)
    static let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].first(where: Posix.isExecutable)

    /// The directory of the tend binary under test, put first on PATH: the script runs `tend ---completion ...`.
    static var binDir: String { String(tendBinary[..<(tendBinary.lastIndex(of: "/") ?? tendBinary.startIndex)]) }

    /// Writes the completion script for `shell` into `dir` and returns its path.
    static func script(_ shell: String, in dir: String) -> String {
        let r = runCommand([tendBinary, "--generate-completion-script", shell])
        #expect(r.status == 0, "generating the \(shell) script: \(r.stderr)")
        let path = dir + "/tend.\(shell)"
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        _ = try? Posix.write(fd, Array(r.stdout.utf8))
        Posix.close(fd)
        return path
    }

    /// What bash offers for the last of `words` (the word being completed, cursor at its end): the function
    /// `complete -p tend` names, called with bash's arguments (command, current word, previous word).
    static func complete(_ words: [String], script: String, environment: [String: String] = [:], asUser: [String] = [])
        -> (offered: [String], result: CommandResult, seconds: Double)
    {
        let program = """
            source "$1" || exit 90
            shift
            COMP_WORDS=("$@")
            COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
            COMP_LINE="${COMP_WORDS[*]}"
            COMP_POINT=${#COMP_LINE}
            spec=$(complete -p tend) || exit 91
            function=${spec##*-F }
            function=${function%% *}
            "$function" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
            printf '%s\\n' "${COMPREPLY[@]}"
            """
        var env = ["PATH": binDir + ":/usr/local/bin:/usr/bin:/bin"]
        for (k, v) in environment { env[k] = v }
        let started = Posix.monotonicNow
        let r = runCommand(asUser + [bash!, "--norc", "--noprofile", "-c", program, "bash", script] + words,
                           environment: env, timeout: 20)
        let seconds = Double(Posix.monotonicNow.ns - started.ns) / 1e9
        let offered = r.stdout.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        return (offered, r, seconds)
    }

    @Test(.enabled(if: bash != nil, "needs bash"))
    func bashCompletesTheRunningManagersUnits() {
        let h = DaemonHarness()
        h.writeUnit("web.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        h.writeUnit("worker.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        h.start(extraArgs: ["--no-start"])
        let script = Self.script("bash", in: h.root)
        // The units come from the manager (its unit directory is none of the defaults); TEND_STATE_DIR finds it.
        let status = Self.complete(["tend", "status", "we"], script: script, environment: ["TEND_STATE_DIR": h.state])
        #expect(status.result.status == 0, "\(status.result.stderr)")
        #expect(status.offered == ["web.service"], "offered: \(status.offered), stderr: \(status.result.stderr)")
        #expect(status.result.stderr.isEmpty)
        // Every command that takes unit names completes them; --state-dir on the command line is followed.
        for command in ["start", "stop", "restart", "kill", "show", "cat", "is-active", "enable", "logs", "watch"] {
            let c = Self.complete(["tend", command, "--state-dir", h.state, "w"], script: script)
            #expect(c.offered.contains("web.service") && c.offered.contains("worker.service"),
                    "tend \(command) w: \(c.offered) \(c.result.stderr)")
        }
        // The option of journalctl's spelling too, and `tend logs` offers the manager's own log.
        let logs = Self.complete(["tend", "logs", "--state-dir", h.state, "-u", ""], script: script)
        #expect(logs.offered.contains("tend") && logs.offered.contains("web.service"), "\(logs.offered)")
        // Targets the manager has (built in) are units too; a unit already named is not offered again.
        let deps = Self.complete(["tend", "list-dependencies", "--state-dir", h.state, "multi"], script: script)
        #expect(deps.offered == ["multi-user.target"], "\(deps.offered)")
        let again = Self.complete(["tend", "start", "--state-dir", h.state, "web.service", "w"], script: script)
        #expect(again.offered == ["worker.service"], "\(again.offered)")
        let short = Self.complete(["tend", "stop", "--state-dir", h.state, "worker", "w"], script: script)
        #expect(short.offered == ["web.service"], "\(short.offered)")
    }

    @Test(.enabled(if: bash != nil, "needs bash"))
    func withoutAManagerTheUnitFilesOfTheUnitDirectoriesAreOffered() throws {
        let h = DaemonHarness()  // not started: nothing answers at its state directory
        h.writeUnit("web.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        h.writeUnit("worker.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        h.writeUnit("getty@.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        h.writeUnit("app.target", "[Unit]\n")
        try Posix.mkdirs(h.units + "/web.service.d")
        try Posix.mkdirs(h.units + "/multi-user.target.wants")
        let script = Self.script("bash", in: h.root)
        let absent = ["TEND_STATE_DIR": h.root + "/no-manager"]
        // `--units DIR` (enable, disable, is-enabled): that directory's files. A template without an instance
        // can't be named; drop-in and .wants directories are not units.
        let enable = Self.complete(["tend", "enable", "--units", h.units, ""], script: script, environment: absent)
        #expect(enable.offered == ["app.target", "web.service", "worker.service"], "\(enable.offered) \(enable.result.stderr)")
        #expect(enable.result.stderr.isEmpty)

        // The default unit directory, $XDG_CONFIG_HOME/tend/units for a user other than root: as root the test
        // runs bash as nobody, so it is that rule (not root's /etc/tend/units) that is exercised.
        let asUser: [String]
        if getuid() == 0 {
            guard let setpriv = Self.setpriv else { return }
            asUser = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
            _ = chmod(h.root, 0o755)
        } else {
            asUser = []
        }
        let config = h.root + "/config"
        try Posix.mkdirs(config + "/tend")
        _ = runCommand(["/bin/cp", "-R", h.units, config + "/tend/units"])
        _ = runCommand(["/bin/chmod", "-R", "a+rX", config, h.root + "/tend.bash"])
        let env = ["XDG_CONFIG_HOME": config, "TEND_STATE_DIR": h.root + "/no-manager", "HOME": h.root]
        let status = Self.complete(["tend", "status", "we"], script: script, environment: env, asUser: asUser)
        #expect(status.result.status == 0, "\(status.result.stderr)")
        #expect(status.offered == ["web.service"], "offered: \(status.offered), stderr: \(status.result.stderr)")
        #expect(status.result.stderr.isEmpty)
    }

    @Test(.enabled(if: bash != nil, "needs bash"))
    func aManagerThatNeverAnswersCostsAtMostTheTimeoutAndFallsBackToTheFiles() {
        let h = DaemonHarness()
        h.writeUnit("web.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        try? Posix.mkdirs(h.state)
        // A socket that accepts connections (the kernel's backlog) and never reads or answers: a hung manager.
        let fd = ctend_unix_listen(h.state + "/control.sock", 16)
        #expect(fd >= 0)
        defer { Posix.close(fd) }
        let script = Self.script("bash", in: h.root)
        let c = Self.complete(["tend", "enable", "--state-dir", h.state, "w"], script: script,
                              environment: ["XDG_CONFIG_HOME": h.root + "/config"])
        #expect(c.result.status == 0)
        #expect(c.result.stderr.isEmpty, "\(c.result.stderr)")
        #expect(c.seconds < 5, "completion took \(c.seconds) s")
        // With --units the files are read without asking the manager at all: no wait.
        let offline = Self.complete(["tend", "enable", "--state-dir", h.state, "--units", h.units, "w"], script: script)
        #expect(offline.offered == ["web.service"], "\(offline.offered)")
        // The first one did ask (and wait for) the silent manager before reading the files; this one didn't.
        #expect(offline.seconds < c.seconds, "\(offline.seconds) s with --units, \(c.seconds) s asking")
    }

    @Test func bashZshAndFishScriptsAreGenerated() {
        let h = DaemonHarness()
        for shell in ["bash", "zsh", "fish"] {
            let path = Self.script(shell, in: h.root)
            let text = h.readFile(path)
            // Every command that takes unit names calls back into tend for them.
            for command in ["start", "status", "logs", "enable", "kill", "list-dependencies"] {
                #expect(text.contains("---completion \(command) -- positional@0"), "\(shell) script: \(command)")
            }
        }
        #expect(Self.bash.map { runCommand([$0, "-n", Self.script("bash", in: h.root)]).status } == 0)
    }

    /// A zsh that completes a command line as its line editor does when TAB is pressed, and prints each
    /// candidate as `CAND:word` (the technique of zsh-capture-completion: an interactive zsh on a pseudo-terminal,
    /// zsh/zpty, with `compadd` wrapped to print what it is given). Usage: TEND_ZSH_SCRIPT=SCRIPT zsh -f - LINE.
    static let zshCapture = #"""
zmodload zsh/zpty || exit 90
zpty z zsh -f -i
local line
setopt rcquotes
() {
    zpty -w z source $1
    repeat 4; do
        zpty -r z line
        [[ $line == ok* ]] && return
    done
    echo 'error initializing.' >&2
    exit 2
} =( <<< '
PROMPT=
autoload -U compinit
compinit -u -D
source $TEND_ZSH_SCRIPT
zstyle '':completion:*'' list-grouped false
zstyle '':completion:*'' insert-tab false
zstyle '':completion:*'' list-separator ''''
zmodload zsh/zutil
compadd () {
    if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then
        builtin compadd "$@"
        return $?
    fi
    typeset -a __hits __dscr __tmp
    if (( $@[(I)-d] )); then
        __tmp=${@[$[${@[(i)-d]}+1]]}
        if [[ $__tmp == \(* ]]; then
            eval "__dscr=$__tmp"
        else
            __dscr=( "${(@P)__tmp}" )
        fi
    fi
    builtin compadd -A __hits -D __dscr "$@"
    setopt localoptions norcexpandparam extendedglob
    typeset -A apre hpre hsuf asuf
    zparseopts -E P:=apre p:=hpre S:=asuf s:=hsuf
    [[ -n $__hits ]] || return
    local i
    for i in {1..$#__hits}; do
        echo -E - CAND:$IPREFIX$apre$hpre$__hits[$i]$hsuf$asuf
    done
}
bindkey ''^M'' undefined-key
bindkey ''^J'' undefined-key
bindkey ''^I'' complete-word
null-line () {
    echo -E - $''\0''
}
compprefuncs=( null-line )
comppostfuncs=( null-line exit )
echo ok
')
zpty -w z "$1"$'\t'
integer tog=0
while zpty -r z; do :; done | while IFS= read -r line; do
    if [[ $line == *$'\0\r' ]]; then
        (( tog++ )) && return 0 || continue
    fi
    (( tog )) && echo -E - $line
done
return 2
"""#

    @Test(.enabled(if: zsh != nil, "needs zsh (Debian's zsh) to run the zsh script"))
    func zshCompletesTheRunningManagersUnits() {
        let h = DaemonHarness()
        h.writeUnit("web.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        h.writeUnit("worker.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        h.start(extraArgs: ["--no-start"])
        let script = Self.script("zsh", in: h.root)
        let parse = runCommand([Self.zsh!, "-n", script])
        #expect(parse.status == 0, "zsh -n: \(parse.stderr)")
        h.writeFile(h.root + "/capture.zsh", Self.zshCapture)
        let env = ["PATH": Self.binDir + ":/usr/bin:/bin", "TEND_ZSH_SCRIPT": script, "TEND_STATE_DIR": h.state,
                   "HOME": h.root, "ZDOTDIR": h.root]
        func offered(_ line: String) -> [String] {
            let r = runCommand([Self.zsh!, "-f", h.root + "/capture.zsh", line], environment: env, timeout: 20)
            return r.stdout.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("CAND:") }.map { String($0.dropFirst(5)) }
        }
        #expect(offered("tend status we") == ["web.service"])
        let logs = offered("tend logs -u w")
        #expect(logs == ["web.service", "worker.service"], "\(logs)")
    }

    @Test(.enabled(if: fish != nil, "needs fish (Debian's fish) to run the fish script"))
    func fishCompletesTheRunningManagersUnits() {
        let h = DaemonHarness()
        h.writeUnit("web.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        h.writeUnit("worker.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        h.start(extraArgs: ["--no-start"])
        let script = Self.script("fish", in: h.root)
        let parse = runCommand([Self.fish!, "--no-execute", script])
        #expect(parse.status == 0, "fish --no-execute: \(parse.stderr)")
        let env = ["PATH": Self.binDir + ":/usr/bin:/bin", "TEND_STATE_DIR": h.state, "HOME": h.root,
                   "XDG_CONFIG_HOME": h.root + "/config", "XDG_DATA_HOME": h.root + "/data"]
        // `complete -C LINE` lists what fish offers (candidate, a tab, its description); interactive, because
        // the script reads the command line with `commandline`.
        func offered(_ line: String) -> (words: [String], stderr: String) {
            let r = runCommand([Self.fish!, "--no-config", "--interactive", "-c",
                                "source \(script); complete -C '\(line)'"], environment: env, timeout: 20)
            return (r.stdout.split(separator: "\n").map { String($0.prefix { $0 != "\t" }) }, r.stderr)
        }
        let status = offered("tend status we")
        #expect(status.words == ["web.service"], "\(status.words) \(status.stderr)")
        let logs = offered("tend logs -u w")
        #expect(logs.words == ["web.service", "worker.service"], "\(logs.words) \(logs.stderr)")
    }
}
