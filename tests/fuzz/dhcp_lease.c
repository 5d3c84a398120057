/*
 * The DHCP lease readers (engine/proxy/wpad_dhcp.c) and option 235
 * (engine/source/cachehost.c): lease files hold what a DHCP server sent.
 *
 * Input: a dhclient.conf text, a NUL byte, then a lease file (dhclient or
 * systemd-networkd); without a NUL byte, all of it is the lease file.  The
 * names the configuration declares for option 235 are read, then options
 * 252 (WPAD) and 235 (cache hosts) are looked up in the lease with both
 * parsers, their values judged as a PAC URL and as a cache host list.
 */
#include "fuzz.h"

#include "proxy/dhcp_lease.h"
#include "proxy/wpad.h"
#include "rangefetch/cachehost.h"
#include "rangefetch/rangefetch.h"
#include "source/cachehost.h"

#define NOW 1710513045

static void check_answer(const rf__dhcp_answer *a, int rc)
{
  if (rc != 0)
    fuzz_fail("dhcp parse returned %d", rc);
  switch (a->found) {
  case RF__DHCP_VALUE:
    if (a->value == NULL || a->value[a->value_len] != '\0' ||
        a->value_len > RF__DHCP_VALUE_MAX || a->why != NULL)
      fuzz_fail("dhcp parse: a bad value");
    break;
  case RF__DHCP_BAD_VALUE:
    if (a->value != NULL || a->why == NULL)
      fuzz_fail("dhcp parse: a bad value without a reason");
    break;
  case RF__DHCP_NO_LEASE:
  case RF__DHCP_EXPIRED:
  case RF__DHCP_NO_OPTION:
    if (a->value != NULL || a->why != NULL)
      fuzz_fail("dhcp parse: a value without an option");
    break;
  default:
    fuzz_fail("dhcp parse: found %d", (int)a->found);
  }
}

static void wpad_value(const rf__dhcp_answer *a)
{
  char *url = NULL;
  int rc;

  if (a->found != RF__DHCP_VALUE)
    return;
  rc = rf__wpad_parse_url(&url, a->value, a->value_len);
  if ((rc == 0) != (url != NULL) || (rc != 0 && rc != RF_EURL))
    fuzz_fail("wpad_parse_url returned %d", rc);
  if (url != NULL && strncmp(url, "http", 4) != 0)
    fuzz_fail("wpad_parse_url gave '%s'", url);
  free(url);
}

static void cache_value(const rf__dhcp_answer *a)
{
  rf_cache_host_list *list = NULL;
  rf_cache_dhcp *d = NULL;
  char why[300];
  int rc;

  if (a->found != RF__DHCP_VALUE)
    return;
  rc = rf__cache_dhcp_value(&list, why, sizeof(why), a->value, a->value_len);
  if (rc != 0 && rc != RF_EINVAL)
    fuzz_fail("cache_dhcp_value returned %d", rc);
  if (rc == 0 &&
      (list == NULL || list->count == 0 || list->count > RF_CACHE_HOST_MAX))
    fuzz_fail("cache_dhcp_value: a list of %zu", list ? list->count : 0);
  rf_cache_host_list_free(list);
  rc = rf_cache_dhcp_from_value(&d, a->value, a->value_len, "lease");
  if (rc != 0 || d == NULL || d->tried == NULL)
    fuzz_fail("cache_dhcp_from_value returned %d", rc);
  if ((d->status == RF_CACHE_DHCP_FOUND) != (d->hosts != NULL))
    fuzz_fail("cache_dhcp_from_value: status %d", (int)d->status);
  rf_cache_dhcp_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const char *const wpad_names[] = { "wpad", "wpad-url", NULL };
  static const rf__dhcp_option wpad = { 252, wpad_names };
  const uint8_t *nul = size > 0 ? memchr(data, '\0', size) : NULL;
  size_t clen = nul != NULL ? (size_t)(nul - data) : 0;
  size_t llen = nul != NULL ? size - clen - 1 : size;
  char *conf = fuzz_bytes(data, clen);
  char *lease = fuzz_bytes(nul != NULL ? nul + 1 : data, llen);
  char **names = NULL, *url = NULL;
  const char *why = NULL;
  rf__dhcp_option cache;
  rf__dhcp_answer a;
  int rc;

  rc = rf__dhcp_declared_names(&names, conf, clen, 235);
  if (rc != 0 || names == NULL)
    fuzz_fail("dhcp_declared_names returned %d", rc);
  cache.code = 235;
  cache.names = (const char *const *)names;

  check_answer(&a, rf__dhcp_parse_lease(&a, lease, llen, &wpad, NOW));
  wpad_value(&a);
  rf__dhcp_answer_free(&a);
  check_answer(&a, rf__dhcp_parse_lease(&a, lease, llen, &cache, NOW));
  cache_value(&a);
  rf__dhcp_answer_free(&a);
  /* Both formats, whatever the text looks like. */
  check_answer(&a, rf__dhcp_parse_dhclient(&a, lease, llen, &cache, 0));
  rf__dhcp_answer_free(&a);
  check_answer(&a, rf__dhcp_parse_networkd(&a, lease, llen, 252));
  rf__dhcp_answer_free(&a);

  rc = rf__wpad_parse_leases(&url, &why, lease, llen, NOW);
  if ((rc == 0) != (url != NULL) ||
      (rc != 0 && rc != RF_ENOENT && rc != RF_EURL))
    fuzz_fail("wpad_parse_leases returned %d", rc);
  if (rc != 0 && why == NULL)
    fuzz_fail("wpad_parse_leases failed without a reason");
  free(url);
  free(names);
  free(conf);
  free(lease);
  return 0;
}
