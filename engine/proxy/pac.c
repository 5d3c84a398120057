/*
 * PAC evaluator on Duktape (compiled by the build from Debian's
 * /usr/share/duktape/duktape.c with the execution-timeout hook enabled; see
 * CMakeLists.txt).  The Netscape and Microsoft helper functions are
 * implemented here in C (not Mozilla's JavaScript, for licensing), after the
 * semantics in docs/pac.md.
 *
 * Sandbox: one Duktape heap per rf__pac, with
 * - an allocator that tracks every block and refuses past the byte budget,
 *   so a memory bomb gets "alloc failed" and a broken heap can be freed
 *   wholesale;
 * - a fatal handler that longjmps back into the API call (Duktape's
 *   default calls abort()); the heap is then thrown away and rebuilt;
 * - the exec-timeout hook, armed for every entry into script code;
 * - no Duktape global (no finalizers, no Duktape.act/gc), no print/require
 *   (Duktape 2 has none built in).
 */
#include "pac.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <ifaddrs.h>
#include <math.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "duktape.h"
#include "rangefetch/rangefetch.h"

/* Allocation header: a circular list of all blocks of one heap. */
typedef union pac_blk {
  struct {
    union pac_blk *prev, *next;
    size_t size;
  } h;
  max_align_t align;
} pac_blk;

typedef struct pac_dns_entry {
  char *name;
  int v6;
  int ok;
  char **addrs;
  size_t n;
} pac_dns_entry;

#define PAC_ALERT_MAX 2048

struct rf__pac {
  duk_context *ctx; /* NULL when the heap must be (re)built */
  char *script;
  size_t script_len;
  rf__pac_limits lim;
  rf__pac_dns dns;
  /* allocator */
  pac_blk blocks; /* list head */
  size_t used;
  int alloc_failed;
  int no_limit; /* while duk_create_heap runs */
  /* deadline */
  int armed, timed_out;
  struct timespec deadline;
  /* fatal error escape */
  jmp_buf jb;
  int jb_armed;
  char fatal_msg[160];
  /* per evaluation */
  pac_dns_entry cache[RF__PAC_MAX_DNS_NAMES];
  size_t ncache;
  int my_done, my_ok;
  char **my_addrs;
  size_t my_n;
  char alerts[PAC_ALERT_MAX];
  size_t alerts_len;
};

static void pac_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void pac_errf(char *err, size_t errlen, const char *fmt, ...)
{
  va_list ap;

  if (err == NULL || errlen == 0)
    return;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static void pac_strv_free(char **v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

/* ------------------------------------------------------------ allocator */

static void pac_blk_link(rf__pac *p, pac_blk *b)
{
  b->h.next = p->blocks.h.next;
  b->h.prev = &p->blocks;
  p->blocks.h.next->h.prev = b;
  p->blocks.h.next = b;
}

static void pac_blk_unlink(pac_blk *b)
{
  b->h.prev->h.next = b->h.next;
  b->h.next->h.prev = b->h.prev;
}

static void *pac_alloc(void *ud, duk_size_t size)
{
  rf__pac *p = ud;
  pac_blk *b;

  if (!p->no_limit && size > p->lim.memory_bytes - p->used) {
    p->alloc_failed = 1;
    return NULL;
  }
  b = malloc(sizeof(*b) + size);
  if (b == NULL)
    return NULL;
  b->h.size = size;
  pac_blk_link(p, b);
  p->used += size;
  return b + 1;
}

static void pac_free(void *ud, void *ptr)
{
  rf__pac *p = ud;
  pac_blk *b;

  if (ptr == NULL)
    return;
  b = (pac_blk *)ptr - 1;
  pac_blk_unlink(b);
  p->used -= b->h.size;
  free(b);
}

static void *pac_realloc(void *ud, void *ptr, duk_size_t size)
{
  rf__pac *p = ud;
  pac_blk *b, *nb;

  if (ptr == NULL)
    return pac_alloc(ud, size);
  if (size == 0) {
    pac_free(ud, ptr);
    return NULL;
  }
  b = (pac_blk *)ptr - 1;
  if (!p->no_limit && size > b->h.size &&
      size - b->h.size > p->lim.memory_bytes - p->used) {
    p->alloc_failed = 1;
    return NULL;
  }
  pac_blk_unlink(b);
  nb = realloc(b, sizeof(*b) + size);
  if (nb == NULL) {
    pac_blk_link(p, b);
    return NULL;
  }
  p->used = p->used - nb->h.size + size;
  nb->h.size = size;
  pac_blk_link(p, nb);
  return nb + 1;
}

/* Frees every block of the current heap (after a fatal error). */
static void pac_blk_free_all(rf__pac *p)
{
  while (p->blocks.h.next != &p->blocks) {
    pac_blk *b = p->blocks.h.next;

    pac_blk_unlink(b);
    free(b);
  }
  p->used = 0;
}

/* ------------------------------------------------- deadline and fatal */

static void pac_arm(rf__pac *p)
{
  clock_gettime(CLOCK_MONOTONIC, &p->deadline);
  p->deadline.tv_sec += (time_t)(p->lim.deadline_ms / 1000u);
  p->deadline.tv_nsec += (long)(p->lim.deadline_ms % 1000u) * 1000000L;
  if (p->deadline.tv_nsec >= 1000000000L) {
    p->deadline.tv_sec++;
    p->deadline.tv_nsec -= 1000000000L;
  }
  p->timed_out = 0;
  p->armed = 1;
}

/* Called by Duktape's executor every ~256k instructions (duk_config.h). */
int rf__pac_exec_timeout_check(void *udata)
{
  rf__pac *p = udata;
  struct timespec now;

  if (p == NULL || !p->armed)
    return 0;
  if (p->timed_out)
    return 1; /* must keep saying so until we are out of Duktape */
  clock_gettime(CLOCK_MONOTONIC, &now);
  if (now.tv_sec > p->deadline.tv_sec ||
      (now.tv_sec == p->deadline.tv_sec && now.tv_nsec >= p->deadline.tv_nsec))
    p->timed_out = 1;
  return p->timed_out;
}

static void pac_fatal(void *udata, const char *msg)
{
  rf__pac *p = udata;

  snprintf(p->fatal_msg, sizeof(p->fatal_msg), "duktape fatal error: %s",
           msg != NULL ? msg : "?");
  /* Every Duktape call runs under pac_guard, so jb is armed here. */
  if (p->jb_armed)
    longjmp(p->jb, 1);
  abort(); /* unreachable */
}

typedef int (*pac_op)(rf__pac *p, void *arg);

/* Runs op with the fatal-error escape armed; a fatal error throws the heap
 * away (its blocks are freed without Duktape) and returns RF_EPROXY. */
static int pac_guard(rf__pac *p, pac_op op, void *arg)
{
  volatile int rc = RF_EPROXY;

  p->fatal_msg[0] = '\0';
  p->jb_armed = 1;
  if (setjmp(p->jb) == 0) {
    rc = op(p, arg);
  } else {
    p->ctx = NULL;
    p->armed = 0;
    pac_blk_free_all(p);
    rc = RF_EPROXY;
  }
  p->jb_armed = 0;
  return rc;
}

static rf__pac *pac_of(duk_context *ctx)
{
  duk_memory_functions mf;

  duk_get_memory_functions(ctx, &mf);
  return mf.udata;
}

/* ------------------------------------------------------------------ DNS */

static int pac_is_v4(const char *s)
{
  struct in_addr a;

  return inet_pton(AF_INET, s, &a) == 1;
}

static int pac_is_v6(const char *s)
{
  struct in6_addr a;

  return inet_pton(AF_INET6, s, &a) == 1;
}

static void pac_cache_clear(rf__pac *p)
{
  for (size_t i = 0; i < p->ncache; i++) {
    free(p->cache[i].name);
    pac_strv_free(p->cache[i].addrs, p->cache[i].n);
  }
  p->ncache = 0;
  pac_strv_free(p->my_addrs, p->my_n);
  p->my_addrs = NULL;
  p->my_n = 0;
  p->my_done = 0;
  p->my_ok = 0;
  p->alerts_len = 0;
  p->alerts[0] = '\0';
}

/* Resolves host (v4 only unless v6) through the injected resolver, once
 * per evaluation; at most RF__PAC_MAX_DNS_NAMES distinct lookups, later
 * ones fail.  IP literals resolve to themselves.  NULL: not resolvable. */
static const pac_dns_entry *pac_lookup(rf__pac *p, const char *host, int v6)
{
  pac_dns_entry *e;
  char **v;

  for (size_t i = 0; i < p->ncache; i++)
    if (p->cache[i].v6 == v6 && strcmp(p->cache[i].name, host) == 0)
      return p->cache[i].ok ? &p->cache[i] : NULL;
  if (p->ncache == RF__PAC_MAX_DNS_NAMES)
    return NULL;
  e = &p->cache[p->ncache];
  memset(e, 0, sizeof(*e));
  e->name = strdup(host);
  if (e->name == NULL)
    return NULL;
  e->v6 = v6;
  p->ncache++;
  if (pac_is_v4(host) || (v6 && pac_is_v6(host))) {
    v = malloc(sizeof(*v));
    if (v == NULL || (v[0] = strdup(host)) == NULL) {
      free(v);
      return NULL;
    }
    e->addrs = v;
    e->n = 1;
    e->ok = 1;
  } else if (pac_is_v6(host) || *host == '\0' || p->dns.resolve == NULL) {
    e->ok = 0;
  } else {
    e->ok =
        p->dns.resolve(p->dns.ud, host, v6, &e->addrs, &e->n) == 0 && e->n > 0;
  }
  return e->ok ? e : NULL;
}

static int pac_my(rf__pac *p)
{
  if (!p->my_done) {
    p->my_done = 1;
    p->my_ok = p->dns.my_addresses != NULL &&
               p->dns.my_addresses(p->dns.ud, &p->my_addrs, &p->my_n) == 0 &&
               p->my_n > 0;
  }
  return p->my_ok;
}

/* Pushes addrs joined by ';', IPv6 first, then IPv4. */
static void pac_push_joined(duk_context *ctx, char **addrs, size_t n)
{
  int parts = 0;

  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < n; i++)
      if ((strchr(addrs[i], ':') != NULL) == (pass == 0)) {
        if (parts > 0)
          duk_push_string(ctx, ";");
        duk_push_string(ctx, addrs[i]);
        parts += parts > 0 ? 2 : 1;
      }
  if (parts == 0)
    duk_push_string(ctx, "");
  else
    duk_concat(ctx, parts);
}

static const char *pac_first_v4(char **addrs, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (pac_is_v4(addrs[i]))
      return addrs[i];
  return NULL;
}

/* --------------------------------------------------------- the helpers */

static duk_ret_t h_is_plain_host_name(duk_context *ctx)
{
  const char *h = duk_require_string(ctx, 0);

  duk_push_boolean(ctx, strchr(h, '.') == NULL && !pac_is_v6(h));
  return 1;
}

static duk_ret_t h_dns_domain_is(duk_context *ctx)
{
  duk_size_t hl, dl;
  const char *h = duk_to_lstring(ctx, 0, &hl);
  const char *d = duk_to_lstring(ctx, 1, &dl);

  duk_push_boolean(ctx, hl >= dl && memcmp(h + hl - dl, d, dl) == 0);
  return 1;
}

static duk_ret_t h_local_host_or_domain_is(duk_context *ctx)
{
  duk_size_t hl, dl;
  const char *h = duk_to_lstring(ctx, 0, &hl);
  const char *d = duk_to_lstring(ctx, 1, &dl);

  duk_push_boolean(ctx, (hl == dl && memcmp(h, d, hl) == 0) ||
                            (dl > hl && memcmp(h, d, hl) == 0 && d[hl] == '.'));
  return 1;
}

static duk_ret_t h_dns_resolve(duk_context *ctx)
{
  rf__pac *p = pac_of(ctx);
  const pac_dns_entry *e;
  const char *a;

  if (!duk_is_string(ctx, 0)) {
    duk_push_null(ctx);
    return 1;
  }
  e = pac_lookup(p, duk_get_string(ctx, 0), 0);
  a = e != NULL ? pac_first_v4(e->addrs, e->n) : NULL;
  if (a != NULL)
    duk_push_string(ctx, a);
  else
    duk_push_null(ctx);
  return 1;
}

static duk_ret_t h_is_resolvable(duk_context *ctx)
{
  h_dns_resolve(ctx);
  duk_push_boolean(ctx, !duk_is_null(ctx, -1));
  return 1;
}

static duk_ret_t h_my_ip_address(duk_context *ctx)
{
  rf__pac *p = pac_of(ctx);
  const char *a = pac_my(p) ? pac_first_v4(p->my_addrs, p->my_n) : NULL;

  duk_push_string(ctx, a != NULL ? a : "127.0.0.1");
  return 1;
}

static duk_ret_t h_dns_domain_levels(duk_context *ctx)
{
  duk_size_t l;
  const char *h = duk_to_lstring(ctx, 0, &l);
  unsigned n = 0;

  for (duk_size_t i = 0; i < l; i++)
    if (h[i] == '.')
      n++;
  duk_push_uint(ctx, n);
  return 1;
}

/* Linear-time glob: '*' any run, '?' one byte, the rest literal. */
static int pac_glob(const char *s, size_t sn, const char *pt, size_t pn)
{
  size_t si = 0, pi = 0, star = (size_t)-1, mark = 0;

  while (si < sn) {
    if (pi < pn && pt[pi] == '*') {
      star = pi++;
      mark = si;
    } else if (pi < pn && (pt[pi] == '?' || pt[pi] == s[si])) {
      si++;
      pi++;
    } else if (star != (size_t)-1) {
      pi = star + 1;
      si = ++mark;
    } else {
      return 0;
    }
  }
  while (pi < pn && pt[pi] == '*')
    pi++;
  return pi == pn;
}

static duk_ret_t h_sh_exp_match(duk_context *ctx)
{
  duk_size_t sl, pl;
  const char *s = duk_to_lstring(ctx, 0, &sl);
  const char *pt = duk_to_lstring(ctx, 1, &pl);

  duk_push_boolean(ctx, pac_glob(s, sl, pt, pl) != 0);
  return 1;
}

/* convert_addr: the Mozilla formula, a signed 32-bit integer of the four
 * '.'-separated parts, each ToInt32(ToNumber(part)) & 0xff. */
static uint32_t pac_convert_addr(duk_context *ctx, duk_idx_t idx)
{
  duk_size_t l;
  const char *s = duk_to_lstring(ctx, idx, &l), *e = s + l;
  uint32_t r = 0;

  for (int i = 0; i < 4; i++) {
    if (s != NULL) {
      const char *dot = memchr(s, '.', (size_t)(e - s));
      const char *end = dot != NULL ? dot : e;

      duk_push_lstring(ctx, s, (duk_size_t)(end - s));
      s = dot != NULL ? dot + 1 : NULL;
    } else {
      duk_push_undefined(ctx);
    }
    r = (r << 8) | ((uint32_t)duk_to_int32(ctx, -1) & 0xffu);
    duk_pop(ctx);
  }
  return r;
}

static duk_ret_t h_convert_addr(duk_context *ctx)
{
  duk_push_number(ctx, (double)(int32_t)pac_convert_addr(ctx, 0));
  return 1;
}

/* /^(\d{1,4})\.(\d{1,4})\.(\d{1,4})\.(\d{1,4})$/: 1 if it matches with
 * every part <= 255, 0 if it matches with a part > 255, -1 otherwise. */
static int pac_quad(const char *s)
{
  int big = 0;

  for (int i = 0; i < 4; i++) {
    unsigned v = 0, d = 0;

    while (s[d] >= '0' && s[d] <= '9' && d < 5)
      v = v * 10u + (unsigned)(s[d++] - '0');
    if (d == 0 || d > 4)
      return -1;
    big |= v > 255;
    s += d;
    if (i < 3 && *s++ != '.')
      return -1;
  }
  return *s != '\0' ? -1 : big ? 0 : 1;
}

static duk_ret_t h_is_in_net(duk_context *ctx)
{
  rf__pac *p = pac_of(ctx);
  const char *host = duk_to_string(ctx, 0);
  const char *pat = duk_to_string(ctx, 1);
  const char *mask = duk_to_string(ctx, 2);
  int q = pac_quad(host);
  uint32_t h, pv, mv;

  if (q == 0 || pac_quad(pat) != 1 || pac_quad(mask) != 1) {
    duk_push_false(ctx);
    return 1;
  }
  if (q < 0) {
    const pac_dns_entry *e = pac_lookup(p, host, 0);
    const char *a = e != NULL ? pac_first_v4(e->addrs, e->n) : NULL;

    if (a == NULL) {
      duk_push_false(ctx);
      return 1;
    }
    duk_push_string(ctx, a);
    duk_replace(ctx, 0);
  }
  h = pac_convert_addr(ctx, 0);
  pv = pac_convert_addr(ctx, 1);
  mv = pac_convert_addr(ctx, 2);
  duk_push_boolean(ctx, (h & mv) == (pv & mv));
  return 1;
}

static duk_ret_t h_alert(duk_context *ctx)
{
  rf__pac *p = pac_of(ctx);
  duk_size_t l;
  const char *m = duk_safe_to_lstring(ctx, 0, &l);
  size_t room = PAC_ALERT_MAX - 1 - p->alerts_len;

  if (room > 0) {
    size_t k = l < room - 1 ? l : room - 1;

    memcpy(p->alerts + p->alerts_len, m, k);
    p->alerts_len += k;
    if (p->alerts_len < PAC_ALERT_MAX - 1)
      p->alerts[p->alerts_len++] = '\n';
    p->alerts[p->alerts_len] = '\0';
  }
  return 0;
}

/* ---------------------------------------------------- time and date */

static int64_t pac_now(rf__pac *p)
{
  return p->lim.clock != NULL ? p->lim.clock(p->lim.clock_ud)
                              : (int64_t)time(NULL);
}

static void pac_tm(rf__pac *p, struct tm *local, struct tm *gmt)
{
  time_t t = (time_t)pac_now(p);

  localtime_r(&t, local);
  gmtime_r(&t, gmt);
}

/* Normalises broken-down naive time the way JS Date setters do. */
static int64_t pac_norm(struct tm *t)
{
  time_t s = timegm(t);

  gmtime_r(&s, t);
  return (int64_t)s;
}

static int pac_last_is_gmt(duk_context *ctx, duk_idx_t argc)
{
  const char *s;

  if (argc < 1 || !duk_is_string(ctx, argc - 1))
    return 0;
  s = duk_get_string(ctx, argc - 1);
  return strcmp(s, "GMT") == 0;
}

/*
 * The common start of the *Range helpers: without arguments the answer is
 * false (pushed; returns 0).  Otherwise a final "GMT" is dropped from
 * *argc, *local is the local time and *now the time in the zone the call
 * asks for; returns 1.
 */
static int pac_range_args(duk_context *ctx, duk_idx_t *argc, struct tm *local,
                          struct tm *now)
{
  struct tm g;
  int gmt;

  if (*argc < 1) {
    duk_push_false(ctx);
    return 0;
  }
  gmt = pac_last_is_gmt(ctx, *argc);
  *argc -= gmt;
  pac_tm(pac_of(ctx), local, &g);
  *now = gmt ? g : *local;
  return 1;
}

static int pac_name_index(duk_context *ctx, duk_idx_t i,
                          const char *const *names, int n)
{
  const char *s;

  if (!duk_is_string(ctx, i))
    return -1;
  s = duk_get_string(ctx, i);
  for (int k = 0; k < n; k++)
    if (strcmp(s, names[k]) == 0)
      return k;
  return -1;
}

static const char *const pac_wdays[] = { "SUN", "MON", "TUE", "WED",
                                         "THU", "FRI", "SAT" };
static const char *const pac_months[] = { "JAN", "FEB", "MAR", "APR",
                                          "MAY", "JUN", "JUL", "AUG",
                                          "SEP", "OCT", "NOV", "DEC" };

static duk_ret_t h_weekday_range(duk_context *ctx)
{
  duk_idx_t argc = duk_get_top(ctx);
  struct tm l, nowtm;
  int wday, wd1, wd2;

  if (!pac_range_args(ctx, &argc, &l, &nowtm))
    return 1;
  wday = nowtm.tm_wday;
  wd1 = pac_name_index(ctx, 0, pac_wdays, 7);
  wd2 = argc == 2 ? pac_name_index(ctx, 1, pac_wdays, 7) : wd1;
  if (wd1 < 0 || wd2 < 0)
    duk_push_false(ctx);
  else if (wd1 <= wd2)
    duk_push_boolean(ctx, wd1 <= wday && wday <= wd2);
  else
    duk_push_boolean(ctx, wd2 >= wday || wday >= wd1);
  return 1;
}

/* JS parseInt(ToString(v)): NaN when there are no digits. */
static double pac_parse_int(duk_context *ctx, duk_idx_t i)
{
  const char *s;
  double v = 0, sign = 1;
  int base = 10, digits = 0;

  duk_dup(ctx, i);
  s = duk_to_string(ctx, -1);
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\v' ||
         *s == '\f')
    s++;
  if (*s == '+' || *s == '-')
    sign = *s++ == '-' ? -1 : 1;
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s += 2;
  }
  for (;; s++, digits++) {
    int d;

    if (*s >= '0' && *s <= '9')
      d = *s - '0';
    else if (base == 16 && *s >= 'a' && *s <= 'f')
      d = *s - 'a' + 10;
    else if (base == 16 && *s >= 'A' && *s <= 'F')
      d = *s - 'A' + 10;
    else
      break;
    v = v * base + d;
  }
  duk_pop(ctx);
  return digits > 0 ? sign * v : NAN;
}

/* A JS Date field setter on a naive date; 0 if the value makes the date
 * invalid (NaN or far out of range), which makes every comparison false. */
enum { PAC_YEAR, PAC_MON, PAC_MDAY, PAC_HOUR, PAC_MIN, PAC_SEC };

static int pac_set(struct tm *t, int field, double v)
{
  if (isnan(v) || v > 1e7 || v < -1e7)
    return 0;
  v = trunc(v);
  switch (field) {
  case PAC_YEAR:
    t->tm_year = (int)v - 1900;
    break;
  case PAC_MON:
    t->tm_mon = (int)v;
    break;
  case PAC_MDAY:
    t->tm_mday = (int)v;
    break;
  case PAC_HOUR:
    t->tm_hour = (int)v;
    break;
  case PAC_MIN:
    t->tm_min = (int)v;
    break;
  default:
    t->tm_sec = (int)v;
    break;
  }
  pac_norm(t);
  return 1;
}

static int pac_range(int64_t t1, int64_t t2, int64_t now)
{
  return t1 <= t2 ? t1 <= now && now <= t2 : t2 >= now || now >= t1;
}

/* Sets the day, month or year of *d from argument i (dateRange rules). */
static int pac_date_arg(duk_context *ctx, duk_idx_t i, struct tm *d,
                        int *is_day)
{
  double v = pac_parse_int(ctx, i);

  *is_day = 0;
  if (isnan(v))
    return pac_set(d, PAC_MON, pac_name_index(ctx, i, pac_months, 12));
  if (v < 32) {
    *is_day = 1;
    return pac_set(d, PAC_MDAY, v);
  }
  return pac_set(d, PAC_YEAR, v);
}

static duk_ret_t h_date_range(duk_context *ctx)
{
  duk_idx_t argc = duk_get_top(ctx), i;
  struct tm l, d1, d2, nowtm;
  int ok = 1, adjust = 0, is_day;

  if (!pac_range_args(ctx, &argc, &l, &nowtm))
    return 1;
  if (argc == 1) {
    double v = pac_parse_int(ctx, 0);

    if (isnan(v))
      duk_push_boolean(ctx,
                       nowtm.tm_mon == pac_name_index(ctx, 0, pac_months, 12));
    else if (v < 32)
      duk_push_boolean(ctx, nowtm.tm_mday == v);
    else
      duk_push_boolean(ctx, nowtm.tm_year + 1900 == v);
    return 1;
  }
  memset(&d1, 0, sizeof(d1));
  d1.tm_year = l.tm_year;
  d1.tm_mday = 1;
  d2 = d1;
  d2.tm_mon = 11;
  d2.tm_mday = 31;
  d2.tm_hour = 23;
  d2.tm_min = 59;
  d2.tm_sec = 59;
  for (i = 0; i < (argc >> 1); i++) {
    ok &= pac_date_arg(ctx, i, &d1, &is_day);
    if (is_day)
      adjust = argc <= 2;
  }
  for (i = argc >> 1; i < argc; i++)
    ok &= pac_date_arg(ctx, i, &d2, &is_day);
  if (adjust) {
    ok &= pac_set(&d1, PAC_MON, l.tm_mon);
    ok &= pac_set(&d2, PAC_MON, l.tm_mon);
  }
  duk_push_boolean(
      ctx, ok && pac_range(pac_norm(&d1), pac_norm(&d2), pac_norm(&nowtm)));
  return 1;
}

static duk_ret_t h_time_range(duk_context *ctx)
{
  duk_idx_t argc = duk_get_top(ctx);
  struct tm l, d1, d2, nowtm;
  int ok = 1, hour;

  if (!pac_range_args(ctx, &argc, &l, &nowtm))
    return 1;
  hour = nowtm.tm_hour;
  if (argc == 1) {
    /* hour == arguments[0] (loose equality; null/undefined never equal) */
    duk_push_boolean(ctx, !duk_is_null_or_undefined(ctx, 0) &&
                              duk_to_number(ctx, 0) == hour);
    return 1;
  }
  if (argc == 2) {
    duk_push_boolean(ctx, duk_to_number(ctx, 0) <= hour &&
                              hour <= duk_to_number(ctx, 1));
    return 1;
  }
  if (argc != 4 && argc != 6) { /* Mozilla's throws a string */
    duk_push_string(ctx, "timeRange: bad number of arguments");
    return duk_throw(ctx);
  }
  d1 = l;
  d2 = l;
  if (argc == 6) {
    ok &= pac_set(&d1, PAC_SEC, duk_to_number(ctx, 2));
    ok &= pac_set(&d2, PAC_SEC, duk_to_number(ctx, 5));
  }
  {
    duk_idx_t mid = argc >> 1;

    ok &= pac_set(&d1, PAC_HOUR, duk_to_number(ctx, 0));
    ok &= pac_set(&d1, PAC_MIN, duk_to_number(ctx, 1));
    ok &= pac_set(&d2, PAC_HOUR, duk_to_number(ctx, mid));
    ok &= pac_set(&d2, PAC_MIN, duk_to_number(ctx, mid + 1));
    if (mid == 2)
      ok &= pac_set(&d2, PAC_SEC, 59);
  }
  duk_push_boolean(
      ctx, ok && pac_range(pac_norm(&d1), pac_norm(&d2), pac_norm(&nowtm)));
  return 1;
}

/* ------------------------------------------ Microsoft IPv6 extensions */

static duk_ret_t h_dns_resolve_ex(duk_context *ctx)
{
  rf__pac *p = pac_of(ctx);
  const pac_dns_entry *e = NULL;

  if (duk_is_string(ctx, 0))
    e = pac_lookup(p, duk_get_string(ctx, 0), 1);
  if (e != NULL)
    pac_push_joined(ctx, e->addrs, e->n);
  else
    duk_push_string(ctx, "");
  return 1;
}

static duk_ret_t h_is_resolvable_ex(duk_context *ctx)
{
  h_dns_resolve_ex(ctx);
  duk_push_boolean(ctx, duk_get_length(ctx, -1) > 0);
  return 1;
}

static duk_ret_t h_my_ip_address_ex(duk_context *ctx)
{
  rf__pac *p = pac_of(ctx);

  if (pac_my(p))
    pac_push_joined(ctx, p->my_addrs, p->my_n);
  else
    duk_push_string(ctx, "");
  return 1;
}

/* An IP literal as 16 bytes (IPv4 v4-mapped); *v6 says which it was. */
static int pac_ip16(const char *s, unsigned char out[16], int *v6)
{
  struct in_addr a;

  if (inet_pton(AF_INET6, s, out) == 1) {
    *v6 = 1;
    return 1;
  }
  if (inet_pton(AF_INET, s, &a) == 1) {
    memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    memcpy(out + 12, &a, 4);
    *v6 = 0;
    return 1;
  }
  return 0;
}

static duk_ret_t h_is_in_net_ex(duk_context *ctx)
{
  const char *ip, *pre, *slash;
  unsigned char a[16], b[16];
  char addr[64];
  int av6, bv6;
  unsigned long len = 0;
  size_t dl;

  if (!duk_is_string(ctx, 0) || !duk_is_string(ctx, 1))
    goto no;
  ip = duk_get_string(ctx, 0);
  pre = duk_get_string(ctx, 1);
  slash = strchr(pre, '/');
  if (slash == NULL || (size_t)(slash - pre) >= sizeof(addr))
    goto no;
  memcpy(addr, pre, (size_t)(slash - pre));
  addr[slash - pre] = '\0';
  dl = strlen(slash + 1);
  if (dl == 0 || dl > 3)
    goto no;
  for (const char *d = slash + 1; *d != '\0'; d++) {
    if (*d < '0' || *d > '9')
      goto no;
    len = len * 10 + (unsigned long)(*d - '0');
  }
  if (!pac_ip16(ip, a, &av6) || !pac_ip16(addr, b, &bv6))
    goto no;
  if (len > (bv6 ? 128u : 32u))
    goto no;
  if (!bv6)
    len += 96; /* compare in the v4-mapped space (Chromium) */
  for (unsigned long bit = 0; bit < len; bit++) {
    unsigned m = 0x80u >> (bit % 8);

    if ((a[bit / 8] & m) != (b[bit / 8] & m))
      goto no;
  }
  duk_push_true(ctx);
  return 1;
no:
  duk_push_false(ctx);
  return 1;
}

typedef struct pac_sort_ip {
  unsigned char a[16];
  int v6;
} pac_sort_ip;

static int pac_sort_cmp(const void *x, const void *y)
{
  const pac_sort_ip *a = x, *b = y;

  if (a->v6 != b->v6)
    return a->v6 ? -1 : 1;
  return memcmp(a->a, b->a, 16);
}

static duk_ret_t h_sort_ip_address_list(duk_context *ctx)
{
  duk_size_t l;
  const char *s;
  char *buf, *tok, *save = NULL;
  pac_sort_ip *ips;
  size_t n = 0, cap = 1, k = 0;
  char txt[INET6_ADDRSTRLEN];

  if (!duk_is_string(ctx, 0)) {
    duk_push_null(ctx);
    return 1;
  }
  s = duk_get_lstring(ctx, 0, &l);
  for (size_t i = 0; i < l; i++)
    if (s[i] == ';')
      cap++;
  /* GC-managed scratch space: no leak if a later call throws. */
  buf = duk_push_fixed_buffer(ctx, l + 1);
  ips = duk_push_fixed_buffer(ctx, cap * sizeof(*ips));
  for (size_t i = 0; i < l; i++) /* strip all whitespace (Chromium) */
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
      buf[k++] = s[i];
  buf[k] = '\0';
  for (tok = strtok_r(buf, ";", &save); tok != NULL;
       tok = strtok_r(NULL, ";", &save)) {
    if (!pac_ip16(tok, ips[n].a, &ips[n].v6)) {
      duk_push_false(ctx);
      return 1;
    }
    n++;
  }
  if (n == 0) {
    duk_push_false(ctx);
    return 1;
  }
  qsort(ips, n, sizeof(*ips), pac_sort_cmp);
  for (size_t i = 0; i < n; i++) {
    if (ips[i].v6)
      inet_ntop(AF_INET6, ips[i].a, txt, sizeof(txt));
    else
      inet_ntop(AF_INET, ips[i].a + 12, txt, sizeof(txt));
    if (i > 0)
      duk_push_string(ctx, ";");
    duk_push_string(ctx, txt);
  }
  duk_concat(ctx, (duk_idx_t)(n * 2 - 1));
  return 1;
}

static duk_ret_t h_get_client_version(duk_context *ctx)
{
  duk_push_string(ctx, "1.0");
  return 1;
}

static const duk_function_list_entry pac_funcs[] = {
  { "isPlainHostName", h_is_plain_host_name, 1 },
  { "dnsDomainIs", h_dns_domain_is, 2 },
  { "localHostOrDomainIs", h_local_host_or_domain_is, 2 },
  { "isResolvable", h_is_resolvable, 1 },
  { "isInNet", h_is_in_net, 3 },
  { "dnsResolve", h_dns_resolve, 1 },
  { "convert_addr", h_convert_addr, 1 },
  { "myIpAddress", h_my_ip_address, 0 },
  { "dnsDomainLevels", h_dns_domain_levels, 1 },
  { "shExpMatch", h_sh_exp_match, 2 },
  { "weekdayRange", h_weekday_range, DUK_VARARGS },
  { "dateRange", h_date_range, DUK_VARARGS },
  { "timeRange", h_time_range, DUK_VARARGS },
  { "alert", h_alert, 1 },
  { "isResolvableEx", h_is_resolvable_ex, 1 },
  { "isInNetEx", h_is_in_net_ex, 2 },
  { "dnsResolveEx", h_dns_resolve_ex, 1 },
  { "myIpAddressEx", h_my_ip_address_ex, 0 },
  { "sortIpAddressList", h_sort_ip_address_list, 1 },
  { "getClientVersion", h_get_client_version, 0 },
  { NULL, NULL, 0 }
};

/* --------------------------------------------------- heap life cycle */

/* Formats the error at the stack top: "<toString> (line N)" unless the
 * message already names the line.  Protected: may run script getters. */
static duk_ret_t pac_fmt_safe(duk_context *ctx, void *udata)
{
  char **msg = udata;
  double line = 0;
  const char *s;
  size_t n;

  if (duk_is_object(ctx, 0)) {
    duk_get_prop_string(ctx, 0, "lineNumber");
    if (duk_is_number(ctx, -1))
      line = duk_get_number(ctx, -1);
    duk_pop(ctx);
  }
  s = duk_safe_to_string(ctx, 0);
  if (line > 0 && strstr(s, "line ") == NULL)
    duk_push_sprintf(ctx, "%s (line %.0f)", s, line);
  else
    duk_push_string(ctx, s);
  s = duk_get_string(ctx, -1);
  n = strlen(s) + 1;
  *msg = malloc(n);
  if (*msg != NULL)
    memcpy(*msg, s, n);
  return 0;
}

/* Error code and message for a failed protected call (error on top). */
static int pac_report(rf__pac *p, const char *what, char *err, size_t errlen)
{
  char *msg = NULL;
  int rc;

  duk_dup_top(p->ctx);
  duk_safe_call(p->ctx, pac_fmt_safe, &msg, 1, 1);
  duk_pop(p->ctx);
  if (p->timed_out) {
    rc = RF_ETIMEDOUT;
    pac_errf(err, errlen, "%s: execution timeout (%u ms)", what,
             p->lim.deadline_ms);
  } else if (p->alloc_failed) {
    rc = RF_EPROXY;
    pac_errf(err, errlen, "%s: memory limit (%zu bytes) reached: %s", what,
             p->lim.memory_bytes, msg != NULL ? msg : "?");
  } else {
    rc = RF_EPROXY;
    pac_errf(err, errlen, "%s: %s", what, msg != NULL ? msg : "error");
  }
  free(msg);
  return rc;
}

static duk_ret_t pac_load_safe(duk_context *ctx, void *udata)
{
  rf__pac *p = udata;

  duk_push_global_object(ctx);
  duk_del_prop_string(ctx, -1, "Duktape");
  duk_put_function_list(ctx, -1, pac_funcs);
  duk_pop(ctx);
  duk_push_string(ctx, "pac");
  duk_compile_lstring_filename(ctx, 0, p->script, p->script_len);
  duk_call(ctx, 0);
  duk_pop(ctx);
  duk_push_global_object(ctx);
  duk_get_prop_string(ctx, -1, "FindProxyForURLEx");
  duk_get_prop_string(ctx, -2, "FindProxyForURL");
  if (!duk_is_function(ctx, -1) && !duk_is_function(ctx, -2))
    return duk_error(ctx, DUK_ERR_REFERENCE_ERROR,
                     "FindProxyForURL is not defined");
  duk_pop_3(ctx);
  return 0;
}

struct pac_errbuf {
  char *err;
  size_t errlen;
};

static int pac_build_op(rf__pac *p, void *arg)
{
  struct pac_errbuf *e = arg;
  int rc = 0;

  p->alloc_failed = 0;
  /* An allocation failure inside duk_create_heap has no catchpoint yet:
   * Duktape 2.7 then recurses while formatting the fatal message until the
   * stack overflows.  So creation runs unlimited (it takes ~100 KiB; the
   * budget has a floor of RF__PAC_MIN_MEMORY) and counts afterwards. */
  p->no_limit = 1;
  p->ctx = duk_create_heap(pac_alloc, pac_realloc, pac_free, p, pac_fatal);
  p->no_limit = 0;
  if (p->ctx == NULL) {
    pac_errf(e->err, e->errlen, "cannot create the script heap");
    return RF_ENOMEM;
  }
  pac_arm(p);
  if (duk_safe_call(p->ctx, pac_load_safe, p, 0, 1) != DUK_EXEC_SUCCESS)
    rc = pac_report(p, "PAC script", e->err, e->errlen);
  duk_pop(p->ctx);
  p->armed = 0;
  return rc;
}

static int pac_destroy_op(rf__pac *p, void *arg)
{
  (void)arg;
  if (p->ctx != NULL) {
    pac_arm(p);
    p->timed_out = 1; /* no script code (finalizers) may run */
    duk_destroy_heap(p->ctx);
    p->ctx = NULL;
    p->armed = 0;
  }
  return 0;
}

static void pac_destroy(rf__pac *p)
{
  pac_guard(p, pac_destroy_op, NULL);
  pac_blk_free_all(p); /* no-op unless Duktape leaked */
}

static int pac_build(rf__pac *p, char *err, size_t errlen)
{
  struct pac_errbuf e = { err, errlen };
  int rc = pac_guard(p, pac_build_op, &e);

  if (rc == RF_EPROXY && p->fatal_msg[0] != '\0')
    pac_errf(err, errlen, "PAC script: %s", p->fatal_msg);
  if (rc != 0)
    pac_destroy(p);
  return rc;
}

int rf__pac_new(rf__pac **out, const char *script, size_t len,
                const rf__pac_limits *lim, const rf__pac_dns *dns, char *err,
                size_t errlen)
{
  rf__pac *p = NULL;
  int rc;

  pac_errf(err, errlen, "%s", "");
  if (out != NULL)
    *out = NULL;
  if (out == NULL || script == NULL) {
    pac_errf(err, errlen, "invalid argument");
    return RF_EINVAL;
  }
  if (len > RF__PAC_MAX_SCRIPT) {
    pac_errf(err, errlen, "PAC script larger than %u bytes",
             RF__PAC_MAX_SCRIPT);
    return RF_ETOOBIG;
  }
  p = calloc(1, sizeof(*p));
  if (p == NULL)
    return RF_ENOMEM;
  p->blocks.h.next = p->blocks.h.prev = &p->blocks;
  if (lim != NULL)
    p->lim = *lim;
  if (p->lim.deadline_ms == 0)
    p->lim.deadline_ms = RF__PAC_DEFAULT_DEADLINE_MS;
  if (p->lim.memory_bytes == 0)
    p->lim.memory_bytes = RF__PAC_DEFAULT_MEMORY;
  if (p->lim.memory_bytes < RF__PAC_MIN_MEMORY) {
    pac_errf(err, errlen, "memory limit below %u bytes", RF__PAC_MIN_MEMORY);
    rc = RF_EINVAL;
    goto out;
  }
  p->dns = dns != NULL ? *dns : rf__pac_dns_default;
  p->script = malloc(len + 1);
  if (p->script == NULL) {
    rc = RF_ENOMEM;
    goto out;
  }
  memcpy(p->script, script, len);
  p->script[len] = '\0';
  p->script_len = len;
  rc = pac_build(p, err, errlen);
  if (rc != 0)
    goto out;
  *out = p;
  p = NULL;
out:
  rf__pac_free(p);
  return rc;
}

/* "scheme://host[:port]/" and the unbracketed, lower-cased host. */
static int pac_sanitize(const char *url, char **san, char **host_out)
{
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL, *port = NULL;
  int rc = RF_EURL, v6;
  size_t hl, n;

  *san = *host_out = NULL;
  if (u == NULL)
    return RF_ENOMEM;
  if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) ||
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
      curl_url_get(u, CURLUPART_HOST, &host, 0))
    goto out;
  if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
    port = NULL;
  hl = strlen(host);
  v6 = hl >= 2 && host[0] == '[' && host[hl - 1] == ']';
  if (hl == 0 || hl - (v6 ? 2u : 0u) == 0)
    goto out;
  rc = RF_ENOMEM;
  *host_out = malloc(hl + 1);
  n = strlen(scheme) + hl + (port != NULL ? strlen(port) + 1 : 0) + 5;
  *san = malloc(n);
  if (*host_out == NULL || *san == NULL)
    goto out;
  for (size_t i = 0; i < hl; i++)
    host[i] =
        (char)((host[i] >= 'A' && host[i] <= 'Z') ? host[i] + 32 : host[i]);
  memcpy(*host_out, host + v6, hl - 2u * (size_t)v6);
  (*host_out)[hl - 2u * (size_t)v6] = '\0';
  snprintf(*san, n, "%s://%s%s%s/", scheme, host, port != NULL ? ":" : "",
           port != NULL ? port : "");
  rc = 0;
out:
  if (rc != 0) {
    free(*san);
    free(*host_out);
    *san = *host_out = NULL;
  }
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_url_cleanup(u);
  return rc;
}

struct pac_call {
  const char *url, *host;
  char *result;
  int rc;
  char *err;
  size_t errlen;
};

static duk_ret_t pac_find_safe(duk_context *ctx, void *udata)
{
  struct pac_call *c = udata;
  duk_size_t l;
  const char *r;

  duk_push_global_object(ctx);
  duk_get_prop_string(ctx, -1, "FindProxyForURLEx");
  if (!duk_is_function(ctx, -1)) {
    duk_pop(ctx);
    duk_get_prop_string(ctx, -1, "FindProxyForURL");
    if (!duk_is_function(ctx, -1))
      return duk_error(ctx, DUK_ERR_REFERENCE_ERROR,
                       "FindProxyForURL is not defined");
  }
  duk_push_string(ctx, c->url);
  duk_push_string(ctx, c->host);
  duk_call(ctx, 2);
  if (!duk_is_string(ctx, -1)) {
    c->rc = RF_EPROXY;
    pac_errf(c->err, c->errlen, "FindProxyForURL returned a %s, not a string",
             duk_is_null_or_undefined(ctx, -1) ? "null/undefined"
                                               : "non-string");
    return 0;
  }
  r = duk_get_lstring(ctx, -1, &l);
  if (l > RF__PAC_MAX_RESULT) {
    c->rc = RF_EPROXY;
    pac_errf(c->err, c->errlen, "PAC result longer than %u bytes",
             RF__PAC_MAX_RESULT);
    return 0;
  }
  for (duk_size_t i = 0; i < l; i++)
    if ((unsigned char)r[i] >= 0x80 || r[i] == '\0') {
      c->rc = RF_EPROXY;
      pac_errf(c->err, c->errlen, "PAC result is not ASCII");
      return 0;
    }
  c->result = malloc(l + 1);
  if (c->result == NULL) {
    c->rc = RF_ENOMEM;
    return 0;
  }
  memcpy(c->result, r, l + 1);
  return 0;
}

static int pac_find_op(rf__pac *p, void *arg)
{
  struct pac_call *c = arg;
  int rc;

  p->alloc_failed = 0;
  pac_arm(p);
  if (duk_safe_call(p->ctx, pac_find_safe, c, 0, 1) != DUK_EXEC_SUCCESS)
    rc = pac_report(p, "FindProxyForURL", c->err, c->errlen);
  else
    rc = c->rc;
  duk_pop(p->ctx);
  p->armed = 0;
  return rc;
}

int rf__pac_find(rf__pac *p, const char *url, char **result_out, char *err,
                 size_t errlen)
{
  struct pac_call c = { NULL, NULL, NULL, 0, err, errlen };
  char *san = NULL, *host = NULL;
  int rc;

  pac_errf(err, errlen, "%s", "");
  if (result_out != NULL)
    *result_out = NULL;
  if (p == NULL || url == NULL || result_out == NULL)
    return RF_EINVAL;
  pac_cache_clear(p);
  rc = pac_sanitize(url, &san, &host);
  if (rc != 0) {
    pac_errf(err, errlen, "cannot parse URL");
    goto out;
  }
  if (p->ctx == NULL) {
    rc = pac_build(p, err, errlen);
    if (rc != 0)
      goto out;
  }
  c.url = san;
  c.host = host;
  rc = pac_guard(p, pac_find_op, &c);
  if (rc == RF_EPROXY && p->fatal_msg[0] != '\0')
    pac_errf(err, errlen, "FindProxyForURL: %s", p->fatal_msg);
  /* A heap that ran out of time or memory may hold garbage the script
   * keeps reachable: start afresh next time. */
  if (p->ctx != NULL && (rc == RF_ETIMEDOUT || p->alloc_failed))
    pac_destroy(p);
  if (rc == 0) {
    *result_out = c.result;
    c.result = NULL;
  }
out:
  free(c.result);
  free(san);
  free(host);
  return rc;
}

const char *rf__pac_alerts(const rf__pac *p)
{
  return p != NULL ? p->alerts : "";
}

void rf__pac_free(rf__pac *p)
{
  if (p == NULL)
    return;
  pac_destroy(p);
  pac_cache_clear(p);
  free(p->script);
  free(p);
}

/* ------------------------------------------------- default resolver */

static int pac_strv_add(char ***v, size_t *n, const char *s)
{
  char **nv;

  for (size_t i = 0; i < *n; i++)
    if (strcmp((*v)[i], s) == 0)
      return 0;
  nv = realloc(*v, (*n + 1) * sizeof(*nv));
  if (nv == NULL)
    return -1;
  *v = nv;
  nv[*n] = strdup(s);
  if (nv[*n] == NULL)
    return -1;
  (*n)++;
  return 0;
}

static int pac_sa_text(const struct sockaddr *sa, char *buf, size_t len)
{
  if (sa->sa_family == AF_INET)
    return inet_ntop(AF_INET,
                     &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                     buf, (socklen_t)len) != NULL;
  if (sa->sa_family == AF_INET6)
    return inet_ntop(
               AF_INET6,
               &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf,
               (socklen_t)len) != NULL;
  return 0;
}

static int pac_dflt_resolve(void *ud, const char *host, int want_v6_too,
                            char ***addrs_out, size_t *n_out)
{
  struct addrinfo hints, *res = NULL, *ai;
  char txt[INET6_ADDRSTRLEN];
  int rc = 0;

  (void)ud;
  *addrs_out = NULL;
  *n_out = 0;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = want_v6_too ? AF_UNSPEC : AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host, NULL, &hints, &res) != 0)
    return -1;
  for (ai = res; ai != NULL && rc == 0; ai = ai->ai_next)
    if (pac_sa_text(ai->ai_addr, txt, sizeof(txt)))
      rc = pac_strv_add(addrs_out, n_out, txt);
  freeaddrinfo(res);
  if (rc != 0) {
    pac_strv_free(*addrs_out, *n_out);
    *addrs_out = NULL;
    *n_out = 0;
  }
  return rc;
}

/* The source address the kernel would use towards target (no packet is
 * sent: connect() on a UDP socket only picks a route). */
static void pac_route_probe(int family, const char *target, char ***v,
                            size_t *n)
{
  struct sockaddr_storage ss, me;
  socklen_t sl, ml = sizeof(me);
  char txt[INET6_ADDRSTRLEN];
  int fd;

  memset(&ss, 0, sizeof(ss));
  if (family == AF_INET) {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

    s4->sin_family = AF_INET;
    s4->sin_port = htons(53);
    inet_pton(AF_INET, target, &s4->sin_addr);
    sl = sizeof(*s4);
  } else {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(53);
    inet_pton(AF_INET6, target, &s6->sin6_addr);
    sl = sizeof(*s6);
  }
  fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return;
  if (connect(fd, (struct sockaddr *)&ss, sl) == 0 &&
      getsockname(fd, (struct sockaddr *)&me, &ml) == 0 &&
      pac_sa_text((struct sockaddr *)&me, txt, sizeof(txt)))
    pac_strv_add(v, n, txt);
  close(fd);
}

static int pac_dflt_my(void *ud, char ***addrs_out, size_t *n_out)
{
  struct ifaddrs *ifs = NULL, *i;
  char txt[INET6_ADDRSTRLEN];

  (void)ud;
  *addrs_out = NULL;
  *n_out = 0;
  pac_route_probe(AF_INET6, "2001:4860:4860::8888", addrs_out, n_out);
  pac_route_probe(AF_INET, "8.8.8.8", addrs_out, n_out);
  if (*n_out == 0 && getifaddrs(&ifs) == 0) {
    for (i = ifs; i != NULL; i = i->ifa_next)
      if (i->ifa_addr != NULL && (i->ifa_flags & IFF_UP) &&
          !(i->ifa_flags & IFF_LOOPBACK) &&
          pac_sa_text(i->ifa_addr, txt, sizeof(txt)) &&
          strncmp(txt, "fe80:", 5) != 0)
        pac_strv_add(addrs_out, n_out, txt);
    freeifaddrs(ifs);
  }
  return *n_out > 0 ? 0 : -1;
}

const rf__pac_dns rf__pac_dns_default = { pac_dflt_resolve, pac_dflt_my, NULL };
