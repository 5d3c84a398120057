/* Byte counts, hex digits, UTF-8 and small text helpers (util/text.h). */
#include <stdarg.h>
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rangefetch/rangefetch.h"
#include "util/http.h"

int rf_parse_size(uint64_t *out, const char *text)
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

void rf__errbuf_set(char *err, size_t errlen, const char *fmt, ...)
{
  va_list ap;

  if (err == NULL || errlen == 0)
    return;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}
