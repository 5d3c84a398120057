/*
 * DHCP options from lease files, the pure parts (see dhcp_lease.h): the
 * dhclient lease file parser (ISC dhcp's syntax: the last complete lease,
 * its expiry, quoted or hex option values) for any option code, the
 * systemd-networkd lease format, and the option names a dhclient.conf
 * declares.  On top of them WPAD's option 252 (see wpad.h and
 * docs/wpad.md): the check that the value is an http(s) PAC URL.  Reading
 * the system's lease files on the thread pool happens in wpad.c.
 */
#include "wpad_int.h"
#include "dhcp_lease.h"
#include "util/text.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rangefetch/rangefetch.h"

/* ------------------------------------------------------------ option 252 */

int rf__wpad_parse_url(char **out, const char *value, size_t len)
{
  static const char *const schemes[] = { "http://", "https://" };
  size_t start = 0, i;
  CURLU *u = NULL;
  char *s = NULL, *scheme = NULL, *host = NULL;
  int err = RF_EURL, ok = 0;

  if (out != NULL)
    *out = NULL;
  if (out == NULL || (value == NULL && len > 0))
    return RF_EINVAL;
  while (len > 0 &&
         (value[len - 1] == '\0' || rf__wpad_is_space(value[len - 1])))
    len--;
  while (start < len && rf__wpad_is_space(value[start]))
    start++;
  if (start == len)
    return RF_EURL;
  for (i = start; i < len; i++) {
    if ((unsigned char)value[i] <= 0x20 || (unsigned char)value[i] >= 0x7f)
      return RF_EURL;
  }
  for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
    size_t sl = strlen(schemes[i]);

    /* An authority must follow: libcurl would read "http:///x" as host x. */
    if (len - start > sl && strncasecmp(value + start, schemes[i], sl) == 0 &&
        value[start + sl] != '/')
      ok = 1;
  }
  if (!ok)
    return RF_EURL;
  s = malloc(len - start + 1);
  if (s == NULL)
    return RF_ENOMEM;
  memcpy(s, value + start, len - start);
  s[len - start] = '\0';
  /* libcurl's parser decides what a valid URL with a host is. */
  u = curl_url();
  if (u == NULL) {
    err = RF_ENOMEM;
    goto out;
  }
  if (curl_url_set(u, CURLUPART_URL, s, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
    goto out;
  if ((strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) ||
      host[0] == '\0')
    goto out;
  err = 0;
  *out = s;
  s = NULL;
out:
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(u);
  free(s);
  return err;
}

/* Lease file tokens (ISC dhcp's configuration syntax, roughly). */
enum wpad_tok_kind {
  TOK_END,
  TOK_WORD,   /* unquoted run */
  TOK_STRING, /* quoted; text..len is the raw inside, escapes undone later */
  TOK_LBRACE,
  TOK_RBRACE,
  TOK_SEMI
};

typedef struct wpad_lex {
  const char *t;
  size_t len, pos;
} wpad_lex;

typedef struct wpad_tok {
  enum wpad_tok_kind kind;
  const char *s;
  size_t len;
} wpad_tok;

static int wpad_word_char(char c)
{
  return !rf__wpad_is_space(c) && c != '{' && c != '}' && c != ';' &&
         c != '"' && c != '#';
}

static wpad_tok wpad_next(wpad_lex *lx)
{
  wpad_tok tk = { TOK_END, NULL, 0 };

  for (;;) {
    while (lx->pos < lx->len && rf__wpad_is_space(lx->t[lx->pos]))
      lx->pos++;
    if (lx->pos < lx->len && lx->t[lx->pos] == '#') {
      while (lx->pos < lx->len && lx->t[lx->pos] != '\n')
        lx->pos++;
      continue;
    }
    break;
  }
  if (lx->pos >= lx->len)
    return tk;
  tk.s = lx->t + lx->pos;
  switch (lx->t[lx->pos]) {
  case '{':
    tk.kind = TOK_LBRACE;
    lx->pos++;
    return tk;
  case '}':
    tk.kind = TOK_RBRACE;
    lx->pos++;
    return tk;
  case ';':
    tk.kind = TOK_SEMI;
    lx->pos++;
    return tk;
  case '"': {
    size_t p = ++lx->pos;

    while (p < lx->len && lx->t[p] != '"') {
      if (lx->t[p] == '\\' && p + 1 < lx->len)
        p++;
      p++;
    }
    if (p >= lx->len) { /* unterminated: the file ends here */
      lx->pos = lx->len;
      return tk; /* TOK_END */
    }
    tk.kind = TOK_STRING;
    tk.s = lx->t + lx->pos;
    tk.len = p - lx->pos;
    lx->pos = p + 1;
    return tk;
  }
  default:
    tk.kind = TOK_WORD;
    while (lx->pos < lx->len && wpad_word_char(lx->t[lx->pos]))
      lx->pos++;
    tk.len = (size_t)(lx->t + lx->pos - tk.s);
    return tk;
  }
}

static int wpad_tok_is(const wpad_tok *tk, const char *word)
{
  size_t n = strlen(word);

  return tk->kind == TOK_WORD && tk->len == n &&
         strncasecmp(tk->s, word, n) == 0;
}

/* Undoes the escapes of a quoted string into out (cap bytes).  Returns
 * the length, or (size_t)-1 when it does not fit. */
static size_t wpad_unquote(const char *s, size_t len, char *out, size_t cap)
{
  size_t i = 0, n = 0;

  while (i < len) {
    unsigned v;
    char c = s[i++];

    if (c == '\\' && i < len) {
      c = s[i++];
      if (c >= '0' && c <= '7') {
        v = (unsigned)(c - '0');
        for (int k = 0; k < 2 && i < len && s[i] >= '0' && s[i] <= '7'; k++)
          v = v * 8 + (unsigned)(s[i++] - '0');
        c = (char)(unsigned char)(v & 0xffu);
      } else if (c == 'x' && i < len && rfx_hexval(s[i]) >= 0) {
        v = (unsigned)rfx_hexval(s[i++]);
        if (i < len && rfx_hexval(s[i]) >= 0)
          v = v * 16 + (unsigned)rfx_hexval(s[i++]);
        c = (char)(unsigned char)v;
      } else if (c == 'n') {
        c = '\n';
      } else if (c == 't') {
        c = '\t';
      } else if (c == 'r') {
        c = '\r';
      } else if (c == 'b') {
        c = '\b';
      }
    }
    if (n == cap)
      return (size_t)-1;
    out[n++] = c;
  }
  return n;
}

/* Decodes dhclient's hex form "68:74:7:..." (one or two digits per byte)
 * into out.  Returns the length, (size_t)-1 when malformed, (size_t)-2
 * when longer than cap. */
static size_t wpad_unhex(const char *s, size_t len, char *out, size_t cap)
{
  size_t i = 0, n = 0;

  while (i < len) {
    int hi = rfx_hexval(s[i]), lo;
    unsigned v;

    if (hi < 0)
      return (size_t)-1;
    v = (unsigned)hi;
    i++;
    if (i < len && (lo = rfx_hexval(s[i])) >= 0) {
      v = v * 16 + (unsigned)lo;
      i++;
    }
    if (n == cap)
      return (size_t)-2;
    out[n++] = (char)(unsigned char)v;
    if (i < len) {
      if (s[i] != ':' || i + 1 == len)
        return (size_t)-1;
      i++;
    }
  }
  return n;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t wpad_days_from_civil(int64_t y, unsigned m, unsigned d)
{
  int64_t era;
  unsigned yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = (unsigned)(y - era * 400);
  doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

/* Parses n decimal digits at s; -1 when not digits. */
static int64_t wpad_num(const char *s, size_t n)
{
  int64_t v = 0;

  if (n == 0 || n > 18)
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

/*
 * The time of an "expire" statement (tokens after the keyword): "never"
 * gives INT64_MAX, "epoch N" N, "W YYYY/MM/DD HH:MM:SS" (UTC) that time;
 * anything else -1 (unknown: not checked).
 */
static int64_t wpad_expire_time(const wpad_tok *tk, size_t n)
{
  int64_t y, mo, d, h, mi, s;
  const char *a, *b;

  if (n == 1 && wpad_tok_is(&tk[0], "never"))
    return INT64_MAX;
  if (n == 2 && wpad_tok_is(&tk[0], "epoch") && tk[1].kind == TOK_WORD)
    return wpad_num(tk[1].s, tk[1].len);
  if (n != 3 || tk[1].kind != TOK_WORD || tk[2].kind != TOK_WORD ||
      tk[1].len != 10 || tk[2].len != 8)
    return -1;
  a = tk[1].s;
  b = tk[2].s;
  if (a[4] != '/' || a[7] != '/' || b[2] != ':' || b[5] != ':')
    return -1;
  y = wpad_num(a, 4);
  mo = wpad_num(a + 5, 2);
  d = wpad_num(a + 8, 2);
  h = wpad_num(b, 2);
  mi = wpad_num(b + 3, 2);
  s = wpad_num(b + 6, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 ||
      mi < 0 || mi > 59 || s < 0 || s > 60)
    return -1;
  return wpad_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 +
         mi * 60 + s;
}

/* ------------------------------------------ dhclient leases, any option */

/* Tokens kept per statement. */
#define WPAD_STMT_TOKS 8u

/* The state of one lease block. */
typedef struct wpad_lease {
  int has_value;   /* a statement naming the option was seen */
  const char *why; /* ...and why its value is unreadable; NULL: it decoded */
  char value[RF__DHCP_VALUE_MAX];
  size_t value_len;
  int64_t expire; /* -1: none or unknown */
} wpad_lease;

/* How the lexer's words name the option: "unknown-<code>" or a declared
 * name. */
typedef struct wpad_match {
  const rf__dhcp_option *opt;
  char unknown[16]; /* "unknown-<code>" */
} wpad_match;

static int wpad_is_option_name(const wpad_match *m, const wpad_tok *tk)
{
  const char *const *n;

  if (wpad_tok_is(tk, m->unknown))
    return 1;
  for (n = m->opt->names; n != NULL && *n != NULL; n++) {
    if (wpad_tok_is(tk, *n))
      return 1;
  }
  return 0;
}

/* One statement inside a lease block: toks[0..n) before its ';'. */
static void wpad_lease_stmt(wpad_lease *l, const wpad_match *m,
                            const wpad_tok *toks, size_t n)
{
  if (n >= 1 && wpad_tok_is(&toks[0], "expire")) {
    l->expire = wpad_expire_time(toks + 1, n - 1);
    return;
  }
  if (n < 2 || !wpad_tok_is(&toks[0], "option") ||
      !wpad_is_option_name(m, &toks[1]))
    return;
  l->has_value = 1;
  l->why = n < 3 ? "no value" : "more than one value";
  if (n != 3)
    return;
  if (toks[2].kind == TOK_STRING) {
    l->value_len =
        wpad_unquote(toks[2].s, toks[2].len, l->value, sizeof(l->value));
    l->why = l->value_len == (size_t)-1 ? "longer than 4096 bytes" : NULL;
  } else {
    l->value_len =
        wpad_unhex(toks[2].s, toks[2].len, l->value, sizeof(l->value));
    l->why = l->value_len == (size_t)-1   ? "bad hex"
             : l->value_len == (size_t)-2 ? "longer than 4096 bytes"
                                          : NULL;
  }
}

/* Skips a block whose '{' was just read, up to its matching '}'.  Returns
 * 0, or -1 at the end of the text. */
static int wpad_skip_block(wpad_lex *lx)
{
  unsigned depth = 1;

  while (depth > 0) {
    wpad_tok tk = wpad_next(lx);

    if (tk.kind == TOK_END)
      return -1;
    if (tk.kind == TOK_LBRACE)
      depth++;
    else if (tk.kind == TOK_RBRACE)
      depth--;
  }
  return 0;
}

/*
 * Reads a lease block whose '{' was just read into *l.  Returns 0 when the
 * block is complete, -1 when the text ends first.
 */
static int wpad_lease_block(wpad_lex *lx, const wpad_match *m, wpad_lease *l)
{
  wpad_tok toks[WPAD_STMT_TOKS];
  size_t n = 0;
  int too_long = 0; /* longer than any statement we read */

  l->has_value = 0;
  l->why = NULL;
  l->value_len = 0;
  l->expire = -1;
  for (;;) {
    wpad_tok tk = wpad_next(lx);

    switch (tk.kind) {
    case TOK_END:
      return -1;
    case TOK_RBRACE:
      return 0;
    case TOK_SEMI:
      if (!too_long)
        wpad_lease_stmt(l, m, toks, n);
      n = 0;
      too_long = 0;
      break;
    case TOK_LBRACE: /* a nested block ends its statement */
      if (wpad_skip_block(lx) != 0)
        return -1;
      n = 0;
      too_long = 0;
      break;
    case TOK_WORD:
    case TOK_STRING:
      if (n == WPAD_STMT_TOKS)
        too_long = 1;
      else
        toks[n++] = tk;
      break;
    }
  }
}

void rf__dhcp_answer_free(rf__dhcp_answer *a)
{
  if (a == NULL)
    return;
  free(a->value);
  memset(a, 0, sizeof(*a));
}

/* Sets a to RF__DHCP_VALUE with a copy of [v, v + n).  0 or RF_ENOMEM. */
static int dhcp_answer_value(rf__dhcp_answer *a, const char *v, size_t n)
{
  a->value = malloc(n + 1);
  if (a->value == NULL)
    return RF_ENOMEM;
  memcpy(a->value, v, n);
  a->value[n] = '\0';
  a->value_len = n;
  a->found = RF__DHCP_VALUE;
  return 0;
}

int rf__dhcp_parse_dhclient(rf__dhcp_answer *out, const char *text, size_t len,
                            const rf__dhcp_option *opt, int64_t now)
{
  wpad_lex lx = { text, len, 0 };
  wpad_lease *cur = NULL, *last = NULL;
  wpad_match m;
  int err = 0, stmt_start = 1, after_lease = 0;

  if (out != NULL)
    memset(out, 0, sizeof(*out));
  if (out == NULL || opt == NULL || (text == NULL && len > 0) ||
      opt->code < 1 || opt->code > 254)
    return RF_EINVAL;
  m.opt = opt;
  snprintf(m.unknown, sizeof(m.unknown), "unknown-%u", opt->code);
  /* Two slots: the block being read and the last complete one. */
  cur = malloc(sizeof(*cur));
  last = malloc(sizeof(*last));
  if (cur == NULL || last == NULL) {
    err = RF_ENOMEM;
    goto out;
  }
  last->expire = -2; /* no complete lease yet */
  for (;;) {
    wpad_tok tk = wpad_next(&lx);

    if (tk.kind == TOK_END)
      break;
    if (tk.kind == TOK_LBRACE) {
      if (after_lease) {
        wpad_lease *t;

        if (wpad_lease_block(&lx, &m, cur) != 0)
          break; /* truncated file: the previous lease stands */
        t = last;
        last = cur;
        cur = t;
      } else if (wpad_skip_block(&lx) != 0) {
        break;
      }
      stmt_start = 1;
      after_lease = 0;
      continue;
    }
    /* "lease {" counts only as a whole top-level statement start. */
    after_lease = stmt_start && wpad_tok_is(&tk, "lease");
    stmt_start = tk.kind == TOK_SEMI || tk.kind == TOK_RBRACE;
  }
  if (last->expire == -2)
    out->found = RF__DHCP_NO_LEASE;
  else if (now > 0 && last->expire >= 0 && last->expire < now)
    out->found = RF__DHCP_EXPIRED;
  else if (!last->has_value)
    out->found = RF__DHCP_NO_OPTION;
  else if (last->why != NULL) {
    out->found = RF__DHCP_BAD_VALUE;
    out->why = last->why;
  } else
    err = dhcp_answer_value(out, last->value, last->value_len);
out:
  free(cur);
  free(last);
  return err;
}

/* ------------------------------------------------- systemd-networkd */

static int dhcp_is_key_char(char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '_';
}

/* The next line of [*pos, len) into [*s, *s + *n), trimmed of white
 * space; 0 at the end of the text. */
static int dhcp_next_line(const char *text, size_t len, size_t *pos,
                          const char **s, size_t *n)
{
  const char *a, *nl;
  size_t k;

  if (*pos >= len)
    return 0;
  a = text + *pos;
  nl = memchr(a, '\n', len - *pos);
  k = nl != NULL ? (size_t)(nl - a) : len - *pos;
  *pos += k + (nl != NULL ? 1 : 0);
  while (k > 0 && rf__wpad_is_space(*a)) {
    a++;
    k--;
  }
  while (k > 0 && rf__wpad_is_space(a[k - 1]))
    k--;
  *s = a;
  *n = k;
  return 1;
}

/* Length of the "KEY" of a "KEY=..." line, 0 when it is not one. */
static size_t dhcp_key_len(const char *s, size_t n)
{
  size_t i = 0;

  while (i < n && dhcp_is_key_char(s[i]))
    i++;
  return i > 0 && i < n && s[i] == '=' ? i : 0;
}

int rf__dhcp_is_networkd(const char *text, size_t len)
{
  size_t pos = 0, n;
  const char *s;

  if (text == NULL)
    return 0;
  while (dhcp_next_line(text, len, &pos, &s, &n)) {
    if (n == 0 || s[0] == '#')
      continue;
    return dhcp_key_len(s, n) > 0;
  }
  return 0;
}

int rf__dhcp_parse_networkd(rf__dhcp_answer *out, const char *text, size_t len,
                            unsigned code)
{
  char key[16];
  size_t pos = 0, n, klen, vlen = 0, i;
  const char *s, *v = NULL;
  int any = 0;
  char *buf;

  if (out != NULL)
    memset(out, 0, sizeof(*out));
  if (out == NULL || (text == NULL && len > 0) || code < 1 || code > 254)
    return RF_EINVAL;
  snprintf(key, sizeof(key), "OPTION_%u", code);
  while (dhcp_next_line(text, len, &pos, &s, &n)) {
    if (n == 0 || s[0] == '#' || (klen = dhcp_key_len(s, n)) == 0)
      continue;
    any = 1;
    if (klen == strlen(key) && memcmp(s, key, klen) == 0) {
      v = s + klen + 1;
      vlen = n - klen - 1;
    }
  }
  if (!any) {
    out->found = RF__DHCP_NO_LEASE;
    return 0;
  }
  if (v == NULL) {
    out->found = RF__DHCP_NO_OPTION;
    return 0;
  }
  out->found = RF__DHCP_BAD_VALUE;
  if (vlen == 0) {
    out->why = "empty";
    return 0;
  }
  if (vlen % 2 != 0) {
    out->why = "bad hex";
    return 0;
  }
  for (i = 0; i < vlen; i++) {
    if (rfx_hexval(v[i]) < 0) {
      out->why = "bad hex";
      return 0;
    }
  }
  if (vlen / 2 > RF__DHCP_VALUE_MAX) {
    out->why = "longer than 4096 bytes";
    return 0;
  }
  buf = malloc(vlen / 2 + 1);
  if (buf == NULL) {
    memset(out, 0, sizeof(*out));
    return RF_ENOMEM;
  }
  for (i = 0; i < vlen / 2; i++)
    buf[i] = (char)(unsigned char)(rfx_hexval(v[2 * i]) * 16 +
                                   rfx_hexval(v[2 * i + 1]));
  buf[vlen / 2] = '\0';
  out->found = RF__DHCP_VALUE;
  out->value = buf;
  out->value_len = vlen / 2;
  return 0;
}

int rf__dhcp_parse_lease(rf__dhcp_answer *out, const char *text, size_t len,
                         const rf__dhcp_option *opt, int64_t now)
{
  if (opt != NULL && rf__dhcp_is_networkd(text, len))
    return rf__dhcp_parse_networkd(out, text, len, opt->code);
  return rf__dhcp_parse_dhclient(out, text, len, opt, now);
}

int rf__dhcp_read_lease(rf__dhcp_answer *out, const char *path,
                        const rf__dhcp_option *opt, int64_t now)
{
  char *text;
  size_t len;
  int err;

  if (out != NULL)
    memset(out, 0, sizeof(*out));
  if (out == NULL || path == NULL || opt == NULL)
    return RF_EINVAL;
  err = rf__wpad_read_file(path, &text, &len, NULL);
  if (err != 0)
    return err;
  err = rf__dhcp_parse_lease(out, text, len, opt, now);
  free(text);
  return err;
}

/* ------------------------------------------------ dhclient.conf names */

/* Whether the word is "<code>" or "<code>=..." (the '=' of a declaration
 * touching the number). */
static int dhcp_word_is_code(const wpad_tok *tk, unsigned code)
{
  unsigned long v = 0;
  size_t i = 0;

  if (tk->kind != TOK_WORD)
    return 0;
  while (i < tk->len && i < 4 && tk->s[i] >= '0' && tk->s[i] <= '9')
    v = v * 10 + (unsigned long)(tk->s[i++] - '0');
  return i > 0 && v == code && (i == tk->len || tk->s[i] == '=');
}

int rf__dhcp_declared_names(char ***out, const char *text, size_t len,
                            unsigned code)
{
  wpad_lex lx = { text, len, 0 };
  wpad_tok toks[WPAD_STMT_TOKS];
  const char **starts = NULL;
  size_t *lens = NULL, n = 0, count = 0, cap = 0;
  int err = 0;

  if (out != NULL)
    *out = NULL;
  if (out == NULL || (text == NULL && len > 0))
    return RF_EINVAL;
  for (;;) {
    wpad_tok tk = wpad_next(&lx);

    if (tk.kind == TOK_END)
      break;
    if (tk.kind == TOK_LBRACE) {
      if (wpad_skip_block(&lx) != 0)
        break;
      n = 0;
      continue;
    }
    if (tk.kind == TOK_RBRACE) {
      n = 0;
      continue;
    }
    if (tk.kind != TOK_SEMI) {
      if (n < WPAD_STMT_TOKS)
        toks[n++] = tk;
      continue;
    }
    /* option NAME code N = TYPE ; */
    if (n >= 4 && wpad_tok_is(&toks[0], "option") && toks[1].kind == TOK_WORD &&
        wpad_tok_is(&toks[2], "code") && dhcp_word_is_code(&toks[3], code) &&
        memchr(toks[1].s, '.', toks[1].len) == NULL) {
      if (count == cap) {
        size_t ncap = cap != 0 ? cap * 2 : 4;
        const char **ns = realloc(starts, (ncap + 1) * sizeof(*ns));
        size_t *nl;

        if (ns == NULL) {
          err = RF_ENOMEM;
          goto out;
        }
        starts = ns;
        nl = realloc(lens, (ncap + 1) * sizeof(*nl));
        if (nl == NULL) {
          err = RF_ENOMEM;
          goto out;
        }
        lens = nl;
        cap = ncap;
      }
      starts[count] = toks[1].s;
      lens[count] = toks[1].len;
      count++;
    }
    n = 0;
  }
  *out = rf__wpad_strv_pack(starts, lens, count);
  if (*out == NULL)
    err = RF_ENOMEM;
out:
  free(starts);
  free(lens);
  return err;
}

/* ------------------------------------- option 252 in dhclient leases */

int rf__wpad_parse_leases(char **out, const char **why, const char *text,
                          size_t len, int64_t now)
{
  static const char *const names[] = { "wpad", "wpad-url", NULL };
  static const rf__dhcp_option opt = { 252, names };
  rf__dhcp_answer a;
  int err;

  if (out != NULL)
    *out = NULL;
  if (why != NULL)
    *why = NULL;
  if (out == NULL || (text == NULL && len > 0))
    return RF_EINVAL;
  err = rf__dhcp_parse_dhclient(&a, text, len, &opt, now);
  if (err != 0)
    return err;
  switch (a.found) {
  case RF__DHCP_NO_LEASE:
    err = RF_ENOENT;
    if (why != NULL)
      *why = "no lease";
    break;
  case RF__DHCP_EXPIRED:
    err = RF_ENOENT;
    if (why != NULL)
      *why = "last lease expired";
    break;
  case RF__DHCP_NO_OPTION:
    err = RF_ENOENT;
    if (why != NULL)
      *why = "no option 252 in the last lease";
    break;
  case RF__DHCP_BAD_VALUE:
    err = RF_EURL;
    break;
  case RF__DHCP_VALUE:
    err = rf__wpad_parse_url(out, a.value, a.value_len);
    break;
  }
  if (err == RF_EURL && why != NULL)
    *why = "option 252 is not an http(s) URL";
  rf__dhcp_answer_free(&a);
  return err;
}

int rf__wpad_read_leases(char **out, const char **why, const char *path,
                         int64_t now)
{
  char *text;
  size_t len;
  int err;

  if (out != NULL)
    *out = NULL;
  if (why != NULL)
    *why = NULL;
  if (out == NULL || path == NULL)
    return RF_EINVAL;
  err = rf__wpad_read_file(path, &text, &len, NULL);
  if (err != 0)
    return err;
  err = rf__wpad_parse_leases(out, why, text, len, now);
  free(text);
  return err;
}
