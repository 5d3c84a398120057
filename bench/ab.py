#!/usr/bin/env python3
"""Interleaved A/B runs of download commands against a running test rig,
with the CPU time each server process spent during each run.

  bench/ab.py --rig DIR [--rounds N] [--watch PATTERN ...] NAME=CMD ...

CMD is a shell command; {out} is replaced by the output path and {KEY} by
any key of DIR/rig.env (e.g. {RIG_SQUID}, {RIG_HTTP_ORIGIN}).  Rounds run
the cells in order, then in reverse order, alternately.  --watch names
processes (pgrep -f patterns, default: the rig's plain squid and nginx)
whose CPU time is reported per run.  Prints a line per run (--per-run)
and, per cell, the median MiB/s with min-max, the median CPU seconds of
each watched process and of the client, and the machine's busy CPU seconds
(/proc/stat: client, servers, kernel flushers), median and minimum.  On
this VM runs are bimodal (a run that gets pages the balloon handed back
pays ~3.4 CPU s/GiB): with --slots the runs are also summed up by their
position (odd and even runs of the whole sequence), where that pattern
shows.  Used for bench/RESULTS.md's read-batching and reshaping sections.
"""
import argparse, os, resource, statistics, subprocess, sys, tempfile, time

def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

def busy_seconds():
    """CPU seconds the whole machine spent busy (not idle, not iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rig", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--watch", action="append")
    ap.add_argument("--per-run", action="store_true")
    ap.add_argument("--slots", action="store_true")
    ap.add_argument("cells", nargs="+")
    a = ap.parse_args()
    env = {}
    with open(os.path.join(a.rig, "rig.env")) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                env[k] = v
    watch = {}
    rig = os.path.abspath(a.rig)
    for pat in a.watch or ["squid .*-f " + rig + "/squid/plain.conf",
                           "nginx -p " + rig]:
        pids = subprocess.run(["pgrep", "-f", pat], capture_output=True,
                              text=True).stdout.split()
        if not pids:
            sys.exit(f"ab.py: no process matches {pat!r}")
        watch[pat] = [int(p) for p in pids]
    cells = [c.split("=", 1) for c in a.cells]
    res = {n: [] for n, _ in cells}
    tmp = tempfile.mkdtemp(prefix="rf-ab-")
    out = os.path.join(tmp, "out.bin")
    runs = 0
    for r in range(a.rounds):
        for name, cmd in (cells if r % 2 == 0 else cells[::-1]):
            for p in (out, out + ".part", out + ".rfj"):
                if os.path.exists(p):
                    os.unlink(p)
            before = {k: sum(cpu_seconds(p) for p in v) for k, v in watch.items()}
            ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            b0 = busy_seconds()
            t0 = time.monotonic()
            subprocess.run(cmd.format(out=out, **env), shell=True, check=True,
                           stdout=subprocess.DEVNULL)
            dt = time.monotonic() - t0
            ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            busy = busy_seconds() - b0
            used = {k: sum(cpu_seconds(p) for p in v) - before[k]
                    for k, v in watch.items()}
            client = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
            mib = os.path.getsize(out) / 2**20
            runs += 1
            res[name].append((mib / dt, used, client, busy, runs % 2))
            if a.per_run:
                print(f"run {runs:3d} {name:14s} {mib / dt:7.1f} MiB/s  "
                      f"client cpu {client:.2f} s  busy cpu {busy:.2f} s",
                      flush=True)
    for p in (out, out + ".part", out + ".rfj"):
        if os.path.exists(p):
            os.unlink(p)
    os.rmdir(tmp)
    med = statistics.median
    def summary(name, v):
        line = f"{name:14s} {med(x[0] for x in v):7.1f} MiB/s " \
               f"[{min(x[0] for x in v):.0f}-{max(x[0] for x in v):.0f}]"
        for k in watch:
            line += f"  {k.split()[0]} cpu {med(x[1][k] for x in v):.2f} s"
        line += f"  client cpu {med(x[2] for x in v):.2f} s" \
                f" (min {min(x[2] for x in v):.2f})"
        line += f"  busy cpu {med(x[3] for x in v):.2f} s" \
                f" (min {min(x[3] for x in v):.2f})"
        print(line)
    for name, _ in cells:
        summary(name, res[name])
    if a.slots:
        for slot, label in ((1, "odd runs"), (0, "even runs")):
            print(f"-- {label}")
            for name, _ in cells:
                v = [x for x in res[name] if x[4] == slot]
                if v:
                    summary(name, v)

if __name__ == "__main__":
    main()
