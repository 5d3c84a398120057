/*
 * The PAC helper functions, in C after the semantics in docs/pac.md (not
 * Mozilla's JavaScript, for licensing): Netscape's (isPlainHostName,
 * dnsDomainIs, dnsResolve, isInNet, shExpMatch, ..., and the time helpers
 * weekdayRange, dateRange and timeRange) and Microsoft's IPv6 extensions
 * (dnsResolveEx, isInNetEx, sortIpAddressList, ...).  Name lookups go
 * through the evaluator's injected resolver, cached per evaluation.  The
 * sandbox that runs them is in pac.c.
 */
#include "pac_int.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* ------------------------------------------------------------------ DNS */

void rf__pac_strv_free(char **v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

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

void rf__pac_cache_clear(rf__pac *p)
{
  for (size_t i = 0; i < p->ncache; i++) {
    free(p->cache[i].name);
    rf__pac_strv_free(p->cache[i].addrs, p->cache[i].n);
  }
  p->ncache = 0;
  rf__pac_strv_free(p->my_addrs, p->my_n);
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
  rf__pac *p = rf__pac_of(ctx);
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
  rf__pac *p = rf__pac_of(ctx);
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
  rf__pac *p = rf__pac_of(ctx);
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
  rf__pac *p = rf__pac_of(ctx);
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
  pac_tm(rf__pac_of(ctx), local, &g);
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
  rf__pac *p = rf__pac_of(ctx);
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
  rf__pac *p = rf__pac_of(ctx);

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

const duk_function_list_entry rf__pac_funcs[] = {
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
