/*
 * The PAC result-string parser (rf__pac_parse_result,
 * engine/proxy/pac_result.c): the string a PAC script returns, which the
 * script's author (or whoever serves the script) chooses.
 */
#include "fuzz.h"

#include "proxy/pac.h"
#include "rangefetch/rangefetch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *s = fuzz_cstr(data, size);
  rf__pac_candidate *c = NULL;
  size_t n = 99;
  int rc = rf__pac_parse_result(s, &c, &n);

  if (rc == 0) {
    if (c == NULL || n == 0)
      fuzz_fail("parse_result: success with %zu candidates", n);
    for (size_t i = 0; i < n; i++) {
      size_t hl = strnlen(c[i].host, sizeof(c[i].host));
      if (hl == sizeof(c[i].host))
        fuzz_fail("parse_result: host %zu not terminated", i);
      if ((c[i].kind == RF__PAC_DIRECT) != (hl == 0) ||
          (c[i].kind == RF__PAC_DIRECT) != (c[i].port == 0))
        fuzz_fail("parse_result: candidate %zu of kind %d, host '%s' port %u",
                  i, (int)c[i].kind, c[i].host, (unsigned)c[i].port);
    }
  } else if (rc != RF_EPROXY || c != NULL || n != 0) {
    fuzz_fail("parse_result returned %d with %zu candidates", rc, n);
  }
  free(c);
  free(s);
  return 0;
}
