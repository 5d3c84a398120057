"""SVG plots of a bench/run report, drawn with gnuplot (imported by measure.py).

  proxies<suffix>.svg      throughput per client per proxy route (median, min–max bars)
  ratelimited<suffix>.svg  aggregate throughput against connection count, rate-limited origin
  slownet<suffix>.svg      the same on the slow network (netem), when it ran

The data files and gnuplot scripts are written next to the SVGs' sources in
`workdir`, so a plot can be redrawn by hand (`gnuplot FILE.gp`).
"""
import os
import shutil
import subprocess

MiB = 1024 * 1024
NAN = "NaN"


def _num(x):
    return NAN if x is None else "%.3f" % x


def _run(gp, workdir):
    exe = shutil.which("gnuplot")
    if not exe:
        return "gnuplot not found"
    r = subprocess.run([exe, gp], cwd=workdir, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return "gnuplot failed: " + (r.stderr.strip().splitlines() or ["?"])[-1]
    return None


def _common(title, ylabel, svg):
    return [
        "set terminal svg size 960,540 dynamic enhanced font 'sans,11' background rgb 'white'",
        "set output '%s'" % svg,
        "set title \"%s\"" % title.replace('"', "'"),
        "set ylabel '%s'" % ylabel,
        "set grid ytics",
        "set key outside right top",
        "set yrange [0:*]",
        "set datafile missing 'NaN'",
    ]


def proxies(summ, routes, tools, titles, svg, workdir, size_txt):
    """Clustered bars: one cluster per route, one bar per client."""
    rows = {(s.get("route"), s.get("tool")): s for s in summ if s["scenario"] == "proxies"}
    dat = os.path.join(workdir, "proxies.dat")
    with open(dat, "w") as f:
        f.write("# route " + " ".join("%s_med %s_min %s_max" % (t, t, t) for t in tools) + "\n")
        for r in routes:
            cols = ['"%s"' % titles.get(r, r)]
            for t in tools:
                s = rows.get((r, t))
                ok = s is not None and s.get("mibs_med") is not None
                cols += [_num(s["mibs_med"]) if ok else NAN,
                         _num(s["mibs_min"]) if ok else NAN,
                         _num(s["mibs_max"]) if ok else NAN]
            f.write(" ".join(cols) + "\n")
    gp = os.path.join(workdir, "proxies.gp")
    L = _common("Throughput by proxy route, %s file (median; bars: min–max; "
                "no bar: unsupported or failed, see RESULTS)" % size_txt, "MiB/s", svg)
    L += [
        "set style data histograms",
        "set style histogram errorbars gap 1 lw 1",
        "set style fill solid 0.8 border -1",
        "set boxwidth 0.9",
        "set xtics rotate by -30 nomirror",
        "set bmargin 9",
        "plot " + ", ".join(
            "'%s' using %d:%d:%d:xtic(1) title '%s'" % (os.path.basename(dat), 2 + 3 * i, 3 + 3 * i,
                                                       4 + 3 * i, t)
            for i, t in enumerate(tools)),
    ]
    with open(gp, "w") as f:
        f.write("\n".join(L) + "\n")
    return _run(gp, workdir)


def by_connections(summ, scenario, series, svg, workdir, title, cap_per_conn=None, cap_total=None):
    """Lines: aggregate MiB/s against N for each (label, client prefix)."""
    rows = [s for s in summ if s["scenario"] == scenario]
    if not rows:
        return "no %s rows" % scenario
    ns = sorted({s["conns"] for s in rows})
    name = os.path.splitext(os.path.basename(svg))[0]
    dat = os.path.join(workdir, name + ".dat")
    with open(dat, "w") as f:
        f.write("# N " + " ".join("%s_med %s_min %s_max" % (l, l, l) for l, _ in series) + " cap\n")
        for n in ns:
            cols = [str(n)]
            for _, prefix in series:
                s = next((x for x in rows if x["client"] == "%s%d" % (prefix, n)), None)
                ok = s is not None and s.get("mibs_med") is not None
                cols += [_num(s["mibs_med"]) if ok else NAN,
                         _num(s["mibs_min"]) if ok else NAN,
                         _num(s["mibs_max"]) if ok else NAN]
            cap = cap_per_conn * n if cap_per_conn else cap_total
            cols.append(_num(cap))
            f.write(" ".join(cols) + "\n")
    gp = os.path.join(workdir, name + ".gp")
    L = _common(title, "aggregate MiB/s", svg)
    L += [
        "set xlabel 'connections (N)'",
        "set logscale x 2",
        "set xtics (%s)" % ", ".join("'%d' %d" % (n, n) for n in ns),
        "set xrange [%g:%g]" % (ns[0] / 1.3, ns[-1] * 1.3),
        "set key inside left top",
    ]
    parts = []
    b = os.path.basename(dat)
    for i, (label, _) in enumerate(series):
        parts.append("'%s' using 1:%d:%d:%d with yerrorlines lw 2 pt 7 title '%s'"
                     % (b, 2 + 3 * i, 3 + 3 * i, 4 + 3 * i, label))
    capcol = 2 + 3 * len(series)
    cap_title = "N × %g MiB/s (nominal)" % cap_per_conn if cap_per_conn else "link cap"
    parts.append("'%s' using 1:%d with lines dt 2 lc rgb 'gray40' title '%s'" % (b, capcol, cap_title))
    L.append("plot " + ", ".join(parts))
    with open(gp, "w") as f:
        f.write("\n".join(L) + "\n")
    return _run(gp, workdir)
