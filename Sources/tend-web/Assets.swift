/// The dashboard's stylesheet and script, served as /static/app.css and /static/app.js (no build step, no
/// CDN, no inline script: the Content-Security-Policy allows this server's files only).
enum Assets {
    static let css = #"""
    :root { color-scheme: light dark; --bg: #f6f7f9; --fg: #1d2330; --muted: #667085; --card: #fff; --line: #e2e5ea;
      --accent: #2f6fde; --ok: #1f8a4c; --okbg: #e3f5ea; --bad: #c8322b; --badbg: #fde8e7; --warn: #a66300;
      --warnbg: #fff2db; --idle: #667085; --idlebg: #eceff3; --mono: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; }
    @media (prefers-color-scheme: dark) {
      :root { --bg: #12151b; --fg: #e4e7ec; --muted: #98a2b3; --card: #1b2029; --line: #2c3340; --accent: #6ea1ff;
        --ok: #4cc985; --okbg: #163323; --bad: #ff6b61; --badbg: #3d1816; --warn: #f0b34a; --warnbg: #3a2a0e;
        --idle: #98a2b3; --idlebg: #262c37; }
    }
    * { box-sizing: border-box; }
    body { margin: 0; background: var(--bg); color: var(--fg); font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
    header { display: flex; align-items: center; gap: .75rem; padding: .6rem 1rem; background: var(--card);
      border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 2; }
    .brand { font-weight: 700; font-size: 1.1rem; color: var(--fg); text-decoration: none; }
    .live { color: var(--muted); font-size: .8rem; } .live.on { color: var(--ok); }
    #logout { margin-left: auto; } nav { display: flex; gap: .8rem; } nav a { text-decoration: none; font-size: .95rem; }
    .plot { max-width: 100%; height: auto; background: #fff; border-radius: 6px; }
    main { padding: 1rem; max-width: 1400px; margin: 0 auto; }
    a { color: var(--accent); }
    button { font: inherit; padding: .35rem .7rem; border-radius: 6px; border: 1px solid var(--line); background: var(--card);
      color: var(--fg); cursor: pointer; }
    button:hover { border-color: var(--accent); } button:focus-visible, input:focus-visible, select:focus-visible, a:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
    button:disabled { opacity: .5; cursor: default; }
    button.primary { background: var(--accent); color: #fff; border-color: var(--accent); }
    button.link { border: none; background: none; color: var(--accent); padding: 0; }
    input[type=search], input[type=password], select { font: inherit; padding: .35rem .55rem; border-radius: 6px;
      border: 1px solid var(--line); background: var(--card); color: var(--fg); }
    .toolbar { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin-bottom: .75rem; }
    .toolbar #filter { flex: 1 1 12rem; min-width: 0; }
    .bulk { display: flex; flex-wrap: wrap; gap: .35rem; align-items: center; margin-left: auto; }
    #selcount { color: var(--muted); font-size: .85rem; margin-right: .25rem; }
    .tablewrap { background: var(--card); border: 1px solid var(--line); border-radius: 10px; overflow-x: auto; }
    table { border-collapse: collapse; width: 100%; }
    th, td { text-align: left; padding: .5rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
    th { font-size: .8rem; text-transform: uppercase; letter-spacing: .03em; color: var(--muted); font-weight: 600; }
    tbody tr:last-child td { border-bottom: none; }
    tr.failed { background: var(--badbg); } tr.failed .badge.failed { background: var(--bad); color: var(--card); }
    td a { font-weight: 600; text-decoration: none; } .desc { color: var(--muted); font-size: .85rem; }
    .pid, .restarts, .uptime { font-family: var(--mono); font-size: .9rem; white-space: nowrap; }
    .exit { font-family: var(--mono); font-size: .85rem; } .status { font-size: .9rem; }
    .actions { white-space: nowrap; } .actions button { padding: .2rem .5rem; font-size: .85rem; }
    .badge { display: inline-block; padding: .05rem .5rem; border-radius: 999px; font-size: .8rem; font-weight: 600;
      background: var(--idlebg); color: var(--idle); }
    .badge.active, .badge.reloading { background: var(--okbg); color: var(--ok); }
    .badge.failed { background: var(--badbg); color: var(--bad); }
    .badge.activating, .badge.deactivating { background: var(--warnbg); color: var(--warn); }
    .sub { color: var(--muted); font-size: .85rem; }
    .message { min-height: 1.2em; margin: .25rem 0 .5rem; color: var(--muted); } .message.error, .error { color: var(--bad); }
    .card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: .75rem 1rem; margin-bottom: 1rem; }
    .card h2 { margin: 0 0 .5rem; font-size: 1rem; }
    pre { margin: 0; font: .85rem/1.4 var(--mono); white-space: pre-wrap; word-break: break-word; }
    .unithead { display: flex; flex-wrap: wrap; align-items: center; gap: .6rem; margin-bottom: .5rem; }
    .unithead h1 { margin: 0; font-size: 1.4rem; word-break: break-all; } .buttons { display: flex; gap: .35rem; margin-left: auto; flex-wrap: wrap; }
    .logbar { display: flex; gap: .75rem; align-items: center; margin-bottom: .5rem; } .logbar input[type=search] { flex: 1; min-width: 0; }
    .log { font: .82rem/1.4 var(--mono); max-height: 28rem; overflow: auto; background: var(--bg); border-radius: 6px; padding: .4rem .6rem; }
    .log div { white-space: pre-wrap; word-break: break-word; } .log .t { color: var(--muted); } .log .p { color: var(--muted); }
    .log .stderr { color: var(--bad); } .log .stderr::before { content: "stderr "; font-weight: 700; font-size: .7rem; }
    .log .tend { color: var(--accent); }
    body.login main { max-width: 24rem; margin-top: 12vh; } body.login h1 { text-align: center; }
    body.login form { display: flex; flex-direction: column; gap: .5rem; } .hint { margin: 0; color: var(--muted); font-size: .85rem; }
    @media (max-width: 700px) {
      main { padding: .6rem; }
      thead { display: none; } table, tbody, tr, td { display: block; width: 100%; }
      tr { border-bottom: 1px solid var(--line); padding: .5rem .6rem; position: relative; }
      td { border: none; padding: .1rem 0; } td:first-child { position: absolute; right: .6rem; top: .55rem; width: auto; }
      td.pid:not(:empty)::before { content: "pid "; color: var(--muted); }
      td.uptime:not(:empty)::before { content: "up "; color: var(--muted); }
      td.restarts::before { content: "restarts "; color: var(--muted); }
      td.pid, td.uptime, td.restarts { display: inline-block; width: auto; margin-right: .8rem; }
      td.pid:empty, td.uptime:empty, td.exit:empty, td.status:empty { display: none; }
      .actions { padding-top: .35rem; } .bulk { margin-left: 0; }
      .buttons { margin-left: 0; }
    }
    """#

    static let js = #"""
    "use strict";
    const csrf = document.querySelector('meta[name=csrf]')?.content || "";
    const page = document.body.dataset.page;
    const $ = (s, r = document) => r.querySelector(s);
    const message = (text, bad) => { const m = $("#message"); if (m) { m.textContent = text; m.className = "message" + (bad ? " error" : ""); } };

    async function act(unit, action) {
      const r = await fetch(`/api/v1/units/${encodeURIComponent(unit)}/${action}`, { method: "POST", headers: { "X-CSRF-Token": csrf } });
      const j = await r.json().catch(() => ({ ok: false, error: r.statusText }));
      if (!j.ok) throw new Error(j.error || r.statusText);
    }

    function lastExit(u) {
      if (!u.execMainCode) return "";
      // The manager's text is systemctl's whole phrase (code=exited, status=1/FAILURE).
      return u.execMainStatusText || `code=${u.execMainCode}, status=${u.execMainStatus}`;
    }
    function uptime(u) {
      if (!(u.active === "active" || u.active === "reloading") || !u.activeEnterTimestamp) return "";
      let s = Math.max(0, Math.floor((Date.now() * 1000 - u.activeEnterTimestamp) / 1e6));
      const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60); s %= 60;
      return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${s}s` : `${s}s`;
    }
    function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }

    // ---- the unit list ----
    let units = [];
    // Rows are made once per unit and then updated in place, so a button is never replaced under the pointer.
    function makeRow(u) {
      const tr = el("tr"); tr.dataset.unit = u.unit;
      const c = el("td"); const cb = el("input"); cb.type = "checkbox"; cb.className = "sel";
      cb.setAttribute("aria-label", "Select " + u.unit); c.append(cb); tr.append(c);
      const n = el("td"); const a = el("a"); a.href = "/units/" + encodeURIComponent(u.unit); n.append(a, el("div", "desc")); tr.append(n);
      const s = el("td"); s.append(el("span", "badge"), " ", el("span", "sub")); tr.append(s);
      tr.append(el("td", "pid"), el("td", "uptime"), el("td", "restarts"), el("td", "exit"), el("td", "status"));
      const b = el("td", "actions");
      for (const x of ["start", "stop", "restart", "reload"]) {
        const btn = el("button", "", x[0].toUpperCase() + x.slice(1)); btn.dataset.act = x;
        btn.setAttribute("aria-label", `${x} ${u.unit}`); b.append(btn);
      }
      tr.append(b);
      return tr;
    }
    function set(e, text) { if (e.textContent !== text) e.textContent = text; }
    function fill(tr, u) {
      tr.dataset.state = u.active; tr.className = u.active === "failed" ? "failed" : "";
      set($("a", tr), u.unit); set($(".desc", tr), u.description || "");
      const b = $(".badge", tr); b.className = "badge " + u.active; set(b, u.active); set($(".sub", tr), u.sub);
      set($(".pid", tr), u.mainPID ? String(u.mainPID) : ""); set($(".uptime", tr), uptime(u));
      set($(".restarts", tr), String(u.nRestarts || 0)); set($(".exit", tr), lastExit(u)); set($(".status", tr), u.statusText || "");
    }
    const rows = new Map();
    function selected() { return [...rows.values()].filter(r => r.isConnected && $(".sel", r).checked).map(r => r.dataset.unit); }
    function render() {
      const body = $("#units tbody");
      if (!rows.size) for (const tr of [...body.children]) rows.set(tr.dataset.unit, tr);
      const f = $("#filter").value.toLowerCase(), st = $("#state").value;
      const shown = units.filter(u => (!f || u.unit.toLowerCase().includes(f) || (u.description || "").toLowerCase().includes(f)) && (!st || u.active === st));
      const want = shown.map(u => { let tr = rows.get(u.unit); if (!tr || !$(".badge", tr)) { tr = makeRow(u); rows.set(u.unit, tr); } fill(tr, u); return tr; });
      const now = [...body.children];
      if (now.length !== want.length || now.some((tr, i) => tr !== want[i])) body.replaceChildren(...want);
      updateSel();
    }
    function updateSel() { $("#selcount").textContent = selected().length + " selected"; }
    // Answers may arrive out of order: only one newer than the last applied is shown.
    let pending = null, asked = 0, applied = 0;
    async function refresh() {
      pending = null; const mine = ++asked;
      const r = await fetch("/api/v1/units"); if (r.status === 401) { location.href = "/login?next=/"; return; }
      const j = await r.json();
      if (j.ok && mine > applied) { applied = mine; units = j.units; render(); }
    }
    const soon = () => { if (!pending) pending = setTimeout(refresh, 80); };

    function setupUnits() {
      $("#filter").addEventListener("input", render); $("#state").addEventListener("change", render);
      $("#selall").addEventListener("change", e => { document.querySelectorAll("#units .sel").forEach(c => c.checked = e.target.checked); updateSel(); });
      $("#units").addEventListener("change", e => { if (e.target.classList.contains("sel")) updateSel(); });
      $("#units").addEventListener("click", async e => {
        const b = e.target.closest("button[data-act]"); if (!b) return;
        const unit = b.closest("tr").dataset.unit; b.disabled = true; message(`${b.dataset.act} ${unit}…`);
        try { await act(unit, b.dataset.act); message(`${b.dataset.act} ${unit}: done`); } catch (err) { message(`${b.dataset.act} ${unit}: ${err.message}`, true); }
        b.disabled = false; soon();
      });
      document.querySelectorAll("[data-bulk]").forEach(b => b.addEventListener("click", async () => {
        const list = selected(); if (!list.length) { message("Select units first.", true); return; }
        message(`${b.dataset.bulk} ${list.length} units…`);
        const results = await Promise.allSettled(list.map(u => act(u, b.dataset.bulk)));
        const bad = results.map((r, i) => r.status === "rejected" ? `${list[i]}: ${r.reason.message}` : null).filter(Boolean);
        message(bad.length ? bad.join("; ") : `${b.dataset.bulk}: done`, bad.length > 0); soon();
      }));
      refresh();
      setInterval(() => document.querySelectorAll("#units tbody tr").forEach(tr => {
        const u = units.find(x => x.unit === tr.dataset.unit); if (u) $(".uptime", tr).textContent = uptime(u);
      }), 1000);
    }

    // ---- one unit ----
    function setupUnit() {
      const unit = document.body.dataset.unit;
      document.querySelectorAll(".buttons button").forEach(b => b.addEventListener("click", async () => {
        b.disabled = true; message(`${b.dataset.act}…`);
        try { await act(unit, b.dataset.act); message(`${b.dataset.act}: done`); } catch (err) { message(`${b.dataset.act}: ${err.message}`, true); }
        b.disabled = false; soonStatus();
      }));
      let logSource = null; const log = $("#log");
      function line(j) {
        const d = el("div", j.stream); const t = new Date(j.time / 1000);
        d.append(el("span", "t", t.toLocaleTimeString([], { hour12: false }) + " "), el("span", "p", `[${j.pid}] `), document.createTextNode(j.text));
        const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
        log.append(d); while (log.childNodes.length > 2000) log.firstChild.remove();
        if (atEnd) log.scrollTop = log.scrollHeight;
      }
      function openLog() {
        if (logSource) logSource.close(); log.replaceChildren();
        const q = new URLSearchParams({ lines: "200", follow: $("#follow").checked ? "1" : "0" }); const g = $("#grep").value; if (g) q.set("grep", g);
        const url = `/api/v1/units/${encodeURIComponent(unit)}/logs?` + q;
        if (!$("#follow").checked) {
          fetch(url).then(r => r.json()).then(j => { if (j.ok) j.entries.forEach(line); else message(j.error, true); }); return;
        }
        logSource = new EventSource(url);
        logSource.onmessage = e => line(JSON.parse(e.data));
        logSource.addEventListener("overflow", () => { logSource.close(); setTimeout(openLog, 500); });
      }
      let t = null; $("#grep").addEventListener("input", () => { clearTimeout(t); t = setTimeout(openLog, 300); });
      $("#follow").addEventListener("change", openLog);
      openLog();
    }
    let statusPending = null;
    function soonStatus() {
      if (statusPending) return;
      statusPending = setTimeout(async () => {
        statusPending = null; const unit = document.body.dataset.unit;
        const r = await fetch(`/units/${encodeURIComponent(unit)}/status`); if (r.ok) $("#status").textContent = await r.text();
      }, 80);
    }

    // ---- live updates ----
    function events() {
      const src = new EventSource("/api/v1/events"); const live = $("#live");
      src.onopen = () => live.classList.add("on");
      src.onerror = () => live.classList.remove("on");
      src.onmessage = e => {
        const ev = JSON.parse(e.data);
        if (page === "units") {
          const tr = document.querySelector(`#units tr[data-unit="${CSS.escape(ev.unit)}"]`);
          if (ev.event === "unit" && tr) {
            tr.dataset.state = ev.active; tr.className = ev.active === "failed" ? "failed" : "";
            const b = $(".badge", tr); b.className = "badge " + ev.active; b.textContent = ev.active; $(".sub", tr).textContent = ev.sub;
          }
          soon();
        } else if (page === "unit" && ev.unit === document.body.dataset.unit) {
          if (ev.event === "unit") { const b = $("#ustate"); b.className = "badge " + ev.active; b.textContent = ev.active; $("#usub").textContent = ev.sub; }
          soonStatus();
        }
      };
    }
    if (page === "units") setupUnits();
    if (page === "unit") setupUnit();
    if (page) events();
    """#
}
