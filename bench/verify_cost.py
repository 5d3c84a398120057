#!/usr/bin/env python3
"""What verification costs: `rangefetch get` with and without --no-verify
(both --no-sync, so no disk flush muddies the figure), runs interleaved,
client CPU (user+sys) medians; prints a Markdown section for RESULTS.md."""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def run(argv):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    user = after.ru_utime - before.ru_utime
    cpu = user + (after.ru_stime - before.ru_stime)
    return p.returncode, wall, cpu, user, p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rangefetch", required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--tmp", default=tempfile.gettempdir())
    ap.add_argument("--origin", default="same origin as above",
                    help="words for the report: where URL is served")
    a = ap.parse_args()
    base = [a.rangefetch, "get", a.url, "-c", "8", "--quiet", "--no-sync"]
    modes = {"verify (default)": [], "--no-verify": ["--no-verify"]}
    res = {k: [] for k in modes}
    for _ in range(a.runs):
        for name, extra in modes.items():
            d = tempfile.mkdtemp(dir=a.tmp)
            out = os.path.join(d, "o.bin")
            subprocess.run(["sync"])
            rc, wall, cpu, user, err = run(base + ["-o", out] + extra)
            ok = rc == 0 and os.path.getsize(out) == a.size
            shutil.rmtree(d)
            if not ok:
                print("verify_cost: %s failed (%d): %s" % (name, rc, err.strip()), file=sys.stderr)
                return 1
            res[name].append((wall, cpu, user))
    gib = a.size / (1 << 30)
    print()
    print("## What verification costs")
    print()
    print("`rangefetch get URL -c 8 --no-sync` with and without `--no-verify` (XXH3-128 of "
          "every piece as it arrives, plus the resume journal), %d runs each, interleaved, "
          "%s. Client CPU is noisy here (page-cache allocation on this VM "
          "spikes the system time of single runs), so the medians of more runs are used. "
          "Hashing is user-space work, so the user-time column isolates it from that "
          "noise." % (a.runs, a.origin))
    print()
    print("| mode | wall s, median | CPU s/GiB, median (min–max) | user CPU s/GiB, median (min–max) |")
    print("|---|---|---|---|")
    med, umed = {}, {}
    for name, rows in res.items():
        cpus = [c / gib for _, c, _ in rows]
        users = [u / gib for _, _, u in rows]
        med[name] = statistics.median(cpus)
        umed[name] = statistics.median(users)
        print("| %s | %.3f | %.3f (%.3f–%.3f) | %.3f (%.3f–%.3f) |" % (
            name, statistics.median(w for w, _, _ in rows), med[name], min(cpus), max(cpus),
            umed[name], min(users), max(users)))
    v, n = med["verify (default)"], med["--no-verify"]
    r = v / n
    extra = umed["verify (default)"] - umed["--no-verify"]
    print()
    print("| target | measured | verdict |")
    print("|---|---|---|")
    if r < 0.97:
        # Verification cannot make a download cheaper: the noise is
        # larger than the effect, and the figure proves nothing.
        verdict = "**INCONCLUSIVE** (verification measured cheaper: the noise exceeds the effect)"
    else:
        verdict = "**PASS**" if r <= 1.03 else "**MISS**"
    print("| verification costs ≤ 3%% more client CPU | %.3f vs %.3f s/GiB = %+.1f%%; "
          "user time %+.3f s/GiB = %+.1f%% of the download's CPU | %s |" % (
              v, n, (r - 1) * 100, extra, 100 * extra / n, verdict))
    return 0


if __name__ == "__main__":
    sys.exit(main())
