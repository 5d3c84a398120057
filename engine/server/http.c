/*
 * The server's side of HTTP/1.1 without I/O: see server/http.h.
 */
#include "server/http.h"

#include <stdlib.h>
#include <string.h>

#include "util/text.h"
#include "util/http.h"

/* ------------------------------------------------------------ the head */

/*
 * Find the head in the len bytes at in: *start gets the offset of its
 * first line (after leading empty lines).  Returns the offset just past
 * the empty line that ends it, or 0 when there is none yet.
 */
static size_t head_find(const char *in, size_t len, size_t *start)
{
  size_t pos = 0;

  while (pos < len && (in[pos] == '\r' || in[pos] == '\n'))
    pos++;
  *start = pos;
  while (pos < len) {
    const char *nl = memchr(in + pos, '\n', len - pos);
    size_t ll;
    if (nl == NULL)
      break;
    ll = (size_t)(nl - (in + pos));
    if (ll > 0 && in[pos + ll - 1] == '\r')
      ll--;
    pos = (size_t)(nl - in) + 1;
    if (ll == 0)
      return pos;
  }
  return 0;
}

/* Length of the line at s (which ends in LF), without its CR LF. */
static size_t line_len(const char *s, size_t avail)
{
  size_t ll = (size_t)((const char *)memchr(s, '\n', avail) - s);

  if (ll > 0 && s[ll - 1] == '\r')
    ll--;
  return ll;
}

/*
 * Parse the request line (ll bytes at line, without CRLF):
 * METHOD SP target SP HTTP/1.x.  Returns 0, 400 or 505.
 */
static int parse_request_line(rf__srv_request *r, const char *line, size_t ll)
{
  const char *end = line + ll;
  const char *sp1 = memchr(line, ' ', ll);
  const char *sp2;
  const char *ver;
  size_t ml;
  size_t tl;

  if (sp1 == NULL)
    return 400;
  sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1));
  if (sp2 == NULL)
    return 400;
  ml = (size_t)(sp1 - line);
  tl = (size_t)(sp2 - sp1 - 1);
  ver = sp2 + 1;
  if (ml == 0 || ml >= sizeof(r->method) || tl == 0)
    return 400;
  memcpy(r->method, line, ml);
  r->method[ml] = '\0';
  for (size_t i = 0; i < ml; i++) {
    if (r->method[i] <= 0x20 || r->method[i] >= 0x7f)
      return 400;
  }
  for (size_t i = 0; i < tl; i++) {
    unsigned char ch = (unsigned char)sp1[1 + i];
    if (ch <= 0x20 || ch == 0x7f)
      return 400;
  }
  r->target = malloc(tl + 1);
  if (r->target == NULL)
    return 400;
  memcpy(r->target, sp1 + 1, tl);
  r->target[tl] = '\0';
  if (strcmp(r->method, "GET") == 0)
    r->mkind = RF__SRV_M_GET;
  else if (strcmp(r->method, "HEAD") == 0)
    r->mkind = RF__SRV_M_HEAD;
  else
    r->mkind = RF__SRV_M_OTHER;
  if ((size_t)(end - ver) != 8 || memcmp(ver, "HTTP/", 5) != 0 ||
      ver[6] != '.' || ver[5] < '0' || ver[5] > '9' || ver[7] < '0' ||
      ver[7] > '9')
    return 400;
  if (ver[5] != '1')
    return 505;
  r->http11 = ver[7] != '0';
  r->keep_alive = r->http11;
  return 0;
}

/* Keep the value of a field read once (Range, If-Range) in dst. */
static void keep_value(int *seen, int *bad, char *dst, size_t size,
                       const char *v, size_t vlen)
{
  if (*seen || vlen >= size) {
    *bad = 1;
  } else {
    memcpy(dst, v, vlen);
    dst[vlen] = '\0';
  }
  *seen = 1;
}

/* A Connection value [p, end): "close" among its tokens ends keep-alive. */
static void connection_tokens(rf__srv_request *r, const char *p,
                              const char *end)
{
  while (p < end) {
    const char *q = p;
    while (q < end && *q != ',')
      q++;
    const char *te = q;
    while (p < te && (*p == ' ' || *p == '\t'))
      p++;
    while (te > p && (te[-1] == ' ' || te[-1] == '\t'))
      te--;
    if (rf__http_token_eq(p, (size_t)(te - p), "close"))
      r->keep_alive = 0;
    p = q + 1;
  }
}

/* Parse one header field line (ll > 0 bytes, no CRLF).  Returns 0 or 400. */
static int parse_field(rf__srv_request *r, const char *line, size_t ll)
{
  const char *colon;
  const char *v;
  const char *ve;
  size_t nlen;
  size_t vlen;

  if (line[0] == ' ' || line[0] == '\t')
    return 400; /* obsolete line folding */
  colon = memchr(line, ':', ll);
  if (colon == NULL || colon == line)
    return 400;
  nlen = (size_t)(colon - line);
  for (size_t i = 0; i < nlen; i++) {
    if ((unsigned char)line[i] <= 0x20)
      return 400;
  }
  v = colon + 1;
  ve = line + ll;
  while (v < ve && (*v == ' ' || *v == '\t'))
    v++;
  while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
    ve--;
  vlen = (size_t)(ve - v);
  if (rf__http_token_eq(line, nlen, "range")) {
    keep_value(&r->range_seen, &r->range_bad, r->range, sizeof(r->range), v,
               vlen);
  } else if (rf__http_token_eq(line, nlen, "if-range")) {
    keep_value(&r->if_range_seen, &r->if_range_bad, r->if_range,
               sizeof(r->if_range), v, vlen);
  } else if (rf__http_token_eq(line, nlen, "connection")) {
    connection_tokens(r, v, ve);
  } else if (rf__http_token_eq(line, nlen, "content-length")) {
    uint64_t cl;
    if (rf__parse_digits(v, vlen, &cl) != 0)
      return 400;
    if (cl != 0)
      r->keep_alive = 0; /* no body support: the linger discards it */
  } else if (rf__http_token_eq(line, nlen, "transfer-encoding")) {
    r->keep_alive = 0;
  }
  return 0;
}

size_t rf__srv_parse_request(rf__srv_request *r, const char *in, size_t len,
                             size_t max)
{
  size_t start;
  size_t head_end = head_find(in, len, &start);
  size_t pos;
  size_t ll;
  int st;

  if (head_end == 0) {
    if (len < max)
      return 0;
    r->parse_status = 431;
    return len;
  }
  ll = line_len(in + start, len - start);
  st = parse_request_line(r, in + start, ll);
  pos = (size_t)((const char *)memchr(in + start, '\n', len - start) - in) + 1;
  while (st == 0) {
    ll = line_len(in + pos, head_end - pos);
    if (ll == 0)
      break;
    st = parse_field(r, in + pos, ll);
    pos = (size_t)((const char *)memchr(in + pos, '\n', head_end - pos) - in) +
          1;
  }
  r->parse_status = st;
  return head_end;
}

/* ------------------------------------------------------------- the path */

int rf__srv_path_decode(const char *s, size_t n, char *out, size_t size)
{
  size_t i;
  size_t o = 0;
  const char *seg;

  if (n == 0 || s[0] != '/')
    return 400;
  for (i = 0; i < n; i++) {
    char ch = s[i];
    if (ch == '%') {
      int hi;
      int lo;
      if (i + 2 >= n)
        return 400;
      hi = rfx_hexval(s[i + 1]);
      lo = rfx_hexval(s[i + 2]);
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
        return 400;
      ch = (char)(hi * 16 + lo);
      i += 2;
    }
    if (o + 1 >= size)
      return 404;
    out[o++] = ch;
  }
  out[o] = '\0';
  for (seg = out; seg != NULL;) {
    const char *slash = strchr(seg + 1, '/');
    size_t sl = slash != NULL ? (size_t)(slash - seg - 1) : strlen(seg + 1);
    if (sl == 2 && seg[1] == '.' && seg[2] == '.')
      return 403;
    seg = slash;
  }
  return 0;
}

/* ------------------------------------------------------------ the range */

/*
 * Read the digits at *p into *out, saturating at UINT64_MAX, and advance *p.
 * Returns the number of digits read.
 */
static size_t scan_digits(const char **p, uint64_t *out)
{
  const char *s = *p;
  uint64_t v = 0;
  size_t n = 0;

  while (s[n] >= '0' && s[n] <= '9') {
    unsigned d = (unsigned)(s[n] - '0');
    v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
    n++;
  }
  *p = s + n;
  *out = v;
  return n;
}

static const char *skip_ws(const char *p)
{
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

int rf__srv_range_eval(const char *v, uint64_t size, uint64_t *first,
                       uint64_t *last)
{
  const char *p = v;
  uint64_t a;
  uint64_t b;
  size_t nb;

  if (!rf__http_token_eq(p, 5, "bytes"))
    return -1;
  p = skip_ws(p + 5);
  if (*p++ != '=')
    return -1;
  if (strchr(p, ',') != NULL)
    return -1;
  p = skip_ws(p);
  if (*p == '-') {
    p++;
    if (scan_digits(&p, &b) == 0 || *skip_ws(p) != '\0')
      return -1;
    if (b == 0 || size == 0)
      return 0;
    *first = b >= size ? 0 : size - b;
    *last = size - 1;
    return 1;
  }
  if (scan_digits(&p, &a) == 0 || *p++ != '-')
    return -1;
  nb = scan_digits(&p, &b);
  if (*skip_ws(p) != '\0' || (nb != 0 && b < a))
    return -1;
  if (a >= size)
    return 0;
  *first = a;
  *last = nb == 0 || b >= size ? size - 1 : b;
  return 1;
}

int rf__srv_if_range_matches(const rf__srv_request *r, const char *etag,
                             const char *lastmod)
{
  const char *v = r->if_range;

  if (r->if_range_bad)
    return 0;
  if (v[0] == '"' || (v[0] == 'W' && v[1] == '/'))
    return etag[0] != '\0' && strcmp(v, etag) == 0;
  return lastmod[0] != '\0' && strcmp(v, lastmod) == 0;
}

const char *rf__srv_reason(int status)
{
  switch (status) {
  case 200:
    return "OK";
  case 206:
    return "Partial Content";
  case 400:
    return "Bad Request";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 416:
    return "Range Not Satisfiable";
  case 429:
    return "Too Many Requests";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 502:
    return "Bad Gateway";
  case 503:
    return "Service Unavailable";
  case 504:
    return "Gateway Timeout";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return "Status";
  }
}
