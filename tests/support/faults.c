/*
 * Generated files and fault directives for an rf_server, through its
 * response hooks only: see faults.h for what each directive does and
 * engine/server/hooks.h for when each hook runs.
 *
 * State: the context (one per server) holds the per-target records; the
 * connection data (ft_conn, one per connection, made by the request hook)
 * holds the rate cap of the connection and the faults armed for the
 * request being answered.
 */
#include "faults.h"

#include <openssl/evp.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <uv.h>

#include "server/server.h"
#include "util/http.h"
#include "textutil.h"

#define FT_BUCKETS      64         /* target table hash buckets */
#define FT_GEN_MTIME    1577836800 /* 2020-01-01T00:00:00Z */
#define FT_RATE_TICK_MS 10         /* token bucket refill period */

/* Fault counters of one request-target. */
typedef struct ft_target {
  struct ft_target *next;
  uint64_t requests; /* requests received for the target */
  uint64_t cut;      /* responses each one-shot fault was applied to */
  uint64_t corrupt;
  uint64_t stall;
  uint64_t badrange;
  uint64_t shortlen;
  char name[]; /* the request-target, NUL-terminated */
} ft_target;

/* Directives read from a query string. */
typedef struct ft_query {
  uint64_t seed;
  uint64_t times;
  uint64_t cut;
  uint64_t corrupt;
  uint64_t stall;
  uint64_t stall_at;
  uint64_t s503;
  uint64_t s429;
  uint64_t ra;
  uint64_t status;
  uint64_t change_after;
  uint64_t rate;
  uint64_t delay;
  int has_cut;
  int has_corrupt;
  int has_stall;
  int has_change_after;
  int norange;
  int chunked;
  int badrange;
  int shortlen;
  int noetag;
  uint64_t link;       /* a mirror's port (Link: rel=duplicate) */
  uint64_t reprdigest; /* 1: Repr-Digest of the content, 2: a wrong one */
  uint64_t digest;     /* 1: Digest (RFC 3230) of the content */
  uint64_t garble;     /* N: every byte at an offset multiple of N flipped */
} ft_query;

/* The faults of the request being answered. */
typedef struct ft_req {
  ft_query q;
  ft_target *tg;
  uint64_t nreq; /* 1-based number of this request for tg */
  int changed;   /* change_after applies */
  int is_gen;
  uint64_t seed;          /* generated content */
  unsigned char xor_mask; /* content XOR (change_after on real files) */
  int corrupt;
  uint64_t corrupt_off;
  int stall; /* a stall is still to come */
  uint64_t stall_at;
  uint64_t stall_ms;
} ft_req;

/* One connection: its rate cap and its current request. */
typedef struct ft_conn {
  uint64_t rate; /* bytes per second, 0: no cap */
  double tokens;
  uint64_t rate_t; /* uv_hrtime of the last refill */
  ft_req r;
} ft_conn;

typedef struct ft_ctx {
  ft_target *targets[FT_BUCKETS];
} ft_ctx;

/* ------------------------------------------------------------ generator */

/* splitmix64 of x. */
static uint64_t gen_mix(uint64_t x)
{
  uint64_t z = x + UINT64_C(0x9E3779B97F4A7C15);

  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

void faults_gen_fill(void *buf, uint64_t off, size_t len, uint64_t seed)
{
  unsigned char *p = buf;
  uint64_t key = seed * UINT64_C(0x9E3779B97F4A7C15);
  uint64_t i = off / 8;
  unsigned skip = (unsigned)(off % 8);
  uint64_t w;
  size_t n;
  size_t j;

  if (len == 0)
    return;
  if (skip != 0) {
    w = gen_mix(i ^ key);
    n = 8 - skip;
    if (n > len)
      n = len;
    for (j = 0; j < n; j++)
      p[j] = (unsigned char)(w >> (8 * (skip + j)));
    p += n;
    len -= n;
    i++;
  }
  for (; len >= 8; len -= 8, p += 8, i++) {
    w = gen_mix(i ^ key);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    memcpy(p, &w, 8);
  }
  if (len != 0) {
    w = gen_mix(i ^ key);
    for (j = 0; j < len; j++)
      p[j] = (unsigned char)(w >> (8 * j));
  }
}

/* ---------------------------------------------------- directives, targets */

/* Set the directive named by the kl bytes at k to v; unknown: ignored. */
static void query_set(ft_query *q, const char *k, size_t kl, uint64_t v)
{
#define FT_KEY(name) (kl == sizeof(name) - 1 && memcmp(k, name, kl) == 0)
  if (FT_KEY("seed")) {
    q->seed = v;
  } else if (FT_KEY("times")) {
    q->times = v;
  } else if (FT_KEY("cut")) {
    q->cut = v;
    q->has_cut = 1;
  } else if (FT_KEY("corrupt")) {
    q->corrupt = v;
    q->has_corrupt = 1;
  } else if (FT_KEY("stall")) {
    q->stall = v;
    q->has_stall = 1;
  } else if (FT_KEY("stall_at")) {
    q->stall_at = v;
  } else if (FT_KEY("s503")) {
    q->s503 = v;
  } else if (FT_KEY("s429")) {
    q->s429 = v;
  } else if (FT_KEY("ra")) {
    q->ra = v;
  } else if (FT_KEY("status")) {
    q->status = v;
  } else if (FT_KEY("change_after")) {
    q->change_after = v;
    q->has_change_after = 1;
  } else if (FT_KEY("rate")) {
    q->rate = v;
  } else if (FT_KEY("delay")) {
    q->delay = v;
  } else if (FT_KEY("norange")) {
    q->norange = v != 0;
  } else if (FT_KEY("chunked")) {
    q->chunked = v != 0;
  } else if (FT_KEY("badrange")) {
    q->badrange = v != 0;
  } else if (FT_KEY("shortlen")) {
    q->shortlen = v != 0;
  } else if (FT_KEY("noetag")) {
    q->noetag = v != 0;
  } else if (FT_KEY("link")) {
    q->link = v;
  } else if (FT_KEY("reprdigest")) {
    q->reprdigest = v;
  } else if (FT_KEY("digest")) {
    q->digest = v;
  } else if (FT_KEY("garble")) {
    q->garble = v;
  }
#undef FT_KEY
}

/* Parse the query string of target (if any) into q, defaults first. */
static void query_parse(const char *target, ft_query *q)
{
  const char *qmark = strchr(target, '?');
  const char *s = qmark != NULL ? qmark + 1 : "";
  const char *end = s + strlen(s);

  memset(q, 0, sizeof(*q));
  q->seed = 1;
  q->times = 1;
  q->ra = 1;
  while (s < end) {
    const char *amp = memchr(s, '&', (size_t)(end - s));
    const char *pe = amp != NULL ? amp : end;
    const char *eq = memchr(s, '=', (size_t)(pe - s));
    uint64_t v;

    if (eq != NULL && rf__parse_digits(eq + 1, (size_t)(pe - eq - 1), &v) == 0)
      query_set(q, s, (size_t)(eq - s), v);
    s = pe + (pe < end ? 1 : 0);
  }
}

/* The string directive key of target's query, percent-decoded into out
 * (size bytes).  Returns 1 when present, 0 otherwise. */
static int query_str(const char *target, const char *key, char *out,
                     size_t size)
{
  const char *qmark = strchr(target, '?');
  const char *s = qmark != NULL ? qmark + 1 : NULL;
  size_t kl = strlen(key);

  while (s != NULL && *s != '\0') {
    const char *pe = s + strcspn(s, "&");
    if ((size_t)(pe - s) > kl && memcmp(s, key, kl) == 0 && s[kl] == '=') {
      const char *v = s + kl + 1;
      size_t n = 0;
      while (v < pe && n + 1 < size) {
        int hi, lo;
        if (*v == '%' && pe - v >= 3 && (hi = rfx_hexval(v[1])) >= 0 &&
            (lo = rfx_hexval(v[2])) >= 0) {
          out[n++] = (char)(hi * 16 + lo);
          v += 3;
        } else {
          out[n++] = *v++;
        }
      }
      out[n] = '\0';
      return 1;
    }
    s = *pe == '&' ? pe + 1 : NULL;
  }
  return 0;
}

/* The value of the first field name of a request head (name without case;
 * blanks around the value dropped) into out.  Returns 1, or 0 (none). */
static int head_field(const char *head, const char *name, char *out,
                      size_t size)
{
  size_t nl = strlen(name);
  const char *line = strstr(head, "\r\n");

  while (line != NULL && line[2] != '\0' && line[2] != '\r') {
    const char *l = line + 2, *end = strstr(l, "\r\n");
    if (end == NULL)
      end = l + strlen(l);
    if ((size_t)(end - l) > nl && strncasecmp(l, name, nl) == 0 &&
        l[nl] == ':') {
      const char *v = l + nl + 1;
      size_t n;
      while (v < end && (*v == ' ' || *v == '\t'))
        v++;
      n = (size_t)(end - v);
      while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
      if (n >= size)
        n = size - 1;
      memcpy(out, v, n);
      out[n] = '\0';
      return 1;
    }
    line = *end != '\0' ? end : NULL;
  }
  return 0;
}

/* hdr, nohdr, basic, bearer, cookie: what the request must (not) carry.
 * Returns 0, or the status answering it (x->extra set for a 401). */
static int ft_check_head(rf__srv_exchange *x)
{
  char want[512], got[1024];

  if (query_str(x->target, "hdr", want, sizeof(want))) {
    char *colon = strchr(want, ':');
    const char *v = colon != NULL ? colon + 1 : "";
    if (colon != NULL)
      *colon = '\0';
    while (*v == ' ')
      v++;
    if (!head_field(x->head, want, got, sizeof(got)) || strcmp(got, v) != 0)
      return 403;
  }
  if (query_str(x->target, "nohdr", want, sizeof(want)) &&
      head_field(x->head, want, got, sizeof(got)))
    return 400;
  if (query_str(x->target, "basic", want, sizeof(want))) {
    char b64[700], line[720];
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)want,
                    (int)strlen(want));
    snprintf(line, sizeof(line), "Basic %s", b64);
    if (!head_field(x->head, "Authorization", got, sizeof(got)) ||
        strcmp(got, line) != 0) {
      snprintf(x->extra, sizeof(x->extra),
               "WWW-Authenticate: Basic realm=\"t\"\r\n");
      return 401;
    }
  }
  if (query_str(x->target, "bearer", want, sizeof(want))) {
    char line[600];
    snprintf(line, sizeof(line), "Bearer %s", want);
    if (!head_field(x->head, "Authorization", got, sizeof(got)) ||
        strcmp(got, line) != 0) {
      snprintf(x->extra, sizeof(x->extra), "WWW-Authenticate: Bearer\r\n");
      return 401;
    }
  }
  if (query_str(x->target, "cookie", want, sizeof(want))) {
    /* NAME=VALUE among the pairs of the Cookie header. */
    const char *p = got;
    int found = 0;
    if (!head_field(x->head, "Cookie", got, sizeof(got)))
      return 403;
    while (*p != '\0' && !found) {
      size_t n = strcspn(p, ";");
      while (*p == ' ') {
        p++;
        n--;
      }
      found = n == strlen(want) && strncmp(p, want, n) == 0;
      p += n;
      if (*p == ';')
        p++;
    }
    if (!found)
      return 403;
  }
  return 0;
}

/* FNV-1a of a NUL-terminated string. */
static uint64_t str_hash(const char *s)
{
  uint64_t h = UINT64_C(0xcbf29ce484222325);

  for (; *s != '\0'; s++) {
    h ^= (unsigned char)*s;
    h *= UINT64_C(0x100000001b3);
  }
  return h;
}

/* The record of target, created on first use; NULL without memory. */
static ft_target *target_get(ft_ctx *fc, const char *target)
{
  size_t b = (size_t)(str_hash(target) % FT_BUCKETS);
  size_t n = strlen(target);
  ft_target *t;

  for (t = fc->targets[b]; t != NULL; t = t->next) {
    if (strcmp(t->name, target) == 0)
      return t;
  }
  t = calloc(1, sizeof(*t) + n + 1);
  if (t == NULL)
    return NULL;
  memcpy(t->name, target, n + 1);
  t->next = fc->targets[b];
  fc->targets[b] = t;
  return t;
}

/* ------------------------------------------------------------------ hooks */

static ft_req *ft_req_of(rf__srv_exchange *x)
{
  return &((ft_conn *)*x->conn_data)->r;
}

static int ft_request(void *ctx, rf__srv_exchange *x)
{
  ft_conn *fc = *x->conn_data;
  ft_req *r;
  const ft_query *q;

  if (fc == NULL) {
    fc = calloc(1, sizeof(*fc));
    if (fc == NULL)
      return 500;
    *x->conn_data = fc;
  }
  r = &fc->r;
  memset(r, 0, sizeof(*r));
  q = &r->q;
  query_parse(x->target, &r->q);
  r->tg = target_get(ctx, x->target);
  if (r->tg == NULL)
    return 500;
  r->nreq = ++r->tg->requests;
  r->changed = q->has_change_after && r->nreq > q->change_after;
  x->delay_ms = q->delay;
  x->ignore_range = q->norange || q->chunked;
  if (q->status >= 200 && q->status <= 599)
    return (int)q->status;
  {
    int st = ft_check_head(x);
    if (st != 0)
      return st;
  }
  if (r->nreq <= q->s503 || r->nreq <= q->s429) {
    snprintf(x->extra, sizeof(x->extra), "Retry-After: %" PRIu64 "\r\n", q->ra);
    return r->nreq <= q->s503 ? 503 : 429;
  }
  return 0;
}

/* Serve /gen/<SIZE>. */
static int ft_resolve(void *ctx, rf__srv_exchange *x, const char *path)
{
  ft_req *r = ft_req_of(x);

  (void)ctx;
  if (strncmp(path, "/gen/", 5) != 0)
    return 0;
  if (rf__parse_digits(path + 5, strlen(path + 5), &x->size) != 0)
    return 404;
  r->is_gen = 1;
  r->seed = r->q.seed + (r->changed ? 1 : 0);
  snprintf(x->etag, sizeof(x->etag), "\"gen-%" PRIu64 "-%" PRIu64 "\"",
           x->size, r->seed);
  rf__http_format_date(x->lastmod, sizeof(x->lastmod),
                       (int64_t)(FT_GEN_MTIME + r->seed % 1000000));
  return RF__SRV_VIRTUAL;
}

/* The SHA-256 of a generated entity of size bytes for seed, in base64
 * (44 characters and a NUL). */
static void gen_sha256_b64(char out[45], uint64_t size, uint64_t seed)
{
  unsigned char buf[65536], md[32];
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  uint64_t off;

  out[0] = '\0';
  if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
    EVP_MD_CTX_free(ctx);
    return;
  }
  for (off = 0; off < size; off += sizeof(buf)) {
    size_t n = size - off < sizeof(buf) ? (size_t)(size - off) : sizeof(buf);
    faults_gen_fill(buf, off, n, seed);
    EVP_DigestUpdate(ctx, buf, n);
  }
  EVP_DigestFinal_ex(ctx, md, NULL);
  EVP_MD_CTX_free(ctx);
  EVP_EncodeBlock((unsigned char *)out, md, 32);
}

/* link, reprdigest, digest: header lines of a generated entity;
 * setcookie of any. */
static void ft_announce(ft_req *r, rf__srv_exchange *x)
{
  size_t n = strlen(x->extra);
  char sc[256];

  if (query_str(x->target, "setcookie", sc, sizeof(sc)))
    n += (size_t)snprintf(x->extra + n, sizeof(x->extra) - n,
                          "Set-Cookie: %s; Path=/\r\n", sc);
  char b64[45];

  if (!r->is_gen)
    return;
  if (r->q.link != 0)
    n += (size_t)snprintf(x->extra + n, sizeof(x->extra) - n,
                          "Link: <http://127.0.0.1:%" PRIu64 "/gen/%" PRIu64
                          "?seed=%" PRIu64 ">; rel=duplicate; pri=1\r\n",
                          r->q.link, x->size, r->seed);
  if (n < sizeof(x->extra) && (r->q.reprdigest != 0 || r->q.digest != 0)) {
    gen_sha256_b64(b64, x->size, r->seed);
    if (r->q.reprdigest == 2)
      b64[0] = b64[0] == 'A' ? 'B' : 'A'; /* a wrong digest */
    if (r->q.reprdigest != 0)
      n += (size_t)snprintf(x->extra + n, sizeof(x->extra) - n,
                            "Repr-Digest: sha-256=:%s:\r\n", b64);
    if (r->q.digest != 0 && n < sizeof(x->extra))
      snprintf(x->extra + n, sizeof(x->extra) - n,
               "Digest: MD5=AAAAAAAAAAAAAAAAAAAAAA==, SHA-256=%s\r\n", b64);
  }
}

/* noetag, and a real file's change_after; link, reprdigest, digest. */
static void ft_entity(void *ctx, rf__srv_exchange *x)
{
  ft_req *r = ft_req_of(x);
  size_t n = strlen(x->etag);

  (void)ctx;
  ft_announce(r, x);
  if (r->changed && !r->is_gen) {
    r->xor_mask = 0x5A;
    if (n >= 2 && n + 4 < sizeof(x->etag))
      memcpy(x->etag + n - 1, "-x5a\"", 6);
    rf__http_format_date(x->lastmod, sizeof(x->lastmod), x->mtime + 86400);
  }
  if (r->q.noetag) {
    x->etag[0] = '\0';
    x->lastmod[0] = '\0';
  }
}

/* badrange: move the 206's slice by one byte. */
static void ft_badrange(ft_req *r, rf__srv_exchange *x)
{
  if (x->status != 206 || !x->is_get || !r->q.badrange ||
      r->tg->badrange >= r->q.times || x->size <= 1)
    return;
  r->tg->badrange++;
  if (x->start + x->len < x->size)
    x->start++;
  else if (x->start > 0)
    x->start--;
  else
    x->len--;
}

/* The rate named by q, if new, becomes the connection's cap. */
static void ft_rate(ft_conn *fc, const ft_query *q)
{
  if (q->rate == 0 || q->rate == fc->rate)
    return;
  fc->rate = q->rate;
  fc->tokens = (double)fc->rate * 0.02;
  if (fc->tokens < 1.0)
    fc->tokens = 1.0;
  fc->rate_t = uv_hrtime();
}

/* Arm the one-shot faults of a GET body. */
static void ft_arm_body(ft_req *r, rf__srv_exchange *x)
{
  const ft_query *q = &r->q;
  ft_target *tg = r->tg;

  if (q->has_cut && q->cut < x->len && tg->cut < q->times) {
    tg->cut++;
    x->limit = q->cut;
    x->close_after = 1;
  }
  if (q->shortlen && x->status == 206 && x->len > 0 &&
      tg->shortlen < q->times) {
    tg->shortlen++;
    if (x->len / 2 < x->limit)
      x->limit = x->len / 2;
    x->close_after = 1;
  }
  if (q->has_stall && q->stall_at < x->len && tg->stall < q->times) {
    tg->stall++;
    r->stall = 1;
    r->stall_at = q->stall_at;
    r->stall_ms = q->stall;
  }
  if (q->has_corrupt && q->corrupt >= x->start &&
      q->corrupt - x->start < x->len && tg->corrupt < q->times) {
    tg->corrupt++;
    r->corrupt = 1;
    r->corrupt_off = q->corrupt;
  }
}

static void ft_range(void *ctx, rf__srv_exchange *x)
{
  ft_conn *fc = *x->conn_data;
  ft_req *r = &fc->r;

  (void)ctx;
  ft_badrange(r, x);
  if (r->q.chunked && x->status == 200)
    x->chunked = 1;
  if (x->is_get)
    ft_arm_body(r, x);
  ft_rate(fc, &r->q);
}

static void ft_read(void *ctx, rf__srv_exchange *x, void *buf, uint64_t off,
                    size_t n)
{
  (void)ctx;
  faults_gen_fill(buf, off, n, ft_req_of(x)->seed);
}

/* Take tokens for up to want bytes; 0 means wait for the next tick. */
static uint64_t rate_take(ft_conn *fc, uint64_t want)
{
  uint64_t now = uv_hrtime();
  double burst = (double)fc->rate * 0.02;
  uint64_t n;

  if (burst < 1.0)
    burst = 1.0;
  fc->tokens += (double)(now - fc->rate_t) * 1e-9 * (double)fc->rate;
  fc->rate_t = now;
  if (fc->tokens > burst)
    fc->tokens = burst;
  if (fc->tokens < 1.0)
    return 0;
  n = (uint64_t)fc->tokens;
  if (n > want)
    n = want;
  fc->tokens -= (double)n;
  return n;
}

/* stall, then rate. */
static uint64_t ft_pace(void *ctx, rf__srv_exchange *x, uint64_t produced,
                        uint64_t want, uint64_t *wait_ms)
{
  ft_conn *fc = *x->conn_data;
  ft_req *r = &fc->r;

  (void)ctx;
  if (r->stall && produced >= r->stall_at) {
    r->stall = 0;
    *wait_ms = r->stall_ms;
    return 0;
  }
  if (r->stall && r->stall_at - produced < want)
    want = r->stall_at - produced;
  if (fc->rate != 0) {
    want = rate_take(fc, want);
    if (want == 0)
      *wait_ms = FT_RATE_TICK_MS;
  }
  return want;
}

/* change_after's XOR, then corrupt. */
static void ft_body(void *ctx, rf__srv_exchange *x, void *buf, size_t n,
                    uint64_t off)
{
  ft_req *r = ft_req_of(x);
  unsigned char *p = buf;

  (void)ctx;
  if (r->xor_mask != 0) {
    for (size_t i = 0; i < n; i++)
      p[i] ^= r->xor_mask;
  }
  if (r->corrupt && r->corrupt_off >= off && r->corrupt_off - off < n)
    p[r->corrupt_off - off] ^= 0xFF;
  if (r->q.garble != 0 && x->is_get) {
    uint64_t g = r->q.garble, at = (off + g - 1) / g * g;
    for (; at < off + n; at += g)
      p[at - off] ^= 0xFF;
  }
}

static void ft_conn_free(void *ctx, void *conn_data)
{
  (void)ctx;
  free(conn_data);
}

static void ft_destroy(void *ctx)
{
  ft_ctx *fc = ctx;

  for (size_t b = 0; b < FT_BUCKETS; b++) {
    while (fc->targets[b] != NULL) {
      ft_target *t = fc->targets[b];
      fc->targets[b] = t->next;
      free(t);
    }
  }
  free(fc);
}

static const rf__server_hooks ft_hooks = {
  .request = ft_request,
  .resolve = ft_resolve,
  .entity = ft_entity,
  .range = ft_range,
  .read = ft_read,
  .pace = ft_pace,
  .body = ft_body,
  .conn_free = ft_conn_free,
  .destroy = ft_destroy,
};

int faults_install(rf_server *s)
{
  ft_ctx *fc = calloc(1, sizeof(*fc));

  if (fc == NULL)
    return -1;
  rf__server_set_hooks(s, &ft_hooks, fc);
  return 0;
}
