#!/usr/bin/env python3
"""Measurement helper for bench/run.

Subcommands
  freeport                 print a TCP port on 127.0.0.1 that is free right now
  suite SPEC               run every client of SPEC --runs times, round-robin,
                           appending one JSON line per run to --raw
  report                   turn --raw into the CSVs, the Markdown report --md
                           and (with --plots-dir) the gnuplot SVGs

A SPEC holds one client a line, either TSV
  scenario  client  conns  source-file  url  command-template
or a JSON object (written by routes.py) with the same keys (scenario, client,
conns, src, url, cmd) and optionally
  env          {"NAME": "value" | null}: set (or, with null, unset) in the
               client's environment
  checks       [{"name", "log", "regex", "min"}]: after the run, the lines the
               run added to each log are matched; fewer than "min" matches
               means the download did not take the route it was meant to
  unsupported  the reason the client is expected not to manage this route:
               if its first run fails, the cell is UNSUPPORTED (with the exact
               failure) and is not run again; if it works it is measured
  route, tool  the proxy route and the client program (for the report)
The command template is a shell-quoted argv (shlex) with the placeholders
{URL}, {OUT} (output file), {OUTDIR} and {OUTNAME}. A template that starts with
"UNAVAILABLE:" or "UNSUPPORTED:" is not run; the rest of it is the reason shown
in the report.

Each run gets a fresh directory under --tmp (a real disk, not tmpfs), a clean
environment (PATH, LANG, HOME pointing at an empty directory, no *_proxy
variables) and its own process group. The child is reaped with os.wait4, whose
rusage covers the child and every descendant it reaped: user+sys CPU seconds
and ru_maxrss (peak RSS). Wall time is taken around fork..wait4. The SHA-256
of the output is then compared with that of the source file, and the
directory removed.
"""

import argparse
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no bench/__pycache__ in the work tree
import plots as plotlib  # noqa: E402
import relpaths  # noqa: E402
import routes as routelib  # noqa: E402

MiB = 1024 * 1024
GiB = 1024 * MiB
RATE_PER_CONN = 4 * MiB  # nginx stream proxy_download_rate 4m
TIME = "/usr/bin/time"     # GNU time, for the peak RSS


# ----------------------------------------------------------------- helpers
def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        while True:
            b = f.read(4 * MiB)
            if not b:
                return h.hexdigest()
            h.update(b)


def check_output(out, size, want_sha):
    """SHA-256 of the download against the source's; returns (ok, reason, sha)."""
    try:
        st = os.stat(out)
    except FileNotFoundError:
        return False, "no output file", None
    got = sha256_of(out)
    if st.st_size != size:
        return False, "size %d != %d (sha256 %s)" % (st.st_size, size, got[:16]), got
    if got != want_sha:
        return False, "sha256 %s != %s" % (got[:16], want_sha[:16]), got
    return True, "sha256 ok", got


def clean_env(home):
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": home,
        "TERM": "dumb",
        # belt and braces: nothing proxies loopback
        "no_proxy": "*",
        "NO_PROXY": "*",
    }
    return env


def run_once(argv, env, cwd, log_path, timeout):
    """Run argv, return dict(wall, cpu_user, cpu_sys, maxrss_kib, rc, timed_out).

    The client is started through GNU time, which forks it from a small
    process: ru_maxrss survives exec(), so a client forked straight from this
    Python process would report Python's own RSS when its own is smaller.
    CPU comes from wait4 on GNU time (client + time's own ~1 ms).
    """
    timed_out = threading.Event()
    rss_file = log_path + ".rss"
    argv = [TIME, "-f", "%M", "-o", rss_file] + list(argv)
    with open(log_path, "wb") as log:
        t0 = time.perf_counter()
        try:
            p = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                 stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        except OSError as e:
            return {"wall": 0.0, "cpu_user": 0.0, "cpu_sys": 0.0,
                    "maxrss_kib": 0, "rc": 127, "timed_out": False,
                    "error": str(e)}

        def kill():
            timed_out.set()
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.daemon = True
        timer.start()
        try:
            while True:
                try:
                    _, status, ru = os.wait4(p.pid, 0)
                    break
                except InterruptedError:
                    continue
        except BaseException:
            # interrupted (Ctrl-C, SIGTERM): the client runs in its own
            # session and would not get the signal; take it down with us
            timer.cancel()
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                os.waitpid(p.pid, 0)
            except ChildProcessError:
                pass
            raise
        t1 = time.perf_counter()
        timer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
        # anything the client left behind in its group goes too
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    maxrss = 0
    try:
        with open(rss_file) as f:
            for line in f:  # "Command exited with non-zero status N" may precede
                if line.strip().isdigit():
                    maxrss = int(line.strip())
        os.unlink(rss_file)
    except OSError:
        pass
    return {"wall": t1 - t0, "cpu_user": ru.ru_utime, "cpu_sys": ru.ru_stime,
            "maxrss_kib": maxrss, "rc": p.returncode,
            "timed_out": timed_out.is_set()}


ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
ERRORISH = re.compile(r"error|exception|status=|\b[45]\d\d\b|invalid|unsupported|fail|refused|denied|unrecognized",
                      re.IGNORECASE)


def log_tail(path, n=3):
    """The last lines of a client's output; lines that look like an error
    message are preferred over the chatter that may follow them."""
    try:
        with open(path, "rb") as f:
            data = f.read()[-8000:]
    except OSError:
        return ""
    lines = [ANSI.sub("", l).strip() for l in data.decode("utf-8", "replace").splitlines()]
    lines = [l for l in lines if l]
    errs = [l for l in lines if ERRORISH.search(l)]
    return " | ".join((errs or lines)[-n:])[:300]


# ------------------------------------------------------------------- suite
def read_spec(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            if line.startswith("{"):
                r = json.loads(line)
                r["conns"] = int(r["conns"])
            else:
                scen, client, conns, src, url, cmd = line.split("\t", 5)
                r = {"scenario": scen, "client": client, "conns": int(conns),
                     "src": src, "url": url, "cmd": cmd}
            r.setdefault("env", {})
            r.setdefault("checks", [])
            r.setdefault("unsupported", None)
            rows.append(r)
    return rows


def warm(path):
    with open(path, "rb", buffering=0) as f:
        while f.read(8 * MiB):
            pass


def log_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def settle_logs(paths, limit=2.0):
    """Wait (at most `limit` s) until none of the logs grows any more: a proxy
    writes its access-log line when a transaction ends, just after the client
    may have exited."""
    t_end = time.monotonic() + limit
    last = None
    stable = 0
    while time.monotonic() < t_end:
        now = [log_size(p) for p in paths]
        stable = stable + 1 if now == last else 0
        if stable >= 2:
            return
        last = now
        time.sleep(0.1)


def new_lines(path, offset):
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return []
    return data.decode("utf-8", "replace").splitlines()


def run_checks(checks, offsets):
    """Count the matching lines each run added; returns (counts, failure)."""
    counts = {}
    failure = None
    for c in checks:
        lines = new_lines(c["log"], offsets[c["log"]])
        rx = re.compile(c["regex"])
        n = sum(1 for l in lines if rx.search(l))
        counts[c["name"]] = n
        if n < c.get("min", 0) and failure is None:
            sample = " | ".join(l.strip()[:160] for l in lines[:2]) or "no new lines"
            failure = "route check: %d %s in %s (new lines: %s)" % (
                n, c["name"], os.path.basename(c["log"]), sample)
    return counts, failure


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt("SIGTERM")


def cmd_suite(a):
    signal.signal(signal.SIGTERM, _on_sigterm)  # clean up the running client too
    spec = read_spec(a.spec)
    os.makedirs(a.tmp, exist_ok=True)
    os.makedirs(a.logs, exist_ok=True)
    home = tempfile.mkdtemp(prefix="home.", dir=a.tmp)
    base_env = clean_env(home)
    shas = {}
    for src in sorted({r["src"] for r in spec}):
        shas[src] = sha256_of(src)  # also reads it into the page cache
    scenarios = []
    for r in spec:
        if r["scenario"] not in scenarios:
            scenarios.append(r["scenario"])
    # cells expected to be unsupported that failed: not run again
    given_up = {}
    with open(a.raw, "a") as raw:
        for scen in scenarios:
            rows = [r for r in spec if r["scenario"] == scen]
            first = 1 - (a.warmup if scen in a.warmup_scenario else 0)
            for rnd in range(first, a.runs + 1):
                for r in rows:  # round-robin: A,B,C,... then A,B,C,... again
                    rec = {"scenario": scen, "client": r["client"],
                           "conns": r["conns"], "round": rnd,
                           "size": os.path.getsize(r["src"]), "cmd": r["cmd"],
                           "warmup": rnd < 1, "src_sha256": shas[r["src"]]}
                    for k in ("route", "tool", "env"):
                        if r.get(k):
                            rec[k] = r[k]
                    key = (scen, r["client"])
                    for tag in ("UNAVAILABLE:", "UNSUPPORTED:"):
                        if r["cmd"].startswith(tag):
                            rec.update(status=tag[:-1], note=r["cmd"][len(tag):].strip())
                    if key in given_up:
                        rec.update(status="UNSUPPORTED", note=given_up[key])
                    if rec.get("status"):
                        raw.write(json.dumps(rec) + "\n")
                        raw.flush()
                        continue
                    env = dict(base_env)
                    for k, v in r["env"].items():
                        if v is None:
                            env.pop(k, None)
                        else:
                            env[k] = v
                    d = tempfile.mkdtemp(prefix="run.", dir=a.tmp)
                    out = os.path.join(d, "download.bin")
                    # a client that is expected to fail gets a short leash
                    timeout = a.timeout
                    if r["unsupported"]:
                        timeout = min(a.timeout, a.probe_timeout)
                    try:
                        subst = {"{URL}": r["url"], "{OUT}": out, "{OUTDIR}": d,
                                 "{OUTNAME}": "download.bin"}
                        argv = []
                        for tok in shlex.split(r["cmd"]):
                            for k, v in subst.items():
                                tok = tok.replace(k, v)
                            argv.append(tok)
                        logp = os.path.join(a.logs, "%s.%s.r%d.log" % (
                            scen, r["client"].replace("/", "_"), rnd))
                        offsets = {c["log"]: log_size(c["log"]) for c in r["checks"]}
                        if r.get("evidence"):
                            offsets.setdefault(r["evidence"], log_size(r["evidence"]))
                        m = run_once(argv, env, d, logp, timeout)
                        rec.update(m)
                        if m["timed_out"]:
                            rec["status"] = "TIMEOUT"
                            rec["note"] = "killed after %ds" % timeout
                            tail = log_tail(logp)
                            if tail:
                                rec["note"] += ": " + tail
                        elif m["rc"] != 0:
                            rec["status"] = "FAILED"
                            rec["note"] = ("exit %d: " % m["rc"]) + (m.get("error") or log_tail(logp))
                        else:
                            ok, why, got = check_output(out, rec["size"], shas[r["src"]])
                            rec["sha256"] = got
                            rec["status"] = "OK" if ok else "FAILED"
                            rec["note"] = why if ok else "exit 0 but " + why
                            tail = log_tail(logp)
                            if not ok and tail:
                                rec["note"] += ": " + tail
                        if r["checks"]:
                            settle_logs(list(offsets))
                            counts, failure = run_checks(r["checks"], offsets)
                            rec["checks"] = counts
                            if failure and rec["status"] == "OK":
                                rec["status"] = "FAILED"
                                rec["note"] = failure
                        ev = r.get("evidence")
                        if rec["status"] != "OK" and ev:
                            # what the proxy saw of this failed run
                            lines = [l.strip() for l in new_lines(ev, offsets.get(ev, 0)) if l.strip()]
                            rec["note"] += "; %s: %s" % (
                                os.path.basename(ev),
                                " | ".join(l[:200] for l in lines[:2]) if lines else "no new lines")
                        if rec["status"] != "OK" and r["unsupported"]:
                            why = "%s — this run: %s %s" % (r["unsupported"], rec["status"], rec["note"])
                            given_up[key] = why
                            rec["status"] = "UNSUPPORTED"
                            rec["note"] = why
                        elif rec["status"] == "OK" and r["unsupported"]:
                            rec["note"] += " (expected unsupported: %s; it worked)" % r["unsupported"]
                    finally:
                        shutil.rmtree(d, ignore_errors=True)
                        os.sync()  # no dirty pages carried into the next run
                    raw.write(json.dumps(rec) + "\n")
                    raw.flush()
                    print("  %-13s %-24s round %2d/%d  %-8s %7.2fs %8.1f MiB/s  cpu %6.2fs  rss %6.1f MiB  %s"
                          % (scen, r["client"], rnd, a.runs, rec["status"],
                             rec.get("wall", 0.0),
                             (rec["size"] / MiB / rec["wall"]) if rec["status"] == "OK" else 0.0,
                             rec.get("cpu_user", 0.0) + rec.get("cpu_sys", 0.0),
                             rec.get("maxrss_kib", 0) / 1024.0, rec.get("note", "")[:200]),
                          flush=True)
                    time.sleep(a.pause)
    shutil.rmtree(home, ignore_errors=True)


# ------------------------------------------------------------------ report
def median(xs):
    return statistics.median(xs) if xs else None


def summarize(records):
    """Group runs by (scenario, client); medians over the OK runs."""
    groups = {}
    order = []
    for r in records:
        if r.get("warmup"):
            continue
        k = (r["scenario"], r["client"])
        if k not in groups:
            groups[k] = []
            order.append(k)
        groups[k].append(r)
    out = []
    for k in order:
        runs = groups[k]
        ok = [r for r in runs if r["status"] == "OK"]
        bad = [r for r in runs if r["status"] != "OK"]
        first = runs[0]
        s = {"scenario": k[0], "client": k[1], "conns": first["conns"],
             "size": first["size"], "cmd": first["cmd"], "runs": len(runs),
             "ok_runs": len(ok), "route": first.get("route"),
             "tool": first.get("tool", k[1]), "env": first.get("env") or {},
             "src_sha256": first.get("src_sha256")}
        # SHA-256 checked runs, and how many matched the served file
        s["sha_checked"] = sum(1 for r in runs if r.get("sha256"))
        s["sha_ok"] = sum(1 for r in runs if r.get("sha256") and r["sha256"] == r.get("src_sha256"))
        reqs = [r["checks"]["origin requests"] for r in ok
                if "origin requests" in (r.get("checks") or {})]
        s["requests_med"] = median(reqs)
        if bad:
            s["status"] = bad[0]["status"]
            s["note"] = bad[0].get("note", "")
        else:
            s["status"] = "OK"
            s["note"] = ""
        if ok:
            walls = [r["wall"] for r in ok]
            tput = [r["size"] / MiB / r["wall"] for r in ok]
            cpu = [(r["cpu_user"] + r["cpu_sys"]) / (r["size"] / GiB) for r in ok]
            rss = [r["maxrss_kib"] / 1024.0 for r in ok]
            s.update(wall_med=median(walls), wall_min=min(walls), wall_max=max(walls),
                     mibs_med=median(tput), mibs_min=min(tput), mibs_max=max(tput),
                     cpu_gib_med=median(cpu), cpu_gib_min=min(cpu), cpu_gib_max=max(cpu),
                     rss_med=median(rss), rss_max=max(rss),
                     user_med=median([r["cpu_user"] for r in ok]),
                     sys_med=median([r["cpu_sys"] for r in ok]))
        out.append(s)
    return out


def fmt(x, p=2):
    return "—" if x is None else ("%.*f" % (p, x))


def version_of(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10,
                           env=clean_env(tempfile.gettempdir()))
        txt = (r.stdout + "\n" + r.stderr).strip()
        for line in txt.splitlines():
            if line.strip():
                return line.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return "not found"


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = "%.0f GiB RAM" % (kb / 1024 / 1024)
    except (OSError, ValueError, IndexError):
        pass
    deb = ""
    try:
        with open("/etc/debian_version") as f:
            deb = "Debian " + f.read().strip()
    except OSError:
        pass
    return "%s; %d CPUs (nproc); %s; kernel %s; %s" % (
        model, os.cpu_count() or 0, mem, platform.release(), deb)


def by(summ, scen, client):
    for s in summ:
        if s["scenario"] == scen and s["client"] == client:
            return s
    return None


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def cmd_report(a):
    records = []
    with open(a.raw) as f:
        for line in f:
            if line.strip():
                records.append(json.loads(line))
    summ = summarize(records)

    # ---- CSV: one line per run, then nothing else (easy to load)
    import csv
    with open(a.csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["scenario", "client", "conns", "round", "warmup", "size_bytes", "status",
                    "wall_s", "mib_per_s", "cpu_user_s", "cpu_sys_s",
                    "cpu_s_per_gib", "maxrss_mib", "route", "tool", "origin_requests",
                    "sha256_ok", "note", "command"])
        for r in records:
            ok = "wall" in r and r.get("wall")
            w.writerow([r["scenario"], r["client"], r["conns"], r["round"],
                        int(bool(r.get("warmup"))), r["size"],
                        r["status"],
                        "%.4f" % r["wall"] if ok else "",
                        "%.2f" % (r["size"] / MiB / r["wall"]) if ok else "",
                        "%.3f" % r["cpu_user"] if ok else "",
                        "%.3f" % r["cpu_sys"] if ok else "",
                        "%.3f" % ((r["cpu_user"] + r["cpu_sys"]) / (r["size"] / GiB)) if ok else "",
                        "%.1f" % (r["maxrss_kib"] / 1024.0) if ok else "",
                        r.get("route", ""), r.get("tool", ""),
                        (r.get("checks") or {}).get("origin requests", ""),
                        "" if not r.get("sha256") else int(r["sha256"] == r.get("src_sha256")),
                        r.get("note", ""), with_env(r["cmd"], r.get("env"))])

    meta = {}
    if a.meta:
        with open(a.meta) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    meta[k] = v

    if meta.get("root"):
        meta["test_rig_rel"] = os.path.relpath(os.path.join(meta["root"], "docs", "test-rig.md"),
                                               os.path.dirname(os.path.abspath(a.md)))
    plots = make_plots(a, summ, meta)

    L = []
    L.append("# rangefetch benchmark results")
    L.append("")
    L.append("Generated by `%s` on %s. Regenerate with the same command; "
             "see [README.md](%s) for what is measured and how to read it."
             % (meta.get("command", "bench/run"), meta.get("date", time.strftime("%Y-%m-%d %H:%M:%S %Z")),
                os.path.relpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "README.md"),
                                os.path.dirname(os.path.abspath(a.md)))))
    L.append("")
    if meta.get("quick") == "1":
        L.append("> **Quick mode** (1 run per client, smaller files): a smoke test of the "
                 "harness, not a measurement. The targets are judged on a full run.")
        L.append("")
    L.append("## Machine and software")
    L.append("")
    L.append("- Machine: " + machine())
    if meta.get("load"):
        L.append("- Load average (1/5/15 min) around the runs: %s. The origin and the "
                 "client share these CPUs; anything else running skews the numbers."
                 % meta["load"])
    vers = [("rangefetch", meta.get("rangefetch_version", "")),
            ("aria2c", version_of(["aria2c", "--version"])),
            ("axel", version_of(["axel", "--version"])),
            ("wget2", version_of(["wget2", "--version"])),
            ("curl", version_of(["curl", "--version"])),
            ("nginx", version_of(["nginx", "-v"]))]
    for name, v in vers:
        L.append("- %s: %s" % (name, v or "not found"))
    L.append("- Origin: nginx on 127.0.0.1 (%s), sendfile on, access_log off, "
             "keepalive_requests 100000; worker_processes %s. Rate-limited origin: "
             "nginx `stream` proxy in front of it with `proxy_download_rate 4m` "
             "(4 MiB/s per TCP connection)."
             % (meta.get("origin_port", "?"), meta.get("workers", "?")))
    L.append("- Downloads are written to a fresh directory under `%s` (a disk "
             "file system, not tmpfs), their SHA-256 compared with the served file's, and "
             "deleted after every run; `sync` runs between runs. Clients run with a "
             "clean environment (empty HOME, no proxy variables)." % meta.get("tmp", "/var/tmp"))
    L.append("- Runs per client: %s, interleaved round-robin (A,B,C,… then A,B,C,…); "
             "each cell shows the median and the min–max over the OK runs. "
             "Per-run timeout: %s s. Warm-up rounds before the measured ones "
             "(loopback and proxy routes only, discarded): %s."
             % (meta.get("runs", "?"), meta.get("timeout", "?"), meta.get("warmup", "0")))
    L.append("")

    scen_titles = {
        "connections": "Loopback, %s file: rangefetch --no-sync by connection count",
        "loopback": "Loopback, %s file, 8 connections each",
        "ratelimited": "Rate-limited origin (4 MiB/s per TCP connection)",
    }
    for scen in [s for s in dict.fromkeys(x["scenario"] for x in summ)]:
        if scen in ("proxies", "slow"):
            continue  # their own sections below
        rows = [s for s in summ if s["scenario"] == scen]
        size = rows[0]["size"]
        title = scen_titles.get(scen, scen + " (%s)")
        if "%s" in title:
            title = title % human(size)
        L.append("## " + title)
        L.append("")
        if scen == "loopback":
            aria = by(summ, scen, "aria2c")
            wget = by(summ, scen, "wget2")
            L.append("| client | wall s, median (min–max) | MiB/s, median (min–max) | "
                     "CPU s/GiB (user+sys) | peak RSS MiB | result | vs aria2c | vs wget2 |")
            L.append("|---|---|---|---|---|---|---|---|")
            for s in rows:
                L.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    s["client"], cell(s, "wall"), cell(s, "mibs", 1),
                    fmt(s.get("cpu_gib_med")), fmt(s.get("rss_max"), 1),
                    result(s),
                    xr(ratio(s.get("mibs_med"), aria and aria.get("mibs_med"))),
                    xr(ratio(s.get("mibs_med"), wget and wget.get("mibs_med")))))
        elif scen == "connections":
            best = max((s.get("mibs_med") or 0) for s in rows) or None
            L.append("| client | N | wall s, median (min–max) | MiB/s, median (min–max) | "
                     "vs the best N | CPU s/GiB | peak RSS MiB | result |")
            L.append("|---|---|---|---|---|---|---|---|")
            for s in rows:
                L.append("| %s | %d | %s | %s | %s | %s | %s | %s |" % (
                    s["client"], s["conns"], cell(s, "wall"), cell(s, "mibs", 1),
                    xr(ratio(s.get("mibs_med"), best)), fmt(s.get("cpu_gib_med")),
                    fmt(s.get("rss_max"), 1), result(s)))
        else:
            L.append("| client | N | file | wall s, median (min–max) | aggregate MiB/s, median (min–max) | "
                     "% of N×4 MiB/s | nginx-ideal wall s | % of ideal | vs aria2c, same N | "
                     "CPU s/GiB | peak RSS MiB | result |")
            L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
            rows = sorted(rows, key=lambda x: (not x["client"].startswith("rangefetch"), x["conns"]))
            for s in rows:
                cap = s["conns"] * RATE_PER_CONN / MiB
                pct = ratio(s.get("mibs_med"), cap)
                ideal = ideal_wall(s["size"], s["conns"])
                peer = by(summ, scen, "aria2c-x%d" % s["conns"])
                L.append("| %s | %d | %s | %s | %s | %s | %.2f | %s | %s | %s | %s | %s |" % (
                    s["client"], s["conns"], human(s["size"]), cell(s, "wall"), cell(s, "mibs", 1),
                    "—" if pct is None else "%.1f%%" % (pct * 100), ideal,
                    "—" if s.get("wall_med") is None else "%.1f%%" % (100 * ideal / s["wall_med"]),
                    "—" if s["client"].startswith("aria2c") else
                    xr(ratio(s.get("mibs_med"), peer and peer.get("mibs_med"))),
                    fmt(s.get("cpu_gib_med")), fmt(s.get("rss_max"), 1), result(s)))
            L.append("")
            L.append("The file grows with N (N × %s, at most %s) so that every connection carries "
                     "the same amount whatever N: a 1-connection run of the large file would take "
                     "minutes, and a small file for 16 connections would be mostly burst."
                     % (human(int(meta["rate_conn_b"])) if meta.get("rate_conn_b") else "?",
                        human(int(meta["rate_size_b"])) if meta.get("rate_size_b") else "?"))
            if plots.get("ratelimited"):
                L.append("")
                L.append("![aggregate throughput against connection count, rate-limited origin](%s)"
                         % plots["ratelimited"])
            L.append("")
            L.append("nginx's limiter allows `rate × (whole seconds since the connection "
                     "started + 1)` bytes, so every new TCP connection may burst 1–2 s worth "
                     "(4–8 MiB) at once; a perfectly balanced client with N connections that "
                     "each last the whole download therefore finishes in about "
                     "size/(N×4 MiB/s) − 1 s (\"nginx-ideal\"), above 100% of N×4 MiB/s. "
                     "\"% of ideal\" is that ideal wall time divided by the measured one.")
        L.append("")
        notes = [s for s in rows if s["status"] != "OK"]
        for s in notes:
            L.append("- **%s**: %s (%d of %d runs OK) — %s" % (
                s["client"], s["status"], s["ok_runs"], s["runs"], s["note"]))
        if notes:
            L.append("")

    proxies_section(L, summ, meta, plots)
    slow_section(L, summ, meta, plots)

    # ---- targets
    L.append("## Targets")
    L.append("")
    L.append("| target | measured | verdict |")
    L.append("|---|---|---|")
    aria = by(summ, "loopback", "aria2c")
    wget = by(summ, "loopback", "wget2")

    def verdict(cond):
        if cond is None:
            return "n/a"
        return "**PASS**" if cond else "**MISS**"

    def ok(s):
        return s is not None and s["status"] == "OK" and s.get("mibs_med") is not None

    # rangefetch flushes its file to disk (fdatasync) before the rename by
    # default; none of the peers does.  The like-for-like row is --no-sync;
    # the default (durable) row is shown as well.
    for label, name in (("rangefetch --no-sync (like the peers: no flush)", "rangefetch-nosync"),
                        ("rangefetch (default: data on disk before the rename)", "rangefetch")):
        rf = by(summ, "loopback", name)
        if rf is None:
            continue
        L.append("| **%s** | | |" % label)
        r = ratio(rf.get("mibs_med"), aria.get("mibs_med")) if ok(rf) and ok(aria) else None
        L.append("| throughput ≥ 1.5× aria2c (`-x8 -s8 -k1M`) | %s | %s |" % (
            "%s vs %s MiB/s = %s" % (fmt(rf["mibs_med"], 1), fmt(aria["mibs_med"], 1), xr(r)) if r else why(rf, aria),
            verdict(None if r is None else r >= 1.5)))
        r = ratio(rf.get("mibs_med"), wget.get("mibs_med")) if ok(rf) and ok(wget) else None
        L.append("| throughput ≥ wget2 (`--max-threads=8 --chunk-size=1M`) | %s | %s |" % (
            "%s vs %s MiB/s = %s" % (fmt(rf["mibs_med"], 1), fmt(wget["mibs_med"], 1), xr(r)) if r else why(rf, wget),
            verdict(None if r is None else r >= 1.0)))
        r = ratio(rf.get("cpu_gib_med"), aria.get("cpu_gib_med")) if ok(rf) and ok(aria) else None
        L.append("| client CPU/GiB ≤ 0.5× aria2c | %s | %s |" % (
            "%s vs %s s/GiB = %s" % (fmt(rf["cpu_gib_med"]), fmt(aria["cpu_gib_med"]), xr(r)) if r is not None else why(rf, aria),
            verdict(None if r is None else r <= 0.5)))
        if ok(rf):
            note = "" if rf["size"] == GiB else " (file is %s, not 1 GiB)" % human(rf["size"])
            L.append("| peak RSS < 64 MiB (1 GiB, 8 connections) | max %s MiB%s | %s |" % (
                fmt(rf["rss_max"], 1), note, verdict(rf["rss_max"] < 64)))
        else:
            L.append("| peak RSS < 64 MiB (1 GiB, 8 connections) | %s | n/a |" % why(rf))
    L.append("| **rate-limited origin** | | |")
    for n in (8, 16):
        s = by(summ, "ratelimited", "rangefetch-c%d" % n)
        cap = n * RATE_PER_CONN / MiB
        if ok(s):
            p = s["mibs_med"] / cap
            L.append("| rate-limited, N=%d: ≥ 95%% of %d MiB/s | %s MiB/s = %.1f%% | %s |" % (
                n, cap, fmt(s["mibs_med"], 1), p * 100, verdict(p >= 0.95)))
        else:
            L.append("| rate-limited, N=%d: ≥ 95%% of %d MiB/s | %s | n/a |" % (n, cap, why(s)))
    prox = [x for x in summ if x["scenario"] == "proxies" and x.get("tool") == "rangefetch"]
    if prox:
        der = derived(summ)
        L.append("| **proxy routes** | | |")
        judged, misses, failed = 0, [], []
        for x in prox:
            d = der.get(("proxies", x["client"]), {})
            if x["status"] != "OK":
                failed.append(x["route"])
            if d.get("vs_best_peer") is None:
                continue
            judged += 1
            if d["vs_best_peer"] < 1.0:
                misses.append("%s %s" % (x["route"], xr(d["vs_best_peer"])))
        L.append("| rangefetch `-c 8` works on every route (SHA-256 and route check) | %s | %s |" % (
            "%d of %d routes%s" % (len(prox) - len(failed), len(prox),
                                   "; failed: " + ", ".join(failed) if failed else ""),
            verdict(not failed)))
        L.append("| rangefetch `-c 8` ≥ the best peer, on each route a peer manages | %s | %s |" % (
            "%d of %d routes%s" % (judged - len(misses), judged,
                                   "; below: " + ", ".join(misses) if misses else "") if judged else "no route to judge",
            verdict(None if not judged else not misses)))
        pac = {}
        if meta.get("pac_json") and os.path.exists(meta["pac_json"]):
            with open(meta["pac_json"]) as fh:
                pac = json.load(fh)
        if pac:
            L.append("| PAC evaluated once per host, not per piece | %s evaluation(s), %s requests | %s |" % (
                pac.get("pac_evaluations"), pac.get("squid_requests"),
                verdict(pac.get("pac_evaluations") == 1 and pac.get("rc") == 0)))
    L.append("")

    if plots.get("errors"):
        L.append("Plots not drawn: %s." % "; ".join(plots["errors"]))
        L.append("")

    # ---- commands
    L.append("## Commands")
    L.append("")
    L.append("`{URL}` is `http://127.0.0.1:PORT/<file>` (origin, or the stream proxy for the "
             "rate-limited rows; for the proxy routes the rig's HTTP or HTTPS origin, for the "
             "slow network the origin in the server namespace); `{OUT}` = `{OUTDIR}/{OUTNAME}` "
             "is a file in a fresh directory. `NAME=value` before a command is set in the "
             "client's environment; the proxy routes run without the `no_proxy=*` that the "
             "clean environment otherwise sets.")
    L.append("")
    L.append("```")
    seen = set()
    for s in summ:
        k = (s["scenario"], s["client"])
        if k in seen:
            continue
        seen.add(k)
        cmd = with_env(s["cmd"], s.get("env"))
        if meta.get("root"):
            cmd = cmd.replace(meta["root"].rstrip("/") + "/", "")
        L.append("%-11s %-15s %s" % (s["scenario"], s["client"], cmd))
    L.append("```")
    L.append("")
    if a.nginx_conf and os.path.exists(a.nginx_conf):
        L.append("<details><summary>nginx configuration used</summary>")
        L.append("")
        L.append("`{WORK}` is the run's temporary directory (`mktemp -d` under the cache "
                 "directory).")
        L.append("")
        L.append("```nginx")
        with open(a.nginx_conf) as f:
            L.append(f.read().rstrip())
        L.append("```")
        L.append("</details>")
        L.append("")
    L.append("Raw per-run numbers: `%s`." % meta.get("csv_rel", a.csv))
    if a.cells_csv:
        L.append("One row per cell (medians, ratios, SHA-256 check): `%s`."
                 % meta.get("cells_csv_rel", a.cells_csv))
    L.append("")
    with open(a.md, "w") as f:
        # Paths relative to the repository, temporary directories by name.
        f.write(relpaths.scrub("\n".join(L), meta.get("root")))
    if a.cells_csv:
        write_cells_csv(a.cells_csv, summ, meta.get("root"))


def with_env(cmd, env):
    """The command as typed in a shell: NAME=value prefixes for what the cell
    sets in the client's environment (unset variables are not shown)."""
    pre = ["%s=%s" % (k, shlex.quote(v)) for k, v in sorted((env or {}).items()) if v is not None]
    return " ".join(pre + [cmd])


def mibs(s):
    return None if s is None else s.get("mibs_med")


def derived(summ):
    """Ratios per cell: proxy route ÷ direct (same client), rangefetch ÷ the
    best peer on the same route, and ÷ aria2c at the same N."""
    out = {}
    prox = {(s.get("route"), s.get("tool")): s for s in summ if s["scenario"] == "proxies"}
    for s in summ:
        d = {}
        if s["scenario"] == "proxies":
            base = prox.get((routelib.BASELINE.get(s["route"]), s["tool"]))
            if s["route"] != routelib.BASELINE.get(s["route"]):
                d["vs_direct"] = ratio(mibs(s), mibs(base))
            if s["tool"] == "rangefetch":
                peers = [x for (r, t), x in prox.items()
                         if r == s["route"] and t != "rangefetch" and mibs(x) is not None
                         and x["status"] == "OK"]
                if peers:
                    best = max(peers, key=mibs)
                    d["best_peer"] = best["tool"]
                    d["vs_best_peer"] = ratio(mibs(s), mibs(best))
        elif s["scenario"] in ("ratelimited", "slow") and not s["client"].startswith("aria2c"):
            d["vs_aria2c"] = ratio(mibs(s), mibs(by(summ, s["scenario"], "aria2c-x%d" % s["conns"])))
        elif s["scenario"] == "loopback":
            d["vs_aria2c"] = ratio(mibs(s), mibs(by(summ, "loopback", "aria2c")))
        out[(s["scenario"], s["client"])] = d
    return out


def write_cells_csv(path, summ, root=None):
    import csv
    der = derived(summ)

    def rel(txt):
        return relpaths.scrub(txt, root)

    def f(x, p=3):
        return "" if x is None else "%.*f" % (p, x)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["scenario", "route", "client", "tool", "conns", "size_bytes", "runs", "ok_runs",
                    "status", "mib_s_median", "mib_s_min", "mib_s_max", "wall_s_median",
                    "cpu_s_per_gib_median", "peak_rss_mib_max", "origin_requests_median",
                    "sha256_checked", "sha256_ok", "vs_direct", "vs_best_peer", "best_peer",
                    "vs_aria2c_same_n", "note", "command"])
        for s in summ:
            d = der.get((s["scenario"], s["client"]), {})
            w.writerow([s["scenario"], s.get("route") or "", s["client"], s.get("tool") or s["client"],
                        s["conns"], s["size"], s["runs"], s["ok_runs"], s["status"],
                        f(s.get("mibs_med"), 2), f(s.get("mibs_min"), 2), f(s.get("mibs_max"), 2),
                        f(s.get("wall_med")), f(s.get("cpu_gib_med")), f(s.get("rss_max"), 1),
                        "" if s.get("requests_med") is None else "%g" % s["requests_med"],
                        s.get("sha_checked", 0), s.get("sha_ok", 0),
                        f(d.get("vs_direct")), f(d.get("vs_best_peer")), d.get("best_peer", ""),
                        f(d.get("vs_aria2c")), rel(s.get("note", "")),
                        rel(with_env(s["cmd"], s.get("env")))])


def make_plots(a, summ, meta):
    """Draw the SVGs; returns {name: path relative to the report} and
    {"errors": [...]}."""
    res = {"errors": []}
    if not getattr(a, "plots_dir", None):
        return res
    os.makedirs(a.plots_dir, exist_ok=True)
    work = a.plot_work or tempfile.mkdtemp(prefix="plots.")
    os.makedirs(work, exist_ok=True)
    md_dir = os.path.dirname(os.path.abspath(a.md))

    def svg(name):
        return os.path.join(a.plots_dir, name + a.plot_suffix + ".svg")

    def done(name, err):
        if err:
            res["errors"].append("%s: %s" % (name, err))
        else:
            res[name] = os.path.relpath(svg(name), md_dir)
    if any(s["scenario"] == "proxies" for s in summ):
        size = next(s["size"] for s in summ if s["scenario"] == "proxies")
        routes = [r for r in routelib.ROUTE_NAMES
                  if any(s.get("route") == r for s in summ if s["scenario"] == "proxies")]
        done("proxies", plotlib.proxies(summ, routes, routelib.TOOLS, {},
                                        svg("proxies"), work, human(size)))
    if any(s["scenario"] == "ratelimited" for s in summ):
        done("ratelimited", plotlib.by_connections(
            summ, "ratelimited", [("rangefetch -c N", "rangefetch-c"), ("aria2c -xN -sN", "aria2c-x")],
            svg("ratelimited"), work,
            "Rate-limited origin (4 MiB/s per TCP connection): aggregate throughput (median; bars: min–max)",
            cap_per_conn=RATE_PER_CONN / MiB))
    if any(s["scenario"] == "slow" for s in summ):
        cap = None
        try:
            cap = float(meta.get("slow_cap_mibs", "")) or None
        except ValueError:
            pass
        done("slownet", plotlib.by_connections(
            summ, "slow", [("rangefetch -c N", "rangefetch-c"), ("aria2c -xN -sN", "aria2c-x")],
            svg("slownet"), work, "Slow network (%s): throughput (median; bars: min–max)"
            % meta.get("slow_short", "netem"), cap_total=cap))
    return res


def tput_cell(s, notes):
    """Matrix cell: MiB/s median (min–max), or why there is none."""
    if s is None:
        return "not run"
    if s["status"] in ("UNSUPPORTED", "UNAVAILABLE", "FAILED", "TIMEOUT") and s.get("mibs_med") is None:
        notes.append(s)
        return "%s [%d]" % (s["status"].lower() if s["status"] in ("UNSUPPORTED", "UNAVAILABLE")
                            else s["status"], len(notes))
    txt = cell(s, "mibs", 1)
    if s["ok_runs"] < s["runs"]:
        notes.append(s)
        txt += " (%d/%d OK) [%d]" % (s["ok_runs"], s["runs"], len(notes))
    return txt


def sha_cell(s):
    if not s.get("sha_checked"):
        return "—"
    if s["sha_ok"] == s["sha_checked"]:
        return "ok (%d/%d)" % (s["sha_ok"], s["sha_checked"])
    return "**mismatch** (%d/%d ok)" % (s["sha_ok"], s["sha_checked"])


def proxies_section(L, summ, meta, plots):
    rows = [s for s in summ if s["scenario"] == "proxies"]
    if not rows and not meta.get("proxies_skip"):
        return
    titles = dict(routelib.ROUTES)
    L.append("## Behind real proxies (tests/rig)")
    L.append("")
    if not rows:
        L.append("Not measured in this run: %s." % meta["proxies_skip"])
        L.append("")
        return
    size = rows[0]["size"]
    L.append("The rig of [docs/test-rig.md](%s) on 127.0.0.1: five squids (no auth, Basic, "
             "Digest, NTLM, Negotiate with its own KDC), tinyproxy, two microsocks, and its nginx "
             "serving `%s` (%s of random bytes, SHA-256 `%s`) on its HTTP and HTTPS origins "
             "(one worker, access log on: the log is how each run's route is checked). "
             "%sEvery client uses 8 connections (curl: 1), clients interleaved "
             "round-robin over all routes in each round; rangefetch runs with "
             "`--no-sync` (no flush before the rename, like the peers; the durable "
             "default is on the loopback rows), verification on, "
             "`--no-proxy-config` and the proxy on its command line."
             % (meta.get("test_rig_rel", "../docs/test-rig.md"), meta.get("proxy_file", "?"),
                human(size), rows[0].get("src_sha256") or "?",
                meta["rig_versions"] + ". " if meta.get("rig_versions") else ""))
    L.append("")
    L.append("A cell counts only if its download has the right SHA-256 **and** took the route: the "
             "origin's access log must show the run's requests with the proxy's `Via` (squid, "
             "tinyproxy), the SOCKS server's log its connections, squid's log a `CONNECT` tunnel "
             "(HTTPS route). Figures are the client's: the proxy's own CPU is not counted, but it "
             "runs on the same 2 CPUs.")
    L.append("")
    routes = [r for r in routelib.ROUTE_NAMES if any(s.get("route") == r for s in rows)]
    tools = routelib.TOOLS
    prox = {(s.get("route"), s.get("tool")): s for s in rows}
    der = derived(summ)
    notes = []

    L.append("### Throughput, MiB/s, median (min–max), %s file" % human(size))
    L.append("")
    L.append("| route | " + " | ".join(tools) + " |")
    L.append("|---|" + "---|" * len(tools))
    for r in routes:
        L.append("| %s | %s |" % (titles.get(r, r), " | ".join(
            tput_cell(prox.get((r, t)), notes) for t in tools)))
    L.append("")
    if plots.get("proxies"):
        L.append("![throughput by proxy route and client](%s)" % plots["proxies"])
        L.append("")

    L.append("### Proxy overhead: throughput through the proxy ÷ direct, same client, same run")
    L.append("")
    L.append("Direct is the HTTP origin, or for the CONNECT route the HTTPS origin. Below 1.00× "
             "the proxy costs throughput.")
    L.append("")
    L.append("| route | " + " | ".join(tools) + " |")
    L.append("|---|" + "---|" * len(tools))
    for r in routes:
        if routelib.BASELINE.get(r) == r:
            continue
        cells = []
        for t in tools:
            s = prox.get((r, t))
            v = der.get(("proxies", "%s/%s" % (r, t)), {}).get("vs_direct")
            cells.append(xr(v) if v is not None else
                         ("unsupported" if s and s["status"] == "UNSUPPORTED" else "—"))
        L.append("| %s | %s |" % (titles.get(r, r), " | ".join(cells)))
    L.append("")

    L.append("### Does `rangefetch get -c 8` reach the best peer on each route?")
    L.append("")
    L.append("| route | rangefetch MiB/s | best peer on this route | its MiB/s | rangefetch ÷ best peer | reaches it |")
    L.append("|---|---|---|---|---|---|")
    for r in routes:
        rf = prox.get((r, "rangefetch"))
        d = der.get(("proxies", "%s/rangefetch" % r), {})
        best = prox.get((r, d["best_peer"])) if d.get("best_peer") else None
        if best is None:
            verdict = "no peer supports this route" if not any(
                mibs(prox.get((r, t))) for t in tools if t != "rangefetch") else "—"
            L.append("| %s | %s | — | — | — | %s |" % (titles.get(r, r), fmt(mibs(rf), 1), verdict))
            continue
        v = d.get("vs_best_peer")
        if v is None:
            verdict = "n/a (rangefetch: %s)" % (rf["status"] if rf else "not run")
        else:
            verdict = "**yes**" if v >= 1.0 else "**no**"
        L.append("| %s | %s | %s | %s | %s | %s |" % (
            titles.get(r, r), fmt(mibs(rf), 1), best["tool"] + (" (1 connection)" if best["tool"] == "curl" else ""),
            fmt(mibs(best), 1), xr(v), verdict))
    L.append("")

    pac = {}
    if meta.get("pac_json") and os.path.exists(meta["pac_json"]):
        with open(meta["pac_json"]) as fh:
            pac = json.load(fh)
    if "pac" in routes or pac:
        L.append("### PAC route")
        L.append("")
        L.append("The PAC file is served by the rig's nginx and returns `%s`: the first proxy is a "
                 "port nobody listens on, so rangefetch must fail over to squid. No peer evaluates PAC "
                 "scripts (aria2c, axel, curl and wget2 have no PAC support), so this route has "
                 "rangefetch only." % meta.get("pac_result", "PROXY <dead port>; PROXY <squid>; DIRECT"))
        L.append("")
        if pac:
            evals = pac.get("pac_evaluations")
            L.append("PAC evaluation counter, from one extra run with `-v` (not timed): "
                     "**%s** log line(s) containing `[pac] FindProxyForURL(` for **1** host "
                     "(%s), next to **%s** requests for `%s` in squid's access log (%s answered "
                     "206/200), %s fail-over(s) from the dead proxy; exit %s, SHA-256 %s."
                     % (evals, "one per host: yes" if evals == 1 else "**not one per host**",
                        pac.get("squid_requests"), pac.get("file"), pac.get("squid_requests_ok"),
                        pac.get("failovers"), pac.get("rc"),
                        "ok" if pac.get("sha256") and pac.get("sha256") == rows[0].get("src_sha256")
                        else "**mismatch**"))
            L.append("")
            cmd = pac.get("cmd", "")
            if meta.get("root"):
                cmd = cmd.replace(meta["root"].rstrip("/") + "/", "")
            L.append("`%s`" % cmd)
            L.append("")
        elif meta.get("pac_error"):
            L.append("PAC evaluation counter: not available (%s)." % meta["pac_error"])
            L.append("")

    L.append("### Every cell")
    L.append("")
    L.append("| route | client | N | wall s, median (min–max) | MiB/s, median (min–max) | vs direct | "
             "CPU s/GiB | peak RSS MiB | origin requests (median) | SHA-256 | result |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in routes:
        for t in tools:
            s = prox.get((r, t))
            if s is None:
                continue
            d = der.get(("proxies", s["client"]), {})
            L.append("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r, t, s["conns"], cell(s, "wall"), cell(s, "mibs", 1), xr(d.get("vs_direct")),
                fmt(s.get("cpu_gib_med")), fmt(s.get("rss_max"), 1),
                "—" if s.get("requests_med") is None else "%g" % s["requests_med"],
                sha_cell(s), result(s)))
    L.append("")
    if notes:
        L.append("### Why a cell has no figure")
        L.append("")
        L.append("Each reason is followed by what the run actually did (exit status, the client's "
                 "last error lines, and the first lines the proxy or origin logged for it).")
        L.append("")
        for i, s in enumerate(notes, 1):
            note = s.get("note", "")
            if meta.get("root"):
                note = note.replace(meta["root"].rstrip("/") + "/", "")
            L.append("%d. **%s × %s** (%s): %s" % (i, s.get("tool"), titles.get(s.get("route"), s.get("route")),
                                                   s["status"].lower(), note.replace("|", "\\|")))
        L.append("")


def slow_section(L, summ, meta, plots):
    rows = [s for s in summ if s["scenario"] == "slow"]
    if not rows and not meta.get("slow_skip"):
        return
    L.append("## Slow network (network namespaces + tc)")
    L.append("")
    if not rows:
        L.append("**Skipped in this run:** %s" % meta["slow_skip"])
        L.append("")
        return
    size = rows[0]["size"]
    L.append("%s. nginx (1 worker) runs in one namespace and every client in the other "
             "(`ip netns exec`); %s file, clients interleaved round-robin. %s"
             % (meta.get("slow_desc", "?"), human(size), meta.get("slow_measured", "")))
    L.append("")
    if meta.get("slow_note"):
        L.append("> " + meta["slow_note"])
        L.append("")
    ns = sorted({s["conns"] for s in rows})
    L.append("| N | rangefetch -c N, MiB/s | aria2c -xN -sN, MiB/s | rangefetch ÷ aria2c | "
             "rangefetch CPU s/GiB | aria2c CPU s/GiB | rangefetch peak RSS MiB | aria2c peak RSS MiB | results |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for n in ns:
        rf = by(summ, "slow", "rangefetch-c%d" % n)
        ar = by(summ, "slow", "aria2c-x%d" % n)
        L.append("| %d | %s | %s | %s | %s | %s | %s | %s | %s / %s |" % (
            n, cell(rf, "mibs", 2) if rf else "—", cell(ar, "mibs", 2) if ar else "—",
            xr(ratio(mibs(rf), mibs(ar))),
            fmt(rf and rf.get("cpu_gib_med")), fmt(ar and ar.get("cpu_gib_med")),
            fmt(rf and rf.get("rss_max"), 1), fmt(ar and ar.get("rss_max"), 1),
            result(rf) if rf else "—", result(ar) if ar else "—"))
    L.append("")
    bad = [s for s in rows if s["status"] != "OK"]
    for s in bad:
        L.append("- **%s**: %s (%d of %d runs OK) — %s" % (s["client"], s["status"], s["ok_runs"],
                                                         s["runs"], s["note"]))
    if bad:
        L.append("")
    if plots.get("slownet"):
        L.append("![throughput against connection count on the slow network](%s)" % plots["slownet"])
        L.append("")


def ideal_wall(size, conns):
    """Wall time of a perfectly balanced download through nginx's limiter."""
    return max(size / conns / RATE_PER_CONN - 1.0, 0.0)


def why(*ss):
    for s in ss:
        if s is None:
            return "not measured"
        if s["status"] != "OK" or s.get("mibs_med") is None:
            return "%s: %s" % (s["client"], s["status"])
    return "—"


def xr(r):
    return "—" if r is None else "%.2f×" % r


def human(n):
    if n % GiB == 0:
        return "%d GiB" % (n // GiB)
    return "%d MiB" % (n // MiB)


def cell(s, key, p=2):
    if s.get(key + "_med") is None:
        return "—"
    return "%s (%s–%s)" % (fmt(s[key + "_med"], p), fmt(s[key + "_min"], p), fmt(s[key + "_max"], p))


def result(s):
    if s["status"] == "OK":
        return "OK (%d/%d)" % (s["ok_runs"], s["runs"])
    return "%s (%d/%d OK)" % (s["status"], s["ok_runs"], s["runs"])


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("freeport")
    p = sub.add_parser("suite")
    p.add_argument("spec")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--timeout", type=int, default=300)
    p.add_argument("--tmp", required=True)
    p.add_argument("--logs", required=True)
    p.add_argument("--raw", required=True)
    p.add_argument("--pause", type=float, default=0.5)
    p.add_argument("--warmup", type=int, default=0,
                   help="discarded rounds before the measured ones")
    p.add_argument("--warmup-scenario", action="append", default=[],
                   help="scenario that gets the warm-up rounds (repeatable)")
    p.add_argument("--probe-timeout", type=int, default=20,
                   help="timeout for a cell expected to be unsupported")
    p = sub.add_parser("report")
    p.add_argument("--raw", required=True)
    p.add_argument("--csv", required=True)
    p.add_argument("--md", required=True)
    p.add_argument("--meta")
    p.add_argument("--nginx-conf")
    p.add_argument("--cells-csv", help="one row per cell (scenario, client)")
    p.add_argument("--plots-dir", help="write the SVG plots here (needs gnuplot)")
    p.add_argument("--plot-suffix", default="", help="e.g. -quick")
    p.add_argument("--plot-work", help="directory for the plots' data and gnuplot scripts")
    a = ap.parse_args()
    if a.cmd == "freeport":
        print(free_port())
    elif a.cmd == "suite":
        cmd_suite(a)
    else:
        cmd_report(a)


if __name__ == "__main__":
    main()
