/*
 * The resolv.conf reader (rf__wpad_parse_resolv, engine/proxy/wpad_dns.c)
 * and what WPAD makes of its search domains (rf__wpad_candidates with
 * libpsl's built-in list): DHCP and VPN clients write resolv.conf from
 * what a network says.  Every candidate must be a wpad.<domain> name of at
 * most 253 characters, never wpad.<public suffix>.
 */
#include "fuzz.h"

#include "proxy/wpad.h"
#include "rangefetch/rangefetch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const psl_ctx_t *psl = psl_builtin();
  char *text = fuzz_bytes(data, size);
  char **domains = NULL;
  rf__wpad_candidate *c = NULL;
  size_t n = 0, nc = 0, skipped = 0, count = 0;
  int rc;

  rc = rf__wpad_parse_resolv(&domains, &n, text, size);
  if (rc != 0 || domains == NULL)
    fuzz_fail("wpad_parse_resolv returned %d", rc);
  while (domains[count] != NULL)
    count++;
  if (count != n)
    fuzz_fail("wpad_parse_resolv: %zu domains, says %zu", count, n);
  if (psl == NULL)
    fuzz_fail("no built-in public suffix list");
  rc = rf__wpad_candidates(&c, &nc, &skipped, psl, (const char *const *)domains,
                           0);
  if (rc != 0 || nc > RF__WPAD_DEFAULT_MAX_CANDIDATES ||
      (nc > 0) != (c != NULL))
    fuzz_fail("wpad_candidates returned %d with %zu", rc, nc);
  for (size_t i = 0; i < nc; i++) {
    size_t l = strnlen(c[i].name, sizeof(c[i].name));
    if (l == sizeof(c[i].name) || strncmp(c[i].name, "wpad.", 5) != 0 ||
        psl_is_public_suffix(psl, c[i].name + 5))
      fuzz_fail("wpad_candidates: a bad candidate");
  }
  free(c);
  free(domains);
  free(text);
  return 0;
}
