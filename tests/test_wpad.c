/*
 * WPAD discovery (engine/proxy/wpad.c): DNS candidate names, resolv.conf,
 * dhclient lease files, and the async discovery with an injected resolver.
 *
 * The candidate table runs on psl_builtin(), the list compiled into
 * Debian's libpsl, so the rows do not depend on the system's
 * /usr/share/publicsuffix.
 */
#include <criterion/criterion.h>
#include <libpsl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "proxy/wpad.h"
#include "rangefetch/rangefetch.h"
#include "support/leaks.h"

TestSuite(wpad);

/* ----------------------------------------------------------- helpers */

/* The candidate names joined by spaces, into buf. */
static void join_names(char *buf, size_t cap, const rf__wpad_candidate *c,
                       size_t n)
{
  size_t len = 0;

  buf[0] = '\0';
  for (size_t i = 0; i < n; i++)
    len +=
        (size_t)snprintf(buf + len, cap - len, "%s%s", i ? " " : "", c[i].name);
}

static void join_strv(char *buf, size_t cap, char **v)
{
  size_t len = 0;

  buf[0] = '\0';
  for (size_t i = 0; v[i] != NULL; i++)
    len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? " " : "", v[i]);
}

/* A scratch directory for the test's files (each test is its own
 * process: removed by the test). */
typedef struct scratch {
  char dir[64];
  char paths[8][256];
  size_t n;
} scratch;

static void scratch_init(scratch *s)
{
  strcpy(s->dir, "/tmp/rf_wpad_XXXXXX");
  cr_assert_not_null(mkdtemp(s->dir));
  s->n = 0;
}

/* Writes len bytes of text to a new file in s; returns its path. */
static const char *scratch_file(scratch *s, const char *name, const char *text,
                                size_t len)
{
  char *p = s->paths[s->n++];
  char d[sizeof(s->dir)];
  FILE *f;

  memcpy(d, s->dir, sizeof(d));
  snprintf(p, sizeof(s->paths[0]), "%s/%s", d, name);
  f = fopen(p, "wb");
  cr_assert_not_null(f);
  cr_assert_eq(fwrite(text, 1, len, f), len);
  cr_assert_eq(fclose(f), 0);
  return p;
}

static void scratch_done(scratch *s)
{
  for (size_t i = 0; i < s->n; i++)
    unlink(s->paths[i]);
  rmdir(s->dir);
}

/* ------------------------------------------------- candidate names */

typedef struct cand_row {
  const char *domains[6]; /* NULL-terminated */
  size_t max;
  const char *want; /* names joined by spaces */
  size_t skipped;
} cand_row;

/* clang-format off */
static const cand_row cand_rows[] = {
  /* Devolution down to the registrable domain, never to the suffix. */
  { { "dept.branch.example.co.uk", NULL }, 0,
    "wpad.dept.branch.example.co.uk wpad.branch.example.co.uk "
    "wpad.example.co.uk", 0 },
  { { "example.co.uk", NULL }, 0, "wpad.example.co.uk", 0 },
  { { "example.com", NULL }, 0, "wpad.example.com", 0 },
  { { "a.b.example.com", NULL }, 0,
    "wpad.a.b.example.com wpad.b.example.com wpad.example.com", 0 },
  /* Public suffixes themselves give nothing. */
  { { "co.uk", NULL }, 0, "", 1 },
  { { "com", NULL }, 0, "", 1 },
  { { "uk", NULL }, 0, "", 1 },
  /* Single labels: unknown TLDs are public through the "*" rule. */
  { { "corp", NULL }, 0, "", 1 },
  { { "lan", NULL }, 0, "", 1 },
  { { "localdomain", NULL }, 0, "", 1 },
  { { "example.corp", NULL }, 0, "wpad.example.corp", 0 },
  /* Private PSL entries count as public suffixes. */
  { { "github.io", NULL }, 0, "", 1 },
  { { "team.github.io", NULL }, 0, "wpad.team.github.io", 0 },
  { { "a.team.github.io", NULL }, 0,
    "wpad.a.team.github.io wpad.team.github.io", 0 },
  { { "blogspot.com", NULL }, 0, "", 1 },
  /* Wildcard and exception rules: *.ck and !www.ck. */
  { { "a.b.ck", NULL }, 0, "wpad.a.b.ck", 0 },
  { { "b.ck", NULL }, 0, "", 1 },
  { { "www.ck", NULL }, 0, "wpad.www.ck", 0 },
  /* Normalisation: trailing dot, upper case. */
  { { "example.com.", NULL }, 0, "wpad.example.com", 0 },
  { { "Sub.EXAMPLE.Com", NULL }, 0, "wpad.sub.example.com wpad.example.com",
    0 },
  { { "EXAMPLE.CO.UK.", NULL }, 0, "wpad.example.co.uk", 0 },
  /* Duplicates across search domains, first position kept. */
  { { "a.example.com", "b.example.com", "example.com", NULL }, 0,
    "wpad.a.example.com wpad.example.com wpad.b.example.com", 1 },
  { { "a.example.com", "A.Example.COM.", NULL }, 0,
    "wpad.a.example.com wpad.example.com", 1 },
  { { "co.uk", "x.example.org", "com", NULL }, 0,
    "wpad.x.example.org wpad.example.org", 2 },
  /* Invalid domains are skipped. */
  { { "exa_mple.com", "-a.example.com", "a-.example.com", "a..example.com",
      ".example.com", NULL }, 0, "", 5 },
  { { "", ".", "example.com..", "ex ample.com", "ex\xc3\xa4mple.com", NULL },
    0, "", 5 },
  { { "192.168.1.1", "10.0.0.0", NULL }, 0, "", 2 },
  /* Special-use names: mDNS, loopback, reverse trees, .onion. */
  { { "printer.local", "x.localhost", "1.168.192.in-addr.arpa",
      "x.onion", "a.invalid", NULL }, 0, "", 5 },
  { { "home.arpa", NULL }, 0, "wpad.home.arpa", 0 },
  { { "x.home.arpa", NULL }, 0, "wpad.x.home.arpa wpad.home.arpa", 0 },
  /* Label length: 63 is fine, 64 is not. */
  { { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      ".example.com", NULL }, 0,
    "wpad.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    ".example.com wpad.example.com", 0 },
  { { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      ".example.com", NULL }, 0, "", 1 },
  /* The cap: 16 by default, or as given, across domains. */
  { { "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.example.com", NULL }, 0,
    "wpad.a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.example.com "
    "wpad.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.example.com "
    "wpad.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.example.com "
    "wpad.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.example.com "
    "wpad.e.f.g.h.i.j.k.l.m.n.o.p.q.r.example.com "
    "wpad.f.g.h.i.j.k.l.m.n.o.p.q.r.example.com "
    "wpad.g.h.i.j.k.l.m.n.o.p.q.r.example.com "
    "wpad.h.i.j.k.l.m.n.o.p.q.r.example.com "
    "wpad.i.j.k.l.m.n.o.p.q.r.example.com "
    "wpad.j.k.l.m.n.o.p.q.r.example.com "
    "wpad.k.l.m.n.o.p.q.r.example.com "
    "wpad.l.m.n.o.p.q.r.example.com "
    "wpad.m.n.o.p.q.r.example.com "
    "wpad.n.o.p.q.r.example.com "
    "wpad.o.p.q.r.example.com "
    "wpad.p.q.r.example.com", 0 },
  { { "a.example.com", "b.example.org", NULL }, 2,
    "wpad.a.example.com wpad.example.com", 0 },
  { { "a.example.com", "b.example.org", NULL }, 3,
    "wpad.a.example.com wpad.example.com wpad.b.example.org", 0 },
  /* No domains at all. */
  { { NULL }, 0, "", 0 },
};
/* clang-format on */

Test(wpad, candidates_table)
{
  const psl_ctx_t *psl = psl_builtin();
  char got[4096];

  cr_assert_not_null(psl);
  for (size_t i = 0; i < sizeof(cand_rows) / sizeof(cand_rows[0]); i++) {
    const cand_row *row = &cand_rows[i];
    rf__wpad_candidate *c = NULL;
    size_t n = 99, skipped = 99;
    int err =
        rf__wpad_candidates(&c, &n, &skipped, psl, row->domains, row->max);

    cr_assert_eq(err, 0, "row %zu: %d", i, err);
    join_names(got, sizeof(got), c, n);
    cr_expect_str_eq(got, row->want, "row %zu (%s): got \"%s\"", i,
                     row->domains[0] ? row->domains[0] : "(none)", got);
    cr_expect_eq(skipped, row->skipped, "row %zu: skipped %zu", i, skipped);
    if (n == 0)
      cr_expect_null(c, "row %zu", i);
    for (size_t k = 0; k < n; k++) {
      char url[300];

      snprintf(url, sizeof(url), "http://%s/wpad.dat", c[k].name);
      cr_expect_str_eq(c[k].url, url, "row %zu", i);
      /* Never a single label, never wpad.<public suffix>. */
      cr_expect_not_null(strchr(c[k].name + 5, '.'), "row %zu", i);
      cr_expect_eq(psl_is_public_suffix(psl, c[k].name + 5), 0, "row %zu", i);
    }
    free(c);
  }
  ASSERT_NO_LEAKS();
}

Test(wpad, candidates_name_length)
{
  const psl_ctx_t *psl = psl_builtin();
  /* 4 labels of 60 + ".example.com" = 255 > 248: too long with "wpad.";
   * the devolved forms alone would fit, but the domain is skipped whole. */
  char longdom[300], okdom[300];
  const char *d1[] = { longdom, NULL }, *d2[] = { okdom, NULL };
  rf__wpad_candidate *c = NULL;
  size_t n = 0;
  char l60[61];

  memset(l60, 'a', 60);
  l60[60] = '\0';
  snprintf(longdom, sizeof(longdom), "%s.%s.%s.%s.example.com", l60, l60, l60,
           l60);
  cr_assert_eq(rf__wpad_candidates(&c, &n, NULL, psl, d1, 0), 0);
  cr_expect_eq(n, 0);
  free(c);
  /* 3 x 60 + "example.com": "wpad." + 194 = 199 characters, fine. */
  snprintf(okdom, sizeof(okdom), "%s.%s.%s.example.com", l60, l60, l60);
  cr_assert_eq(rf__wpad_candidates(&c, &n, NULL, psl, d2, 0), 0);
  cr_assert_eq(n, 4);
  cr_expect_eq(strlen(c[0].name), 5 + strlen(okdom));
  cr_expect_str_eq(c[3].name, "wpad.example.com");
  free(c);
  ASSERT_NO_LEAKS();
}

Test(wpad, candidates_args)
{
  const char *d[] = { "example.com", NULL };
  rf__wpad_candidate *c = (rf__wpad_candidate *)1;
  size_t n = 7;

  cr_expect_eq(rf__wpad_candidates(NULL, &n, NULL, psl_builtin(), d, 0),
               RF_EINVAL);
  cr_expect_eq(rf__wpad_candidates(&c, NULL, NULL, psl_builtin(), d, 0),
               RF_EINVAL);
  cr_expect_eq(rf__wpad_candidates(&c, &n, NULL, NULL, d, 0), RF_EINVAL);
  cr_expect_null(c);
  cr_expect_eq(n, 0);
  /* psl_latest(NULL) (the system list) agrees on the common cases. */
  {
    psl_ctx_t *latest = psl_latest(NULL);
    const char *d2[] = { "dept.example.co.uk", "github.io", NULL };

    cr_assert_not_null(latest);
    cr_assert_eq(rf__wpad_candidates(&c, &n, NULL, latest, d2, 0), 0);
    cr_assert_eq(n, 2);
    cr_expect_str_eq(c[0].name, "wpad.dept.example.co.uk");
    cr_expect_str_eq(c[1].name, "wpad.example.co.uk");
    free(c);
    psl_free(latest);
  }
  ASSERT_NO_LEAKS();
}

Test(wpad, host_domain)
{
  const char *h = "pc.dept.example.com";

  cr_expect_eq(rf__wpad_host_domain(h), h + 3);
  cr_expect_str_eq(rf__wpad_host_domain("pc.example.com"), "example.com");
  cr_expect_null(rf__wpad_host_domain("pc"));
  cr_expect_null(rf__wpad_host_domain("pc."));
  cr_expect_null(rf__wpad_host_domain("pc..x"));
  cr_expect_null(rf__wpad_host_domain(NULL));
}

/* -------------------------------------------------------- resolv.conf */

typedef struct resolv_row {
  const char *text;
  const char *want;
} resolv_row;

/* clang-format off */
static const resolv_row resolv_rows[] = {
  { "nameserver 10.0.0.1\nsearch a.example b.example\n",
    "a.example b.example" },
  { "domain x.example\n", "x.example" },
  /* The last of "search" and "domain" wins. */
  { "domain x.example\nsearch a.example b.example\n", "a.example b.example" },
  { "search a.example b.example\ndomain x.example\n", "x.example" },
  { "search a.example\nsearch b.example c.example\n", "b.example c.example" },
  /* "domain" takes one word. */
  { "domain x.example y.example\n", "x.example" },
  /* A keyword without a word changes nothing. */
  { "search a.example\nsearch\n", "a.example" },
  { "search a.example\ndomain   \n", "a.example" },
  /* Comments: whole lines, and the rest of a line. */
  { "# search hidden.example\nsearch a.example\n", "a.example" },
  { "search a.example\n; search hidden.example\n", "a.example" },
  { "search a.example # b.example\n", "a.example" },
  { "search a.example;b.example\n", "a.example" },
  /* Spaces and tabs separate words; CRLF; no final newline. */
  { "search\ta.example \t b.example", "a.example b.example" },
  { "search a.example\r\n", "a.example" },
  /* The keyword must start the line, and be the whole word. */
  { "  search a.example\n", "" },
  { "searchx a.example\n", "" },
  { "Search a.example\n", "" },
  { "options ndots:2 search x\n", "" },
  /* Words are returned as written. */
  { "search Corp.Example. .\n", "Corp.Example. ." },
  { "", "" },
  { "nameserver 10.0.0.1\n", "" },
};
/* clang-format on */

Test(wpad, resolv_table)
{
  char got[512];

  for (size_t i = 0; i < sizeof(resolv_rows) / sizeof(resolv_rows[0]); i++) {
    char **v = NULL;
    size_t n = 99;
    int err = rf__wpad_parse_resolv(&v, &n, resolv_rows[i].text,
                                    strlen(resolv_rows[i].text));

    cr_assert_eq(err, 0, "row %zu", i);
    cr_assert_not_null(v, "row %zu", i);
    join_strv(got, sizeof(got), v);
    cr_expect_str_eq(got, resolv_rows[i].want, "row %zu: \"%s\"", i, got);
    {
      size_t k = 0;

      while (v[k] != NULL)
        k++;
      cr_expect_eq(n, k, "row %zu", i);
    }
    free(v);
  }
  ASSERT_NO_LEAKS();
}

Test(wpad, resolv_file)
{
  scratch s;
  const char *p;
  char **v = NULL;
  size_t n = 0;

  scratch_init(&s);
  p = scratch_file(&s, "resolv.conf",
                   "nameserver 10.0.0.1\nsearch corp.example.com lab\n", 47);
  cr_assert_eq(rf__wpad_read_resolv(&v, &n, p), 0);
  cr_assert_eq(n, 2);
  cr_expect_str_eq(v[0], "corp.example.com");
  cr_expect_str_eq(v[1], "lab");
  cr_expect_null(v[2]);
  free(v);
  cr_expect_eq(rf__wpad_read_resolv(&v, &n, "/nonexistent/resolv.conf"),
               RF_ENOENT);
  cr_expect_null(v);
  cr_expect_eq(rf__wpad_parse_resolv(NULL, &n, "", 0), RF_EINVAL);
  cr_expect_eq(rf__wpad_parse_resolv(&v, &n, NULL, 3), RF_EINVAL);
  scratch_done(&s);
  ASSERT_NO_LEAKS();
}

/* ------------------------------------------------------ option 252 */

typedef struct url_row {
  const char *value;
  size_t len;       /* 0: strlen */
  const char *want; /* NULL: RF_EURL */
} url_row;

/* clang-format off */
static const url_row url_rows[] = {
  { "http://wpad.example.com/wpad.dat", 0, "http://wpad.example.com/wpad.dat" },
  { "https://pac.example.com:8443/p.pac", 0,
    "https://pac.example.com:8443/p.pac" },
  { "HTTP://Pac.Example/p.pac", 0, "HTTP://Pac.Example/p.pac" },
  /* Trailing NUL and newline from the server, leading blanks. */
  { "http://p.example/x.pac\n", 0, "http://p.example/x.pac" },
  { "http://p.example/x.pac\0", 23, "http://p.example/x.pac" },
  { "http://p.example/x.pac\r\n\0\0", 26, "http://p.example/x.pac" },
  { "  http://p.example/x.pac", 0, "http://p.example/x.pac" },
  { "http://10.0.0.1/proxy.pac", 0, "http://10.0.0.1/proxy.pac" },
  { "http://[fd00::1]/proxy.pac", 0, "http://[fd00::1]/proxy.pac" },
  /* Refused. */
  { "", 0, NULL },
  { "\0", 1, NULL },
  { "ftp://p.example/x.pac", 0, NULL },
  { "file:///etc/passwd", 0, NULL },
  { "javascript:alert(1)", 0, NULL },
  { "p.example/x.pac", 0, NULL },
  { "http://", 0, NULL },
  { "http:///x.pac", 0, NULL },
  { "http:/p.example/x.pac", 0, NULL },
  { "http://p example/x.pac", 0, NULL },
  { "http://p.example/x\001.pac", 0, NULL },
  { "http://p.example/\0x.pac", 23, NULL },
  { "http://p.ex\xc3\xa4mple/x.pac", 0, NULL },
};
/* clang-format on */

Test(wpad, parse_url_table)
{
  for (size_t i = 0; i < sizeof(url_rows) / sizeof(url_rows[0]); i++) {
    const url_row *row = &url_rows[i];
    size_t len = row->len != 0 ? row->len : strlen(row->value);
    char *url = (char *)1;
    int err = rf__wpad_parse_url(&url, row->value, len);

    if (row->want != NULL) {
      cr_expect_eq(err, 0, "row %zu: %d", i, err);
      if (err == 0)
        cr_expect_str_eq(url, row->want, "row %zu", i);
    } else {
      cr_expect_eq(err, RF_EURL, "row %zu: %d", i, err);
      cr_expect_null(url, "row %zu", i);
    }
    free(err == 0 ? url : NULL);
  }
  cr_expect_eq(rf__wpad_parse_url(NULL, "http://x/", 9), RF_EINVAL);
  ASSERT_NO_LEAKS();
}

/* dhclient's hex form of s (len bytes): "%x" per byte, ':' between. */
static void dhclient_hex(char *out, size_t cap, const char *s, size_t len)
{
  size_t n = 0;

  out[0] = '\0';
  for (size_t i = 0; i < len; i++)
    n += (size_t)snprintf(out + n, cap - n, "%s%x", i ? ":" : "",
                          (unsigned char)s[i]);
}

#define LEASE_HEAD                                                    \
  "lease {\n  interface \"eth0\";\n  fixed-address 10.0.0.5;\n"       \
  "  option subnet-mask 255.255.255.0;\n  option routers 10.0.0.1;\n" \
  "  option domain-name \"corp.example;}\";\n"
#define LEASE_TAIL                                                    \
  "  renew 2 2030/01/01 00:00:00;\n  rebind 2 2030/01/01 00:00:00;\n" \
  "  expire 2 2030/01/01 00:00:00;\n}\n"
#define NOW 1700000000 /* 2023-11-14 22:13:20 UTC */

typedef struct lease_row {
  const char *text;
  int64_t now;
  int err;
  const char *want; /* URL on success, else the reason */
} lease_row;

/* clang-format off */
static const lease_row lease_rows[] = {
  /* "option wpad code 252 = text;": a quoted string. */
  { LEASE_HEAD "  option wpad \"http://wpad.example.com/wpad.dat\";\n"
    LEASE_TAIL, NOW, 0, "http://wpad.example.com/wpad.dat" },
  /* The server's trailing newline, escaped by dhclient as \012. */
  { LEASE_HEAD "  option wpad \"http://wpad.example.com/wpad.dat\\012\";\n"
    LEASE_TAIL, NOW, 0, "http://wpad.example.com/wpad.dat" },
  /* Other escapes dhclient writes or reads. */
  { LEASE_HEAD "  option wpad \"http://p.example/a\\&b\\$c.pac\\n\";\n"
    LEASE_TAIL, NOW, 0, "http://p.example/a&b$c.pac" },
  { LEASE_HEAD "  option wpad \"http://p.example/\\x41.pac\";\n"
    LEASE_TAIL, NOW, 0, "http://p.example/A.pac" },
  /* "option wpad-url code 252 = text;" */
  { LEASE_HEAD "  option wpad-url \"https://pac.example.com/p.pac\";\n"
    LEASE_TAIL, NOW, 0, "https://pac.example.com/p.pac" },
  /* Undeclared: dhclient's unknown-252 name, quoted when printable. */
  { LEASE_HEAD "  option unknown-252 \"http://pac.example.com/p.pac\";\n"
    LEASE_TAIL, NOW, 0, "http://pac.example.com/p.pac" },
  /* Hex with one-digit bytes: "http://p.ex/\n" + NUL. */
  { LEASE_HEAD "  option unknown-252 68:74:74:70:3a:2f:2f:70:2e:65:78:2f:"
    "a:0;\n" LEASE_TAIL, NOW, 0, "http://p.ex/" },
  { LEASE_HEAD "  option wpad 68:74:74:70:3a:2f:2f:70:2e:65:78:2f:0;\n"
    LEASE_TAIL, NOW, 0, "http://p.ex/" },
  /* Malformed hex. */
  { LEASE_HEAD "  option wpad 68:74:74:70:3a:2f:2f:70:2e:65:78:2f:;\n"
    LEASE_TAIL, NOW, RF_EURL, "option 252 is not an http(s) URL" },
  { LEASE_HEAD "  option wpad 68:74:zz;\n" LEASE_TAIL, NOW, RF_EURL,
    "option 252 is not an http(s) URL" },
  /* Two values. */
  { LEASE_HEAD "  option wpad \"http://a/\" \"http://b/\";\n" LEASE_TAIL,
    NOW, RF_EURL, "option 252 is not an http(s) URL" },
  /* The last lease wins, with or without the option. */
  { LEASE_HEAD "  option wpad \"http://old.example/wpad.dat\";\n" LEASE_TAIL
    LEASE_HEAD "  option wpad \"http://new.example/wpad.dat\";\n" LEASE_TAIL,
    NOW, 0, "http://new.example/wpad.dat" },
  { LEASE_HEAD "  option wpad \"http://old.example/wpad.dat\";\n" LEASE_TAIL
    LEASE_HEAD LEASE_TAIL,
    NOW, RF_ENOENT, "no option 252 in the last lease" },
  /* A lease cut short (dhclient still writing): the previous one stands. */
  { LEASE_HEAD "  option wpad \"http://old.example/wpad.dat\";\n" LEASE_TAIL
    LEASE_HEAD "  option wpad \"http://new.example/wpa",
    NOW, 0, "http://old.example/wpad.dat" },
  { LEASE_HEAD "  option wpad \"http://old.example/wpad.dat\";\n" LEASE_TAIL
    "lease {\n  option wpad \"http://new.example/wpad.dat\";\n",
    NOW, 0, "http://old.example/wpad.dat" },
  /* Not http(s). */
  { LEASE_HEAD "  option wpad \"ftp://p.example/wpad.dat\";\n" LEASE_TAIL,
    NOW, RF_EURL, "option 252 is not an http(s) URL" },
  { LEASE_HEAD "  option wpad \"file:///etc/wpad.dat\";\n" LEASE_TAIL,
    NOW, RF_EURL, "option 252 is not an http(s) URL" },
  { LEASE_HEAD "  option wpad \"\";\n" LEASE_TAIL,
    NOW, RF_EURL, "option 252 is not an http(s) URL" },
  /* Expiry: UTC date form, epoch form (db-time-format local), never. */
  { "lease {\n option wpad \"http://p.example/w.dat\";\n"
    " expire 2 2023/11/14 22:13:19;\n}\n",
    NOW, RF_ENOENT, "last lease expired" },
  { "lease {\n option wpad \"http://p.example/w.dat\";\n"
    " expire 2 2023/11/14 22:13:20;\n}\n",
    NOW, 0, "http://p.example/w.dat" },
  { "lease {\n option wpad \"http://p.example/w.dat\";\n"
    " expire 2 2020/01/01 00:00:00;\n}\n",
    0, 0, "http://p.example/w.dat" },
  { "lease {\n option wpad \"http://p.example/w.dat\";\n"
    " expire epoch 1699999999; # Tue Nov 14 23:13:19 2023\n}\n",
    NOW, RF_ENOENT, "last lease expired" },
  { "lease {\n option wpad \"http://p.example/w.dat\";\n"
    " expire never;\n}\n",
    NOW, 0, "http://p.example/w.dat" },
  { "lease {\n option wpad \"http://p.example/w.dat\";\n}\n",
    NOW, 0, "http://p.example/w.dat" },
  /* Other blocks and statements are skipped. */
  { "default-duid \"\\000\\001\\000\\001;{}\";\n"
    "lease6 {\n  interface \"eth0\";\n  ia-na 1a:2b:3c:4d {\n"
    "    iaaddr 2001:db8::5 { max-life 7200; }\n  }\n"
    "  option wpad \"http://v6.example/wpad.dat\";\n}\n"
    "lease {\n # option wpad \"http://commented.example/\";\n"
    "  option dhcp6.x { nested; }\n"
    "  option wpad \"http://v4.example/wpad.dat\";\n}\n",
    NOW, 0, "http://v4.example/wpad.dat" },
  { "lease6 {\n  option wpad \"http://v6.example/wpad.dat\";\n}\n",
    NOW, RF_ENOENT, "no lease" },
  { "", NOW, RF_ENOENT, "no lease" },
  { "# nothing\n", NOW, RF_ENOENT, "no lease" },
  /* "lease" must start a statement. */
  { "option lease {\n option wpad \"http://x.example/\";\n}\n",
    NOW, RF_ENOENT, "no lease" },
  /* Option names compare whole. */
  { "lease {\n option wpadx \"http://x.example/\";\n"
    " option my-wpad \"http://x.example/\";\n}\n",
    NOW, RF_ENOENT, "no option 252 in the last lease" },
};
/* clang-format on */

Test(wpad, leases_table)
{
  for (size_t i = 0; i < sizeof(lease_rows) / sizeof(lease_rows[0]); i++) {
    const lease_row *row = &lease_rows[i];
    char *url = (char *)1;
    const char *why = "unset";
    int err = rf__wpad_parse_leases(&url, &why, row->text, strlen(row->text),
                                    row->now);

    cr_expect_eq(err, row->err, "row %zu: %d", i, err);
    if (row->err == 0) {
      if (err == 0)
        cr_expect_str_eq(url, row->want, "row %zu", i);
      cr_expect_null(why, "row %zu", i);
      free(err == 0 ? url : NULL);
    } else {
      cr_expect_null(url, "row %zu", i);
      cr_expect_str_eq(why != NULL ? why : "(null)", row->want, "row %zu", i);
    }
  }
  ASSERT_NO_LEAKS();
}

/* The hex form dhclient writes for a "string" option that is not
 * printable, generated from the bytes, with the NUL servers append. */
Test(wpad, leases_hex_roundtrip)
{
  static const char value[] = "http://wpad.corp.example.com:8080/proxy.pac\n";
  char hex[1024], text[2048], *url = NULL;
  const char *why = NULL;

  dhclient_hex(hex, sizeof(hex), value, sizeof(value)); /* with the NUL */
  cr_assert_not_null(strstr(hex, ":a:0"));
  snprintf(text, sizeof(text), "lease {\n  option wpad %s;\n}\n", hex);
  cr_assert_eq(rf__wpad_parse_leases(&url, &why, text, strlen(text), NOW), 0);
  cr_expect_str_eq(url, "http://wpad.corp.example.com:8080/proxy.pac");
  free(url);
  /* A NUL inside the value is refused. */
  {
    static const char bad[] = "http://p.example/\0x.pac";

    dhclient_hex(hex, sizeof(hex), bad, sizeof(bad) - 1);
    snprintf(text, sizeof(text), "lease {\n  option wpad %s;\n}\n", hex);
    cr_expect_eq(rf__wpad_parse_leases(&url, &why, text, strlen(text), NOW),
                 RF_EURL);
    cr_expect_null(url);
  }
  ASSERT_NO_LEAKS();
}

Test(wpad, leases_file)
{
  static const char text[] = LEASE_HEAD
      "  option wpad \"http://wpad.example.com/wpad.dat\\012\";\n" LEASE_TAIL;
  scratch s;
  char *url = NULL;
  const char *why = "unset", *p;

  scratch_init(&s);
  p = scratch_file(&s, "dhclient.eth0.leases", text, sizeof(text) - 1);
  cr_assert_eq(rf__wpad_read_leases(&url, &why, p, NOW), 0);
  cr_expect_str_eq(url, "http://wpad.example.com/wpad.dat");
  cr_expect_null(why);
  free(url);
  url = NULL;
  cr_expect_eq(rf__wpad_read_leases(&url, &why, "/nonexistent/x.leases", NOW),
               RF_ENOENT);
  cr_expect_null(url);
  cr_expect_null(why);
  cr_expect_eq(rf__wpad_read_leases(&url, &why, s.dir, NOW), RF_EIO);
  cr_expect_eq(rf__wpad_read_leases(&url, &why, NULL, NOW), RF_EINVAL);
  cr_expect_eq(rf__wpad_parse_leases(NULL, &why, "", 0, NOW), RF_EINVAL);
  scratch_done(&s);
  ASSERT_NO_LEAKS();
}

/* ------------------------------------------------ async: fake resolver */

#define FAKE_MAX 32

typedef struct fake_ans {
  const char *node;
  int status;   /* what the lookup answers */
  int delay_ms; /* -1: never (until flushed or cancelled) */
  int sync_rc;  /* nonzero: the call itself fails with it */
} fake_ans;

struct fake_dns;

typedef struct fake_q {
  struct fake_dns *dns;
  uv_getaddrinfo_t *req;
  uv_getaddrinfo_cb cb;
  int status;
  int answered;
  uv_timer_t timer;
} fake_q;

typedef struct fake_dns {
  const fake_ans *ans;
  char asked[FAKE_MAX][300];
  size_t n_asked;
  fake_q q[FAKE_MAX];
  size_t n_q;
  int cancel_rc; /* 0: cancel works (answers UV_EAI_CANCELED); UV_EBUSY */
  int cancels;
} fake_dns;

static void fake_answer(uv_timer_t *t)
{
  fake_q *q = t->data;
  struct addrinfo *res = NULL;

  if (q->answered)
    return;
  q->answered = 1;
  if (q->status == 0) {
    struct addrinfo hints;

    memset(&hints, 0, sizeof(hints));
    hints.ai_flags = AI_NUMERICHOST;
    cr_assert_eq(getaddrinfo("127.0.0.1", NULL, &hints, &res), 0);
  }
  q->cb(q->req, q->status, res);
  q->req = NULL; /* freed by now: let LeakSanitizer see if it is not */
}

/* Same shape as uv_getaddrinfo; the fake's state is loop->data. */
static int fake_getaddrinfo(uv_loop_t *loop, uv_getaddrinfo_t *req,
                            uv_getaddrinfo_cb cb, const char *node,
                            const char *service, const struct addrinfo *hints)
{
  fake_dns *dns = loop->data;
  const fake_ans *a = NULL;
  fake_q *q;

  cr_assert_null(service);
  cr_assert_not_null(hints);
  cr_assert_lt(dns->n_asked, FAKE_MAX);
  snprintf(dns->asked[dns->n_asked++], sizeof(dns->asked[0]), "%s", node);
  for (size_t i = 0; dns->ans != NULL && dns->ans[i].node != NULL; i++) {
    if (strcmp(dns->ans[i].node, node) == 0)
      a = &dns->ans[i];
  }
  if (a != NULL && a->sync_rc != 0)
    return a->sync_rc;
  q = &dns->q[dns->n_q++];
  q->dns = dns;
  q->req = req;
  q->cb = cb;
  q->status = a != NULL ? a->status : UV_EAI_NONAME;
  q->answered = 0;
  req->loop = loop;
  cr_assert_eq(uv_timer_init(loop, &q->timer), 0);
  q->timer.data = q;
  if (a == NULL || a->delay_ms >= 0)
    uv_timer_start(&q->timer, fake_answer,
                   a != NULL ? (uint64_t)a->delay_ms : 1, 0);
  return 0;
}

static int fake_cancel(uv_req_t *r)
{
  uv_getaddrinfo_t *req = (uv_getaddrinfo_t *)r;
  fake_dns *dns = req->loop->data;

  dns->cancels++;
  for (size_t i = 0; i < dns->n_q; i++) {
    fake_q *q = &dns->q[i];

    if (q->req != req || q->answered)
      continue;
    if (dns->cancel_rc != 0)
      return dns->cancel_rc;
    q->status = UV_EAI_CANCELED;
    uv_timer_start(&q->timer, fake_answer, 0, 0);
    return 0;
  }
  return UV_EINVAL;
}

/* Answers every lookup still waiting ("never") with not-found. */
static void fake_flush(fake_dns *dns)
{
  for (size_t i = 0; i < dns->n_q; i++) {
    if (!dns->q[i].answered) {
      dns->q[i].status = UV_EAI_NONAME;
      uv_timer_start(&dns->q[i].timer, fake_answer, 0, 0);
    }
  }
}

static void flush_cb(uv_timer_t *t)
{
  fake_flush(t->data);
}

static void fake_close(fake_dns *dns)
{
  for (size_t i = 0; i < dns->n_q; i++)
    uv_close((uv_handle_t *)&dns->q[i].timer, NULL);
}

typedef struct outcome {
  int returned; /* rf__wpad_discover has returned */
  int calls;
  int status;
  char url[300], source[300], tried[2048];
  uint64_t at; /* uv_now at the callback */
  uv_loop_t *loop;
  rf__wpad_req *req; /* to try a cancel from inside the callback */
  int cancel_inside;
} outcome;

static void on_result(const rf__wpad_result *res, void *ud)
{
  outcome *o = ud;

  cr_assert(o->returned, "callback called from inside rf__wpad_discover");
  o->calls++;
  o->status = res->status;
  cr_assert_not_null(res->tried);
  snprintf(o->url, sizeof(o->url), "%s", res->url ? res->url : "(null)");
  snprintf(o->source, sizeof(o->source), "%s",
           res->source ? res->source : "(null)");
  snprintf(o->tried, sizeof(o->tried), "%s", res->tried);
  if (res->status == 0) {
    cr_assert_not_null(res->url);
    cr_assert_not_null(res->source);
  } else {
    cr_assert_null(res->url);
    cr_assert_null(res->source);
  }
  o->at = uv_now(o->loop);
  if (o->cancel_inside)
    rf__wpad_cancel(o->req); /* a no-op from inside the callback */
}

typedef struct rig {
  uv_loop_t loop;
  fake_dns dns;
  outcome out;
  rf__wpad_config cfg;
  rf__wpad_req *req;
  scratch files;
  const char *none[1]; /* empty list */
} rig;

static void rig_init(rig *g, const fake_ans *ans)
{
  memset(g, 0, sizeof(*g));
  cr_assert_eq(uv_loop_init(&g->loop), 0);
  g->loop.data = &g->dns;
  g->dns.ans = ans;
  g->out.loop = &g->loop;
  g->cfg.psl = psl_builtin();
  g->cfg.getaddrinfo = fake_getaddrinfo;
  g->cfg.cancel = fake_cancel;
  g->cfg.now = NOW;
  g->none[0] = NULL;
  g->cfg.lease_files = g->none; /* never the machine's own leases */
  scratch_init(&g->files);
}

static void rig_start(rig *g)
{
  int err = rf__wpad_discover(&g->loop, &g->cfg, on_result, &g->out, &g->req);

  cr_assert_eq(err, 0, "rf__wpad_discover: %d", err);
  cr_assert_not_null(g->req);
  cr_assert_eq(g->out.calls, 0, "callback before rf__wpad_discover returned");
  g->out.returned = 1;
  g->out.req = g->req;
}

/* Closes everything and checks that the loop ends clean. */
static void rig_done(rig *g)
{
  fake_flush(&g->dns);
  uv_run(&g->loop, UV_RUN_DEFAULT);
  fake_close(&g->dns);
  uv_run(&g->loop, UV_RUN_DEFAULT);
  cr_assert_eq(uv_loop_close(&g->loop), 0, "handles left open");
  scratch_done(&g->files);
}

/*
 * An async test: the scenario runs in a frame of its own, gone by the time
 * the leak check scans the stack, so a leaked request is unreachable.
 */
#define ASYNC_TEST(name)                                  \
  static void name##_run(void) __attribute__((noinline)); \
  Test(wpad, name)                                        \
  {                                                       \
    name##_run();                                         \
    ASSERT_NO_LEAKS();                                    \
  }                                                       \
  static void name##_run(void)

ASYNC_TEST(dns_first_fails_second_resolves)
{
  static const fake_ans ans[] = {
    { "wpad.a.example.com.", UV_EAI_NONAME, 2, 0 },
    { "wpad.example.com.", 0, 2, 0 },
    { NULL, 0, 0, 0 },
  };
  static const char *const domains[] = { "a.example.com", NULL };
  rig g;

  rig_init(&g, ans);
  g.cfg.methods = RF__WPAD_DNS;
  g.cfg.domains = domains;
  rig_start(&g);
  uv_run(&g.loop, UV_RUN_DEFAULT);
  cr_assert_eq(g.out.calls, 1);
  cr_expect_eq(g.out.status, 0);
  cr_expect_str_eq(g.out.url, "http://wpad.example.com/wpad.dat");
  cr_expect_str_eq(g.out.source, "DNS wpad.example.com");
  cr_expect_str_eq(g.out.tried, "DNS: wpad.a.example.com (not found), "
                                "wpad.example.com (found)");
  cr_assert_eq(g.dns.n_asked, 2);
  /* Absolute names, in order: the resolver adds no search domain. */
  cr_expect_str_eq(g.dns.asked[0], "wpad.a.example.com.");
  cr_expect_str_eq(g.dns.asked[1], "wpad.example.com.");
  rig_done(&g);
}

ASYNC_TEST(all_fail_explains)
{
  static const fake_ans ans[] = {
    { "wpad.a.example.com.", UV_EAI_NONAME, 1, 0 },
    { "wpad.example.com.", 0, -1, 0 }, /* never answers */
    { NULL, 0, 0, 0 },
  };
  static const char *const domains[] = { "a.example.com", "co.uk", NULL };
  const char *files[3];
  char want[1024];
  rig g;

  rig_init(&g, ans);
  files[0] =
      scratch_file(&g.files, "dhclient.eth0.leases", LEASE_HEAD LEASE_TAIL,
                   sizeof(LEASE_HEAD LEASE_TAIL) - 1);
  files[1] = "/nonexistent/dhclient.leases";
  files[2] = NULL;
  g.cfg.lease_files = files;
  g.cfg.domains = domains;
  g.cfg.timeout_ms = 50;
  g.dns.cancel_rc = UV_EBUSY; /* the lookup cannot be cancelled */
  rig_start(&g);
  uv_run(&g.loop, UV_RUN_ONCE);
  while (g.out.calls == 0)
    uv_run(&g.loop, UV_RUN_ONCE);
  cr_assert_eq(g.out.calls, 1);
  cr_expect_eq(g.out.status, RF_ENOENT);
  cr_expect_str_eq(g.out.url, "(null)");
  snprintf(want, sizeof(want),
           "DHCP: %s (no option 252 in the last lease), "
           "/nonexistent/dhclient.leases (no such file or directory); "
           "DNS: wpad.a.example.com (not found), "
           "wpad.example.com (timed out after 50 ms)",
           files[0]);
  cr_expect_str_eq(g.out.tried, want);
  cr_expect_eq(g.dns.cancels, 1);
  /* The uncancellable lookup is still in flight; its late answer must be
   * swallowed without a second callback. */
  rig_done(&g);
  cr_expect_eq(g.out.calls, 1);
}

ASYNC_TEST(timeout_then_next)
{
  static const fake_ans ans[] = {
    { "wpad.a.example.com.", 0, -1, 0 }, /* hangs */
    { "wpad.example.com.", 0, 1, 0 },
    { NULL, 0, 0, 0 },
  };
  static const char *const domains[] = { "a.example.com", NULL };
  uint64_t t0;
  rig g;

  rig_init(&g, ans);
  g.cfg.methods = RF__WPAD_DNS;
  g.cfg.domains = domains;
  g.cfg.timeout_ms = 30;
  uv_update_time(&g.loop);
  t0 = uv_now(&g.loop);
  rig_start(&g);
  uv_run(&g.loop, UV_RUN_DEFAULT);
  cr_assert_eq(g.out.calls, 1);
  cr_expect_eq(g.out.status, 0);
  cr_expect_str_eq(g.out.url, "http://wpad.example.com/wpad.dat");
  cr_expect_str_eq(g.out.source, "DNS wpad.example.com");
  cr_expect_str_eq(g.out.tried,
                   "DNS: wpad.a.example.com (timed out after 30 ms), "
                   "wpad.example.com (found)");
  cr_expect_geq(g.out.at - t0, 30);
  cr_expect_eq(g.dns.cancels, 1); /* cancelled, answered UV_EAI_CANCELED */
  rig_done(&g);
}

ASYNC_TEST(default_timeout_is_one_second)
{
  static const fake_ans ans[] = {
    { "wpad.example.com.", 0, -1, 0 },
    { NULL, 0, 0, 0 },
  };
  static const char *const domains[] = { "example.com", NULL };
  uint64_t t0;
  rig g;

  rig_init(&g, ans);
  g.cfg.methods = RF__WPAD_DNS;
  g.cfg.domains = domains;
  uv_update_time(&g.loop);
  t0 = uv_now(&g.loop);
  rig_start(&g);
  uv_run(&g.loop, UV_RUN_DEFAULT);
  cr_assert_eq(g.out.calls, 1);
  cr_expect_eq(g.out.status, RF_ENOENT);
  cr_expect_str_eq(g.out.tried,
                   "DNS: wpad.example.com (timed out after 1000 ms)");
  cr_expect_geq(g.out.at - t0, 1000);
  cr_expect_lt(g.out.at - t0, 1900);
  rig_done(&g);
}

ASYNC_TEST(dhcp_wins_over_dns)
{
  static const fake_ans ans[] = {
    { "wpad.example.com.", 0, 1, 0 },
    { NULL, 0, 0, 0 },
  };
  static const char *const domains[] = { "example.com", NULL };
  static const char lease[] = LEASE_HEAD
      "  option wpad \"http://dhcp.example.com/proxy.pac\\000\";\n" LEASE_TAIL;
  const char *files[3];
  char want[512];
  rig g;

  rig_init(&g, ans);
  files[0] = "/nonexistent/dhclient.leases";
  files[1] =
      scratch_file(&g.files, "dhclient.leases", lease, sizeof(lease) - 1);
  files[2] = NULL;
  g.cfg.lease_files = files;
  g.cfg.domains = domains;
  rig_start(&g);
  uv_run(&g.loop, UV_RUN_DEFAULT);
  cr_assert_eq(g.out.calls, 1);
  cr_expect_eq(g.out.status, 0);
  cr_expect_str_eq(g.out.url, "http://dhcp.example.com/proxy.pac");
  snprintf(want, sizeof(want), "DHCP option 252 (%s)", files[1]);
  cr_expect_str_eq(g.out.source, want);
  cr_expect_eq(g.dns.n_asked, 0, "DNS asked although DHCP answered");
  rig_done(&g);
}

ASYNC_TEST(dhcp_given_value_and_file)
{
  rig g;
  const char *f;

  /* A value from elsewhere (NetworkManager), answered on the loop. */
  rig_init(&g, NULL);
  g.cfg.methods = RF__WPAD_DHCP;
  g.cfg.dhcp_url = "http://nm.example.com/wpad.dat\n";
  g.cfg.dhcp_url_source = "NetworkManager";
  rig_start(&g);
  uv_run(&g.loop, UV_RUN_DEFAULT);
  cr_assert_eq(g.out.calls, 1);
  cr_expect_eq(g.out.status, 0);
  cr_expect_str_eq(g.out.url, "http://nm.example.com/wpad.dat");
  cr_expect_str_eq(g.out.source, "DHCP option 252 (NetworkManager)");
  rig_done(&g);

  /* A refused value, then a file holding the value alone. */
  rig_init(&g, NULL);
  g.cfg.methods = RF__WPAD_DHCP;
  g.cfg.dhcp_url = "ftp://nm.example.com/wpad.dat";
  f = scratch_file(&g.files, "wpad-url", "https://f.example/p.pac\0", 24);
  g.cfg.dhcp_url_file = f;
  rig_start(&g);
  uv_run(&g.loop, UV_RUN_DEFAULT);
  cr_assert_eq(g.out.calls, 1);
  cr_expect_eq(g.out.status, 0);
  cr_expect_str_eq(g.out.url, "https://f.example/p.pac");
  cr_expect_not_null(
      strstr(g.out.tried, "given (option 252 is not an http(s) URL)"), "%s",
      g.out.tried);
  rig_done(&g);
}

ASYNC_TEST(dhcp_refused_falls_back_to_dns)
{
  static const fake_ans ans[] = {
    { "wpad.example.com.", 0, 1, 0 },
    { NULL, 0, 0, 0 },
  };
  static const char *const domains[] = { "example.com", NULL };
  static const char lease[] =
      LEASE_HEAD "  option wpad \"file:///etc/evil.pac\";\n" LEASE_TAIL;
  const char *files[2];
  char want[512];
  rig g;

  rig_init(&g, ans);
  files[0] = scratch_file(&g.files, "l.leases", lease, sizeof(lease) - 1);
  files[1] = NULL;
  g.cfg.lease_files = files;
  g.cfg.domains = domains;
  rig_start(&g);
  uv_run(&g.loop, UV_RUN_DEFAULT);
  cr_assert_eq(g.out.calls, 1);
  cr_expect_eq(g.out.status, 0);
  cr_expect_str_eq(g.out.source, "DNS wpad.example.com");
  snprintf(want, sizeof(want),
           "DHCP: %s (option 252 is not an http(s) URL); "
           "DNS: wpad.example.com (found)",
           files[0]);
  cr_expect_str_eq(g.out.tried, want);
  rig_done(&g);
}

ASYNC_TEST(dns_search_list_from_resolv_conf)
{
  static const fake_ans ans[] = {
    { "wpad.corp.example.org.", 0, 1, 0 },
    { NULL, 0, 0, 0 },
  };
  static const char conf[] =
      "nameserver 10.0.0.1\nsearch lan eng.corp.example.org\n";
  rig g;

  rig_init(&g, ans);
  g.cfg.methods = RF__WPAD_DNS;
  g.cfg.resolv_conf =
      scratch_file(&g.files, "resolv.conf", conf, sizeof(conf) - 1);
  rig_start(&g);
  uv_run(&g.loop, UV_RUN_DEFAULT);
  cr_assert_eq(g.out.calls, 1);
  cr_expect_eq(g.out.status, 0);
  cr_expect_str_eq(g.out.url, "http://wpad.corp.example.org/wpad.dat");
  cr_assert_eq(g.dns.n_asked, 2);
  cr_expect_str_eq(g.dns.asked[0], "wpad.eng.corp.example.org.");
  rig_done(&g);
}

ASYNC_TEST(dns_nothing_to_try)
{
  static const char *const publics[] = { "co.uk", "lan", NULL };
  static const char *const none[] = { NULL };
  rig g;

  /* Only public suffixes: answered without any lookup, yet on the loop. */
  rig_init(&g, NULL);
  g.cfg.methods = RF__WPAD_DNS;
  g.cfg.domains = publics;
  rig_start(&g);
  uv_run(&g.loop, UV_RUN_DEFAULT);
  cr_assert_eq(g.out.calls, 1);
  cr_expect_eq(g.out.status, RF_ENOENT);
  cr_expect_str_eq(g.out.tried, "DNS: no usable domain (co.uk lan: invalid "
                                "or public suffixes)");
  cr_expect_eq(g.dns.n_asked, 0);
  rig_done(&g);

  rig_init(&g, NULL);
  g.cfg.methods = RF__WPAD_DNS;
  g.cfg.domains = none;
  rig_start(&g);
  uv_run(&g.loop, UV_RUN_DEFAULT);
  cr_assert_eq(g.out.calls, 1);
  cr_expect_str_eq(g.out.tried, "DNS: no search domain");
  rig_done(&g);

  rig_init(&g, NULL);
  g.cfg.methods = RF__WPAD_DNS;
  g.cfg.resolv_conf = "/nonexistent/resolv.conf";
  rig_start(&g);
  uv_run(&g.loop, UV_RUN_DEFAULT);
  cr_assert_eq(g.out.calls, 1);
  cr_expect_eq(g.out.status, RF_ENOENT);
  cr_expect_str_eq(g.out.tried, "DNS: cannot read /nonexistent/resolv.conf "
                                "(no such file or directory)");
  rig_done(&g);

  /* DHCP only, no source at all. */
  rig_init(&g, NULL);
  g.cfg.methods = RF__WPAD_DHCP;
  rig_start(&g);
  uv_run(&g.loop, UV_RUN_DEFAULT);
  cr_assert_eq(g.out.calls, 1);
  cr_expect_eq(g.out.status, RF_ENOENT);
  cr_expect_str_eq(g.out.tried, "DHCP: no source");
  rig_done(&g);
}

ASYNC_TEST(lookup_call_fails)
{
  static const fake_ans ans[] = {
    { "wpad.a.example.com.", 0, 0, UV_EAI_FAIL },
    { "wpad.example.com.", UV_EAI_AGAIN, 1, 0 },
    { NULL, 0, 0, 0 },
  };
  static const char *const domains[] = { "a.example.com", NULL };
  char want[512];
  rig g;

  rig_init(&g, ans);
  g.cfg.methods = RF__WPAD_DNS;
  g.cfg.domains = domains;
  rig_start(&g);
  uv_run(&g.loop, UV_RUN_DEFAULT);
  cr_assert_eq(g.out.calls, 1);
  cr_expect_eq(g.out.status, RF_ENOENT);
  snprintf(want, sizeof(want),
           "DNS: wpad.a.example.com (error: %s), wpad.example.com (error: %s)",
           uv_strerror(UV_EAI_FAIL), uv_strerror(UV_EAI_AGAIN));
  cr_expect_str_eq(g.out.tried, want);
  rig_done(&g);
}

/* Cancel while the DHCP/resolv.conf work is queued or running. */
ASYNC_TEST(cancel_at_once)
{
  static const char *const domains[] = { "example.com", NULL };
  rig g;

  rig_init(&g, NULL);
  g.cfg.domains = domains;
  rig_start(&g);
  rf__wpad_cancel(g.req);
  rf__wpad_cancel(NULL);
  uv_run(&g.loop, UV_RUN_DEFAULT);
  cr_expect_eq(g.out.calls, 0);
  cr_expect_eq(g.dns.n_asked, 0);
  rig_done(&g);
}

/* Polls until the lookup is in flight, then cancels the request and arms
 * the late answer of the hanging lookup. */
typedef struct cancel_ctx {
  rig *g;
  uv_timer_t *flush;
} cancel_ctx;

static void cancel_cb(uv_timer_t *t)
{
  cancel_ctx *c = t->data;

  if (c->g->dns.n_asked == 0)
    return; /* the worker has not finished yet */
  cr_assert_eq(c->g->dns.n_asked, 1);
  cr_assert_eq(c->g->out.calls, 0);
  rf__wpad_cancel(c->g->req);
  uv_close((uv_handle_t *)t, NULL);
  uv_timer_start(c->flush, flush_cb, 30, 0);
}

/* Cancel with a lookup in flight, once when it can be cancelled and once
 * when it cannot (it answers later, after the request is cancelled). */
static void cancel_in_flight(int cancel_rc)
{
  static const fake_ans ans[] = {
    { "wpad.example.com.", 0, -1, 0 },
    { NULL, 0, 0, 0 },
  };
  static const char *const domains[] = { "example.com", NULL };
  uv_timer_t t1, t2;
  cancel_ctx c;
  rig g;

  rig_init(&g, ans);
  g.cfg.methods = RF__WPAD_DNS;
  g.cfg.domains = domains;
  g.cfg.timeout_ms = 10000;
  g.dns.cancel_rc = cancel_rc;
  rig_start(&g);
  /* The hanging lookup is answered only after the cancel. */
  uv_timer_init(&g.loop, &t2);
  t2.data = &g.dns;
  c.g = &g;
  c.flush = &t2;
  uv_timer_init(&g.loop, &t1);
  t1.data = &c;
  uv_timer_start(&t1, cancel_cb, 5, 5);
  uv_run(&g.loop, UV_RUN_DEFAULT);
  cr_expect_eq(g.out.calls, 0, "callback after rf__wpad_cancel");
  cr_expect_eq(g.dns.cancels, 1);
  uv_close((uv_handle_t *)&t2, NULL);
  rig_done(&g);
}

ASYNC_TEST(cancel_in_flight_cancellable)
{
  cancel_in_flight(0);
}

ASYNC_TEST(cancel_in_flight_uncancellable)
{
  cancel_in_flight(UV_EBUSY);
}

ASYNC_TEST(cancel_inside_callback_is_noop)
{
  static const char *const none[] = { NULL };
  rig g;

  rig_init(&g, NULL);
  g.cfg.methods = RF__WPAD_DNS;
  g.cfg.domains = none;
  g.out.cancel_inside = 1;
  rig_start(&g);
  uv_run(&g.loop, UV_RUN_DEFAULT);
  cr_expect_eq(g.out.calls, 1);
  rig_done(&g);
}

Test(wpad, discover_args)
{
  rf__wpad_config cfg;
  rf__wpad_req *req = (rf__wpad_req *)1;
  uv_loop_t loop;
  outcome o;

  memset(&cfg, 0, sizeof(cfg));
  memset(&o, 0, sizeof(o));
  cr_assert_eq(uv_loop_init(&loop), 0);
  cr_expect_eq(rf__wpad_discover(NULL, &cfg, on_result, &o, &req), RF_EINVAL);
  cr_expect_null(req);
  cr_expect_eq(rf__wpad_discover(&loop, NULL, on_result, &o, &req), RF_EINVAL);
  cr_expect_eq(rf__wpad_discover(&loop, &cfg, NULL, &o, &req), RF_EINVAL);
  cr_expect_eq(rf__wpad_discover(&loop, &cfg, on_result, &o, NULL), RF_EINVAL);
  cfg.methods = 4;
  cr_expect_eq(rf__wpad_discover(&loop, &cfg, on_result, &o, &req), RF_EINVAL);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_expect_eq(o.calls, 0);
  cr_assert_eq(uv_loop_close(&loop), 0);
  ASSERT_NO_LEAKS();
}

/*
 * The real resolver (uv_getaddrinfo, uv_cancel) on a name under .test
 * (RFC 6761: never delegated).  Whatever the network does, there is
 * exactly one callback, and cancelling at any point leaks nothing.
 */
Test(wpad, real_resolver_smoke)
{
  static const char *const domains[] = { "rangefetch.example.test", NULL };
  rf__wpad_config cfg;
  rf__wpad_req *req = NULL;
  uv_loop_t loop;
  outcome o;

  memset(&cfg, 0, sizeof(cfg));
  memset(&o, 0, sizeof(o));
  cr_assert_eq(uv_loop_init(&loop), 0);
  o.loop = &loop;
  cfg.methods = RF__WPAD_DNS;
  cfg.domains = domains;
  cfg.psl = psl_builtin();
  cfg.timeout_ms = 300;
  cr_assert_eq(rf__wpad_discover(&loop, &cfg, on_result, &o, &req), 0);
  o.returned = 1;
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(o.calls, 1);
  cr_expect(o.status == 0 || o.status == RF_ENOENT, "%d", o.status);
  cr_expect_not_null(strstr(o.tried, "wpad.rangefetch.example.test ("), "%s",
                     o.tried);

  /* Cancel after a few loop turns, at whatever stage that is. */
  for (int turns = 0; turns < 6; turns++) {
    memset(&o, 0, sizeof(o));
    o.loop = &loop;
    cr_assert_eq(rf__wpad_discover(&loop, &cfg, on_result, &o, &req), 0);
    o.returned = 1;
    for (int i = 0; i < turns; i++)
      uv_run(&loop, UV_RUN_NOWAIT);
    if (o.calls == 0)
      rf__wpad_cancel(req);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_expect_leq(o.calls, 1);
  }
  cr_assert_eq(uv_loop_close(&loop), 0);
  ASSERT_NO_LEAKS();
}
