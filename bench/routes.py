#!/usr/bin/env python3
"""Proxy routes for bench/run: every client through every proxy of the rig.

  routes.py spec --rig-env DIR/rig.env --file NAME --src PATH --rangefetch CMD
                 [--routes a,b,...]            JSON spec lines (measure.py suite)
  routes.py pac  --rig-env ... --file NAME --rangefetch RF --tmp DIR --out JSON
                                               the PAC evaluation counter

The rig (tests/rig/start, docs/test-rig.md) serves NAME from RIG_WWW on its
HTTP and HTTPS origins.  Every cell carries route checks (measure.py): the
lines its run adds to the origin's access log must show the request arriving
through that proxy (squid and tinyproxy add a Via header naming themselves; a
SOCKS server's log shows the connection; a CONNECT tunnel shows in squid's log
as TCP_TUNNEL and at the origin without Via), so a client that silently goes
direct, or asks the proxy something else, is not counted as using the route.

A peer known not to manage a route carries the reason (`unsupported`): it is
still run once, and the cell is reported UNSUPPORTED with that reason and the
exact failure of the run, or measured if it works after all.  rangefetch has
no such reasons: every route must work, a failure is a FAILED cell.
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import tempfile
import sys
import time

sys.dont_write_bytecode = True  # no bench/__pycache__ in the work tree
import relpaths  # noqa: E402

TOOLS = ["rangefetch", "aria2c", "axel", "curl", "wget2"]

# (name, title) in report order.  "pac" is rangefetch only.
ROUTES = [
    ("direct", "direct (HTTP origin)"),
    ("squid", "squid, no auth"),
    ("squid-basic", "squid, Basic"),
    ("squid-digest", "squid, Digest"),
    ("squid-ntlm", "squid, NTLM"),
    ("squid-negotiate", "squid, Negotiate (Kerberos)"),
    ("tinyproxy", "tinyproxy"),
    ("socks5", "SOCKS5 (socks5h, microsocks)"),
    ("socks5-auth", "SOCKS5 with user/password"),
    ("direct-https", "direct (HTTPS origin)"),
    ("squid-connect", "HTTPS origin through squid CONNECT"),
    ("pac", "PAC: dead proxy, then squid"),
]
ROUTE_NAMES = [r for r, _ in ROUTES]
# the direct route each proxy route is compared with
BASELINE = {r: ("direct-https" if r in ("direct-https", "squid-connect") else "direct")
            for r in ROUTE_NAMES}

ARIA = ("aria2c -x8 -s8 -k1M -d {OUTDIR} -o {OUTNAME} --allow-overwrite=true "
        "--auto-file-renaming=false --console-log-level=warn --summary-interval=0")
AXEL = "axel -n 8 -q -o {OUT}"
CURL = "curl -sS -f -o {OUT}"
WGET2 = "wget2 --max-threads=8 --chunk-size=1M -q -O {OUT}"

NO_PAC = "no PAC support (of these clients only rangefetch evaluates PAC scripts)"
ARIA_AUTH = ("aria2 sends proxy credentials only as Basic (no Digest, NTLM or "
             "Negotiate proxy authentication)")
ARIA_SOCKS = ("aria2 has no SOCKS support: --all-proxy takes only "
              "[http://][USER:PASSWORD@]HOST[:PORT]")
AXEL_AUTH = ("axel sends proxy credentials (from the proxy URL) only as Basic: no "
             "Digest, NTLM or Negotiate")
AXEL_SOCKS = "axel has no SOCKS support (http_proxy must be an HTTP proxy)"
AXEL_TLS = ("axel rejects the rig's certificate in its own hostname check "
            "(\"SSL error: Hostname verification failed\"; the certificate has "
            "DNS:localhost and IP:127.0.0.1, the CA is given through SSL_CERT_FILE "
            "since axel has no CA option)")
AXEL_CONNECT = ("axel does not tunnel: for an https:// URL it sends `GET https://...` "
                "in clear to http_proxy (the proxy makes the TLS connection; "
                "https_proxy is ignored), so this is not the CONNECT route")
WGET2_PORT = ("wget2 1.99.1 drops the origin's port from the request it sends to an "
              "HTTP proxy (`GET http://127.0.0.1/FILE`, `Host: 127.0.0.1`), so the "
              "proxy asks port 80; the rig's origin is on a random port")
WGET2_AUTH = "; besides, wget2 has no NTLM or Negotiate proxy authentication"
WGET2_SOCKS = ("wget2 has no SOCKS support: it speaks HTTP to the SOCKS port and "
               "waits")
WGET2_CONNECT = ("wget2 does not tunnel: it starts TLS with the proxy's port itself "
                 "(no CONNECT; squid logs error:invalid-request)")


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    return env


def q(*args):
    """Shell-quoted argv; the {PLACEHOLDERS} of measure.py stay readable."""
    return " ".join(a if re.fullmatch(r"\{[A-Z]+\}", a) else shlex.quote(a) for a in args)


def hostport(url):
    return re.sub(r"^[a-z0-9]+://", "", url).rstrip("/")


class Rig:
    def __init__(self, env, fname):
        self.e = env
        self.fname = fname
        self.http_url = env["RIG_HTTP_ORIGIN"] + "/" + fname
        self.https_url = env["RIG_HTTPS_ORIGIN"] + "/" + fname
        self.krb = {"KRB5_CONFIG": env["RIG_KRB5_CONFIG"], "KRB5CCNAME": env["RIG_KRB5CCNAME"]}
        self.pac_url = env["RIG_HTTP_ORIGIN"] + "/proxy.pac"

    # -- route checks ---------------------------------------------------------
    def origin_check(self, via, https=False):
        """Requests for the file at the origin, with the given Via (None: no Via)."""
        log = self.e["RIG_HTTPS_ORIGIN_LOG" if https else "RIG_HTTP_ORIGIN_LOG"]
        v = 'via="-"' if via is None else 'via="[^"]*%s' % re.escape(via)
        rx = r'"GET /%s HTTP/1\.[01]" 20[06] \d+ range="[^"]*" %s' % (re.escape(self.fname), v)
        return {"name": "origin requests", "log": log, "regex": rx, "min": 1}

    def socks_check(self, key):
        port = self.e["RIG_HTTP_ORIGIN_PORT"]
        return {"name": "SOCKS connections", "log": self.e[key + "_LOG"],
                "regex": r"connected to 127\.0\.0\.1:%s\b" % port, "min": 1}

    def tunnel_check(self):
        return {"name": "CONNECT tunnels", "log": self.e["RIG_SQUID_LOG"],
                "regex": r"TCP_TUNNEL/200 \d+ CONNECT localhost:%s " % self.e["RIG_HTTPS_ORIGIN_PORT"],
                "min": 1}

    def route(self, name):
        """url, checks, and the proxy parameters of a route."""
        e = self.e
        r = {"url": self.http_url, "checks": [], "proxy": None, "user": None,
             "scheme": None, "env": {}, "https": False,
             "evidence": e["RIG_HTTP_ORIGIN_LOG"]}  # the log a failure note quotes
        via = {"squid": "rig-plain", "squid-basic": "rig-basic", "squid-digest": "rig-digest",
               "squid-ntlm": "rig-ntlm", "squid-negotiate": "rig-negotiate",
               "tinyproxy": "rig-tinyproxy", "pac": "rig-plain"}
        if name == "direct":
            r["checks"] = [self.origin_check(None)]
        elif name == "direct-https":
            r.update(url=self.https_url, https=True, checks=[self.origin_check(None, True)],
                     evidence=e["RIG_HTTPS_ORIGIN_LOG"])
        elif name in via:
            key = {"squid": "RIG_SQUID", "squid-basic": "RIG_SQUID_BASIC",
                   "squid-digest": "RIG_SQUID_DIGEST", "squid-ntlm": "RIG_SQUID_NTLM",
                   "squid-negotiate": "RIG_SQUID_NEGOTIATE", "tinyproxy": "RIG_TINYPROXY",
                   "pac": None}[name]
            if key:
                r["proxy"] = e[key]
            r["checks"] = [self.origin_check(via[name])]
            r["evidence"] = e[(key or "RIG_SQUID") + "_LOG"]
            if name == "squid-basic":
                r.update(user=(e["RIG_BASIC_USER"], e["RIG_BASIC_PASS"]), scheme="basic")
            elif name == "squid-digest":
                r.update(user=(e["RIG_DIGEST_USER"], e["RIG_DIGEST_PASS"]), scheme="digest")
            elif name == "squid-ntlm":
                r.update(user=(e["RIG_NTLM_DOMAIN"] + "\\" + e["RIG_NTLM_USER"], e["RIG_NTLM_PASS"]),
                         scheme="ntlm")
            elif name == "squid-negotiate":
                r.update(scheme="negotiate", env=dict(self.krb))
        elif name in ("socks5", "socks5-auth"):
            key = "RIG_SOCKS5" if name == "socks5" else "RIG_SOCKS5_AUTH"
            r["proxy"] = "socks5h://" + hostport(e[key])
            r["checks"] = [self.origin_check(None), self.socks_check(key)]
            r["evidence"] = e[key + "_LOG"]
            if name == "socks5-auth":
                r["user"] = (e["RIG_SOCKS5_USER"], e["RIG_SOCKS5_PASS"])
        elif name == "squid-connect":
            r.update(url=self.https_url, https=True, proxy=e["RIG_SQUID"],
                     checks=[self.origin_check(None, True), self.tunnel_check()],
                     evidence=e["RIG_SQUID_LOG"])
        else:
            raise SystemExit("unknown route " + name)
        return r

    # -- commands ---------------------------------------------------------------
    def cell(self, tool, name, rf):
        """(cmd, env, unsupported reason) of one client on one route."""
        r = self.route(name)
        e = self.e
        ca = e["RIG_CA_FILE"]
        env = dict(r["env"])
        if name not in ("direct", "direct-https"):
            env.update(no_proxy=None, NO_PROXY=None)  # measure.py's clean env sets them
        user = r["user"]
        up = None if user is None else "%s:%s" % user
        if tool == "rangefetch":
            if rf.startswith("UNAVAILABLE:"):
                return rf, env, None
            # --no-sync: like the peers, no flush before the rename (the
            # durable default is measured on the loopback rows).
            a = [rf, "get", "{URL}", "-o", "{OUT}", "-c", "8", "--quiet", "--no-sync",
                 "--no-proxy-config"]
            if name == "pac":
                a += ["--pac", self.pac_url]
            elif r["proxy"] is None:
                a += ["--no-proxy"]
            else:
                a += ["--proxy", r["proxy"]]
            if up:
                a += ["--proxy-user", up]
            if r["scheme"] == "basic":
                a += ["--proxy-auth", "basic"]  # refused by default: clear-text password
            if r["https"]:
                a += ["--cacert", ca]
            return q(*a), env, None
        if name == "pac":
            return "UNSUPPORTED: " + NO_PAC, env, None
        if tool == "aria2c":
            a = shlex.split(ARIA)
            why = None
            if r["proxy"]:
                a.append("--all-proxy=" + r["proxy"])
            if up:
                a += ["--all-proxy-user=" + user[0], "--all-proxy-passwd=" + user[1]]
            if r["https"]:
                a.append("--ca-certificate=" + ca)
            if r["scheme"] in ("digest", "ntlm", "negotiate"):
                why = ARIA_AUTH
            if name.startswith("socks5"):
                why = ARIA_SOCKS
            return q(*a) + " {URL}", env, why
        if tool == "axel":
            a = shlex.split(AXEL)
            why = None
            if r["proxy"]:
                p = r["proxy"]
                if up:
                    scheme, rest = p.split("://", 1)
                    p = "%s://%s@%s" % (scheme, up, rest)
                env["http_proxy"] = p
                if r["https"]:
                    env["https_proxy"] = p
            if r["https"]:
                env["SSL_CERT_FILE"] = ca
            if r["scheme"] in ("digest", "ntlm", "negotiate"):
                why = AXEL_AUTH
            if name.startswith("socks5"):
                why = AXEL_SOCKS
            if name == "direct-https":
                why = AXEL_TLS
            if name == "squid-connect":
                why = AXEL_CONNECT
            return q(*a) + " {URL}", env, why
        if tool == "curl":
            a = shlex.split(CURL)
            if r["proxy"] is None:
                a += ["--noproxy", "*"]
            else:
                a += ["-x", r["proxy"]]
            if r["scheme"]:
                a.append("--proxy-" + r["scheme"])
            if r["scheme"] == "negotiate":
                a += ["--proxy-user", ":"]
            elif up:
                a += ["--proxy-user", up]
            if r["https"]:
                a += ["--cacert", ca]
            return q(*a) + " {URL}", env, None
        if tool == "wget2":
            a = shlex.split(WGET2)
            why = None
            if r["proxy"]:
                a.append(("--https-proxy=" if r["https"] else "--http-proxy=") + r["proxy"])
                why = WGET2_PORT
            if up:
                a += ["--http-proxy-user=" + user[0], "--http-proxy-password=" + user[1]]
            if r["https"]:
                a.append("--ca-certificate=" + ca)
            if r["scheme"] in ("ntlm", "negotiate"):
                why = WGET2_PORT + WGET2_AUTH
            if name.startswith("socks5"):
                why = WGET2_SOCKS
            if name == "squid-connect":
                why = WGET2_CONNECT
            return q(*a) + " {URL}", env, why
        raise SystemExit("unknown tool " + tool)


def cmd_spec(a):
    rig = Rig(read_env(a.rig_env), a.file)
    routes = ROUTE_NAMES if not a.routes else a.routes.split(",")
    for name in routes:
        r = rig.route(name)
        for tool in TOOLS:
            cmd, env, why = rig.cell(tool, name, a.rangefetch)
            row = {"scenario": "proxies", "client": "%s/%s" % (name, tool),
                   "conns": 1 if tool == "curl" else 8, "src": a.src,
                   "url": r["url"], "cmd": cmd, "env": env, "checks": r["checks"],
                   "unsupported": why, "route": name, "tool": tool,
                   "evidence": r["evidence"]}
            print(json.dumps(row))


def cmd_pac(a):
    """One extra `rangefetch get -v` on the PAC route (not timed): how many
    times the PAC script was evaluated, and how many requests squid saw for
    the file (a name of its own, so nothing else is counted)."""
    e = read_env(a.rig_env)
    rig = Rig(e, a.file)
    cmd, env, _ = rig.cell("rangefetch", "pac", a.rangefetch)
    d = tempfile.mkdtemp(prefix="run.", dir=a.tmp)
    home = tempfile.mkdtemp(prefix="home.", dir=a.tmp)
    out = os.path.join(d, "download.bin")
    argv = [t.replace("{URL}", rig.http_url).replace("{OUT}", out)
            for t in shlex.split(cmd) if t != "--quiet"] + ["-v"]
    penv = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": home, "TERM": "dumb"}
    squid_log = e["RIG_SQUID_LOG"]
    off = os.path.getsize(squid_log)
    t0 = time.monotonic()
    p = subprocess.run(argv, cwd=d, env=penv, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, errors="replace", timeout=a.timeout)
    wall = time.monotonic() - t0
    sha = None
    if os.path.exists(out):
        import hashlib
        h = hashlib.sha256()
        with open(out, "rb") as f:
            for b in iter(lambda: f.read(4 << 20), b""):
                h.update(b)
        sha = h.hexdigest()
    time.sleep(1.0)  # squid logs a transaction when it ends
    with open(squid_log, "rb") as f:
        f.seek(off)
        lines = f.read().decode("utf-8", "replace").splitlines()
    rx = re.compile(r"/%s " % re.escape(a.file))
    reqs = [l for l in lines if rx.search(l)]
    ok_reqs = [l for l in reqs if re.search(r" TCP_[A-Z_]+/20[06] ", l)]
    log = p.stderr
    with open(a.log, "w") as f:
        f.write(log)
    # The command as the report shows it: {OUT}, the binary relative to
    # the repository (relpaths).
    shown = [x.replace(out, "{OUT}") for x in argv]
    shown[0] = relpaths.rel(shown[0])
    res = {"cmd": " ".join(shlex.quote(x) for x in shown), "rc": p.returncode,
           "wall": wall, "sha256": sha, "size": os.path.getsize(out) if os.path.exists(out) else None,
           "pac_evaluations": sum(1 for l in log.splitlines() if "[pac] FindProxyForURL(" in l),
           "hosts": 1, "squid_requests": len(reqs), "squid_requests_ok": len(ok_reqs),
           "failovers": sum(1 for l in log.splitlines() if "failing over" in l),
           "log": a.log, "file": a.file}
    with open(a.out, "w") as f:
        json.dump(res, f)
    import shutil
    shutil.rmtree(d, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)
    print("  pac counter: %d evaluation(s) of FindProxyForURL for 1 host; %d requests for %s in squid's log; exit %d"
          % (res["pac_evaluations"], res["squid_requests"], a.file, p.returncode), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("spec")
    p.add_argument("--rig-env", required=True)
    p.add_argument("--file", required=True, help="name of the test file in RIG_WWW")
    p.add_argument("--src", required=True, help="the same file, for its size and SHA-256")
    p.add_argument("--rangefetch", required=True, help="binary, or UNAVAILABLE: reason")
    p.add_argument("--routes", default="", help="comma list (default: all)")
    p = sub.add_parser("pac")
    p.add_argument("--rig-env", required=True)
    p.add_argument("--file", required=True)
    p.add_argument("--rangefetch", required=True)
    p.add_argument("--tmp", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--timeout", type=int, default=300)
    a = ap.parse_args()
    if a.cmd == "spec":
        cmd_spec(a)
    else:
        cmd_pac(a)


if __name__ == "__main__":
    main()
