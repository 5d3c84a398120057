/* Small text helpers shared by the library and the CLI (textutil.h). */
#include "textutil.h"

int rfx_hexval(int c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

size_t rfx_utf8_len(const unsigned char *s, size_t n)
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
