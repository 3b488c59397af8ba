import Testing

@testable import TendModel

/// The rules `tend exec` applies, as daemontools' and runit's tools document them.
struct ChainLoadingTests {
    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test func envDirValueIsTheFirstLineTrimmedWithNulsAsNewlines() {
        #expect(ChainLoading.envDirValue([]) == nil, "an empty file removes the variable")
        #expect(ChainLoading.envDirValue(bytes("\n")) == [], "an empty first line sets it empty")
        #expect(ChainLoading.envDirValue(bytes("value \t  \nsecond\n")) == bytes("value"))
        #expect(ChainLoading.envDirValue(bytes("  leading kept")) == bytes("  leading kept"))
        #expect(ChainLoading.envDirValue([0x61, 0, 0x62, 0x20]) == bytes("a\nb"))
        #expect(ChainLoading.envDirValue(bytes("a\r\n")) == bytes("a\r"), "only spaces and tabs are trimmed")
        #expect(ChainLoading.envDirName(".hidden") == .skipped)
        #expect(ChainLoading.envDirName("A=B") == .invalid)
        #expect(ChainLoading.envDirName("PATH") == .variable)
    }

    @Test func limitsAreNumbersWithSuffixesOrTheHardLimit() {
        #expect(ChainLoading.limit("0") == .value(0))
        #expect(ChainLoading.limit("4096") == .value(4096))
        #expect(ChainLoading.limit("64k") == .value(65536))
        #expect(ChainLoading.limit("2M") == .value(2 << 20))
        #expect(ChainLoading.limit("1G") == .value(1 << 30))
        #expect(ChainLoading.limit("3T") == .value(3 << 40))
        #expect(ChainLoading.limit("=") == .hard)
        #expect(ChainLoading.limit("unlimited") == .hard)
        #expect(ChainLoading.limit("18446744073709551615") == .value(UInt64.max))
        for bad in ["", "-1", "+1", "1.5", "K", "1KB", "18446744073709551616", "16777216T", " 1", "0x10"] {
            #expect(ChainLoading.limit(bad) == nil, "\(bad)")
        }
    }

    @Test func niceUmaskAndAccounts() {
        #expect(ChainLoading.niceIncrement("5") == 5)
        #expect(ChainLoading.niceIncrement("+5") == 5)
        #expect(ChainLoading.niceIncrement("-20") == -20)
        #expect(ChainLoading.niceIncrement("0") == 0)
        for bad in ["", "-", "+", "41", "--1", "1e2", "99999999999999999999999"] { #expect(ChainLoading.niceIncrement(bad) == nil, "\(bad)") }

        #expect(ChainLoading.umask("022") == 0o022)
        #expect(ChainLoading.umask("0777") == 0o777)
        #expect(ChainLoading.umask("0") == 0)
        for bad in ["", "8", "1000", "00000", "-1", "u=rwx"] { #expect(ChainLoading.umask(bad) == nil, "\(bad)") }

        #expect(ChainLoading.account("www") == .names(user: "www", groups: []))
        #expect(ChainLoading.account("www:web:adm") == .names(user: "www", groups: ["web", "adm"]))
        #expect(ChainLoading.account(":1000:100:4") == .ids(uid: 1000, gids: [100, 4]))
        for bad in ["", ":", "www:", ":www", ":1000", ":1000:", ":1:x", "a::b", ":4294967295:1", ":1:99999999999"] {
            #expect(ChainLoading.account(bad) == nil, "\(bad)")
        }
    }
}
