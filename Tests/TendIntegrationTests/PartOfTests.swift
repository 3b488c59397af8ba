import Glibc
import Testing
import TendModel
import TendSystem
import TendEngine

@Suite(.serialized)
struct PartOfTests {
    @Test func restartingAUnitRestartsTheRunningUnitsThatArePartOfIt() {
        let h = DaemonHarness()
        h.writeUnit("db.service", "[Service]\nExecStart=/bin/sleep 1000\n")
        h.writeUnit("cache.service", "[Unit]\nPartOf=db.service\n[Service]\nExecStart=/bin/sleep 1000\n")
        h.writeUnit("idle.service", "[Unit]\nPartOf=db.service\n[Service]\nExecStart=/bin/sleep 1000\n")
        h.start(extraArgs: ["--no-start"])
        #expect(h.tend("start", "db", "cache").status == 0)
        let db = h.mainPID("db")
        let cache = h.mainPID("cache")
        #expect(h.tend("restart", "db").status == 0)
        #expect(h.mainPID("db") != db)
        #expect(waitUntil { let p = h.mainPID("cache"); return p != 0 && p != cache })
        #expect(h.sub("idle") == "dead", "a stopped part stays stopped")
        #expect(h.tend("stop", "db").status == 0)
        #expect(waitUntil { h.sub("cache") == "dead" })
    }
}
