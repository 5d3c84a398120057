/*
 * The PAC evaluator (rf__pac_new, rf__pac_find, engine/proxy/pac.c) with
 * hostile scripts: the input is a PAC script, which whoever serves it (or
 * answers WPAD) writes.  It is compiled under a 100 ms deadline and a
 * 4 MiB heap cap, with a fake DNS and a fixed clock (deterministic, no
 * network), then FindProxyForURL is called for a few URLs and each answer
 * goes to the result parser.
 *
 * The limits must hold: every call returns within the deadline plus one
 * regular expression (Duktape cannot stop a regexp midway; its step limit,
 * 1e7, bounds it), here 5 s, or the target aborts; a loop is ended by the
 * deadline, a memory bomb by the cap; the evaluator stays usable after any
 * error.
 */
#include "fuzz.h"

#include <time.h>

#include "proxy/pac.h"
#include "rangefetch/rangefetch.h"

#define DEADLINE_MS 100u
#define MEMORY      (4u * 1024u * 1024u)
#define CALL_MAX_MS 5000.0
#define NOW         1710513045 /* Friday 2024-03-15 14:30:45 UTC */

static int64_t fixed_clock(void *ud)
{
  (void)ud;
  return NOW;
}

static char **addrs(size_t *n, const char *const *src, size_t k)
{
  char **v = malloc((k > 0 ? k : 1) * sizeof(*v));

  if (v == NULL)
    abort();
  for (size_t i = 0; i < k; i++) {
    size_t l = strlen(src[i]) + 1;
    v[i] = malloc(l);
    if (v[i] == NULL)
      abort();
    memcpy(v[i], src[i], l);
  }
  *n = k;
  return v;
}

/* www.example.com and intranet resolve, *.example.com to one IPv4 address,
 * v6only.test to IPv6 only; nothing else. */
static int fake_resolve(void *ud, const char *host, int v6, char ***out,
                        size_t *n)
{
  static const char *const www[] = { "2606:2800:220:1::1", "93.184.216.34" };
  static const char *const intranet[] = { "10.1.2.3" };
  static const char *const v6only[] = { "2001:db8::5" };
  size_t hl = strlen(host);

  (void)ud;
  if (strcmp(host, "www.example.com") == 0) {
    *out = v6 ? addrs(n, www, 2) : addrs(n, www + 1, 1);
    return 0;
  }
  if (strcmp(host, "intranet") == 0 ||
      (hl > 12 && strcmp(host + hl - 12, ".example.com") == 0)) {
    *out = addrs(n, intranet, 1);
    return 0;
  }
  if (strcmp(host, "v6only.test") == 0) {
    *out = addrs(n, v6only, v6 ? 1 : 0);
    return 0;
  }
  return -1;
}

static int fake_my_addresses(void *ud, char ***out, size_t *n)
{
  static const char *const mine[] = { "192.168.1.10", "2001:db8::10" };

  (void)ud;
  *out = addrs(n, mine, 2);
  return 0;
}

static const rf__pac_dns fake_dns = { fake_resolve, fake_my_addresses, NULL };

static double ms_since(const struct timespec *t0)
{
  struct timespec t1;

  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
         (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void check_time(const struct timespec *t0, const char *what)
{
  double ms = ms_since(t0);

  if (ms > CALL_MAX_MS)
    fuzz_fail("%s ran %.0f ms with a %u ms deadline", what, ms, DEADLINE_MS);
}

static void find(rf__pac *p, const char *url)
{
  struct timespec t0;
  rf__pac_candidate *c = NULL;
  char *res = NULL, err[512];
  size_t n = 0, len;
  int rc;

  clock_gettime(CLOCK_MONOTONIC, &t0);
  rc = rf__pac_find(p, url, &res, err, sizeof(err));
  check_time(&t0, "FindProxyForURL");
  if (rc != 0 && rc != RF_ETIMEDOUT && rc != RF_EPROXY && rc != RF_ENOMEM)
    fuzz_fail("pac_find returned %d: %s", rc, err);
  if ((rc == 0) != (res != NULL))
    fuzz_fail("pac_find returned %d with result %p", rc, (void *)res);
  if (rf__pac_alerts(p) == NULL)
    fuzz_fail("pac_alerts is NULL");
  if (res == NULL)
    return;
  len = strlen(res);
  if (len > RF__PAC_MAX_RESULT)
    fuzz_fail("a result of %zu bytes", len);
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)res[i] >= 0x80)
      fuzz_fail("a result that is not ASCII");
  if (rf__pac_parse_result(res, &c, &n) == 0 && n == 0)
    fuzz_fail("parse_result: success without candidates");
  free(c);
  free(res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const char *const urls[] = {
    "http://www.example.com/index.html",
    "https://user:secret@intranet:8443/a/b?q=1#frag",
    "http://[2001:DB8::1]:8080/",
  };
  static int tz_set;
  rf__pac_limits lim = { DEADLINE_MS, MEMORY, fixed_clock, NULL };
  struct timespec t0;
  rf__pac *p = NULL;
  char *script = fuzz_bytes(data, size);
  char err[512];
  int rc;

  if (!tz_set) { /* weekdayRange & co. read local time */
    setenv("TZ", "UTC", 1);
    tzset();
    tz_set = 1;
  }
  clock_gettime(CLOCK_MONOTONIC, &t0);
  rc = rf__pac_new(&p, script, size, &lim, &fake_dns, err, sizeof(err));
  check_time(&t0, "the top level");
  if (rc != 0 && rc != RF_ETIMEDOUT && rc != RF_EPROXY && rc != RF_ETOOBIG &&
      rc != RF_ENOMEM)
    fuzz_fail("pac_new returned %d: %s", rc, err);
  if ((rc == 0) != (p != NULL))
    fuzz_fail("pac_new returned %d with evaluator %p", rc, (void *)p);
  if (p != NULL) {
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++)
      find(p, urls[i]);
    find(p, urls[0]); /* again: after a timeout the heap was rebuilt */
  }
  rf__pac_free(p);
  free(script);
  return 0;
}
