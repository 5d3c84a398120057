/*
 * WPAD discovery (see wpad.h and docs/wpad.md).
 *
 * Pure parts: DNS candidate names (libpsl-bounded devolution), resolv.conf
 * search list, dhclient lease files (option 252).
 *
 * Async part, one rf__wpad_req per discovery:
 * - a uv_work_t reads the DHCP sources, resolv.conf and (when the caller
 *   gave no psl) the public suffix list on the thread pool;
 * - back on the loop, the candidates are computed and looked up one at a
 *   time, each with a uv_timer_t quick-check timeout.
 * The request is freed only when nothing refers to it any more: `pending`
 * counts the queued work, every lookup still in flight (a timed-out or
 * cancelled lookup stays counted until its callback comes: uv_cancel on a
 * getaddrinfo that already runs fails) and the timer until its close
 * callback.  The user's callback runs at most once, with `state` moved
 * off WPAD_RUNNING first; nothing is freed while it runs.
 */
#include "wpad.h"
#include "util/text.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "disk/fileio.h"
#include "rangefetch/rangefetch.h"

/* ----------------------------------------------------------- utilities */

/* A growable string; `oom` sticks once an allocation failed. */
typedef struct wpad_buf {
  char *p;
  size_t len, cap;
  int oom;
} wpad_buf;

static void wpad_buf_vadd(wpad_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void wpad_buf_vadd(wpad_buf *b, const char *fmt, va_list ap)
{
  va_list ap2;
  int n;
  size_t need;

  if (b->oom)
    return;
  va_copy(ap2, ap);
  n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) {
    b->oom = 1;
    return;
  }
  need = b->len + (size_t)n + 1;
  if (need > b->cap) {
    size_t cap = b->cap != 0 ? b->cap : 128;
    char *p;

    while (cap < need)
      cap *= 2;
    p = realloc(b->p, cap);
    if (p == NULL) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
  b->len += (size_t)n;
}

static void wpad_buf_add(wpad_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void wpad_buf_add(wpad_buf *b, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  wpad_buf_vadd(b, fmt, ap);
  va_end(ap);
}

/* Section separator: "; " between sections, nothing before the first. */
static void wpad_buf_section(wpad_buf *b, const char *title)
{
  wpad_buf_add(b, "%s%s: ", b->len > 0 ? "; " : "", title);
}

static int wpad_is_space(char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

/*
 * Reads the whole file at path into a malloc'd buffer (NUL-terminated, the
 * NUL not counted in *len).  Returns 0, RF_ENOENT, RF_EACCES, RF_EIO,
 * RF_ETOOBIG, RF_ENOMEM; *errno_out (may be NULL) gets errno on an I/O
 * failure, else 0.
 */
static int wpad_read_file(const char *path, char **out, size_t *len,
                          int *errno_out)
{
  int e = rf__read_file_max(path, RF__WPAD_MAX_FILE, 1, out, len, NULL);

  if (errno_out != NULL)
    *errno_out = e == EFBIG || e == ENOMEM ? 0 : e;
  return e == 0       ? 0
         : e == EFBIG ? RF_ETOOBIG
                      : rf__errno_to_rf(e);
}

/* A NULL-terminated list in one allocation: the pointers, then the
 * strings.  words[i] is lens[i] bytes at starts[i]. */
static char **wpad_strv_pack(const char *const *starts, const size_t *lens,
                             size_t n)
{
  size_t i, bytes = (n + 1) * sizeof(char *);
  char **v;
  char *s;

  for (i = 0; i < n; i++)
    bytes += lens[i] + 1;
  v = malloc(bytes);
  if (v == NULL)
    return NULL;
  s = (char *)(v + n + 1);
  for (i = 0; i < n; i++) {
    v[i] = s;
    memcpy(s, starts[i], lens[i]);
    s[lens[i]] = '\0';
    s += lens[i] + 1;
  }
  v[n] = NULL;
  return v;
}

/* A one-block copy of a NULL-terminated list (NULL for NULL; *oom set when
 * the copy failed). */
static char **wpad_strv_dup(const char *const *src, int *oom)
{
  const char **starts = NULL;
  size_t *lens = NULL;
  size_t i, n = 0;
  char **v = NULL;

  if (src == NULL)
    return NULL;
  while (src[n] != NULL)
    n++;
  starts = malloc((n + 1) * sizeof(*starts));
  lens = malloc((n + 1) * sizeof(*lens));
  if (starts == NULL || lens == NULL)
    goto out;
  for (i = 0; i < n; i++) {
    starts[i] = src[i];
    lens[i] = strlen(src[i]);
  }
  v = wpad_strv_pack(starts, lens, n);
out:
  if (v == NULL)
    *oom = 1;
  free(starts);
  free(lens);
  return v;
}

/* ---------------------------------------------------------- candidates */

/* Special-use domains not resolved through the DNS (RFC 6761, 6762, 7686)
 * and the reverse-mapping trees: never a WPAD suffix. */
static const char *const wpad_special[] = {
  "local", "localhost", "invalid", "onion", "in-addr.arpa", "ip6.arpa",
};

/* Whether d equals s or ends with "." s. */
static int wpad_in_domain(const char *d, size_t dlen, const char *s)
{
  size_t slen = strlen(s);

  if (dlen < slen || memcmp(d + dlen - slen, s, slen) != 0)
    return 0;
  return dlen == slen || d[dlen - slen - 1] == '.';
}

/*
 * Normalises domain into out (at least RF__WPAD_NAME_MAX + 1 bytes): lower
 * case, one trailing dot dropped.  Returns 1 when it is a usable domain
 * (see rf__wpad_candidates), else 0.
 */
static int wpad_norm_domain(char *out, const char *in)
{
  size_t len = strlen(in), i, label = 0;
  int digits_only = 1;

  if (len > 0 && in[len - 1] == '.')
    len--;
  /* "wpad." + domain must be a valid name. */
  if (len == 0 || len + 5 > RF__WPAD_NAME_MAX)
    return 0;
  for (i = 0; i < len; i++) {
    char c = in[i];

    if (c >= 'A' && c <= 'Z')
      c = (char)(c - 'A' + 'a');
    out[i] = c;
    if (c == '.') {
      if (label == 0 || out[i - 1] == '-')
        return 0;
      label = 0;
      digits_only = 1;
      continue;
    }
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
      return 0;
    if (c == '-' && label == 0)
      return 0;
    if (!(c >= '0' && c <= '9'))
      digits_only = 0;
    if (++label > 63)
      return 0;
  }
  out[len] = '\0';
  if (label == 0 || out[len - 1] == '-' || digits_only)
    return 0;
  for (i = 0; i < sizeof(wpad_special) / sizeof(wpad_special[0]); i++) {
    if (wpad_in_domain(out, len, wpad_special[i]))
      return 0;
  }
  return 1;
}

/* Fills c for suffix s (slen bytes, slen + 5 <= RF__WPAD_NAME_MAX). */
static void wpad_candidate_set(rf__wpad_candidate *c, const char *s,
                               size_t slen)
{
  memcpy(c->name, "wpad.", 5);
  memcpy(c->name + 5, s, slen);
  c->name[5 + slen] = '\0';
  memcpy(c->url, "http://", 7);
  memcpy(c->url + 7, c->name, 5 + slen);
  memcpy(c->url + 12 + slen, "/wpad.dat", sizeof("/wpad.dat"));
}

const char *rf__wpad_host_domain(const char *fqdn)
{
  const char *dot;

  if (fqdn == NULL)
    return NULL;
  dot = strchr(fqdn, '.');
  if (dot == NULL || dot[1] == '\0' || dot[1] == '.')
    return NULL;
  return dot + 1;
}

int rf__wpad_candidates(rf__wpad_candidate **out, size_t *n_out,
                        size_t *skipped, const psl_ctx_t *psl,
                        const char *const *domains, size_t max)
{
  rf__wpad_candidate *list = NULL;
  size_t n = 0, cap = 0, skip = 0, d;
  char dom[RF__WPAD_NAME_MAX + 1];
  int err = 0;

  if (out != NULL)
    *out = NULL;
  if (n_out != NULL)
    *n_out = 0;
  if (skipped != NULL)
    *skipped = 0;
  if (out == NULL || n_out == NULL || psl == NULL)
    return RF_EINVAL;
  if (max == 0)
    max = RF__WPAD_DEFAULT_MAX_CANDIDATES;
  for (d = 0; domains != NULL && domains[d] != NULL && n < max; d++) {
    const char *reg, *s;
    size_t reg_len, added = 0;

    if (!wpad_norm_domain(dom, domains[d])) {
      skip++;
      continue;
    }
    reg = psl_registrable_domain(psl, dom);
    if (reg == NULL) { /* dom is a public suffix */
      skip++;
      continue;
    }
    reg_len = strlen(reg);
    for (s = dom; n < max; s = strchr(s, '.') + 1) {
      size_t i, slen = strlen(s);

      /* Second guard: never a single label, never a public suffix. */
      if (slen < reg_len || strchr(s, '.') == NULL ||
          psl_is_public_suffix(psl, s))
        break;
      for (i = 0; i < n; i++) {
        if (strcmp(list[i].name + 5, s) == 0)
          break;
      }
      if (i == n) {
        if (n == cap) {
          size_t ncap = cap != 0 ? cap * 2 : 4;
          rf__wpad_candidate *p = realloc(list, ncap * sizeof(*p));

          if (p == NULL) {
            err = RF_ENOMEM;
            goto out;
          }
          list = p;
          cap = ncap;
        }
        wpad_candidate_set(&list[n], s, slen);
        n++;
        added++;
      }
      if (slen == reg_len)
        break;
    }
    if (added == 0)
      skip++;
  }
out:
  if (err != 0) {
    free(list);
    return err;
  }
  if (n == 0) {
    free(list);
    list = NULL;
  }
  *out = list;
  *n_out = n;
  if (skipped != NULL)
    *skipped = skip;
  return 0;
}

/* --------------------------------------------------------- resolv.conf */

int rf__wpad_parse_resolv(char ***out, size_t *n_out, const char *text,
                          size_t len)
{
  const char **starts = NULL;
  size_t *lens = NULL;
  size_t n = 0, cap = 0, pos = 0;
  char **v;
  int err = 0;

  if (out != NULL)
    *out = NULL;
  if (n_out != NULL)
    *n_out = 0;
  if (out == NULL || (text == NULL && len > 0))
    return RF_EINVAL;
  while (pos < len) {
    size_t eol = pos, kw, kwlen, p, words = 0, first = 0;
    int is_search;

    while (eol < len && text[eol] != '\n')
      eol++;
    kw = pos;
    pos = eol + 1;
    /* The keyword starts the line. */
    kwlen = 0;
    while (kw + kwlen < eol && !wpad_is_space(text[kw + kwlen]))
      kwlen++;
    if (kwlen == 6 && memcmp(text + kw, "search", 6) == 0)
      is_search = 1;
    else if (kwlen == 6 && memcmp(text + kw, "domain", 6) == 0)
      is_search = 0;
    else
      continue;
    /* Count the words first: a line without any changes nothing. */
    for (p = kw + kwlen; p < eol;) {
      while (p < eol && wpad_is_space(text[p]))
        p++;
      if (p == eol || text[p] == '#' || text[p] == ';')
        break;
      if (words == 0)
        first = p;
      words++;
      while (p < eol && !wpad_is_space(text[p]) && text[p] != '#' &&
             text[p] != ';')
        p++;
    }
    if (words == 0)
      continue;
    if (!is_search)
      words = 1;
    n = 0;
    if (words > cap) {
      const char **ns = realloc(starts, words * sizeof(*ns));
      size_t *nl;

      if (ns == NULL) {
        err = RF_ENOMEM;
        goto out;
      }
      starts = ns;
      nl = realloc(lens, words * sizeof(*nl));
      if (nl == NULL) {
        err = RF_ENOMEM;
        goto out;
      }
      lens = nl;
      cap = words;
    }
    for (p = first; p < eol && n < words;) {
      size_t w;

      while (p < eol && wpad_is_space(text[p]))
        p++;
      if (p == eol || text[p] == '#' || text[p] == ';')
        break;
      w = p;
      while (p < eol && !wpad_is_space(text[p]) && text[p] != '#' &&
             text[p] != ';')
        p++;
      starts[n] = text + w;
      lens[n] = p - w;
      n++;
    }
  }
  v = wpad_strv_pack(starts, lens, n);
  if (v == NULL) {
    err = RF_ENOMEM;
    goto out;
  }
  *out = v;
  if (n_out != NULL)
    *n_out = n;
out:
  free(starts);
  free(lens);
  return err;
}

int rf__wpad_read_resolv(char ***out, size_t *n_out, const char *path)
{
  char *text;
  size_t len;
  int err;

  if (out != NULL)
    *out = NULL;
  if (n_out != NULL)
    *n_out = 0;
  if (out == NULL)
    return RF_EINVAL;
  err = wpad_read_file(path != NULL ? path : "/etc/resolv.conf", &text, &len,
                       NULL);
  if (err != 0)
    return err;
  err = rf__wpad_parse_resolv(out, n_out, text, len);
  free(text);
  return err;
}

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
  while (len > 0 && (value[len - 1] == '\0' || wpad_is_space(value[len - 1])))
    len--;
  while (start < len && wpad_is_space(value[start]))
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
  return !wpad_is_space(c) && c != '{' && c != '}' && c != ';' && c != '"' &&
         c != '#';
}

static wpad_tok wpad_next(wpad_lex *lx)
{
  wpad_tok tk = { TOK_END, NULL, 0 };

  for (;;) {
    while (lx->pos < lx->len && wpad_is_space(lx->t[lx->pos]))
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
 * into out.  Returns the length, or (size_t)-1 when malformed or too long. */
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
      return (size_t)-1;
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

/* Longest option value decoded (DHCP options are at most 255 bytes each;
 * RFC 3396 concatenation may make them longer). */
#define WPAD_VALUE_MAX 4096u
/* Tokens kept per statement. */
#define WPAD_STMT_TOKS 8u

/* The state of one lease block. */
typedef struct wpad_lease {
  int has_value; /* an option 252 statement was seen */
  int value_ok;  /* ...and it decoded */
  char value[WPAD_VALUE_MAX];
  size_t value_len;
  int64_t expire; /* -1: none or unknown */
} wpad_lease;

static int wpad_is_252_name(const wpad_tok *tk)
{
  return wpad_tok_is(tk, "wpad") || wpad_tok_is(tk, "wpad-url") ||
         wpad_tok_is(tk, "unknown-252");
}

/* One statement inside a lease block: toks[0..n) before its ';'. */
static void wpad_lease_stmt(wpad_lease *l, const wpad_tok *toks, size_t n)
{
  if (n >= 1 && wpad_tok_is(&toks[0], "expire")) {
    l->expire = wpad_expire_time(toks + 1, n - 1);
    return;
  }
  if (n < 2 || !wpad_tok_is(&toks[0], "option") || !wpad_is_252_name(&toks[1]))
    return;
  l->has_value = 1;
  l->value_ok = 0;
  if (n != 3)
    return;
  if (toks[2].kind == TOK_STRING)
    l->value_len =
        wpad_unquote(toks[2].s, toks[2].len, l->value, sizeof(l->value));
  else if (toks[2].kind == TOK_WORD)
    l->value_len =
        wpad_unhex(toks[2].s, toks[2].len, l->value, sizeof(l->value));
  else
    return;
  l->value_ok = l->value_len != (size_t)-1;
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
static int wpad_lease_block(wpad_lex *lx, wpad_lease *l)
{
  wpad_tok toks[WPAD_STMT_TOKS];
  size_t n = 0;
  int too_long = 0; /* longer than any statement we read */

  l->has_value = 0;
  l->value_ok = 0;
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
        wpad_lease_stmt(l, toks, n);
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

int rf__wpad_parse_leases(char **out, const char **why, const char *text,
                          size_t len, int64_t now)
{
  wpad_lex lx = { text, len, 0 };
  wpad_lease *cur = NULL, *last = NULL;
  int err = 0, stmt_start = 1, after_lease = 0;

  if (out != NULL)
    *out = NULL;
  if (why != NULL)
    *why = NULL;
  if (out == NULL || (text == NULL && len > 0))
    return RF_EINVAL;
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

        if (wpad_lease_block(&lx, cur) != 0)
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
  if (last->expire == -2) {
    err = RF_ENOENT;
    if (why != NULL)
      *why = "no lease";
    goto out;
  }
  if (now > 0 && last->expire >= 0 && last->expire < now) {
    err = RF_ENOENT;
    if (why != NULL)
      *why = "last lease expired";
    goto out;
  }
  if (!last->has_value) {
    err = RF_ENOENT;
    if (why != NULL)
      *why = "no option 252 in the last lease";
    goto out;
  }
  err = last->value_ok ? rf__wpad_parse_url(out, last->value, last->value_len)
                       : RF_EURL;
  if (err == RF_EURL && why != NULL)
    *why = "option 252 is not an http(s) URL";
out:
  free(cur);
  free(last);
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
  err = wpad_read_file(path, &text, &len, NULL);
  if (err != 0)
    return err;
  err = rf__wpad_parse_leases(out, why, text, len, now);
  free(text);
  return err;
}

/* ------------------------------------------------------ async discovery */

enum wpad_state { WPAD_RUNNING, WPAD_DONE, WPAD_CANCELED };

/* One name lookup; freed in its callback, which always comes. */
typedef struct wpad_lookup {
  uv_getaddrinfo_t gai; /* first: the callback casts back */
  rf__wpad_req *owner;
  size_t index; /* into owner->cands */
} wpad_lookup;

struct rf__wpad_req {
  uv_loop_t *loop;
  rf__wpad_cb cb;
  void *user_data;
  enum wpad_state state;
  int in_cb;
  unsigned pending; /* work + lookups in flight + timer until closed */

  /* Configuration (copies; psl borrowed). */
  unsigned methods, timeout_ms, max;
  char *dhcp_url, *dhcp_url_source, *dhcp_url_file, *resolv_conf;
  char **lease_files, **domains;
  int64_t now;
  const psl_ctx_t *psl;
  rf__wpad_getaddrinfo_fn gai_fn;
  rf__wpad_cancel_fn cancel_fn;

  /* Written by the worker, read on the loop once it is done. */
  uv_work_t work;
  int work_queued;
  int work_err;         /* RF_ENOMEM */
  char *url, *source;   /* the DHCP answer */
  char **found_domains; /* from resolv.conf; NULL when unreadable */
  int resolv_err;
  psl_ctx_t *own_psl;
  wpad_buf tried;
  unsigned items; /* in the current section of tried */

  /* DNS phase, on the loop. */
  rf__wpad_candidate *cands;
  size_t n_cands, next;
  wpad_lookup *current; /* the lookup we wait for, or NULL */
  uv_timer_t timer;
  char dns_source[RF__WPAD_NAME_MAX + 8];
};

static void wpad_item(rf__wpad_req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends one item to the current section of r->tried. */
static void wpad_item(rf__wpad_req *r, const char *fmt, ...)
{
  va_list ap;

  if (r->items++ > 0)
    wpad_buf_add(&r->tried, ", ");
  va_start(ap, fmt);
  wpad_buf_vadd(&r->tried, fmt, ap);
  va_end(ap);
}

static void wpad_section(rf__wpad_req *r, const char *title)
{
  wpad_buf_section(&r->tried, title);
  r->items = 0;
}

/* ------------------------------------------- DHCP sources (thread pool) */

typedef struct wpad_file {
  char *path;
  int64_t mtime;
} wpad_file;

static int wpad_file_cmp(const void *a, const void *b)
{
  const wpad_file *x = a, *y = b;

  if (x->mtime != y->mtime)
    return x->mtime > y->mtime ? -1 : 1; /* newest first */
  return strcmp(x->path, y->path);
}

/*
 * The default lease files: dhclient's (Debian, Red Hat) and NetworkManager's
 * dhclient backend, newest first.  Returns a one-block NULL-terminated list
 * or NULL (no memory).
 */
static char **wpad_default_leases(void)
{
  static const struct {
    const char *dir, *prefix, *suffix;
  } where[] = {
    { "/var/lib/dhcp", "dhclient", ".leases" },
    { "/var/lib/dhclient", "dhclient", ".leases" },
    { "/var/lib/NetworkManager", "dhclient", ".lease" },
  };
  wpad_file *files = NULL;
  const char **starts = NULL;
  size_t *lens = NULL;
  size_t n = 0, cap = 0, i, w;
  char **v = NULL;
  int oom = 0;

  for (w = 0; w < sizeof(where) / sizeof(where[0]) && !oom; w++) {
    DIR *d = opendir(where[w].dir);
    struct dirent *e;

    if (d == NULL)
      continue;
    while ((e = readdir(d)) != NULL) {
      size_t nl = strlen(e->d_name), pl = strlen(where[w].prefix),
             sl = strlen(where[w].suffix);
      struct stat st;
      char *path;

      if (nl < pl + sl || strncmp(e->d_name, where[w].prefix, pl) != 0 ||
          strcmp(e->d_name + nl - sl, where[w].suffix) != 0)
        continue;
      path = malloc(strlen(where[w].dir) + 1 + nl + 1);
      if (path == NULL) {
        oom = 1;
        break;
      }
      sprintf(path, "%s/%s", where[w].dir, e->d_name);
      if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        free(path);
        continue;
      }
      if (n == cap) {
        size_t ncap = cap != 0 ? cap * 2 : 4;
        wpad_file *p = realloc(files, ncap * sizeof(*p));

        if (p == NULL) {
          free(path);
          oom = 1;
          break;
        }
        files = p;
        cap = ncap;
      }
      files[n].path = path;
      files[n].mtime = (int64_t)st.st_mtime;
      n++;
    }
    closedir(d);
  }
  if (oom)
    goto out;
  if (n > 0)
    qsort(files, n, sizeof(*files), wpad_file_cmp);
  starts = calloc(n + 1, sizeof(*starts));
  lens = calloc(n + 1, sizeof(*lens));
  if (starts == NULL || lens == NULL)
    goto out;
  for (i = 0; i < n; i++) {
    starts[i] = files[i].path;
    lens[i] = strlen(files[i].path);
  }
  v = wpad_strv_pack(starts, lens, n);
out:
  for (i = 0; i < n; i++)
    free(files[i].path);
  free(files);
  free(starts);
  free(lens);
  return v;
}

/* Records a found URL (taking url) with its source. */
static void wpad_found(rf__wpad_req *r, char *url, const char *where)
{
  wpad_buf src = { NULL, 0, 0, 0 };

  wpad_buf_add(&src, "DHCP option 252 (%s)", where);
  if (src.oom) {
    free(url);
    free(src.p);
    r->work_err = RF_ENOMEM;
    return;
  }
  r->url = url;
  r->source = src.p;
  wpad_item(r, "%s (found)", where);
}

/* DHCP option 252 from the configured sources, in order. */
static void wpad_dhcp(rf__wpad_req *r)
{
  char **defaults = NULL, *url = NULL, *text = NULL;
  char *const *files;
  const char *why;
  size_t len, i;
  int err;

  wpad_section(r, "DHCP");
  if (r->dhcp_url != NULL) {
    const char *label =
        r->dhcp_url_source != NULL ? r->dhcp_url_source : "given";

    err = rf__wpad_parse_url(&url, r->dhcp_url, strlen(r->dhcp_url));
    if (err == 0) {
      wpad_found(r, url, label);
      return;
    }
    if (err == RF_ENOMEM)
      goto oom;
    wpad_item(r, "%s (option 252 is not an http(s) URL)", label);
  }
  if (r->dhcp_url_file != NULL) {
    err = wpad_read_file(r->dhcp_url_file, &text, &len, NULL);
    if (err == 0) {
      err = rf__wpad_parse_url(&url, text, len);
      free(text);
      if (err == 0) {
        wpad_found(r, url, r->dhcp_url_file);
        return;
      }
      if (err == RF_ENOMEM)
        goto oom;
      wpad_item(r, "%s (option 252 is not an http(s) URL)", r->dhcp_url_file);
    } else if (err == RF_ENOMEM) {
      goto oom;
    } else {
      wpad_item(r, "%s (%s)", r->dhcp_url_file, rf_strerror(err));
    }
  }
  files = r->lease_files;
  if (files == NULL) {
    defaults = wpad_default_leases();
    if (defaults == NULL)
      goto oom;
    files = defaults;
    if (files[0] == NULL)
      wpad_item(r, "no dhclient lease file");
  }
  for (i = 0; files[i] != NULL; i++) {
    err = rf__wpad_read_leases(&url, &why, files[i], r->now);
    if (err == 0) {
      wpad_found(r, url, files[i]);
      break;
    }
    if (err == RF_ENOMEM)
      goto oom;
    wpad_item(r, "%s (%s)", files[i], why != NULL ? why : rf_strerror(err));
  }
  if (r->items == 0)
    wpad_item(r, "no source");
  free(defaults);
  return;
oom:
  free(defaults);
  r->work_err = RF_ENOMEM;
}

static void wpad_work(uv_work_t *w)
{
  rf__wpad_req *r = w->data;

  if (r->methods & RF__WPAD_DHCP)
    wpad_dhcp(r);
  if (r->url != NULL || r->work_err != 0 || !(r->methods & RF__WPAD_DNS))
    return;
  if (r->domains == NULL) {
    r->resolv_err =
        rf__wpad_read_resolv(&r->found_domains, NULL, r->resolv_conf);
    if (r->resolv_err == RF_ENOMEM) {
      r->work_err = RF_ENOMEM;
      return;
    }
  }
  if (r->psl == NULL)
    r->own_psl = psl_latest(NULL);
}

/* ------------------------------------------------------------ the loop */

static void wpad_req_free(rf__wpad_req *r)
{
  free(r->dhcp_url);
  free(r->dhcp_url_source);
  free(r->dhcp_url_file);
  free(r->resolv_conf);
  free(r->lease_files);
  free(r->domains);
  free(r->url);
  free(r->source);
  free(r->found_domains);
  psl_free(r->own_psl);
  free(r->tried.p);
  free(r->cands);
  free(r);
}

/* Frees r once it is finished or cancelled and nothing refers to it. */
static void wpad_maybe_free(rf__wpad_req *r)
{
  if (r->state == WPAD_RUNNING || r->pending > 0 || r->in_cb)
    return;
  wpad_req_free(r);
}

static void wpad_on_timer_closed(uv_handle_t *h)
{
  rf__wpad_req *r = h->data;

  r->pending--;
  wpad_maybe_free(r);
}

/* Stops everything in flight: the work (if it has not started), the
 * lookup we wait for (a hint: its callback still comes) and the timer. */
static void wpad_stop(rf__wpad_req *r)
{
  if (r->work_queued)
    (void)uv_cancel((uv_req_t *)&r->work);
  if (r->current != NULL) {
    wpad_lookup *lk = r->current;

    r->current = NULL;
    if (r->cancel_fn != NULL)
      (void)r->cancel_fn((uv_req_t *)&lk->gai);
  }
  if (!uv_is_closing((uv_handle_t *)&r->timer)) {
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, wpad_on_timer_closed);
  }
}

/* Ends the discovery with the user's callback (once). */
static void wpad_finish(rf__wpad_req *r, int status, const char *url,
                        const char *source)
{
  rf__wpad_result res;

  if (r->state != WPAD_RUNNING)
    return;
  r->state = WPAD_DONE;
  wpad_stop(r);
  res.status = status;
  res.url = status == 0 ? url : NULL;
  res.source = status == 0 ? source : NULL;
  if (r->tried.oom)
    res.tried = "(out of memory while recording what was tried)";
  else
    res.tried = r->tried.p != NULL ? r->tried.p : "";
  r->in_cb = 1;
  r->cb(&res, r->user_data);
  r->in_cb = 0;
}

static const char *wpad_gai_reason(int status, char *buf, size_t len)
{
  if (status == UV_EAI_NONAME || status == UV_EAI_NODATA)
    return "not found";
  snprintf(buf, len, "error: %s", uv_strerror(status));
  return buf;
}

static void wpad_dns_next(rf__wpad_req *r);

static void wpad_on_resolved(uv_getaddrinfo_t *g, int status,
                             struct addrinfo *res)
{
  wpad_lookup *lk = (wpad_lookup *)g;
  rf__wpad_req *r = lk->owner;

  uv_freeaddrinfo(res);
  r->pending--;
  if (r->current == lk) {
    const rf__wpad_candidate *c = &r->cands[lk->index];

    r->current = NULL;
    uv_timer_stop(&r->timer);
    if (status == 0) {
      wpad_item(r, "%s (found)", c->name);
      snprintf(r->dns_source, sizeof(r->dns_source), "DNS %s", c->name);
      wpad_finish(r, 0, c->url, r->dns_source);
    } else {
      char buf[128];

      wpad_item(r, "%s (%s)", c->name,
                wpad_gai_reason(status, buf, sizeof(buf)));
      wpad_dns_next(r);
    }
  }
  free(lk);
  wpad_maybe_free(r);
}

static void wpad_on_timeout(uv_timer_t *t)
{
  rf__wpad_req *r = t->data;
  wpad_lookup *lk = r->current;

  if (lk == NULL || r->state != WPAD_RUNNING)
    return;
  /* The lookup stays counted in pending until its callback comes. */
  r->current = NULL;
  wpad_item(r, "%s (timed out after %u ms)", r->cands[lk->index].name,
            r->timeout_ms);
  if (r->cancel_fn != NULL)
    (void)r->cancel_fn((uv_req_t *)&lk->gai);
  wpad_dns_next(r);
}

/* Starts the lookup of the next candidate, or ends with RF_ENOENT. */
static void wpad_dns_next(rf__wpad_req *r)
{
  while (r->state == WPAD_RUNNING && r->next < r->n_cands) {
    const rf__wpad_candidate *c = &r->cands[r->next];
    char node[RF__WPAD_NAME_MAX + 2];
    struct addrinfo hints;
    wpad_lookup *lk;
    int rc;

    lk = malloc(sizeof(*lk));
    if (lk == NULL) {
      wpad_finish(r, RF_ENOMEM, NULL, NULL);
      return;
    }
    memset(lk, 0, sizeof(*lk));
    lk->owner = r;
    lk->index = r->next++;
    /* Absolute name: the resolver must not append its search list. */
    snprintf(node, sizeof(node), "%s.", c->name);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    r->current = lk;
    r->pending++;
    uv_timer_start(&r->timer, wpad_on_timeout, r->timeout_ms, 0);
    rc = r->gai_fn(r->loop, &lk->gai, wpad_on_resolved, node, NULL, &hints);
    if (rc == 0)
      return;
    r->pending--;
    r->current = NULL;
    uv_timer_stop(&r->timer);
    free(lk);
    wpad_item(r, "%s (error: %s)", c->name, uv_strerror(rc));
  }
  wpad_finish(r, RF_ENOENT, NULL, NULL);
}

/* Back on the loop after the worker: the DHCP answer, or the DNS phase. */
static void wpad_dns_start(rf__wpad_req *r)
{
  char *const *domains = r->domains != NULL ? r->domains : r->found_domains;
  const char *resolv =
      r->resolv_conf != NULL ? r->resolv_conf : "/etc/resolv.conf";
  const psl_ctx_t *psl = r->psl != NULL ? r->psl : r->own_psl;
  size_t i;
  int err;

  wpad_section(r, "DNS");
  if (domains == NULL) {
    wpad_item(r, "cannot read %s (%s)", resolv, rf_strerror(r->resolv_err));
    wpad_finish(r, RF_ENOENT, NULL, NULL);
    return;
  }
  if (psl == NULL) {
    wpad_item(r, "no public suffix list");
    wpad_finish(r, RF_ENOENT, NULL, NULL);
    return;
  }
  err = rf__wpad_candidates(&r->cands, &r->n_cands, NULL, psl,
                            (const char *const *)domains, r->max);
  if (err != 0) {
    wpad_finish(r, err, NULL, NULL);
    return;
  }
  if (r->n_cands == 0) {
    if (domains[0] == NULL) {
      if (r->domains == NULL)
        wpad_item(r, "no search domain in %s", resolv);
      else
        wpad_item(r, "no search domain");
    } else {
      wpad_buf_add(&r->tried, "no usable domain (");
      for (i = 0; domains[i] != NULL; i++)
        wpad_buf_add(&r->tried, "%s%s", i > 0 ? " " : "", domains[i]);
      wpad_buf_add(&r->tried, ": invalid or public suffixes)");
    }
    wpad_finish(r, RF_ENOENT, NULL, NULL);
    return;
  }
  wpad_dns_next(r);
}

static void wpad_after_work(uv_work_t *w, int status)
{
  rf__wpad_req *r = w->data;

  (void)status; /* UV_ECANCELED only after rf__wpad_cancel */
  r->pending--;
  r->work_queued = 0;
  if (r->state == WPAD_RUNNING) {
    if (r->work_err != 0)
      wpad_finish(r, r->work_err, NULL, NULL);
    else if (r->url != NULL)
      wpad_finish(r, 0, r->url, r->source);
    else if (r->methods & RF__WPAD_DNS)
      wpad_dns_start(r);
    else
      wpad_finish(r, RF_ENOENT, NULL, NULL);
  }
  wpad_maybe_free(r);
}

int rf__wpad_discover(uv_loop_t *loop, const rf__wpad_config *cfg,
                      rf__wpad_cb cb, void *user_data, rf__wpad_req **req_out)
{
  rf__wpad_req *r;
  int oom = 0;

  if (req_out != NULL)
    *req_out = NULL;
  if (loop == NULL || cfg == NULL || cb == NULL || req_out == NULL ||
      (cfg->methods & ~(RF__WPAD_DHCP | RF__WPAD_DNS)) != 0)
    return RF_EINVAL;
  r = calloc(1, sizeof(*r));
  if (r == NULL)
    return RF_ENOMEM;
  r->loop = loop;
  r->cb = cb;
  r->user_data = user_data;
  r->state = WPAD_RUNNING;
  r->methods =
      cfg->methods != 0 ? cfg->methods : (RF__WPAD_DHCP | RF__WPAD_DNS);
  r->timeout_ms =
      cfg->timeout_ms != 0 ? cfg->timeout_ms : RF__WPAD_DEFAULT_TIMEOUT_MS;
  r->max = cfg->max_candidates != 0 ? cfg->max_candidates
                                    : RF__WPAD_DEFAULT_MAX_CANDIDATES;
  r->now = cfg->now != 0 ? cfg->now : (int64_t)time(NULL);
  r->psl = cfg->psl;
  r->gai_fn = cfg->getaddrinfo != NULL ? cfg->getaddrinfo : uv_getaddrinfo;
  if (cfg->cancel != NULL)
    r->cancel_fn = cfg->cancel;
  else if (cfg->getaddrinfo == NULL)
    r->cancel_fn = uv_cancel;
  r->dhcp_url = rf__strdup_opt(cfg->dhcp_url, &oom);
  r->dhcp_url_source = rf__strdup_opt(cfg->dhcp_url_source, &oom);
  r->dhcp_url_file = rf__strdup_opt(cfg->dhcp_url_file, &oom);
  r->resolv_conf = rf__strdup_opt(cfg->resolv_conf, &oom);
  r->lease_files = wpad_strv_dup(cfg->lease_files, &oom);
  r->domains = wpad_strv_dup(cfg->domains, &oom);
  if (oom) {
    wpad_req_free(r);
    return RF_ENOMEM;
  }
  if (uv_timer_init(loop, &r->timer) != 0) {
    wpad_req_free(r);
    return RF_EINTERNAL;
  }
  r->timer.data = r;
  r->pending = 1; /* the timer, until closed */
  r->work.data = r;
  if (uv_queue_work(loop, &r->work, wpad_work, wpad_after_work) != 0) {
    r->state = WPAD_CANCELED;
    wpad_stop(r); /* freed when the timer is closed */
    return RF_EINTERNAL;
  }
  r->pending++;
  r->work_queued = 1;
  *req_out = r;
  return 0;
}

void rf__wpad_cancel(rf__wpad_req *req)
{
  if (req == NULL || req->in_cb || req->state != WPAD_RUNNING)
    return;
  req->state = WPAD_CANCELED;
  wpad_stop(req);
  wpad_maybe_free(req);
}
