/* libcurl's allocations, counted, the Nth one failed (curlfail.h). */
#include "curlfail.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

static long count, fail_at;

/* Whether this allocation is the one to fail. */
static int fail_now(void)
{
  return ++count == fail_at;
}

static void *cf_malloc(size_t n)
{
  return fail_now() ? NULL : malloc(n);
}

static void *cf_calloc(size_t n, size_t m)
{
  return fail_now() ? NULL : calloc(n, m);
}

static void *cf_realloc(void *p, size_t n)
{
  return n != 0 && fail_now() ? NULL : realloc(p, n);
}

static char *cf_strdup(const char *s)
{
  size_t n = strlen(s) + 1;
  char *d = cf_malloc(n);

  if (d != NULL)
    memcpy(d, s, n);
  return d;
}

int curlfail_install(void)
{
  return curl_global_init_mem(CURL_GLOBAL_DEFAULT, cf_malloc, free,
                              cf_realloc, cf_strdup, cf_calloc) == CURLE_OK
             ? 0
             : -1;
}

void curlfail_arm(long nth)
{
  count = 0;
  fail_at = nth;
}

long curlfail_count(void)
{
  return count;
}
