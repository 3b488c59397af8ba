import TendControl
import TendModel

/// `tend watch` lines: one per event, `Dec 02 05:56:32.123456 web.service: activating (start)`, and for a
/// finished job `Dec 02 05:56:32.200000 web.service: start job done`.
public enum EventText {
    public static func render(_ e: ControlEvent) -> String {
        let time = LogText.localTime(e.time, precise: true)
        switch e.change {
        case .state(let active, let sub, let result):
            let why = result.isEmpty || result == "success" ? "" : ", result \(result)"
            return "\(time) \(e.unit): \(active.rawValue) (\(sub))\(why)"
        case .job(let job, let result):
            return "\(time) \(e.unit): \(job) job \(result.rawValue)"
        case .log(let stream, let pid, let text):
            let short = e.unit.hasSuffix(".service") ? String(e.unit.dropLast(8)) : e.unit
            return "\(time) \(stream == "tend" ? "tend" : short)[\(pid)]: \(text)"
        }
    }
}
