/* Byte counts, hex digits, UTF-8 and small text helpers (parse.h). */
#include "parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rangefetch/rangefetch.h"
#include "util/http.h"

int rf_parse_size(const char *text, uint64_t *out)
{
  size_t len, i = 0;
  uint64_t v, mult = 1;
  const char *suf;
  int rc;

  if (text == NULL || out == NULL)
    return RF_EINVAL;
  len = strlen(text);
  rc = rf__parse_u64(text, len, &i, &v);
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

int rf__hexval(int c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

size_t rf__utf8_len(const unsigned char *s, size_t n)
{
  size_t k, more;
  unsigned long cp;

  if (n == 0)
    return 0;
  if (s[0] < 0x80)
    return 1;
  if (s[0] >= 0xc2 && s[0] <= 0xdf) {
    more = 1;
    cp = s[0] & 0x1fu;
  } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
    more = 2;
    cp = s[0] & 0x0fu;
  } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
    more = 3;
    cp = s[0] & 0x07u;
  } else {
    return 0;
  }
  if (n <= more)
    return 0;
  for (k = 1; k <= more; k++) {
    if ((s[k] & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[k] & 0x3fu);
  }
  if ((more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000) ||
      (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
    return 0;
  return more + 1;
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
