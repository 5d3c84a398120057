#!/usr/bin/env python3
"""`rangefetch manifest FILE` against `xxhsum -H2 FILE` (XXH128), same file in
page cache, runs interleaved; prints a Markdown section for bench/RESULTS.md."""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no bench/__pycache__ in the work tree
import relpaths  # noqa: E402


def run(argv):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return p.returncode, wall, cpu, p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rangefetch", required=True)
    ap.add_argument("--file", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tmp", default=tempfile.gettempdir())
    a = ap.parse_args()
    size = os.path.getsize(a.file)
    os.makedirs(a.tmp, exist_ok=True)
    out = os.path.join(a.tmp, "hashing-bench.rfm")
    # Warm the page cache.
    with open(a.file, "rb") as f:
        while f.read(1 << 24):
            pass
    cmds = {
        "rangefetch manifest": [a.rangefetch, "manifest", a.file, "-o", out, "--quiet"],
        "xxhsum -H2": ["xxhsum", "-H2", a.file],
    }
    res = {k: [] for k in cmds}
    digests = {}
    for _ in range(a.runs):
        for name, argv in cmds.items():
            rc, wall, cpu, stdout = run(argv)
            if rc != 0:
                print("hashing: %s exited %d" % (name, rc), file=sys.stderr)
                return 1
            res[name].append((wall, cpu))
            if name == "xxhsum -H2":
                digests["xxhsum"] = stdout.split()[0]
    with open(out) as f:
        for line in f:
            if line.startswith("content-xxh128 "):
                digests["manifest"] = line.split()[1]
    os.unlink(out)
    mib = size / (1 << 20)
    print()
    print("## Hashing: `rangefetch manifest` vs `xxhsum -H2`")
    print()
    print("Same %s MiB file, in page cache, %d runs each, interleaved; the whole-file "
          "XXH128 of both agree: %s." % (round(mib), a.runs,
                                         "yes" if digests.get("xxhsum") == digests.get("manifest") else "**NO**"))
    print()
    print("| command | wall s, median (min–max) | MiB/s | CPU s (user+sys) |")
    print("|---|---|---|---|")
    med = {}
    for name, rows in res.items():
        walls = [w for w, _ in rows]
        cpus = [c for _, c in rows]
        med[name] = statistics.median(walls)
        print("| `%s` | %.3f (%.3f–%.3f) | %.0f | %.3f |" % (
            name, med[name], min(walls), max(walls), mib / med[name], statistics.median(cpus)))
    r = med["xxhsum -H2"] / med["rangefetch manifest"]
    print()
    print("| target | measured | verdict |")
    print("|---|---|---|")
    print("| `rangefetch manifest` at least as fast as `xxhsum -H2` | %.2f× xxhsum's speed | %s |" % (
        r, "**PASS**" if r >= 1.0 else "**MISS**"))
    print()
    print("Commands: `%s manifest FILE -o OUT.rfm --quiet` and `xxhsum -H2 FILE`."
          % relpaths.rel(a.rangefetch))
    return 0


if __name__ == "__main__":
    sys.exit(main())
