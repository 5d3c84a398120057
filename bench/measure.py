#!/usr/bin/env python3
"""Measurement helper for bench/run.

Subcommands
  freeport                 print a TCP port on 127.0.0.1 that is free right now
  suite SPEC               run every client of SPEC --runs times, round-robin,
                           appending one JSON line per run to --raw
  report                   turn --raw into --csv and the Markdown report --md

A SPEC is a TSV file, one client a line:
  scenario  client  conns  source-file  url  command-template
The command template is a shell-quoted argv (shlex) with the placeholders
{URL}, {OUT} (output file), {OUTDIR} and {OUTNAME}. A template that starts with
"UNAVAILABLE:" is not run; the rest of it is the reason shown in the report.

Each run gets a fresh directory under --tmp (a real disk, not tmpfs), a clean
environment (PATH, LANG, HOME pointing at an empty directory, no *_proxy
variables) and its own process group. The child is reaped with os.wait4, whose
rusage covers the child and every descendant it reaped: user+sys CPU seconds
and ru_maxrss (peak RSS). Wall time is taken around fork..wait4. The output is
then compared byte for byte with the source file, and the directory removed.
"""

import argparse
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

MiB = 1024 * 1024
GiB = 1024 * MiB
RATE_PER_CONN = 4 * MiB  # nginx stream proxy_download_rate 4m
TIME = "/usr/bin/time"     # GNU time, for the peak RSS


# ----------------------------------------------------------------- helpers
def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def same_content(a, b, size):
    """Byte comparison (what cmp does); returns (ok, reason)."""
    try:
        st = os.stat(b)
    except FileNotFoundError:
        return False, "no output file"
    if st.st_size != size:
        return False, "size %d != %d" % (st.st_size, size)
    bufsz = 4 * MiB
    with open(a, "rb", buffering=0) as fa, open(b, "rb", buffering=0) as fb:
        off = 0
        while True:
            x = fa.read(bufsz)
            y = fb.read(bufsz)
            if x != y:
                return False, "content differs near offset %d" % off
            if not x:
                return True, "cmp ok"
            off += len(x)


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
        while True:
            try:
                _, status, ru = os.wait4(p.pid, 0)
                break
            except InterruptedError:
                continue
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


def log_tail(path, n=3):
    try:
        with open(path, "rb") as f:
            data = f.read()[-4000:]
    except OSError:
        return ""
    lines = [l.strip() for l in data.decode("utf-8", "replace").splitlines() if l.strip()]
    return " | ".join(lines[-n:])[:300]


# ------------------------------------------------------------------- suite
def read_spec(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            scen, client, conns, src, url, cmd = line.split("\t", 5)
            rows.append({"scenario": scen, "client": client, "conns": int(conns),
                         "src": src, "url": url, "cmd": cmd})
    return rows


def warm(path):
    with open(path, "rb", buffering=0) as f:
        while f.read(8 * MiB):
            pass


def cmd_suite(a):
    spec = read_spec(a.spec)
    os.makedirs(a.tmp, exist_ok=True)
    os.makedirs(a.logs, exist_ok=True)
    home = tempfile.mkdtemp(prefix="home.", dir=a.tmp)
    env = clean_env(home)
    for src in sorted({r["src"] for r in spec}):
        warm(src)  # the origin serves from the page cache in every run
    scenarios = []
    for r in spec:
        if r["scenario"] not in scenarios:
            scenarios.append(r["scenario"])
    with open(a.raw, "a") as raw:
        for scen in scenarios:
            rows = [r for r in spec if r["scenario"] == scen]
            first = 1 - (a.warmup if scen in a.warmup_scenario else 0)
            for rnd in range(first, a.runs + 1):
                for r in rows:  # round-robin: A,B,C,... then A,B,C,... again
                    rec = {"scenario": scen, "client": r["client"],
                           "conns": r["conns"], "round": rnd,
                           "size": os.path.getsize(r["src"]), "cmd": r["cmd"],
                           "warmup": rnd < 1}
                    if r["cmd"].startswith("UNAVAILABLE:"):
                        rec.update(status="UNAVAILABLE",
                                   note=r["cmd"][len("UNAVAILABLE:"):].strip())
                        raw.write(json.dumps(rec) + "\n")
                        raw.flush()
                        continue
                    d = tempfile.mkdtemp(prefix="run.", dir=a.tmp)
                    out = os.path.join(d, "download.bin")
                    try:
                        subst = {"{URL}": r["url"], "{OUT}": out, "{OUTDIR}": d,
                                 "{OUTNAME}": "download.bin"}
                        argv = []
                        for tok in shlex.split(r["cmd"]):
                            for k, v in subst.items():
                                tok = tok.replace(k, v)
                            argv.append(tok)
                        logp = os.path.join(a.logs, "%s.%s.r%d.log" % (scen, r["client"], rnd))
                        m = run_once(argv, env, d, logp, a.timeout)
                        rec.update(m)
                        if m["timed_out"]:
                            rec["status"] = "TIMEOUT"
                            rec["note"] = "killed after %ds" % a.timeout
                        elif m["rc"] != 0:
                            rec["status"] = "FAILED"
                            rec["note"] = ("exit %d: " % m["rc"]) + (m.get("error") or log_tail(logp))
                        else:
                            ok, why = same_content(r["src"], out, rec["size"])
                            rec["status"] = "OK" if ok else "FAILED"
                            rec["note"] = why
                    finally:
                        shutil.rmtree(d, ignore_errors=True)
                        os.sync()  # no dirty pages carried into the next run
                    raw.write(json.dumps(rec) + "\n")
                    raw.flush()
                    print("  %-13s %-14s round %2d/%d  %-8s %7.2fs %8.1f MiB/s  cpu %6.2fs  rss %6.1f MiB  %s"
                          % (scen, r["client"], rnd, a.runs, rec["status"],
                             rec.get("wall", 0.0),
                             (rec["size"] / MiB / rec["wall"]) if rec["status"] == "OK" else 0.0,
                             rec.get("cpu_user", 0.0) + rec.get("cpu_sys", 0.0),
                             rec.get("maxrss_kib", 0) / 1024.0, rec.get("note", "")),
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
             "ok_runs": len(ok)}
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
                    "cpu_s_per_gib", "maxrss_mib", "note", "command"])
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
                        r.get("note", ""), r["cmd"]])

    meta = {}
    if a.meta:
        with open(a.meta) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    meta[k] = v

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
             "file system, not tmpfs), compared byte for byte with the source, and "
             "deleted after every run; `sync` runs between runs. Clients run with a "
             "clean environment (empty HOME, no proxy variables)." % meta.get("tmp", "/var/tmp"))
    L.append("- Runs per client: %s, interleaved round-robin (A,B,C,… then A,B,C,…); "
             "each cell shows the median and the min–max over the OK runs. "
             "Per-run timeout: %s s. Warm-up rounds before the measured ones "
             "(loopback only, discarded): %s."
             % (meta.get("runs", "?"), meta.get("timeout", "?"), meta.get("warmup", "0")))
    L.append("")

    scen_titles = {
        "connections": "Loopback, %s file: rangefetch --no-sync by connection count",
        "loopback": "Loopback, %s file, 8 connections each",
        "ratelimited": "Rate-limited origin (4 MiB/s per TCP connection), %s file",
    }
    for scen in [s for s in dict.fromkeys(x["scenario"] for x in summ)]:
        rows = [s for s in summ if s["scenario"] == scen]
        size = rows[0]["size"]
        title = scen_titles.get(scen, scen + " (%s)") % human(size)
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
            L.append("| client | N | wall s, median (min–max) | aggregate MiB/s, median (min–max) | "
                     "% of N×4 MiB/s | nginx-ideal wall s | % of ideal | CPU s/GiB | peak RSS MiB | result |")
            L.append("|---|---|---|---|---|---|---|---|---|---|")
            for s in rows:
                cap = s["conns"] * RATE_PER_CONN / MiB
                pct = ratio(s.get("mibs_med"), cap)
                ideal = ideal_wall(s["size"], s["conns"])
                L.append("| %s | %d | %s | %s | %s | %.2f | %s | %s | %s | %s |" % (
                    s["client"], s["conns"], cell(s, "wall"), cell(s, "mibs", 1),
                    "—" if pct is None else "%.1f%%" % (pct * 100), ideal,
                    "—" if s.get("wall_med") is None else "%.1f%%" % (100 * ideal / s["wall_med"]),
                    fmt(s.get("cpu_gib_med")), fmt(s.get("rss_max"), 1), result(s)))
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
    L.append("")

    # ---- commands
    L.append("## Commands")
    L.append("")
    L.append("`{URL}` is `http://127.0.0.1:PORT/<file>` (origin, or the stream proxy for the "
             "rate-limited rows); `{OUT}` = `{OUTDIR}/{OUTNAME}` is a file in a fresh directory.")
    L.append("")
    L.append("```")
    seen = set()
    for s in summ:
        k = (s["scenario"], s["client"])
        if k in seen:
            continue
        seen.add(k)
        cmd = s["cmd"]
        if meta.get("root"):
            cmd = cmd.replace(meta["root"].rstrip("/") + "/", "")
        L.append("%-11s %-15s %s" % (s["scenario"], s["client"], cmd))
    L.append("```")
    L.append("")
    if a.nginx_conf and os.path.exists(a.nginx_conf):
        L.append("<details><summary>nginx configuration used</summary>")
        L.append("")
        L.append("```nginx")
        with open(a.nginx_conf) as f:
            L.append(f.read().rstrip())
        L.append("```")
        L.append("</details>")
        L.append("")
    L.append("Raw per-run numbers: `%s`." % meta.get("csv_rel", a.csv))
    L.append("")
    with open(a.md, "w") as f:
        f.write("\n".join(L))


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
    p = sub.add_parser("report")
    p.add_argument("--raw", required=True)
    p.add_argument("--csv", required=True)
    p.add_argument("--md", required=True)
    p.add_argument("--meta")
    p.add_argument("--nginx-conf")
    a = ap.parse_args()
    if a.cmd == "freeport":
        print(free_port())
    elif a.cmd == "suite":
        cmd_suite(a)
    else:
        cmd_report(a)


if __name__ == "__main__":
    main()
