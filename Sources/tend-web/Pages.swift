import Glibc
import Hummingbird
import TendControl
import TendFormat
import TendSystem

/// The dashboard: server-rendered pages, one stylesheet and one script (Assets.swift), no build step and
/// nothing loaded from elsewhere. Pages need a session (log in with the token); the script then uses the
/// JSON API with the session cookie and the page's CSRF token.
extension WebServer {
    func addPages(_ router: Router<WebContext>) {
        router.get("/static/app.css") { _, _ in
            var r = Self.text(Assets.css, type: "text/css; charset=utf-8")
            r.headers[.cacheControl] = "no-cache"
            return r
        }
        router.get("/static/app.js") { _, _ in
            var r = Self.text(Assets.js, type: "text/javascript; charset=utf-8")
            r.headers[.cacheControl] = "no-cache"
            return r
        }
        router.get("/login") { request, _ in
            Self.html(Self.loginPage(next: Self.safeNext(queryDict(request)["next"]), failed: false))
        }
        router.post("/login") { [self] request, _ in
            let body = try await request.body.collect(upTo: 8192)
            let form = Self.formDecode(String(buffer: body))
            guard let given = form["token"], constantTimeEqual(given.trimmingCharacters(in: " \t\n\r"), token) else {
                return Self.html(Self.loginPage(next: Self.safeNext(form["next"]), failed: true), status: 401)
            }
            let s = sessions.create()
            var r = Self.redirect(Self.safeNext(form["next"]))
            r.headers[.setCookie] = "tend_session=\(s.id); Path=/; HttpOnly; SameSite=Strict; Max-Age=43200"
            return r
        }
        router.post("/logout") { [self] request, _ in
            if case .session(let s) = try? authorize(request, mutating: true) { sessions.remove(s.id) }
            var r = Self.redirect("/login")
            r.headers[.setCookie] = "tend_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
            return r
        }
        router.get("/") { [self] request, _ in
            guard case .session(let s) = principal(request) else { return Self.redirect("/login?next=/") }
            let units: StatusReply
            do { units = try await manager.call(.status(units: [], lines: 0)) } catch {
                return Self.html(page(title: "tend", csrf: s.csrf, body: "<p class=error>\(esc(APIError(error).message))</p>"), status: 503)
            }
            return Self.html(page(title: "tend — units", csrf: s.csrf, data: "data-page=\"units\"", body: overview(units.units)))
        }
        router.get("/units/:name") { [self] request, context in
            let raw = Self.percentDecode(Substring(context.parameters.get("name") ?? ""), plus: false)
            guard case .session(let s) = principal(request) else {
                let back = (try? validUnitName(raw)) ?? ""
                return Self.redirect("/login?next=/units/" + back)
            }
            let name: String
            do throws(APIError) { name = try validUnitName(raw) } catch { return Self.html(page(title: "tend", csrf: s.csrf, body: "<p class=error>\(esc(error.message))</p>"), status: 400) }
            do {
                let st: StatusReply = try await manager.call(.status(units: [name], lines: 0))
                guard let u = st.units.first else {
                    return Self.html(page(title: "tend", csrf: s.csrf, body: "<p class=error>Unit \(esc(name)) could not be found.</p>"), status: 404)
                }
                let file = (try? await manager.call(.cat(units: [name]), as: CatReply.self))?.texts.first
                return Self.html(page(title: "tend — \(name)", csrf: s.csrf, data: "data-page=\"unit\" data-unit=\"\(esc(name))\"",
                                      body: unitPage(u, file: file)))
            } catch {
                let e = APIError(error)
                return Self.html(page(title: "tend", csrf: s.csrf, body: "<p class=error>\(esc(e.message))</p>"), status: e.status)
            }
        }
        // Start-up: the SVG timeline of `tend analyze plot`, blame and the dependency tree.
        router.get("/analyze/plot.svg", use: Self.api { [self] request, _ in
            _ = try authorize(request, mutating: false)
            let reply: DependenciesReply = try await manager.call(.dependencies)
            return Self.text(Analyze.plot(reply.units, now: reply.now), type: "image/svg+xml")
        })
        router.get("/analyze") { [self] request, _ in
            guard case .session(let s) = principal(request) else { return Self.redirect("/login?next=/analyze") }
            do {
                let reply: DependenciesReply = try await manager.call(.dependencies)
                let body = """
                    <section class=card><h2>Start-up timeline</h2><img id=plot class=plot src="/analyze/plot.svg" alt="Start-up timeline (tend analyze plot)"></section>
                    <section class=card><h2>Blame</h2><pre>\(esc(Analyze.blame(reply.units)))</pre></section>
                    <section class=card><h2>Dependencies of default.target</h2><pre>\(esc(Analyze.dependencyTree(reply.units, root: "default.target")))</pre></section>
                    """
                return Self.html(page(title: "tend — start-up", csrf: s.csrf, data: "data-page=\"analyze\"", body: body))
            } catch {
                let e = APIError(error)
                return Self.html(page(title: "tend", csrf: s.csrf, body: "<p class=error>\(esc(e.message))</p>"), status: e.status)
            }
        }
        router.get("/units/:name/status", use: Self.api { [self] request, context in
            _ = try authorize(request, mutating: false)
            let name = try unitName(context)
            let st: StatusReply = try await manager.call(.status(units: [name], lines: 0))
            guard let u = st.units.first else { throw APIError(404, "no-such-unit", "Unit \(name) could not be found.") }
            return Self.text(StatusText.render(u, now: Posix.realtimeMicroseconds), type: "text/plain; charset=utf-8")
        })
    }

    /// Where to go after logging in: a path on this server only.
    static func safeNext(_ next: String?) -> String {
        guard let n = next, n.hasPrefix("/"), !n.hasPrefix("//"), !n.contains("\\"), n.utf8.count < 512,
            n.allSatisfy({ $0.isASCII && !$0.isWhitespace })
        else { return "/" }
        return n
    }

    static func formDecode(_ s: String) -> [String: String] {
        var d: [String: String] = [:]
        for pair in s.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            let k = percentDecode(kv[0])
            d[k] = kv.count > 1 ? percentDecode(kv[1]) : ""
        }
        return d
    }

    /// `%XX` decoded; `+` is a space in forms (`plus`), itself in paths.
    static func percentDecode(_ s: Substring, plus: Bool = true) -> String {
        var out: [UInt8] = []
        var bytes = Array(s.utf8)[...]
        while let b = bytes.popFirst() {
            if plus && b == UInt8(ascii: "+") { out.append(32); continue }
            if b == UInt8(ascii: "%"), bytes.count >= 2, let v = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16) {
                out.append(v)
                bytes = bytes.dropFirst(2)
                continue
            }
            out.append(b)
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func loginPage(next: String, failed: Bool) -> String {
        """
        <!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content="width=device-width, initial-scale=1">
        <title>tend — log in</title><link rel=stylesheet href="/static/app.css"></head>
        <body class=login><main><h1>tend</h1>
        <form method=post action="/login" class=card>
        <label for=token>Token</label>
        <p class=hint>The contents of tend web's token file.</p>
        <input id=token name=token type=password autocomplete=current-password autofocus required>
        <input type=hidden name=next value="\(esc(next))">
        \(failed ? "<p class=error role=alert>That is not the token.</p>" : "")
        <button type=submit class=primary>Log in</button>
        </form></main></body></html>
        """
    }

    func page(title: String, csrf: String, data: String = "", body: String) -> String {
        """
        <!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content="width=device-width, initial-scale=1">
        <meta name=csrf content="\(csrf)"><title>\(esc(title))</title><link rel=stylesheet href="/static/app.css"></head>
        <body \(data)><header><a href="/" class=brand>tend</a><span id=live class=live title="Live updates">●</span>
        <nav><a href="/">Units</a> <a href="/analyze">Start-up</a></nav>
        <form method=post action="/logout" id=logout><button type=submit class=link>Log out</button></form></header>
        <main>\(body)</main><script src="/static/app.js"></script></body></html>
        """
    }

    func overview(_ units: [UnitInfo]) -> String {
        let rows = units.map { u in
            "<tr data-unit=\"\(esc(u.unit))\" data-state=\"\(esc(u.active))\"><td><input type=checkbox class=sel aria-label=\"Select \(esc(u.unit))\"></td>"
                + "<td><a href=\"/units/\(esc(u.unit))\">\(esc(u.unit))</a><div class=desc>\(esc(u.description))</div></td>"
                + "<td><span class=\"badge \(esc(u.active))\">\(esc(u.active))</span> <span class=sub>\(esc(u.sub))</span></td>"
                + "<td class=pid>\(u.mainPID.map { $0 > 0 ? String($0) : "" } ?? "")</td><td class=uptime></td>"
                + "<td class=restarts>\(u.nRestarts ?? 0)</td><td class=exit></td><td class=status>\(esc(u.statusText ?? ""))</td><td class=actions>"
                + ["start", "stop", "restart", "reload"].map { "<button data-act=\($0) aria-label=\"\($0) \(esc(u.unit))\">\($0.prefix(1).uppercased() + $0.dropFirst())</button>" }.joined()
                + "</td></tr>"
        }.joined(separator: "\n")
        return """
            <section class=toolbar>
            <input id=filter type=search placeholder="Filter by name" aria-label="Filter by name">
            <select id=state aria-label="Filter by state"><option value="">All states</option><option>active</option>
            <option>failed</option><option>inactive</option><option>activating</option><option>deactivating</option></select>
            <span class=bulk><span id=selcount>0 selected</span>
            <button data-bulk=start>Start</button><button data-bulk=stop>Stop</button><button data-bulk=restart>Restart</button>
            <button data-bulk=reload>Reload</button></span>
            </section>
            <p id=message class=message role=status></p>
            <div class=tablewrap><table id=units><thead><tr><th><input type=checkbox id=selall aria-label="Select all"></th>
            <th>Unit</th><th>State</th><th>PID</th><th>Uptime</th><th>Restarts</th><th>Last exit</th><th>Status</th><th></th></tr></thead>
            <tbody>\(rows)</tbody></table></div>
            """
    }

    func unitPage(_ u: UnitInfo, file: String?) -> String {
        let status = StatusText.render(u, now: Posix.realtimeMicroseconds)
        return """
            <section class=unithead><h1>\(esc(u.unit))</h1><span id=ustate class="badge \(esc(u.active))">\(esc(u.active))</span>
            <span id=usub class=sub>\(esc(u.sub))</span>
            <span class=buttons><button data-act=start>Start</button><button data-act=stop>Stop</button>
            <button data-act=restart>Restart</button><button data-act=reload>Reload</button></span></section>
            <p id=message class=message role=status></p>
            <section class=card><h2>Status</h2><pre id=status>\(esc(status))</pre></section>
            <section class=card><h2>Logs</h2>
            <div class=logbar><input id=grep type=search placeholder="Search (regular expression)" aria-label="Search the log">
            <label><input type=checkbox id=follow checked> Follow</label></div>
            <div id=log class=log aria-live=polite></div></section>
            <section class=card><h2>Unit file</h2><pre id=unitfile>\(esc(file ?? "(no unit file)"))</pre></section>
            """
    }
}

/// HTML-escaped text (for element content and double-quoted attributes).
func esc(_ s: String) -> String { Analyze.xml(s) }
