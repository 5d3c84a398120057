/* The allocation hook of the allocation-failure sweep (hook.h). */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE
#endif
#include "hook.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static atomic_long count, uv_count;
static atomic_long fail_at;
static atomic_int armed, failed;

/* Whether this allocation is the one to fail. */
static int fail_now(void)
{
  long c;

  if (!atomic_load_explicit(&armed, memory_order_relaxed))
    return 0;
  c = atomic_fetch_add(&count, 1) + 1;
  if (c == atomic_load(&fail_at)) {
    atomic_store(&failed, 1);
    return 1;
  }
  return 0;
}

void *__wrap_malloc(size_t n)
{
  return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
  return fail_now() ? NULL : __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
  /* realloc(p, 0) frees: not an allocation that can fail. */
  if (n != 0 && fail_now())
    return NULL;
  return __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
  size_t n = strlen(s) + 1;
  char *d = __wrap_malloc(n);

  if (d != NULL)
    memcpy(d, s, n);
  return d;
}

char *__wrap_strndup(const char *s, size_t n)
{
  size_t l = strnlen(s, n);
  char *d = __wrap_malloc(l + 1);

  if (d != NULL) {
    memcpy(d, s, l);
    d[l] = '\0';
  }
  return d;
}

static void *ssl_malloc(size_t n, const char *f, int l)
{
  (void)f;
  (void)l;
  return __wrap_malloc(n);
}

static void *ssl_realloc(void *p, size_t n, const char *f, int l)
{
  (void)f;
  (void)l;
  return __wrap_realloc(p, n);
}

static void ssl_free(void *p, const char *f, int l)
{
  (void)f;
  (void)l;
  free(p);
}

static void plain_free(void *p)
{
  free(p);
}

/* libuv aborts when one of its own allocations fails (uv__io_start
 * growing its watcher array, uv_signal_init in uv_loop_init): its
 * allocations go through the hook to be counted, never to fail. */
static void *uv_malloc(size_t n)
{
  if (atomic_load_explicit(&armed, memory_order_relaxed))
    atomic_fetch_add(&uv_count, 1);
  return __real_malloc(n);
}

static void *uv_realloc(void *p, size_t n)
{
  if (n != 0 && atomic_load_explicit(&armed, memory_order_relaxed))
    atomic_fetch_add(&uv_count, 1);
  return __real_realloc(p, n);
}

static void *uv_calloc(size_t n, size_t m)
{
  if (atomic_load_explicit(&armed, memory_order_relaxed))
    atomic_fetch_add(&uv_count, 1);
  return __real_calloc(n, m);
}

long af_uv_allocations(void)
{
  return atomic_load(&uv_count);
}

int af_install(void)
{
  if (CRYPTO_set_mem_functions(ssl_malloc, ssl_realloc, ssl_free) != 1)
    return -1;
  if (uv_replace_allocator(uv_malloc, uv_realloc, uv_calloc, plain_free) != 0)
    return -1;
  if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, __wrap_malloc, plain_free,
                           __wrap_realloc, __wrap_strdup,
                           __wrap_calloc) != CURLE_OK)
    return -1;
  return 0;
}

void af_arm(long nth)
{
  atomic_store(&count, 0);
  atomic_store(&uv_count, 0);
  atomic_store(&failed, 0);
  atomic_store(&fail_at, nth);
  atomic_store(&armed, 1);
}

long af_disarm(int *f)
{
  atomic_store(&armed, 0);
  if (f != NULL)
    *f = atomic_load(&failed);
  return atomic_load(&count);
}
