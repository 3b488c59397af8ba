#!/usr/bin/env python3
"""tend's own benchmark (Python 3 stdlib only).  Usually run via `bench/run`.

  python3 bench/tendbench.py --tend BIN [--quick] [--only restart,footprint,...]
  python3 bench/tendbench.py --selftest [--quick]     plumbing check against bench/fake-tend
  python3 bench/tendbench.py --compare-report OURS.jsonl ANCHORS.jsonl

Workloads (each in its own temp dir with its own `tend daemon`):
  restart    6 marker services, kill -9 one that has been up > 2.05 s, round
             robin; latency = replacement's CLOCK_MONOTONIC at the top of
             main() - harness's CLOCK_MONOTONIC right before kill(2).
  footprint  N = 10, 100, 1000 `sleep` services: RSS and PSS of the manager.
  bringup    N = 1000 marker services: spawn of `tend daemon` -> N start marks.
  idle       N = 100 `sleep` services: manager CPU and context switches over 30 s.
  status     N = 100, 1000: wall time of `tend status` and `tend list --all`.
  deps       1000 oneshot units, random DAG of Requires=/After= (fixed seed),
             readiness delays 0-5 ms: time until all are active vs the
             critical path's theoretical minimum (target: within 10 % + 50 ms).

Prints a table and appends one JSON line per workload to
bench/out/results-<UTC>.jsonl (or --out FILE).
"""
import argparse
import ctypes
import datetime as dt
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
MS = 1e6
WORKLOADS = ["restart", "footprint", "bringup", "idle", "status", "logs", "logsince", "notify", "deps"]
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------ processes
def set_subreaper():
    """PR_SET_CHILD_SUBREAPER: orphans of everything we start stay our descendants."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(36, 1, 0, 0, 0) != 0:
        print(f"warning: prctl(PR_SET_CHILD_SUBREAPER) failed: errno {ctypes.get_errno()}",
              file=sys.stderr)


def proc_table():
    """{pid: (ppid, comm)} for every process."""
    tab = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                s = f.read().decode(errors="replace")
        except OSError:
            continue
        lp, rp = s.index("("), s.rindex(")")
        rest = s[rp + 2:].split()
        tab[int(d)] = (int(rest[1]), s[lp + 1:rp])
    return tab


def descendants(root=None, tab=None):
    """pids of all live descendants of root (default: this process)."""
    root = root or os.getpid()
    tab = tab or proc_table()
    kids = {}
    for pid, (ppid, _) in tab.items():
        kids.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def reap_zombies():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_leftovers(limit=5.0):
    """SIGKILL every remaining descendant by pid, reap; return how many were left."""
    victims = descendants()
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        reap_zombies()
        if not descendants():
            break
        time.sleep(0.02)
    return len(victims)


def stat_fields(pid):
    with open(f"/proc/{pid}/stat", "rb") as f:
        s = f.read().decode(errors="replace")
    return s[s.rindex(")") + 2:].split()  # index 0 = state (field 3)


def cpu_ticks(pid):
    f = stat_fields(pid)
    return int(f[11]) + int(f[12])  # utime + stime (fields 14, 15): all threads


def run_ns(pid):
    """CPU time in ns from /proc/PID/task/*/schedstat (finer than the 10 ms ticks of /proc/PID/stat)."""
    tot = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                tot += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return tot


def status_kv(path):
    kv = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.partition(":")
            kv[k] = v.strip()
    return kv


def ctx_switches(pid):
    """(voluntary, nonvoluntary) summed over all threads."""
    v = nv = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            kv = status_kv(f"/proc/{pid}/task/{t}/status")
        except OSError:
            continue
        v += int(kv.get("voluntary_ctxt_switches", 0))
        nv += int(kv.get("nonvoluntary_ctxt_switches", 0))
    return v, nv


def mem_kib(pid):
    rss = int(status_kv(f"/proc/{pid}/status").get("VmRSS", "0 kB").split()[0])
    pss = None
    try:
        pss = int(status_kv(f"/proc/{pid}/smaps_rollup").get("Pss", "0 kB").split()[0])
    except OSError:
        pass
    return rss, pss


def threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


# ------------------------------------------------------------------ stats
def pct(values, p):
    """Nearest-rank percentile."""
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def summary(values, nd=3):
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50": round(statistics.median(values), nd),
            "p90": round(pct(values, 90), nd), "max": round(max(values), nd),
            "min": round(min(values), nd)}


# ------------------------------------------------------------------ helper
def build_marker(name="marker"):
    src = BENCH / "helpers" / f"{name}.c"
    out = OUT / name
    if out.exists() and out.stat().st_mtime >= src.stat().st_mtime:
        return out
    OUT.mkdir(exist_ok=True)
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        sys.exit("need a C compiler (cc/gcc/clang) to build bench/helpers/marker.c")
    cmd = [cc, "-O2", "-static", "-o", str(out), str(src)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        cmd.remove("-static")
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            sys.exit(f"building {name} failed:\n" + r.stderr)
        print(f"note: static link failed, {name} built dynamically", file=sys.stderr)
    return out


class Marks:
    """Incremental reader of the marks file: lines `NAME PID MONO_NS`."""

    def __init__(self, path):
        self.path, self.off, self.buf = path, 0, b""
        self.latest, self.count = {}, 0

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.off)
                data = f.read()
        except FileNotFoundError:
            return
        self.off += len(data)
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        for ln in lines:
            p = ln.split()
            if len(p) == 3:
                self.latest[p[0].decode()] = (int(p[1]), int(p[2]))
                self.count += 1


# ------------------------------------------------------------------ the daemon
class Daemon:
    """One `tend daemon` in its own temp dir and process group.

    with Daemon(bench, "restart", units) as d: ...   units = {name: unit text}
    Stop: SIGTERM, bounded wait, SIGKILL of its process group, then every
    remaining descendant of the harness by pid."""

    def __init__(self, bench, label, units):
        self.b, self.label, self.units = bench, label, units
        self.tmp = Path(tempfile.mkdtemp(prefix=f"tendbench-{label}-"))
        self.unitdir, self.state, self.logs = self.tmp / "units", self.tmp / "state", self.tmp / "logs"
        self.marks = self.tmp / "marks"
        for d in (self.unitdir, self.state, self.logs):
            d.mkdir()
        self.proc = None
        self.stop_info = {}
        self.extra_args = []

    def __enter__(self):
        for name, text in self.units.items():
            (self.unitdir / f"{name}.service").write_text(text)
        argv = self.b.tend + ["daemon", "--units", str(self.unitdir), "--state-dir", str(self.state),
                              "--log-dir", str(self.logs)] + self.extra_args
        self.errf = open(self.tmp / "daemon.out", "wb")
        self.t_spawn_ns = time.monotonic_ns()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.errf,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     cwd=str(self.tmp), env=self.b.env(self.state))
        return self

    def alive(self):
        return self.proc.poll() is None

    def check_alive(self):
        if not self.alive():
            raise RuntimeError(f"tend daemon exited with {self.proc.returncode}: {self.output()}")

    def output(self, n=600):
        try:
            return (self.tmp / "daemon.out").read_text(errors="replace")[-n:].strip()
        except OSError:
            return ""

    def mem_pids(self):
        """The process started (the holder: `tend daemon` stays as the manager's parent, docs/architecture.md)
        plus its descendants named `tend` (the manager): memory and CPU figures count both."""
        tab = proc_table()
        pids = [self.proc.pid]
        pids += [p for p in descendants(self.proc.pid, tab) if tab[p][1] == "tend"]
        return pids

    def ctl(self, args, timeout=15):
        t0 = time.perf_counter()
        r = subprocess.run(self.b.tend + args, capture_output=True, text=True, timeout=timeout,
                           env=self.b.env(self.state))
        return (time.perf_counter() - t0) * 1000, r

    def units_running(self):
        """Units whose sub-state is `running`, from `tend list --all --output json`
        (falls back to counting text lines with the word `running`); -1 if no answer."""
        try:
            _, r = self.ctl(["list", "--all", "--output", "json"])
        except subprocess.TimeoutExpired:
            return -1
        try:
            rows = json.loads(r.stdout)
        except ValueError:
            if r.returncode != 0:
                return -1
            return sum(1 for ln in r.stdout.splitlines() if " running" in ln)
        if isinstance(rows, dict):  # tolerate {"units": [...]}
            rows = next((v for v in rows.values() if isinstance(v, list)), [])
        return sum(1 for x in rows if isinstance(x, dict) and x.get("sub") == "running")

    def wait_running(self, n, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if self.units_running() >= n:
                return True
            time.sleep(0.5)
        return False

    def __exit__(self, *exc):
        info = self.stop_info
        if self.proc and self.proc.poll() is None:
            t0 = time.monotonic()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(self.b.stop_timeout)
                info["sigterm_exit_s"] = round(time.monotonic() - t0, 3)
            except subprocess.TimeoutExpired:
                info["sigterm_exit_s"] = None
            info["rc"] = self.proc.returncode
            try:  # anything left in its process group
                os.killpg(self.proc.pid, signal.SIGKILL)
                info["group_killed"] = True
            except (ProcessLookupError, PermissionError):
                pass
            if self.proc.poll() is None:
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass
        else:
            info["rc_before_stop"] = self.proc.returncode if self.proc else None
        self.errf.close()
        info["leftovers_killed"] = kill_leftovers()
        if not self.b.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            info["kept"] = str(self.tmp)
        return False


# ------------------------------------------------------------------ units
def unit(desc, execstart, extra=()):
    # StartLimitIntervalSec= belongs in [Unit] (systemd.unit(5)); 0 = no start rate limit.
    return "\n".join(["[Unit]", f"Description={desc}", "StartLimitIntervalSec=0", "", "[Service]",
                      f"ExecStart={execstart}", "Restart=always", "RestartSec=0", *extra, ""])


def marker_units(marker, marks, names, quiet=True):
    extra = ["StandardOutput=null"] if quiet else []
    return {n: unit(f"bench marker {n}", f"{marker} {n} {marks}", extra) for n in names}


def sleep_units(n, prefix="s"):
    sleep = shutil.which("sleep") or "/bin/sleep"
    return {f"{prefix}{i:04d}": unit(f"bench sleeper {i}", f"{sleep} 100000", ["StandardOutput=null"])
            for i in range(n)}


# ------------------------------------------------------------------ workloads
class Bench:
    def __init__(self, opts):
        self.opts = opts
        self.quick = opts.quick
        self.keep = opts.keep
        self.tend = opts.tend_argv
        self.stop_timeout = 10.0
        self.marker = None
        now = dt.datetime.now(dt.timezone.utc)
        self.run_id = now.strftime("%Y%m%dT%H%M%SZ")
        self.out = Path(opts.out) if opts.out else OUT / f"results-{self.run_id}.jsonl"
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.results = {}

    def env(self, state):
        e = dict(os.environ)
        e["TEND_STATE_DIR"] = str(state)
        return e

    def emit(self, rec):
        with open("/proc/loadavg") as f:
            load = f.read().split()[:3]
        rec = {"ts": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
               "run_id": self.run_id, "quick": self.quick, "selftest": self.opts.selftest,
               **rec, "loadavg_at_end": load}
        with open(self.out, "a") as f:
            f.write(json.dumps(rec) + "\n")
        self.results[rec["workload"]] = rec

    # ---------------------------------------------------------------- restart
    def restart(self):
        k, n_kills, min_age = 6, 10 if self.quick else 30, 2_050_000_000
        names = [f"r{i}" for i in range(k)]
        out = {"params": {"services": k, "kills": n_kills, "min_age_s": 2.05, "RestartSec": 0}}
        d = Daemon(self, "restart", {})
        d.units = marker_units(self.marker, d.marks, names)
        with d:
            m = Marks(d.marks)
            deadline = time.monotonic() + 30
            while not set(names) <= set(m.latest):
                d.check_alive()
                if time.monotonic() > deadline:
                    raise RuntimeError(f"services did not start: have {sorted(m.latest)}")
                time.sleep(0.01)
                m.poll()
            lat, timeouts, i = [], 0, 0
            while len(lat) < n_kills and timeouts <= 2:
                name = names[i % k]
                i += 1
                pid, mono0 = m.latest[name]
                while time.monotonic_ns() < mono0 + min_age:
                    time.sleep(min(0.05, max(0.0, (mono0 + min_age - time.monotonic_ns()) / 1e9)))
                t_kill = time.monotonic_ns()
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:  # already gone (replaced without our kill?)
                    m.poll()
                    continue
                deadline = time.monotonic() + 10
                new = None
                while time.monotonic() < deadline:
                    m.poll()
                    if m.latest[name][0] != pid:
                        new = m.latest[name]
                        break
                    time.sleep(0.0005)
                if new is None:
                    timeouts += 1
                    d.check_alive()
                    continue
                lat.append((new[1] - t_kill) / MS)
            out["latency_ms"] = summary(lat)
            out["samples_ms"] = [round(x, 3) for x in lat]
            out["timeouts"] = timeouts
            out["unexpected_starts"] = m.count - k - len(lat)
        out["stop"] = d.stop_info
        return out

    # ---------------------------------------------------------------- footprint
    def footprint(self):
        sizes = [10, 100] if self.quick else [10, 100, 1000]
        out = {"params": {"sizes": sizes, "service": "/bin/sleep 100000", "settle_s": 2.0,
                          "counted": "manager pid + descendants with comm 'tend'"}, "by_n": {}}
        for n in sizes:
            d = Daemon(self, f"footprint{n}", sleep_units(n))
            try:
                self._footprint_n(d, n, out)
            except RuntimeError as e:
                out["by_n"][str(n)] = {"error": str(e)}
            out["by_n"][str(n)]["stop"] = d.stop_info
        return out

    def _footprint_n(self, d, n, out):
        with d:
            if not d.wait_running(n, 120):
                out["by_n"][str(n)] = {"error": "not all services running within 120 s",
                                       "running": d.units_running()}
                return
            time.sleep(2.0)
            rss = pss = 0
            pids = d.mem_pids()
            for p in pids:
                r, s = mem_kib(p)
                rss += r
                pss += s or 0
            out["by_n"][str(n)] = {"rss_kib": rss, "pss_kib": pss, "procs": len(pids),
                                   "threads": sum(threads(p) for p in d.mem_pids()),
                                   "running": d.units_running()}

    # ---------------------------------------------------------------- bringup
    def bringup(self):
        n = 100 if self.quick else 1000
        reps = 1 if self.quick else 3
        out = {"params": {"services": n, "reps": reps, "service": "marker (direct exec)",
                          "t0": "harness monotonic right before spawning tend daemon",
                          "done": "newest of the N start marks"}, "runs": []}
        names = [f"b{i:04d}" for i in range(n)]
        for r in range(reps):
            d = Daemon(self, f"bringup{r}", {})
            d.units = marker_units(self.marker, d.marks, names)
            rec = {}
            with d:
                m = Marks(d.marks)
                deadline = time.monotonic() + 120
                while len(m.latest) < n and time.monotonic() < deadline:
                    if not d.alive():
                        break
                    time.sleep(0.005)
                    m.poll()
                if d.alive():  # the manager's own CPU time for the whole bring-up
                    try:
                        rec["daemon_cpu_ms"] = round(sum(cpu_ticks(p) for p in d.mem_pids()) * 1000.0 / CLK_TCK)
                    except OSError:
                        pass
                t0 = d.t_spawn_ns
                starts = sorted(x[1] for x in m.latest.values())
                rec["started"] = len(m.latest)
                rec["ok"] = len(m.latest) >= n
                if starts:
                    rec["first_ms"] = round((starts[0] - t0) / MS, 2)
                    rec["half_ms"] = round((starts[len(starts) // 2] - t0) / MS, 2)
                    rec["all_ms"] = round((starts[-1] - t0) / MS, 2) if rec["ok"] else None
                if not d.alive():
                    rec["daemon_exited"] = d.proc.returncode
            rec["stop_s"] = d.stop_info.get("sigterm_exit_s")
            out["runs"].append(rec)
        alls = [x["all_ms"] for x in out["runs"] if x.get("all_ms") is not None]
        out["all_ms_median"] = round(statistics.median(alls), 2) if alls else None
        if not alls:
            x = out["runs"][-1]
            out["error"] = (f"no run brought all {n} services up within 120 s "
                            f"(last run: {x.get('started')} started, daemon rc {x.get('daemon_exited')})")
        return out

    # ---------------------------------------------------------------- deps
    def deps(self):
        """1000 Type=oneshot units (RemainAfterExit=yes) forming a random DAG: unit i Requires= and is After= up to 3
        of the 60 units before it (seed 1). Each sleeps its readiness delay (0-5 ms, uniform) then exits: ready.
        Theoretical minimum = the longest path by summed delays. Measured by the manager (`tend analyze`): from the
        first start job to the last unit active; also wall time from spawning the daemon to the newest mark."""
        import random
        n = 200 if self.quick else 1000
        rng = random.Random(1)
        ready = build_marker("ready")
        names = [f"d{i:04d}" for i in range(n)]
        delay_us = [rng.randint(0, 5000) for _ in range(n)]
        parents = []
        for i in range(n):
            k = rng.randint(0, 3) if i > 0 else 0
            parents.append(sorted(set(rng.randrange(max(0, i - 60), i) for _ in range(k))) if i else [])
        # Critical path: earliest possible ready time of each unit.
        finish = [0.0] * n
        for i in range(n):
            finish[i] = max((finish[p] for p in parents[i]), default=0.0) + delay_us[i] / 1e6
        crit_ms = max(finish) * 1000
        depth = [0] * n
        for i in range(n):
            depth[i] = max((depth[p] for p in parents[i]), default=0) + 1
        out = {"params": {"units": n, "seed": 1, "delay_ms": [0, 5], "max_parents": 3, "window": 60,
                          "edges": sum(len(p) for p in parents), "longest_chain_units": max(depth),
                          "type": "oneshot + RemainAfterExit, Requires= + After="},
               "critical_path_ms": round(crit_ms, 2)}
        # The process-creation floor: the same 1000 oneshot units with no dependencies and no delay.
        flat = Daemon(self, "deps-flat", {})
        flat.units = {name: "\n".join(["[Unit]", "Description=deps floor", "", "[Service]", "Type=oneshot",
                                          "RemainAfterExit=yes", "StandardOutput=null",
                                          f"ExecStart={ready} {name} {flat.marks} 0", ""]) for name in names}
        with flat:
            fm = Marks(flat.marks)
            deadline = time.monotonic() + 120
            while len(fm.latest) < n and time.monotonic() < deadline and flat.alive():
                time.sleep(0.005)
                fm.poll()
            if len(fm.latest) >= n:
                time.sleep(0.2)
                t = self._deps_times(flat)
                if t:
                    out["flat_no_deps_ms"] = round(t * 1000, 2)
        d = Daemon(self, "deps", {})
        units = {}
        for i, name in enumerate(names):
            deps = " ".join(f"{names[p]}.service" for p in parents[i])
            lines = ["[Unit]", f"Description=deps bench {name}"]
            if deps:
                lines += [f"Requires={deps}", f"After={deps}"]
            lines += ["", "[Service]", "Type=oneshot", "RemainAfterExit=yes", "StandardOutput=null",
                      f"ExecStart={ready} {name} {d.marks} {delay_us[i]}", ""]
            units[name] = "\n".join(lines)
        d.units = units
        with d:
            m = Marks(d.marks)
            deadline = time.monotonic() + 120
            while len(m.latest) < n and time.monotonic() < deadline and d.alive():
                time.sleep(0.005)
                m.poll()
            out["started"] = len(m.latest)
            if len(m.latest) >= n:
                newest = max(x[1] for x in m.latest.values())
                out["wall_ms"] = round((newest - d.t_spawn_ns) / MS, 2)
                # The manager's own account: first start job -> last unit active (excludes loading the files).
                time.sleep(0.2)  # the last job's completion is handled after its process exit
                _, r2 = d.ctl(["list", "--all", "--output", "json"])
                try:
                    active = sum(1 for x in json.loads(r2.stdout) if x.get("unit", "").startswith("d")
                                 and x.get("active") == "active")
                    out["active"] = active
                except ValueError:
                    pass
                _, r3 = d.ctl(["analyze", "plot"])
                times = self._deps_times(d)
                if times:
                    out["manager_ms"] = round(times * 1000, 2)
                    budget = crit_ms * 1.10 + 50
                    out["target_ms"] = round(budget, 2)
                    out["ratio_vs_critical_path"] = round(times * 1000 / crit_ms, 3) if crit_ms else None
                    out["within_target"] = times * 1000 <= budget
                    if out.get("flat_no_deps_ms"):
                        floor = max(crit_ms, out["flat_no_deps_ms"])
                        out["ratio_vs_max_critical_path_and_flat"] = round(times * 1000 / floor, 3)
                if self.keep:
                    (d.tmp / "deps.svg").write_text(r3.stdout)
            else:
                out["error"] = f"only {len(m.latest)} of {n} units became ready within 120 s: {d.output()}"
        return out

    def _deps_times(self, d):
        """Seconds from the first unit's activation to the last one's readiness, from the manager's data."""
        try:
            import socket
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(15)
            s.connect(str(d.state / "control.sock"))
            s.sendall(b'{"cmd": "dependencies"}\n')
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                buf += chunk
            s.close()
            units = json.loads(buf)["units"]
        except (OSError, ValueError, KeyError):
            return None
        svc = [u for u in units if u["unit"].startswith("d") and u["unit"].endswith(".service")]
        starts = [u["activating"] for u in svc if u.get("activating") is not None]
        ends = [u["activeEnter"] for u in svc if u.get("activeEnter") is not None]
        if len(ends) < len(svc) or not starts:
            return None
        return max(ends) - min(starts)

    # ---------------------------------------------------------------- idle
    def idle(self):
        n, dur = 100, (5.0 if self.quick else 30.0)
        out = {"params": {"services": n, "window_s": dur, "settle_s": 2.0}}
        d = Daemon(self, "idle", sleep_units(n, "i"))
        with d:
            if not d.wait_running(n, 60):
                raise RuntimeError("services did not come up")
            time.sleep(2.0)
            pids = d.mem_pids()
            a = {p: (cpu_ticks(p), ctx_switches(p), run_ns(p)) for p in pids}
            t0 = time.monotonic()
            time.sleep(dur)
            b = {p: (cpu_ticks(p), ctx_switches(p), run_ns(p)) for p in pids}
            dtm = time.monotonic() - t0
            ticks = sum(b[p][0] - a[p][0] for p in pids)
            vcs = sum(b[p][1][0] - a[p][1][0] for p in pids)
            nvcs = sum(b[p][1][1] - a[p][1][1] for p in pids)
            out["window_s_actual"] = round(dtm, 3)
            out["cpu_ms"] = round(ticks * 1000.0 / CLK_TCK, 1)
            out["cpu_ms_schedstat"] = round(sum(b[p][2] - a[p][2] for p in pids) / MS, 3)
            out["vcsw"], out["nvcsw"] = vcs, nvcs
            out["wakeups_per_s"] = round((vcs + nvcs) / dtm, 3)
            out["threads"] = sum(threads(p) for p in d.mem_pids())
        out["stop"] = d.stop_info
        return out

    # ---------------------------------------------------------------- status
    def status(self):
        sizes = [100] if self.quick else [100, 1000]
        reps = 5 if self.quick else 20
        out = {"params": {"sizes": sizes, "reps": reps,
                          "commands": ["tend status --state-dir S", "tend list --all (TEND_STATE_DIR=S)"],
                          "floor": "/bin/true spawned the same way"}, "by_n": {}}
        for n in sizes:
            d = Daemon(self, f"status{n}", sleep_units(n, "c"))
            try:
                self._status_n(d, n, reps, out)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                out["by_n"][str(n)] = {"error": f"{type(e).__name__}: {e}"}
            out["by_n"][str(n)]["stop"] = d.stop_info
        return out

    def _status_n(self, d, n, reps, out):
        with d:
            if not d.wait_running(n, 120):
                out["by_n"][str(n)] = {"error": "not all services running within 120 s"}
                return
            cmds = {"status": ["status", "--state-dir", str(d.state)], "list": ["list", "--all"]}
            res = {}
            for key, args in cmds.items():
                d.ctl(args)  # warm-up
                ts, rcs, lines = [], set(), 0
                for _ in range(reps):
                    ms, r = d.ctl(args)
                    ts.append(ms)
                    rcs.add(r.returncode)
                    lines = len(r.stdout.splitlines())
                res[key] = {"ms": summary(ts), "rc": sorted(rcs), "stdout_lines": lines}
            floor = []
            for _ in range(reps):
                t0 = time.perf_counter()
                subprocess.run(["/bin/true"], capture_output=True, text=True, timeout=15,
                               env=self.env(d.state))
                floor.append((time.perf_counter() - t0) * 1000)
            res["true_floor"] = {"ms": summary(floor)}
            out["by_n"][str(n)] = res

    # ---------------------------------------------------------------- logs
    def logs(self):
        """One service writes 1,000,000 numbered 100-byte lines as fast as it can; the manager stamps and stores
        them. Wall time from `tend start` to the last line on disk, then every sequence number is checked."""
        n = 200_000 if self.quick else 1_000_000
        reps = 1 if self.quick else 3
        lines_bin = build_marker("lines")
        out = {"params": {"lines": n, "bytes_per_line": 100, "reps": reps,
                          "t0": "right before `tend start --no-block`", "done": "last line visible in the log files"},
               "runs": []}
        for r in range(reps):
            d = Daemon(self, f"logs{r}", {"flood": "\n".join([
                "[Service]", "Type=oneshot", f"ExecStart={lines_bin} {n}", "LogMaxSize=64M", "LogMaxUse=4G",
                "LogMaxFiles=1000", ""])})
            d.extra_args = ["--no-start"]
            rec = {}
            with d:
                d.ctl(["list"])  # the manager answers: it is up
                time.sleep(0.2)
                cpu0 = sum(run_ns(p) for p in d.mem_pids())
                t0 = time.monotonic()
                d.ctl(["start", "flood", "--no-block"])
                logdir = d.logs / "flood.service"
                last = f"L{n:010d} ".encode()
                deadline = time.monotonic() + 120
                done = False
                while time.monotonic() < deadline:
                    cur = logdir / "current"
                    try:
                        with open(cur, "rb") as f:
                            f.seek(0, 2)
                            size = f.tell()
                            f.seek(max(0, size - 400))
                            if last in f.read():
                                done = True
                                break
                    except FileNotFoundError:
                        pass
                    time.sleep(0.002)
                wall = time.monotonic() - t0
                cpu = (sum(run_ns(p) for p in d.mem_pids()) - cpu0) / 1e9
                rec["wall_s"] = round(wall, 3)
                rec["lines_per_s"] = round(n / wall) if done else None
                rec["mb_per_s"] = round(n * 100 / wall / 1e6, 1) if done else None
                rec["manager_cpu_s"] = round(cpu, 3)
                rec["manager_cpu_s_per_million"] = round(cpu * 1_000_000 / n, 3)
                # Check every sequence number.
                seen, dup, corrupt, prefix_len = set(), 0, 0, None
                files = sorted(logdir.glob("@*.s")) + [logdir / "current"]
                expected = 1
                out_of_order = 0
                for fpath in files:
                    with open(fpath, "rb") as f:
                        for line in f:
                            i = line.find(b" L")
                            if i < 0:
                                continue
                            try:
                                k = int(line[i + 2:i + 12])
                            except ValueError:
                                corrupt += 1
                                continue
                            if prefix_len is None:
                                prefix_len = i + 1
                            if k in seen:
                                dup += 1
                            seen.add(k)
                            if k != expected:
                                out_of_order += 1
                            expected = k + 1
                rec["lost"] = n - len(seen)
                rec["duplicated"] = dup
                rec["corrupt"] = corrupt
                rec["out_of_order"] = out_of_order
                rec["prefix_bytes"] = prefix_len
                rec["files"] = len(files)
            out["runs"].append(rec)
        ok = [x["lines_per_s"] for x in out["runs"] if x.get("lines_per_s")]
        out["lines_per_s_median"] = round(statistics.median(ok)) if ok else None
        return out

    # ---------------------------------------------------------------- logsince
    def logsince(self):
        """`tend logs --since T` over a large store (written directly, in tend's format): time to the first line,
        for stores of growing size. It should not grow with the store (binary search, not a scan)."""
        sizes = [100, 300] if self.quick else [100, 1000]
        out = {"params": {"store_mb": sizes, "query": "tend logs u --log-dir D --since MIDDLE -n ... (first line)",
                          "reps": 10}, "by_mb": {}}
        tmp = Path(tempfile.mkdtemp(prefix="tendbench-logsince-"))
        try:
            for mb in sizes:
                d = tmp / f"store{mb}" / "u.service"
                d.mkdir(parents=True)
                t0_us = 1_795_000_000_000_000
                step_us = 1000
                per_seg = 16 << 20
                line_tail = " out 42 " + "x" * 64 + "\n"
                rec_len = 27 + len(line_tail)
                total_records = mb * 1_000_000 // rec_len
                per_file = per_seg // rec_len
                k = 0
                files = []
                while k < total_records:
                    cnt = min(per_file, total_records - k)
                    start = t0_us + k * step_us
                    stamp = dt.datetime.fromtimestamp(start / 1e6, dt.timezone.utc)
                    chunks = []
                    base_s = start // 1_000_000
                    for j in range(cnt):
                        us = start + j * step_us
                        sec = us // 1_000_000
                        if j == 0 or sec != base_s:
                            base_s = sec
                            head = dt.datetime.fromtimestamp(sec, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.")
                        chunks.append(f"{head}{us % 1_000_000:06d}Z{line_tail}")
                    files.append((start, "".join(chunks)))
                    k += cnt
                for i, (start, text) in enumerate(files):
                    name = "current" if i == len(files) - 1 else "@%016x%08x.s" % ((1 << 62) + 10 + start // 1_000_000, (start % 1_000_000) * 1000)
                    (d / name).write_text(text)
                middle = t0_us + (total_records // 2) * step_us
                ts = []
                argv = self.tend + ["logs", "u", "--log-dir", str(d.parent), "--since", f"@{middle / 1e6:.6f}", "-o", "cat"]
                for _ in range(10):
                    t0 = time.perf_counter()
                    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                    first = p.stdout.readline()
                    ts.append((time.perf_counter() - t0) * 1000)
                    p.kill()
                    p.wait()
                out["by_mb"][str(mb)] = {"first_line_ms": summary(ts), "records": total_records,
                                         "files": len(files), "ok": bool(first)}
                shutil.rmtree(d.parent, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return out

    # ---------------------------------------------------------------- notify
    def notify(self):
        """sd_notify: datagrams processed per second by the manager (one sender flooding STATUS=n), and the
        latency from a service's READY=1 to the unit being active (the manager's ActiveEnterTimestamp)."""
        count = 100_000 if self.quick else 500_000
        reps = 5 if self.quick else 20
        notifier = build_marker("notifier")
        out = {"params": {"flood_datagrams": count, "ready_reps": reps}}
        d = Daemon(self, "notify", {
            "flood": "\n".join(["[Service]", "NotifyAccess=all", f"ExecStart={notifier} flood {count}", ""]),
        })
        with d:
            d.ctl(["list"])
            cpu0 = sum(run_ns(p) for p in d.mem_pids())
            t0 = time.monotonic()
            deadline = t0 + 120
            accepted = 0
            while time.monotonic() < deadline:
                _, r = d.ctl(["show", "flood", "-p", "NotifyMessagesAccepted"])
                try:
                    accepted = int(r.stdout.strip().split("=")[1])
                except (IndexError, ValueError):
                    accepted = 0
                if accepted >= count:
                    break
                time.sleep(0.01)
            wall = time.monotonic() - t0
            out["flood"] = {"accepted": accepted, "wall_s": round(wall, 3),
                            "datagrams_per_s": round(accepted / wall) if accepted >= count else None,
                            "manager_cpu_s": round((sum(run_ns(p) for p in d.mem_pids()) - cpu0) / 1e9, 3)}
        lat = []
        d = Daemon(self, "ready", {})
        d.units = {"ready": "\n".join(["[Service]", "Type=notify", f"ExecStart={notifier} ready {d.marks}", ""])}
        with d:
            d.ctl(["list"])
            for i in range(reps):
                _, r = d.ctl(["restart", "ready"])
                _, s = d.ctl(["status", "ready", "-o", "json", "-n", "0"])
                try:
                    active_us = json.loads(s.stdout)[0]["activeEnterTimestamp"]
                    sent_us = int(Path(d.marks).read_text().split()[-1])
                    lat.append((active_us - sent_us) / 1000)
                except (ValueError, KeyError, IndexError, OSError):
                    pass
        out["ready_to_active_ms"] = summary(lat)
        return out

    # ---------------------------------------------------------------- run
    def run(self, names):
        self.marker = build_marker()
        self.emit({"workload": "meta", "host": host_info(), "tend": self.tend,
                   "tend_version": tend_version(self.tend), "workloads": names})
        for name in names:
            print(f"# {name} ...", file=sys.stderr, flush=True)
            t0 = time.monotonic()
            try:
                res, err = getattr(self, name)(), None
            except KeyboardInterrupt:
                kill_leftovers()
                raise
            except Exception as e:  # keep going with the next workload
                res, err = {}, f"{type(e).__name__}: {e}"
                print(f"  error: {err}", file=sys.stderr)
            left = kill_leftovers()
            rec = {"workload": name, "tool": "tend", **res, "elapsed_s": round(time.monotonic() - t0, 2),
                   "leftover_procs_after_cleanup": left}
            if err:
                rec["error"] = err
            self.emit(rec)


def host_info():
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    return {"kernel": platform.release(), "nproc": os.cpu_count(), "python": platform.python_version(),
            "loadavg_at_start": load}


def tend_version(tend):
    try:
        r = subprocess.run(tend + ["--version"], capture_output=True, text=True, timeout=10)
        return (r.stdout or r.stderr).strip()[:200] or None
    except (OSError, subprocess.TimeoutExpired):
        return None


# ------------------------------------------------------------------ table
def fmt(v, nd=1):
    if v is None:
        return "-"
    return f"{v:.{nd}f}" if isinstance(v, float) else str(v)


def print_table(results, path):
    rows = []
    r = results.get("restart", {})
    if "latency_ms" in r:
        L = r["latency_ms"]
        rows.append(("restart after kill -9 (ms)", f"p50 {fmt(L.get('p50'), 2)}  p90 {fmt(L.get('p90'), 2)}"
                     f"  max {fmt(L.get('max'), 2)}  n={L['n']}  timeouts={r.get('timeouts')}"))
    for n, x in results.get("footprint", {}).get("by_n", {}).items():
        if "rss_kib" in x:
            rows.append((f"manager memory, {n} services (MiB)",
                         f"PSS {x['pss_kib'] / 1024:.2f}  RSS {x['rss_kib'] / 1024:.2f}  threads {x['threads']}"))
        else:
            rows.append((f"manager memory, {n} services", x.get("error", "?")))
    b = results.get("bringup", {})
    if "runs" in b:
        n = b["params"]["services"]
        rows.append((f"bring-up of {n} services (ms)",
                     f"median {fmt(b.get('all_ms_median'))}  runs "
                     + " ".join(fmt(x.get("all_ms")) for x in b["runs"])
                     + "  (manager CPU ms: " + " ".join(fmt(x.get("daemon_cpu_ms")) for x in b["runs"]) + ")"))
    dp = results.get("deps", {})
    if "manager_ms" in dp:
        rows.append((f"deps: {dp['params']['units']} units, random DAG (ms)",
                     f"all active {fmt(dp['manager_ms'])}  critical path {fmt(dp['critical_path_ms'])}"
                     f"  ratio {fmt(dp.get('ratio_vs_critical_path'), 3)}  target <= {fmt(dp.get('target_ms'))}"
                     f"  {'OK' if dp.get('within_target') else 'MISSED'}  (wall from spawn {fmt(dp.get('wall_ms'))};"
                     f" same units without deps or delays {fmt(dp.get('flat_no_deps_ms'))})"))
    i = results.get("idle", {})
    if "cpu_ms" in i:
        rows.append((f"idle, 100 services, {i['params']['window_s']:.0f} s",
                     f"CPU {i['cpu_ms']} ms (schedstat {i.get('cpu_ms_schedstat')} ms)  ctx switches {i['vcsw']}+{i['nvcsw']}"
                     f"  = {i['wakeups_per_s']}/s"))
    for n, x in results.get("status", {}).get("by_n", {}).items():
        if "status" in x:
            s, l, t = x["status"]["ms"], x["list"]["ms"], x["true_floor"]["ms"]
            rows.append((f"`tend status`, {n} services (ms)",
                         f"p50 {fmt(s['p50'], 2)}  p90 {fmt(s['p90'], 2)}  rc {x['status']['rc']}"))
            rows.append((f"`tend list --all`, {n} services (ms)",
                         f"p50 {fmt(l['p50'], 2)}  p90 {fmt(l['p90'], 2)}  (/bin/true {fmt(t['p50'], 2)})"))
        else:
            rows.append((f"status, {n} services", x.get("error", "?")))
    lg = results.get("logs", {})
    if "runs" in lg:
        x = lg["runs"][-1]
        rows.append((f"log ingest, {lg['params']['lines']} x 100 B lines",
                     f"median {fmt(lg.get('lines_per_s_median'))} lines/s  ({fmt(x.get('mb_per_s'))} MB/s last run)"
                     f"  lost {x.get('lost')} dup {x.get('duplicated')} corrupt {x.get('corrupt')}"
                     f"  manager CPU {fmt(x.get('manager_cpu_s_per_million'), 2)} s per million lines"))
    for mb, x in results.get("logsince", {}).get("by_mb", {}).items():
        rows.append((f"`tend logs --since`, {mb} MB store (ms)",
                     f"first line p50 {fmt(x['first_line_ms']['p50'], 2)}  p90 {fmt(x['first_line_ms']['p90'], 2)}"
                     f"  ({x['files']} files)"))
    nt = results.get("notify", {})
    if "flood" in nt:
        rows.append(("sd_notify datagrams processed per second",
                     f"{fmt(nt['flood'].get('datagrams_per_s'))}  (manager CPU {nt['flood'].get('manager_cpu_s')} s)"))
        L = nt.get("ready_to_active_ms", {})
        rows.append(("READY=1 -> active (ms)", f"p50 {fmt(L.get('p50'), 3)}  p90 {fmt(L.get('p90'), 3)}  n={L.get('n')}"))
    for name, rec in results.items():
        if rec.get("error"):
            rows.append((f"{name}: ERROR", rec["error"][:200]))
        if rec.get("leftover_procs_after_cleanup"):
            rows.append((f"{name}: leftovers killed", str(rec["leftover_procs_after_cleanup"])))
    w = max((len(a) for a, _ in rows), default=10)
    print()
    for a, bb in rows:
        print(f"{a:<{w}}  {bb}")
    print(f"\nJSON lines: {path}")


# ------------------------------------------------------------------ compare
def load_jsonl(path):
    recs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    recs.append(json.loads(line))
                except ValueError:
                    pass
    return recs


def compare_report(ours_path, anchors_path):
    """tend's figures (our JSONL) next to the anchors' (shared harness JSONL), with targets."""
    ours = {r["workload"]: r for r in load_jsonl(ours_path) if r.get("tool") == "tend"}
    anc = {}
    for r in load_jsonl(anchors_path):
        if "adapter" in r and "skipped" not in r and not r.get("error"):
            anc[(r["workload"], r["adapter"])] = r  # newest wins

    def g(d, *ks):
        for k in ks:
            if not isinstance(d, dict) or k not in d:
                return None
            d = d[k]
        return d

    rows = []

    def ratio_row(what, t, a, aname, target, unit="ms"):
        if t is None or a is None or a == 0:
            rows.append((what, fmt(t, 2), fmt(a, 2), aname, "-", target, "n/a"))
            return
        q = t / a
        lim = float(target.split("x")[0].lstrip("<= "))
        rows.append((what, fmt(t, 2), fmt(a, 2), aname, f"{q:.2f}x", target, "ok" if q <= lim else "MISS"))

    def abs_row(what, t, a, aname, limit, target):
        ok = "n/a" if t is None else ("ok" if t <= limit else "MISS")
        rows.append((what, fmt(t, 2), fmt(a, 2), aname, "-", target, ok))

    ratio_row("restart p50 (ms)", g(ours.get("restart"), "latency_ms", "p50"),
              g(anc.get(("restart", "runit")), "latency_ms", "p50"), "runit", "<= 0.4x")
    for n, lim in (("100", 5.0), ("1000", 10.0)):
        t = g(ours.get("footprint"), "by_n", n, "pss_kib")
        a = g(anc.get(("footprint", "runit")), "by_n", n, "pss_kib")
        abs_row(f"PSS, {n} services (MiB)", t / 1024 if t is not None else None,
                a / 1024 if a is not None else None, "runit", lim, f"<= {lim:g} MiB")
    tb = ours.get("bringup", {})
    nb = str(g(tb, "params", "services"))
    ab = g(anc.get(("bringup", "runit")), "by_n", nb, "all_ms_median")
    ratio_row(f"bring-up of {nb} (ms)", tb.get("all_ms_median"), ab, "runit", "<= 0.2x")
    ti, ai = ours.get("idle", {}), anc.get(("idle", "runit"))
    abs_row("idle wakeups/s (100 svc)", ti.get("wakeups_per_s"), g(ai, "per_s", "vcsw"), "runit", 0.0, "0")
    wi = g(ai, "params", "window_s")
    abs_row("idle CPU ms/s (100 svc)",
            ti.get("cpu_ms_schedstat", ti.get("cpu_ms", 0)) / ti["window_s_actual"] if "cpu_ms" in ti else None,
            g(ai, "per_s", "cpu_ms"), "runit", 0.1, "~0 (<= 0.1)")
    st = ours.get("status", {})
    ratio_row("status, 100 svc (ms)", g(st, "by_n", "100", "status", "ms", "p50"),
              g(anc.get(("control", "daemontools")), "latency_ms", "p50"), "svstat", "<= 1.0x")
    abs_row("status, 1000 svc (ms)", g(st, "by_n", "1000", "status", "ms", "p50"), None, "-", 15.0,
            "<= 15 ms")
    ratio_row("list --all, 100 svc (ms)", g(st, "by_n", "100", "list", "ms", "p50"),
              g(anc.get(("control", "daemontools")), "latency_ms", "p50"), "svstat", "<= 1.0x")
    abs_row("list --all, 1000 svc (ms)", g(st, "by_n", "1000", "list", "ms", "p50"), None, "-", 15.0, "<= 15 ms")
    lt = ours.get("logs", {}).get("lines_per_s_median")
    la = g(anc.get(("logs", "s6")), "lines_per_s_median")
    if lt and la:
        q = lt / la
        rows.append(("log ingest (lines/s)", fmt(lt), fmt(la), "s6-log", f"{q:.2f}x", ">= 2x",
                     "ok" if q >= 2 and all(x.get("lost") == 0 for x in ours["logs"]["runs"]) else "MISS"))
    else:
        rows.append(("log ingest (lines/s)", fmt(lt), fmt(la), "s6-log", "-", ">= 2x", "n/a"))
    hdr = ("figure", "tend", "anchor", "anchor is", "ratio", "target", "verdict")
    w = [max(len(str(r[i])) for r in rows + [hdr]) for i in range(len(hdr))]
    print()
    for r in [hdr] + rows:
        print("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)))
    print("\nanchors at a glance (p50):")
    for (wl, a), r in sorted(anc.items()):
        if wl == "restart":
            print(f"  restart   {a:<12} {fmt(g(r, 'latency_ms', 'p50'), 2)} ms")
        elif wl == "control":
            print(f"  status    {a:<12} {fmt(g(r, 'latency_ms', 'p50'), 2)} ms")
        elif wl == "bringup":
            print(f"  bring-up  {a:<12} " + "  ".join(f"N={k}: {fmt(v.get('all_ms_median'))} ms"
                                                   for k, v in (r.get("by_n") or {}).items()))
        elif wl == "footprint":
            print(f"  PSS       {a:<12} " + "  ".join(f"N={k}: {fmt(v['pss_kib'] / 1024, 2)} MiB"
                                                   for k, v in (r.get("by_n") or {}).items()
                                                   if isinstance(v, dict) and "pss_kib" in v))
        elif wl == "logs":
            print(f"  logs      {a:<12} {fmt(r.get('lines_per_s_median'))} lines/s  lost {r.get('lost_max')}")
        elif wl == "idle":
            print(f"  idle      {a:<12} {fmt(g(r, 'per_s', 'vcsw'), 2)} vcsw/s  "
                  f"{fmt(g(r, 'per_s', 'cpu_ms'), 3)} CPU ms/s")
    others = sorted({a for (_, a) in anc})
    print(f"\nanchors in {anchors_path}: {', '.join(others) or 'none'}")
    if wi is not None and wi != g(ti, "params", "window_s"):
        print(f"note: idle windows differ (tend {g(ti, 'params', 'window_s')} s, anchors {wi} s)")
    print("notes: runit's idle 'wakeups' are voluntary ctx switches/s of runsvdir+runsv; "
          "status ratio uses `svstat DIR/*` (daemontools, one process for 100 services).")
    return 0


# ------------------------------------------------------------------ main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tend", help="path to the tend binary")
    ap.add_argument("--quick", action="store_true", help="fewer samples, shorter windows, no N=1000")
    ap.add_argument("--only", help="comma list of workloads: " + ",".join(WORKLOADS))
    ap.add_argument("--out", help="JSONL file (default bench/out/results-<UTC>.jsonl)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dirs")
    ap.add_argument("--selftest", action="store_true",
                    help="run against bench/fake-tend (a Python test double) to check the plumbing")
    ap.add_argument("--compare-report", nargs=2, metavar=("OURS", "ANCHORS"),
                    help="print tend vs runit/svstat ratios from two JSONL files, run nothing")
    opts = ap.parse_args(argv)
    if opts.compare_report:
        return compare_report(*opts.compare_report)
    if opts.selftest:
        opts.tend_argv = [sys.executable, str(BENCH / "fake-tend")]
        if opts.out is None:
            opts.out = str(OUT / f"selftest-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%SZ}.jsonl")
    elif opts.tend:
        if not os.access(opts.tend, os.X_OK):
            ap.error(f"--tend {opts.tend}: not an executable file")
        opts.tend_argv = [os.path.abspath(opts.tend)]
    else:
        ap.error("need --tend BIN or --selftest")
    names = WORKLOADS if not opts.only else [x for x in opts.only.split(",") if x]
    for n in names:
        if n not in WORKLOADS:
            ap.error(f"unknown workload {n!r}")
    set_subreaper()

    def on_term(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_term)
    b = Bench(opts)
    if opts.selftest:
        print("SELFTEST: measuring bench/fake-tend, a Python test double -- these numbers are NOT tend's",
              file=sys.stderr)
    try:
        b.run(names)
    finally:
        kill_leftovers()
    print_table(b.results, b.out)
    if opts.selftest:
        bad = [n for n, r in b.results.items() if r.get("error") or r.get("leftover_procs_after_cleanup")
               or any("error" in x for x in r.get("by_n", {}).values())]
        print("SELFTEST " + ("FAILED: " + ", ".join(bad) if bad else "passed (plumbing only; numbers are the fake's)"))
        return 1 if bad else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
