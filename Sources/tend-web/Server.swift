import Glibc
import Hummingbird
import Logging
import TendControl
import TendModel
import TendSystem

/// A request the server refuses, as `{"ok":false,"error":…,"code":…}` with an HTTP status.
struct APIError: Error {
    var status: Int
    var code: String
    var message: String
    init(_ status: Int, _ code: String, _ message: String) {
        (self.status, self.code, self.message) = (status, code, message)
    }
    init(_ e: ControlError) { self.init(httpStatus(for: e.code), e.code.rawValue, e.message) }
    init(_ e: any Error) {
        if let c = e as? ControlError { self.init(c) } else if let a = e as? APIError { self = a } else {
            self.init(500, "failed", "\(e)")
        }
    }
}

/// The request context: Hummingbird's, plus the peer's address (the key of the per-client stream bound).
struct WebContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let client: String
    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        client = source.channel.remoteAddress?.ipAddress ?? "?"
    }
}

/// Who sent a request: an API client with the token, or a logged-in browser.
enum Principal {
    case bearer
    case session(Sessions.Session)
}

func quietLogger() -> Logger {
    var l = Logger(label: "tend-web")
    l.logLevel = .error
    return l
}

final class WebServer: Sendable {
    let options: WebOptions
    let token: String
    let sessions = Sessions()
    let streams = StreamLimits()
    let manager: ManagerLink
    let hosts: Set<String>

    init(options: WebOptions, token: String) {
        self.options = options
        self.token = token
        manager = ManagerLink(stateDir: options.stateDir)
        hosts = options.acceptedHostNames
    }

    // MARK: Responses

    static func json(_ value: JSON, status: Int = 200) -> Response {
        Response(status: .init(code: status), headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(bytes: value.bytes() + [10])))
    }

    static func error(_ e: APIError) -> Response {
        var r = json(.object([("ok", .bool(false)), ("error", .string(e.message)), ("code", .string(e.code))]), status: e.status)
        if e.status == 401 { r.headers[.wwwAuthenticate] = "Bearer realm=\"tend\"" }
        return r
    }

    static func html(_ text: String, status: Int = 200) -> Response {
        Response(status: .init(code: status), headers: [.contentType: "text/html; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func text(_ text: String, type: String, status: Int = 200) -> Response {
        Response(status: .init(code: status), headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    // MARK: Authentication

    func principal(_ request: Request) -> Principal? {
        if let auth = request.headers[.authorization] {
            let parts = auth.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer", constantTimeEqual(String(parts[1]), token) {
                return .bearer
            }
            return nil
        }
        if let id = cookie(request, "tend_session"), let s = sessions.find(id) { return .session(s) }
        return nil
    }

    func cookie(_ request: Request, _ name: String) -> String? {
        for header in request.headers[values: .cookie] {
            for part in header.split(separator: ";") {
                let kv = part.trimmingPrefix(" ").split(separator: "=", maxSplits: 1)
                if kv.count == 2, kv[0] == name { return String(kv[1]) }
            }
        }
        return nil
    }

    /// Reading: the token or a session. Changing: the token, or a session with its CSRF token.
    func authorize(_ request: Request, mutating: Bool) throws(APIError) -> Principal {
        guard let p = principal(request) else {
            throw APIError(401, "unauthorized", "Send Authorization: Bearer TOKEN (the token file of tend web), or log in.")
        }
        if mutating, case .session(let s) = p {
            guard let given = request.headers[.init("X-CSRF-Token")!], constantTimeEqual(given, s.csrf) else {
                throw APIError(403, "csrf", "The request lacks the page's CSRF token (X-CSRF-Token).")
            }
        }
        return p
    }

    // MARK: Routes

    func router() -> Router<WebContext> {
        let router = Router(context: WebContext.self)
        router.add(middleware: GuardMiddleware(hosts: hosts))
        addAPI(router)
        addPages(router)
        return router
    }

    /// A handler whose failures become JSON error replies.
    static func api(_ body: @escaping @Sendable (Request, WebContext) async throws -> Response)
        -> @Sendable (Request, WebContext) async throws -> Response
    {
        { request, context in
            do { return try await body(request, context) } catch { return Self.error(APIError(error)) }
        }
    }

    func addAPI(_ router: Router<WebContext>) {
        router.get("/api/v1/units", use: Self.api { [self] request, _ in
            _ = try authorize(request, mutating: false)
            let reply = try await manager.raw(.object([("cmd", .string("status")), ("units", .array([])), ("lines", .int(0))]))
            return Self.json(.object([("ok", .bool(true)), ("units", reply["units"] ?? .array([]))]))
        })
        router.get("/api/v1/units/:name", use: Self.api { [self] request, context in
            _ = try authorize(request, mutating: false)
            let name = try unitName(context)
            let lines = try LogParameters(query: queryDict(request)).lines
            let reply = try await manager.raw(.object([("cmd", .string("status")), ("units", .array([.string(name)])),
                                                       ("lines", .int(Int64(min(lines, 100))))]))
            guard let unit = reply["units"]?.array?.first else {
                throw APIError(404, "no-such-unit", "Unit \(name) could not be found.")
            }
            return Self.json(.object([("ok", .bool(true)), ("unit", unit)]))
        })
        router.get("/api/v1/units/:name/file", use: Self.api { [self] request, context in
            _ = try authorize(request, mutating: false)
            let name = try unitName(context)
            let reply: CatReply = try await manager.call(.cat(units: [name]))
            return Self.json(.object([("ok", .bool(true)), ("text", .string(reply.texts.first ?? ""))]))
        })
        router.post("/api/v1/units/:name/:action", use: Self.api { [self] request, context in
            _ = try authorize(request, mutating: true)
            let name = try unitName(context)
            let action = context.parameters.get("action") ?? ""
            guard let verb = JobVerb(rawValue: action), [.start, .stop, .restart, .reload].contains(verb) else {
                throw APIError(404, "unknown-action", "The actions are start, stop, restart and reload.")
            }
            let noBlock = queryDict(request)["noBlock"] == "1"
            let _: OKReply = try await manager.call(.job(verb, units: [name], noBlock: noBlock))
            return Self.json(.object([("ok", .bool(true)), ("unit", .string(name)), ("action", .string(action))]))
        })
        router.get("/api/v1/units/:name/logs", use: Self.api { [self] request, context in
            _ = try authorize(request, mutating: false)
            let name = try unitName(context)
            let params = try LogParameters(query: queryDict(request))
            let logDir = try await logDirectory()
            if !params.follow {
                let entries = try await onThread { () throws -> [JSON] in try params.history(logDir: logDir, unit: name) }
                return Self.json(.object([("ok", .bool(true)), ("entries", .array(entries))]))
            }
            return try await stream(context, units: [name], logs: true, prelude: { emit in
                var last: UInt64 = 0
                for e in (try? params.history(logDir: logDir, unit: name)) ?? [] {
                    last = UInt64(clamping: e["time"]?.int ?? 0)
                    if !emit(sseData(e)) { return }
                }
                _ = emit("event: caught-up\ndata: {\"time\":\(last)}\n\n")
            }, render: { [params] event in
                guard case .log(let s, let pid, let text) = event.change else { return nil }
                if let u = params.until, event.time > u { return nil }
                if let g = params.grep, (try? Regex(g).firstMatch(in: text)) == nil { return nil }
                return sseData(logJSON(unit: event.unit, time: event.time, stream: s, pid: pid, text: text))
            })
        })
        router.get("/api/v1/events", use: Self.api { [self] request, context in
            _ = try authorize(request, mutating: false)
            var units: [String] = []
            if let u = queryDict(request)["units"], !u.isEmpty {
                units = try u.split(separator: ",").map { raw throws(APIError) in try validUnitName(String(raw)) }
            }
            return try await stream(context, units: units, logs: false, render: { event in sseData(event.json) })
        })
        router.get("/metrics", use: Self.api { [self] request, _ in
            _ = try authorize(request, mutating: false)
            let text = try await Metrics.scrape(manager)
            return Self.text(text, type: "text/plain; version=0.0.4; charset=utf-8")
        })
    }

    /// An SSE response over a subscription, counted against the client's stream bound.
    func stream(_ context: WebContext, units: [String], logs: Bool,
                prelude: @escaping @Sendable (_ emit: (String) -> Bool) -> Void = { _ in },
                render: @escaping @Sendable (ControlEvent) -> String?) async throws -> Response
    {
        let client = context.client
        guard streams.acquire(client) else {
            throw APIError(429, "too-many-streams", "At most \(StreamLimits.perClient) streams per client (\(StreamLimits.total) in all) are served at once.")
        }
        let feed = EventFeed()
        let events: AsyncStream<String>
        do {
            events = try await feed.start(stateDir: options.stateDir, units: units, logs: logs, prelude: prelude, render: render)
        } catch {
            streams.release(client)
            throw error
        }
        let limits = streams
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                defer {
                    feed.close()
                    limits.release(client)
                }
                try await writer.write(ByteBuffer(string: ": stream\n\n"))
                for await chunk in events { try await writer.write(ByteBuffer(string: chunk)) }
                try await writer.finish(nil)
            })
    }

    private let logDirCache = LogDirCache()

    func logDirectory() async throws -> String {
        if let d = logDirCache.value { return d }
        let reply: PingReply = try await manager.call(.ping)
        logDirCache.value = reply.logDir
        return reply.logDir
    }

    func unitName(_ context: WebContext) throws(APIError) -> String {
        try validUnitName(WebServer.percentDecode(Substring(context.parameters.get("name") ?? ""), plus: false))
    }
}

final class LogDirCache: @unchecked Sendable {
    private let lock = Lock()
    private var v: String?
    var value: String? {
        get { lock.locked { v } }
        set { lock.locked { v = newValue } }
    }
}

/// A unit name from a URL: the characters systemd allows in unit names, no path, then parsed as a unit
/// name; returned canonical (`web` is `web.service`).
func validUnitName(_ raw: String) throws(APIError) -> String {
    let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_.@-\\")
    guard !raw.isEmpty, raw.utf8.count <= 255, raw.allSatisfy({ allowed.contains($0) }), !raw.hasPrefix("."),
        !raw.contains(".."), let name = UnitName(parsing: raw)
    else {
        throw APIError(400, "bad-unit-name", "\"\(String(raw.prefix(80)))\" is not a unit name.")
    }
    return name.description
}

/// The URL's query as a dictionary (percent-decoded; the last of a repeated key wins).
func queryDict(_ request: Request) -> [String: String] {
    var d: [String: String] = [:]
    for (k, v) in request.uri.queryParameters { d[String(k)] = String(v) }
    return d
}

/// Every request: the Host header must name this server (DNS rebinding), a cross-site Origin is refused, and
/// every response carries headers that keep the pages out of frames and scripts from elsewhere.
struct GuardMiddleware: RouterMiddleware {
    typealias Context = WebContext
    let hosts: Set<String>

    func handle(_ request: Request, context: WebContext,
                next: (Request, WebContext) async throws -> Response) async throws -> Response
    {
        guard let authority = request.head.authority, hosts.contains(hostName(ofAuthority: Substring(authority))) else {
            return WebServer.error(APIError(403, "bad-host", "This server is not reached by that host name (Host header); see tend web --allow-host."))
        }
        if let origin = request.headers[.origin] {
            guard let h = hostName(ofOrigin: origin), hosts.contains(h) else {
                return WebServer.error(APIError(403, "bad-origin", "Requests from another site (Origin: \(origin.prefix(100))) are refused."))
            }
        }
        var response = try await next(request, context)
        response.headers[.init("X-Content-Type-Options")!] = "nosniff"
        response.headers[.init("X-Frame-Options")!] = "DENY"
        response.headers[.init("Referrer-Policy")!] = "same-origin"
        response.headers[.init("Content-Security-Policy")!] =
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
        return response
    }
}
