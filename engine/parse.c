/* Parsers for Content-Range, Retry-After, HTTP dates and byte counts. */
#include "parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "rangefetch/rangefetch.h"

static int is_blank(char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void trim(const char **s, size_t *len)
{
  while (*len > 0 && is_blank(**s)) {
    (*s)++;
    (*len)--;
  }
  while (*len > 0 && is_blank((*s)[*len - 1]))
    (*len)--;
}

/* Parse decimal digits at s[*i..len); at least one digit; no overflow. */
static int parse_u64(const char *s, size_t len, size_t *i, uint64_t *out)
{
  uint64_t v = 0;
  size_t start = *i;

  while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
    unsigned d = (unsigned)(s[*i] - '0');
    if (v > (UINT64_MAX - d) / 10)
      return RF_ETOOBIG;
    v = v * 10 + d;
    (*i)++;
  }
  if (*i == start)
    return RF_EINVAL;
  *out = v;
  return 0;
}

int rf__parse_content_range(const char *s, size_t len, rf__content_range *out)
{
  rf__content_range cr = { 0, 0, 0, RF_SIZE_UNKNOWN };
  size_t i = 0;

  trim(&s, &len);
  if (len < 6 || strncasecmp(s, "bytes", 5) != 0 || !is_blank(s[5]))
    return RF_EPROTO;
  i = 5;
  while (i < len && is_blank(s[i]))
    i++;
  if (i < len && s[i] == '*') {
    cr.unsatisfied = 1;
    i++;
  } else {
    if (parse_u64(s, len, &i, &cr.first) != 0)
      return RF_EPROTO;
    if (i >= len || s[i] != '-')
      return RF_EPROTO;
    i++;
    if (parse_u64(s, len, &i, &cr.last) != 0)
      return RF_EPROTO;
    if (cr.last < cr.first)
      return RF_EPROTO;
  }
  if (i >= len || s[i] != '/')
    return RF_EPROTO;
  i++;
  if (i < len && s[i] == '*' && !cr.unsatisfied) {
    i++;
  } else {
    if (parse_u64(s, len, &i, &cr.complete) != 0)
      return RF_EPROTO;
    if (!cr.unsatisfied && cr.last >= cr.complete)
      return RF_EPROTO;
  }
  if (i != len)
    return RF_EPROTO;
  *out = cr;
  return 0;
}

int rf_parse_size(uint64_t *out, const char *text)
{
  size_t len, i = 0;
  uint64_t v, mult = 1;
  const char *suf;
  int rc;

  if (text == NULL || out == NULL)
    return RF_EINVAL;
  len = strlen(text);
  rc = parse_u64(text, len, &i, &v);
  if (rc != 0)
    return rc;
  suf = text + i;
  if (*suf != '\0') {
    switch (*suf) {
    case 'k':
    case 'K':
      mult = 1ULL << 10;
      break;
    case 'm':
    case 'M':
      mult = 1ULL << 20;
      break;
    case 'g':
    case 'G':
      mult = 1ULL << 30;
      break;
    case 't':
    case 'T':
      mult = 1ULL << 40;
      break;
    case 'b':
    case 'B':
      break;
    default:
      return RF_EINVAL;
    }
    if (*suf != 'b' && *suf != 'B') {
      suf++;
      if (*suf == 'i' || *suf == 'I')
        suf++;
      if (*suf == 'b' || *suf == 'B')
        suf++;
    } else {
      suf++;
    }
    if (*suf != '\0')
      return RF_EINVAL;
  }
  if (mult > 1 && v > UINT64_MAX / mult)
    return RF_ETOOBIG;
  *out = v * mult;
  return 0;
}

static int month_index(const char *m)
{
  static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  int k;

  for (k = 0; k < 12; k++)
    if (strncmp(names + 3 * k, m, 3) == 0)
      return k;
  return -1;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), m 1..12. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
  int64_t era, yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int rf__parse_http_date(const char *s, size_t len, int64_t *out)
{
  char buf[64], mon[4] = { 0 }, wk[16];
  int d = 0, y = 0, hh = 0, mm = 0, ss = 0, n = 0, mi;

  trim(&s, &len);
  if (len == 0 || len >= sizeof(buf))
    return RF_EINVAL;
  memcpy(buf, s, len);
  buf[len] = '\0';
  /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
  if (sscanf(buf, "%3s, %2d %3s %4d %2d:%2d:%2d GMT%n", wk, &d, mon, &y, &hh,
             &mm, &ss, &n) == 7 &&
      (size_t)n == len) {
    ;
  } else if (sscanf(buf, "%15[A-Za-z], %2d-%3s-%2d %2d:%2d:%2d GMT%n", wk, &d,
                    mon, &y, &hh, &mm, &ss, &n) == 7 &&
             (size_t)n == len) {
    /* RFC 850: two-digit year, interpreted per RFC 9110 (50-year rule). */
    y += y < 70 ? 2000 : 1900;
  } else if (sscanf(buf, "%3s %3s %2d %2d:%2d:%2d %4d%n", wk, mon, &d, &hh,
                    &mm, &ss, &y, &n) == 7 &&
             (size_t)n == len) {
    ;
  } else {
    return RF_EINVAL;
  }
  mi = month_index(mon);
  if (mi < 0 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60 ||
      y < 1970 || y > 9999)
    return RF_EINVAL;
  *out = days_from_civil(y, mi + 1, d) * 86400 + hh * 3600 + mm * 60 + ss;
  return 0;
}

int rf__parse_retry_after(const char *s, size_t len, int64_t now,
                          uint64_t *out_ms)
{
  const uint64_t cap = 86400ULL * 1000;
  uint64_t secs;
  int64_t when;
  size_t i = 0;

  trim(&s, &len);
  if (len > 0 && s[0] >= '0' && s[0] <= '9') {
    int rc = parse_u64(s, len, &i, &secs);
    if (rc == RF_ETOOBIG) {
      *out_ms = cap;
      return 0;
    }
    if (rc != 0 || i != len)
      return RF_EINVAL;
    *out_ms = secs > cap / 1000 ? cap : secs * 1000;
    return 0;
  }
  if (rf__parse_http_date(s, len, &when) != 0)
    return RF_EINVAL;
  if (when <= now)
    *out_ms = 0;
  else
    *out_ms = (uint64_t)(when - now) * 1000 > cap ? cap
                                                 : (uint64_t)(when - now) * 1000;
  return 0;
}

int rf__header_match(const char *s, size_t len, const char *name,
                     const char **value, size_t *value_len)
{
  size_t n = strlen(name);
  const char *v;
  size_t vl;

  if (len <= n || strncasecmp(s, name, n) != 0 || s[n] != ':')
    return 0;
  v = s + n + 1;
  vl = len - n - 1;
  trim(&v, &vl);
  *value = v;
  *value_len = vl;
  return 1;
}

char *rf__human_bytes(char *buf, size_t size, uint64_t n)
{
  static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
  double v = (double)n;
  unsigned u = 0;

  while (v >= 1024.0 && u < 5) {
    v /= 1024.0;
    u++;
  }
  if (u == 0)
    snprintf(buf, size, "%llu B", (unsigned long long)n);
  else
    snprintf(buf, size, "%.1f %s", v, units[u]);
  return buf;
}

char *rf__strdup_opt(const char *s, int *oom)
{
  char *d;

  if (s == NULL)
    return NULL;
  d = strdup(s);
  if (d == NULL)
    *oom = 1;
  return d;
}
