import Testing

@testable import TendModel
@testable import TendSystem
@testable import TendEngine

@Suite struct UnitFileUnitSectionTests {
    @Test func descriptionAndDocumentation() {
        let (config, diags) = parseUnit(
            """
            [Unit]
            Description=Web for %i
            Documentation=man:web(8) https://example.org/web "file:/usr/share/doc/web"
            Documentation=nonsense
            """, name: "web@blue.service")
        #expect(config.description == "Web for blue")
        #expect(config.documentation == ["man:web(8)", "https://example.org/web", "file:/usr/share/doc/web"])
        #expect(
            texts(diags) == [
                #"web@blue.service:4: warning: Documentation=: "nonsense" is not a http(s)://, file:, info: or man: URI, ignoring"#
            ])
    }

    @Test func dependencyListsAppendAndResetOnEmpty() {
        let (config, diags) = parseUnit(
            """
            [Unit]
            After=network.target remote-fs.target
            After=db.service
            Wants=a.service
            Wants=
            Wants=b.service
            Requires=%p-helper.service
            Requisite=r.service
            BindsTo=bound.service
            PartOf=whole.target
            Upholds=kept.service
            Conflicts=shutdown.target
            Before=multi-user.target
            OnFailure=alert@%N.service
            """)
        #expect(diags.isEmpty)
        #expect(config.after == ["network.target", "remote-fs.target", "db.service"])
        #expect(config.wants == ["b.service"])
        #expect(config.requires == ["web-helper.service"])
        #expect(config.requisite == ["r.service"])
        #expect(config.bindsTo == ["bound.service"])
        #expect(config.partOf == ["whole.target"])
        #expect(config.upholds == ["kept.service"])
        #expect(config.conflicts == ["shutdown.target"])
        #expect(config.before == ["multi-user.target"])
        #expect(config.onFailure == ["alert@web.service"])
    }

    @Test func invalidUnitNameInADependencyIsAnError() {
        let (config, diags) = parseUnit("[Unit]\nAfter=network good.service\n")
        #expect(texts(diags) == [#"web.service:2: After=: invalid unit name "network""#])
        #expect(config.after == ["good.service"])
    }

    @Test func startLimitsInUnitAndLegacyServiceSpelling() {
        var (config, diags) = parseUnit("[Unit]\nStartLimitIntervalSec=0\nStartLimitBurst=3\n")
        #expect(diags.isEmpty)
        #expect(config.startLimitInterval == .zero)
        #expect(config.startLimitBurst == 3)
        (config, diags) = parseService("StartLimitInterval=1min\nStartLimitBurst=7\n")
        #expect(diags.isEmpty)
        #expect(config.startLimitInterval == .seconds(60))
        #expect(config.startLimitBurst == 7)
        (config, diags) = parseUnit("[Unit]\nStartLimitBurst=-1\n")
        #expect(texts(diags) == [#"web.service:2: StartLimitBurst=: invalid number "-1" (expected 0…4294967295)"#])
    }

    @Test func defaultDependencies() {
        let (config, diags) = parseUnit("[Unit]\nDefaultDependencies=no\n")
        #expect(diags.isEmpty)
        #expect(config.defaultDependencies == false)
        let (_, bad) = parseUnit("[Unit]\nDefaultDependencies=maybe\n")
        #expect(texts(bad) == [#"web.service:2: DefaultDependencies=: invalid boolean "maybe""#])
    }

    @Test func conditionsAreStoredInOrderAndResetByKind() {
        let (config, diags) = parseUnit(
            """
            [Unit]
            ConditionPathExists=/etc/web.conf
            AssertPathIsDirectory=/srv
            ConditionUser=!root
            ConditionFileNotEmpty=
            ConditionHost=%H
            ConditionBogus=1
            """)
        #expect(config.conditions.map(\.directive) == ["AssertPathIsDirectory", "ConditionHost"])
        #expect(config.conditions.map(\.value) == ["/srv", "box.example.org"])
        #expect(texts(diags) == ["web.service:7: warning: ConditionBogus=: unknown directive, ignoring"])
    }
}

@Suite struct UnitFileServiceSectionTests {
    @Test func everyServiceTypeAndRestartPolicy() {
        for type in ServiceType.allCases {
            let (config, diags) = parseService("Type=\(type.rawValue)")
            #expect(diags.isEmpty)
            #expect(config.type == type)
        }
        for policy in RestartPolicy.allCases {
            let (config, diags) = parseService("Restart=\(policy.rawValue)")
            #expect(diags.isEmpty)
            #expect(config.restart == policy)
        }
        let (_, bad) = parseService("Restart=sometimes")
        #expect(texts(bad) == [#"web.service:2: Restart=: unknown value "sometimes""#])
    }

    @Test func killModeAndNotifyAccess() {
        for mode in KillMode.allCases {
            #expect(parseService("KillMode=\(mode.rawValue)").config.killMode == mode)
        }
        for access in NotifyAccess.allCases {
            #expect(parseService("NotifyAccess=\(access.rawValue)").config.notifyAccess == access)
        }
        #expect(parseService("NotifyAccess=all\nNotifyAccess=").config.notifyAccess == nil)
        #expect(
            texts(parseService("KillMode=gentle").diagnostics) == [#"web.service:2: KillMode=: unknown value "gentle""#]
        )
    }

    @Test func timeSpans() {
        let (config, diags) = parseService(
            """
            RestartSec=5
            RestartMaxDelaySec=1min
            RestartSteps=4
            TimeoutStartSec=2min 30s
            TimeoutStopSec=infinity
            TimeoutAbortSec=10s
            RuntimeMaxSec=1h
            WatchdogSec=500ms
            """)
        #expect(diags.isEmpty)
        #expect(config.restartSec == .seconds(5))
        #expect(config.restartMaxDelay == .seconds(60))
        #expect(config.restartSteps == 4)
        #expect(config.timeoutStart == .seconds(150))
        #expect(config.timeoutStop == .infinity)
        #expect(config.timeoutAbort == .seconds(10))
        #expect(config.runtimeMax == .seconds(3600))
        #expect(config.watchdog == .milliseconds(500))
    }

    @Test func timeoutSecSetsStartAndStopAndZeroMeansNoTimeout() {
        var config = parseService("TimeoutSec=20").config
        #expect(config.timeoutStart == .seconds(20))
        #expect(config.timeoutStop == .seconds(20))
        config = parseService("TimeoutStartSec=0").config
        #expect(config.timeoutStart == .infinity)
        config = parseService("TimeoutAbortSec=5\nTimeoutAbortSec=").config
        #expect(config.timeoutAbort == nil)
        config = parseService("TimeoutAbortSec=0").config
        #expect(config.timeoutAbort == .zero)
        let bad = parseService("TimeoutSec=forever").diagnostics
        #expect(texts(bad) == [#"web.service:2: TimeoutSec=: invalid time span "forever""#])
    }

    @Test func emptyScalarResetsToTheDefault() {
        let config = parseService("RestartSec=9\nRestartSec=\nType=forking\nType=\nKillSignal=KILL\nKillSignal=").config
        #expect(config.restartSec == .milliseconds(100))
        #expect(config.type == .simple)
        #expect(config.killSignal == 15)
    }

    @Test func booleans() {
        let (config, diags) = parseService(
            "RemainAfterExit=yes\nGuessMainPID=off\nSendSIGKILL=0\nSendSIGHUP=TRUE\n")
        #expect(diags.isEmpty)
        #expect(config.remainAfterExit)
        #expect(!config.guessMainPID)
        #expect(!config.sendSIGKILL)
        #expect(config.sendSIGHUP)
        #expect(
            texts(parseService("SendSIGHUP=2").diagnostics) == [#"web.service:2: SendSIGHUP=: invalid boolean "2""#])
    }

    @Test func pidFileRelativeGoesUnderTheRuntimeDirectory() {
        #expect(parseService("PIDFile=/run/web.pid").config.pidFile == "/run/web.pid")
        #expect(parseService("PIDFile=web/%p.pid").config.pidFile == "/run/user/1000/web/web.pid")
    }

    @Test func exitStatusSets() {
        let (config, diags) = parseService(
            """
            SuccessExitStatus=1 2 SIGKILL TEMPFAIL
            SuccessExitStatus=HUP
            RestartPreventExitStatus=SIGKILL
            RestartForceExitStatus=3
            RestartForceExitStatus=
            """)
        #expect(diags.isEmpty)
        #expect(config.successExitStatus == ExitStatusSet(statuses: [1, 2, 75], signals: [9, 1]))
        #expect(config.restartPreventExitStatus == ExitStatusSet(signals: [9]))
        #expect(config.restartForceExitStatus.isEmpty)
        let bad = parseService("SuccessExitStatus=256 SIGFOO 3").diagnostics
        #expect(
            texts(bad) == [
                "web.service:2: SuccessExitStatus=: exit status 256 is out of range 0…255",
                #"web.service:2: SuccessExitStatus=: invalid exit status or signal "SIGFOO""#,
            ])
    }

    @Test func killSignals() {
        let (config, diags) = parseService(
            """
            KillSignal=SIGINT
            RestartKillSignal=QUIT
            FinalKillSignal=9
            WatchdogSignal=SIGRTMIN+2
            ReloadSignal=USR1
            """)
        #expect(diags.isEmpty)
        #expect(config.killSignal == 2)
        #expect(config.restartKillSignal == 3)
        #expect(config.finalKillSignal == 9)
        #expect(config.watchdogSignal == 36)
        #expect(config.reloadSignal == 10)
        #expect(
            texts(parseService("KillSignal=SIGNOPE").diagnostics) == [
                #"web.service:2: KillSignal=: invalid signal "SIGNOPE""#
            ])
        #expect(
            texts(parseService("KillSignal=99").diagnostics) == [#"web.service:2: KillSignal=: invalid signal "99""#])
    }

    @Test func userGroupAndSupplementaryGroups() {
        let (config, diags) = parseService(
            "User=www-data\nGroup=1000\nSupplementaryGroups=adm video\nSupplementaryGroups=audio\n")
        #expect(diags.isEmpty)
        #expect(config.user == "www-data")
        #expect(config.group == "1000")
        #expect(config.supplementaryGroups == ["adm", "video", "audio"])
        #expect(parseService("SupplementaryGroups=adm\nSupplementaryGroups=").config.supplementaryGroups.isEmpty)
        #expect(
            texts(parseService("User=a:b").diagnostics) == [#"web.service:2: User=: invalid user or group name "a:b""#])
        #expect(parseService("User=%u").config.user == "alice")
    }

    @Test func workingDirectory() {
        var config = parseService("WorkingDirectory=/srv/web").config
        #expect(config.workingDirectory == "/srv/web")
        #expect(!config.workingDirectoryOptional)
        config = parseService("WorkingDirectory=-/srv/maybe").config
        #expect(config.workingDirectory == "/srv/maybe")
        #expect(config.workingDirectoryOptional)
        config = parseService("WorkingDirectory=~").config
        #expect(config.workingDirectory == "~")
        config = parseService("WorkingDirectory=%h/app").config
        #expect(config.workingDirectory == "/home/alice/app")
        let bad = parseService("WorkingDirectory=srv").diagnostics
        #expect(texts(bad) == [#"web.service:2: WorkingDirectory=: "srv" is neither an absolute path nor ~"#])
    }

    @Test func environmentAssignmentsWithQuoting() {
        let (config, diags) = parseService(
            """
            Environment="A=1 2" B=3
            Environment=ONE='one' "TWO=two words" EMPTY=
            Environment=HOME=%h
            """)
        #expect(diags.isEmpty)
        #expect(config.environment.map(\.key) == ["A", "B", "ONE", "TWO", "EMPTY", "HOME"])
        #expect(config.environment.map(\.value) == ["1 2", "3", "one", "two words", "", "/home/alice"])
        #expect(parseService("Environment=A=1\nEnvironment=").config.environment.isEmpty)
        let bad = parseService("Environment=NOEQUALS 1X=2 OK=1").diagnostics
        #expect(
            texts(bad) == [
                #"web.service:2: Environment=: invalid environment assignment "NOEQUALS""#,
                #"web.service:2: Environment=: invalid environment assignment "1X=2""#,
            ])
    }

    @Test func environmentFilePassAndUnset() {
        let (config, diags) = parseService(
            """
            EnvironmentFile=/etc/default/web
            EnvironmentFile=-%E/web.env
            PassEnvironment=TERM LANG
            UnsetEnvironment=DEBUG A=1
            """)
        #expect(diags.isEmpty)
        #expect(config.environmentFiles.map(\.path) == ["/etc/default/web", "/home/alice/.config/web.env"])
        #expect(config.environmentFiles.map(\.optional) == [false, true])
        #expect(config.passEnvironment == ["TERM", "LANG"])
        #expect(config.unsetEnvironment == ["DEBUG", "A=1"])
        #expect(parseService("EnvironmentFile=/a\nEnvironmentFile=").config.environmentFiles.isEmpty)
        #expect(
            texts(parseService("EnvironmentFile=relative.env").diagnostics) == [
                #"web.service:2: EnvironmentFile=: path "relative.env" is not absolute"#
            ])
        #expect(
            texts(parseService("PassEnvironment=BAD-NAME").diagnostics) == [
                #"web.service:2: PassEnvironment=: invalid environment variable name "BAD-NAME""#
            ])
    }

    @Test func umaskAndNice() {
        var config = parseService("UMask=0077\nNice=-5").config
        #expect(config.umask == 0o077)
        #expect(config.nice == -5)
        config = parseService("Nice=5\nNice=").config
        #expect(config.nice == nil)
        #expect(
            texts(parseService("UMask=0999").diagnostics) == [
                #"web.service:2: UMask=: invalid umask "0999" (expected octal 0000…7777)"#
            ])
        #expect(
            texts(parseService("Nice=-21").diagnostics) == [
                #"web.service:2: Nice=: invalid nice level "-21" (expected -20…19)"#
            ])
    }

    @Test func resourceLimits() {
        let (config, diags) = parseService(
            """
            LimitNOFILE=1024:65536
            LimitCORE=infinity
            LimitAS=4G
            LimitMEMLOCK=64K:infinity
            LimitCPU=1min
            LimitRTTIME=200ms
            LimitRTPRIO=10
            LimitNICE=-5
            LimitNPROC=100
            LimitSTACK=8M
            """)
        #expect(diags.isEmpty)
        #expect(config.limits[.nofile] == RLimitValue(soft: 1024, hard: 65536))
        #expect(config.limits[.core] == RLimitValue(soft: .max, hard: .max))
        #expect(config.limits[.as] == RLimitValue(soft: 4 << 30, hard: 4 << 30))
        #expect(config.limits[.memlock] == RLimitValue(soft: 64 << 10, hard: .max))
        #expect(config.limits[.cpu] == RLimitValue(soft: 60, hard: 60))
        #expect(config.limits[.rttime] == RLimitValue(soft: 200_000, hard: 200_000))
        #expect(config.limits[.rtprio] == RLimitValue(soft: 10, hard: 10))
        #expect(config.limits[.nice] == RLimitValue(soft: 25, hard: 25))
        #expect(config.limits[.nproc] == RLimitValue(soft: 100, hard: 100))
        #expect(config.limits[.stack] == RLimitValue(soft: 8 << 20, hard: 8 << 20))
        #expect(parseService("LimitFSIZE=1.5G").config.limits[.fsize] == RLimitValue(soft: 3 << 29, hard: 3 << 29))
        #expect(parseService("LimitDATA=100B").config.limits[.data] == RLimitValue(soft: 100, hard: 100))
        #expect(parseService("LimitDATA=1.5").diagnostics.count == 1)
        #expect(parseService("LimitDATA=1k").diagnostics.count == 1)
        #expect(parseService("LimitRTTIME=500").config.limits[.rttime] == RLimitValue(soft: 500, hard: 500))
        #expect(parseService("LimitCPU=1.5").config.limits[.cpu] == RLimitValue(soft: 2, hard: 2))
        #expect(parseService("LimitNOFILE=10\nLimitNOFILE=").config.limits[.nofile] == nil)
        #expect(
            texts(parseService("LimitNOFILE=lots").diagnostics) == [
                #"web.service:2: LimitNOFILE=: invalid resource limit "lots""#
            ])
        #expect(
            texts(parseService("LimitNOFILE=100:10").diagnostics) == [
                #"web.service:2: LimitNOFILE=: soft limit is above the hard limit in "100:10""#
            ])
    }

    @Test func everyResourceLimitIsADirective() {
        for resource in ResourceLimit.allCases {
            let (config, diags) = parseService("\(resource.rawValue)=infinity")
            #expect(diags.isEmpty)
            #expect(config.limits[resource] == RLimitValue(soft: .max, hard: .max))
        }
    }

    @Test func standardStreams() {
        var config = parseService(
            "StandardInput=file:/dev/zero\nStandardOutput=append:/var/log/%p.log\nStandardError=null"
        ).config
        #expect(config.standardInput == .file("/dev/zero"))
        #expect(config.standardOutput == .append("/var/log/web.log"))
        #expect(config.standardError == .null)
        for value in ["journal", "syslog", "kmsg", "journal+console", "syslog+console", "kmsg+console"] {
            #expect(parseService("StandardOutput=null\nStandardOutput=\(value)").config.standardOutput == .journal)
        }
        config = parseService("StandardOutput=file:/tmp/o\nStandardError=truncate:/tmp/e").config
        #expect(config.standardOutput == .file("/tmp/o"))
        #expect(config.standardError == .truncate("/tmp/e"))
        #expect(parseService("StandardError=inherit").config.standardError == .inherit)
        #expect(
            texts(parseService("StandardOutput=tty").diagnostics) == [
                #"web.service:2: StandardOutput=: "tty" is not supported by tend"#
            ])
        #expect(
            texts(parseService("StandardInput=tty").diagnostics) == [
                #"web.service:2: StandardInput=: "tty" is not supported by tend"#
            ])
        #expect(
            texts(parseService("StandardOutput=file:rel").diagnostics) == [
                #"web.service:2: StandardOutput=: path "rel" is not absolute"#
            ])
        #expect(
            texts(parseService("StandardError=loud").diagnostics) == [
                #"web.service:2: StandardError=: unknown value "loud""#
            ])
    }

    @Test func syslogIdentifier() {
        #expect(parseService("SyslogIdentifier=%N").config.syslogIdentifier == "web")
    }
}

@Suite struct UnitFileInstallSectionTests {
    @Test func installDirectives() {
        let (config, diags) = parseUnit(
            """
            [Install]
            WantedBy=multi-user.target
            RequiredBy=app.target
            Alias=www.service
            Also=web-helper.service
            DefaultInstance=main
            UpheldBy=x.target
            """, name: "web@.service")
        #expect(config.wantedBy == ["multi-user.target"])
        #expect(config.requiredBy == ["app.target"])
        #expect(config.alias == ["www.service"])
        #expect(config.also == ["web-helper.service"])
        #expect(config.defaultInstance == "main")
        #expect(texts(diags) == ["web@.service:7: warning: UpheldBy=: not supported by tend, ignored"])
    }

    @Test func targetUnitsUseUnitAndInstall() {
        let (config, diags) = parseUnit(
            "[Unit]\nDescription=App\nWants=web.service\n[Install]\nWantedBy=multi-user.target\n", name: "app.target")
        #expect(diags.isEmpty)
        #expect(config.wants == ["web.service"])
        #expect(config.wantedBy == ["multi-user.target"])
    }
}

@Suite struct UnitFileSpecifierTests {
    @Test func instanceSpecifiers() {
        let (config, diags) = parseUnit(
            """
            [Service]
            Environment=n=%n N=%N p=%p P=%P i=%i I=%I f=%f j=%j J=%J pct=%%
            """, name: "backup-disk@var-lib\\x2dfoo.service")
        #expect(diags.isEmpty)
        let env = Dictionary(uniqueKeysWithValues: config.environment.map { ($0.key, $0.value) })
        #expect(env["n"] == "backup-disk@var-lib\\x2dfoo.service")
        #expect(env["N"] == "backup-disk@var-lib\\x2dfoo")
        #expect(env["p"] == "backup-disk")
        #expect(env["P"] == "backup/disk")
        #expect(env["i"] == "var-lib\\x2dfoo")
        #expect(env["I"] == "var/lib-foo")
        #expect(env["f"] == "/var/lib-foo")
        #expect(env["j"] == "disk")
        #expect(env["J"] == "disk")
        #expect(env["pct"] == "%")
    }

    @Test func specifiersFromTheContext() {
        let (config, diags) = parseService(
            "Environment=u=%u U=%U h=%h t=%t S=%S C=%C L=%L E=%E H=%H l=%l T=%T V=%V g=%g G=%G s=%s")
        #expect(diags.isEmpty)
        #expect(
            config.environment.map { "\($0.key)=\($0.value)" } == [
                "u=alice", "U=1000", "h=/home/alice", "t=/run/user/1000", "S=/home/alice/.local/state",
                "C=/home/alice/.cache", "L=/home/alice/.local/state/log", "E=/home/alice/.config",
                "H=box.example.org", "l=box", "T=/tmp", "V=/var/tmp", "g=root", "G=0", "s=/bin/sh",
            ])
    }

    @Test func fWithoutInstanceUsesThePrefix() {
        let config = parseService("Environment=f=%f i=%i", name: "srv-www.service").config
        #expect(config.environment.map(\.value) == ["/srv/www", ""])
    }

    @Test func unknownAndUnsupportedSpecifiersAreErrors() {
        #expect(
            texts(parseService("ExecStart=/bin/echo %Z").diagnostics) == [
                "web.service:2: ExecStart=: unknown specifier %Z"
            ])
        // The test context has no machine ID (FakeSystem-style contexts leave it empty).
        #expect(
            texts(parseService("Environment=M=%m").diagnostics) == [
                "web.service:2: Environment=: specifier %m: this host has no /etc/machine-id"
            ])
        #expect(
            texts(parseUnit("[Unit]\nDescription=100%").diagnostics) == [
                "web.service:2: Description=: '%' at the end of the value (write %% for a percent sign)"
            ])
    }

    /// Every specifier of systemd.unit(5)'s table resolves: os-release fields (empty when unset, as systemd),
    /// the machine and boot IDs, the pretty host name, the credentials directory.
    @Test func everySpecifierOfSystemdsTableResolves() throws {
        var context = testContext
        context.osRelease = SpecifierContext.parseAssignments("""
            # os-release
            ID=debian
            VERSION_ID="13"
            PRETTY_NAME="Debian GNU/Linux 13 (trixie)"
            VARIANT_ID='server'
            BUILD_ID=2026-12-01
            """)
        context.machineID = "0123456789abcdef0123456789abcdef"
        context.bootID = "fedcba9876543210fedcba9876543210"
        context.prettyHostName = "Build box"
        context.kernelRelease = "6.1.0"
        context.architecture = "x86-64"
        let r = SpecifierResolver(name: UnitName(parsing: "web.service")!, context: context, fragmentPath: "/etc/tend/units/web.service")
        #expect(try r.expand("%o %w %W %B [%M] [%A]") == "debian 13 server 2026-12-01 [] []")
        #expect(try r.expand("%m %b %q %l %v %a") == "0123456789abcdef0123456789abcdef fedcba9876543210fedcba9876543210 Build box \(context.hostName.prefix { $0 != "." }) 6.1.0 x86-64")
        #expect(try r.expand("%d") == context.runtimeDir + "/credentials/web.service")
        #expect(try r.expand("%y %Y") == "/etc/tend/units/web.service /etc/tend/units")
        for c in "aAbBCdEfgGhHiIjJlLmMnNopPqsStTuUvVwWyY%" {
            #expect(throws: Never.self) { _ = try r.expand("%\(c)") }
        }
        context.prettyHostName = ""
        let plain = SpecifierResolver(name: UnitName(parsing: "web.service")!, context: context)
        #expect(try plain.expand("%q") == String(context.hostName.prefix { $0 != "." }))
    }

    @Test func fragmentPathSpecifiers() {
        var config = ServiceConfig(name: UnitName(parsing: "web.service")!)
        config.fragmentPath = "/etc/tend/units/web.service"
        var diags: [Diagnostic] = []
        parseUnitText(
            "[Service]\nEnvironment=y=%y Y=%Y", file: "web.service", into: &config, context: testContext,
            diagnostics: &diags)
        #expect(diags.isEmpty)
        #expect(config.environment.map(\.value) == ["/etc/tend/units/web.service", "/etc/tend/units"])
    }
}

@Suite struct UnitFileValidationTests {
    @Test func missingExecStartIsAnError() {
        let config = parseService("Type=simple").config
        #expect(
            texts(validateServiceConfig(config, file: "web.service")) == [
                "web.service:1: Service has no ExecStart= setting, which is only allowed for Type=oneshot services"
            ])
    }

    @Test func moreThanOneExecStartOnlyForOneshot() {
        let config = parseService("ExecStart=/bin/a\nExecStart=/bin/b").config
        #expect(
            texts(validateServiceConfig(config, file: "web.service")) == [
                "web.service:3: Service has more than one ExecStart= command, which is only allowed for Type=oneshot services"
            ])
        let oneshot = parseService("Type=oneshot\nExecStart=/bin/a\nExecStart=/bin/b").config
        #expect(validateServiceConfig(oneshot, file: "web.service").isEmpty)
    }

    @Test func oneshotNeedsExecStartOrExecStop() {
        let stopOnly = parseService("Type=oneshot\nRemainAfterExit=yes\nExecStop=/bin/cleanup").config
        #expect(validateServiceConfig(stopOnly, file: "x.service").isEmpty)
        let neither = parseService("Type=oneshot").config
        #expect(
            texts(validateServiceConfig(neither, file: "x.service")) == [
                "x.service:1: Service has no ExecStart= and no ExecStop= setting"
            ])
    }

    @Test func oneshotCannotRestartAlways() {
        let config = parseService("Type=oneshot\nExecStart=/bin/a\nRestart=always").config
        #expect(
            texts(validateServiceConfig(config, file: "x.service")) == [
                "x.service:1: Restart=always is not allowed for Type=oneshot services"
            ])
    }

    @Test func oneshotHasNoStartTimeoutUnlessSet() {
        var config = parseService("Type=oneshot\nExecStart=/bin/a").config
        finalizeServiceConfig(&config)
        #expect(config.timeoutStart == .infinity)
        config = parseService("Type=oneshot\nExecStart=/bin/a\nTimeoutStartSec=20").config
        finalizeServiceConfig(&config)
        #expect(config.timeoutStart == .seconds(20))
        config = parseService("Type=oneshot\nExecStart=/bin/a\nTimeoutSec=30").config
        finalizeServiceConfig(&config)
        #expect(config.timeoutStart == .seconds(30))
        config = parseService("Type=oneshot\nTimeoutStartSec=20\nTimeoutStartSec=").config
        finalizeServiceConfig(&config)
        #expect(config.timeoutStart == .infinity)
        config = parseService("Type=simple\nExecStart=/bin/a").config
        finalizeServiceConfig(&config)
        #expect(config.timeoutStart == .seconds(90))
    }

    @Test func forkingWithoutPIDFileIsFine() {
        let config = parseService("Type=forking\nExecStart=/usr/sbin/daemon").config
        #expect(validateServiceConfig(config, file: "x.service").isEmpty)
    }

    @Test func targetsAreNotValidatedAsServices() {
        let config = parseUnit("[Unit]\nDescription=t", name: "t.target").config
        #expect(validateServiceConfig(config, file: "t.target").isEmpty)
    }
}

@Suite struct UnitFileDirectiveTableTests {
    @Test func tableListsEveryImplementedDirectiveOnce() {
        let all = DirectiveTable.all.map { "\($0.section).\($0.name)" }
        #expect(Set(all).count == all.count)
        for expected in [
            "Unit.Description", "Unit.After", "Unit.StartLimitIntervalSec", "Service.ExecStart", "Service.Restart",
            "Service.LimitNOFILE", "Service.KillSignal", "Install.WantedBy", "Unit.ConditionPathExists",
        ] {
            #expect(all.contains(expected))
        }
    }

    @Test func ignoredDirectivesDoNotOverlapTheTable() {
        let all = Set(DirectiveTable.all.map { "\($0.section).\($0.name)" })
        let ignored = DirectiveTable.ignored.map { "\($0.section).\($0.name)" }
        #expect(Set(ignored).count == ignored.count)
        #expect(all.isDisjoint(with: ignored))
    }
}

@Suite struct UnitFileDocsTests {
    /// docs/unit-files.md documents every directive of the table and every ignored one.
    @Test func referenceDocumentsEveryDirective() throws {
        var path = #filePath
        for _ in 0..<3 { path = directoryName(path) }
        let docs = try readUnitFile(path + "/docs/unit-files.md").get()
        for (_, name) in DirectiveTable.all + DirectiveTable.ignored
        where !name.hasPrefix("Condition") && !name.hasPrefix("Assert") {
            #expect(docs.contains("`\(name)=`"), "docs/unit-files.md does not mention \(name)=")
        }
    }

    /// The statements of the docs that a new user acts on agree with the code.
    @Test func docsStatementsAgreeWithTheCode() throws {
        var root = #filePath
        for _ in 0..<3 { root = directoryName(root) }
        let docs = try readUnitFile(root + "/docs/unit-files.md").get()
        let readme = try readUnitFile(root + "/README.md").get()
        let examples = try readUnitFile(root + "/examples/README.md").get()
        // .wants/ and .requires/ directories work (UnitFileLoaderTests), so the docs don't call them unsupported.
        let unsupported = docs.split(separator: "\n").filter { $0.contains("Not supported") }
        #expect(!unsupported.contains { $0.contains(".wants/") || $0.contains(".requires/") })
        // An empty User= resets it, as in systemd: no error, and the docs say so.
        #expect(errors(parseService("User=\nExecStart=/bin/true").diagnostics).isEmpty)
        #expect(docs.contains("An empty value resets it to the default"))
        // An error never says "ignoring": a unit with an error is refused, not half-read.
        let bad = ["Description=x", "[Service]\nExecStart /bin/true", "[Service]\n=x", "[Service]\nEnvironment=1X=2",
                   "[Service]\nA\u{0}B=1"]
        for text in bad {
            for d in parseUnit(text).diagnostics where d.severity == .error {
                #expect(!d.message.contains("ignoring"), "\(d.description)")
            }
        }
        // The examples' build recipe builds the manager too, and the README sends no one to files it lacks.
        for line in examples.split(separator: "\n") where line.hasPrefix("swift build") && line.contains("--product tend ") {
            #expect(line.contains("--product tendd"), "\(line)")
        }
        #expect(!readme.contains("DESIGN"))
    }
}
