/*
 * PAC evaluator on Duktape (compiled by the build from Debian's
 * /usr/share/duktape/duktape.c with the execution-timeout hook enabled; see
 * CMakeLists.txt).  The Netscape and Microsoft helper functions are
 * implemented in C in pac_helpers.c (not Mozilla's JavaScript, for
 * licensing), after the semantics in docs/pac.md; the default resolver is
 * in pac_dns_default.c.
 *
 * This file is the sandbox and the evaluation: one Duktape heap per rf__pac,
 * with
 * - an allocator that tracks every block and refuses past the byte budget,
 *   so a memory bomb gets "alloc failed" and a broken heap can be freed
 *   wholesale;
 * - a fatal handler that longjmps back into the API call (Duktape's
 *   default calls abort()); the heap is then thrown away and rebuilt;
 * - the exec-timeout hook, armed for every entry into script code;
 * - no Duktape global (no finalizers, no Duktape.act/gc), no print/require
 *   (Duktape 2 has none built in).
 */
#include "pac_int.h"

#include <curl/curl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rangefetch/rangefetch.h"
#include "util/text.h"

/* ------------------------------------------------------------ allocator */

static void pac_blk_link(rf__pac *p, pac_blk *b)
{
  b->h.next = p->blocks.h.next;
  b->h.prev = &p->blocks;
  p->blocks.h.next->h.prev = b;
  p->blocks.h.next = b;
}

static void pac_blk_unlink(pac_blk *b)
{
  b->h.prev->h.next = b->h.next;
  b->h.next->h.prev = b->h.prev;
}

static void *pac_alloc(void *ud, duk_size_t size)
{
  rf__pac *p = ud;
  pac_blk *b;

  if (!p->no_limit && size > p->lim.memory_bytes - p->used) {
    p->alloc_failed = 1;
    return NULL;
  }
  b = malloc(sizeof(*b) + size);
  if (b == NULL)
    return NULL;
  b->h.size = size;
  pac_blk_link(p, b);
  p->used += size;
  return b + 1;
}

static void pac_free(void *ud, void *ptr)
{
  rf__pac *p = ud;
  pac_blk *b;

  if (ptr == NULL)
    return;
  b = (pac_blk *)ptr - 1;
  pac_blk_unlink(b);
  p->used -= b->h.size;
  free(b);
}

static void *pac_realloc(void *ud, void *ptr, duk_size_t size)
{
  rf__pac *p = ud;
  pac_blk *b, *nb;

  if (ptr == NULL)
    return pac_alloc(ud, size);
  if (size == 0) {
    pac_free(ud, ptr);
    return NULL;
  }
  b = (pac_blk *)ptr - 1;
  if (!p->no_limit && size > b->h.size &&
      size - b->h.size > p->lim.memory_bytes - p->used) {
    p->alloc_failed = 1;
    return NULL;
  }
  pac_blk_unlink(b);
  nb = realloc(b, sizeof(*b) + size);
  if (nb == NULL) {
    pac_blk_link(p, b);
    return NULL;
  }
  p->used = p->used - nb->h.size + size;
  nb->h.size = size;
  pac_blk_link(p, nb);
  return nb + 1;
}

/* Frees every block of the current heap (after a fatal error). */
static void pac_blk_free_all(rf__pac *p)
{
  while (p->blocks.h.next != &p->blocks) {
    pac_blk *b = p->blocks.h.next;

    pac_blk_unlink(b);
    free(b);
  }
  p->used = 0;
}

/* ------------------------------------------------- deadline and fatal */

static void pac_arm(rf__pac *p)
{
  clock_gettime(CLOCK_MONOTONIC, &p->deadline);
  p->deadline.tv_sec += (time_t)(p->lim.deadline_ms / 1000u);
  p->deadline.tv_nsec += (long)(p->lim.deadline_ms % 1000u) * 1000000L;
  if (p->deadline.tv_nsec >= 1000000000L) {
    p->deadline.tv_sec++;
    p->deadline.tv_nsec -= 1000000000L;
  }
  p->timed_out = 0;
  p->armed = 1;
}

/* Called by Duktape's executor every ~256k instructions (duk_config.h). */
int rf__pac_exec_timeout_check(void *udata)
{
  rf__pac *p = udata;
  struct timespec now;

  if (p == NULL || !p->armed)
    return 0;
  if (p->timed_out)
    return 1; /* must keep saying so until we are out of Duktape */
  clock_gettime(CLOCK_MONOTONIC, &now);
  if (now.tv_sec > p->deadline.tv_sec ||
      (now.tv_sec == p->deadline.tv_sec && now.tv_nsec >= p->deadline.tv_nsec))
    p->timed_out = 1;
  return p->timed_out;
}

/*
 * Called by Duktape's native code, which runs no bytecode and so never
 * reaches the hook above: every 64th regexp step, every property get, put,
 * has and delete, every memcmp of a string search (CMakeLists.txt patches
 * the calls in).  The clock is read one call in 16.
 */
int rf__pac_exec_poll(void *udata)
{
  rf__pac *p = udata;

  if (p == NULL || !p->armed)
    return 0;
  if (p->timed_out)
    return 1;
  if (++p->polls % 16u != 0)
    return 0;
  return rf__pac_exec_timeout_check(p);
}

static void pac_fatal(void *udata, const char *msg)
{
  rf__pac *p = udata;

  snprintf(p->fatal_msg, sizeof(p->fatal_msg), "duktape fatal error: %s",
           msg != NULL ? msg : "?");
  /* Every Duktape call runs under pac_guard, so jb is armed here. */
  if (p->jb_armed)
    longjmp(p->jb, 1);
  abort(); /* unreachable */
}

typedef int (*pac_op)(rf__pac *p, void *arg);

/* Runs op with the fatal-error escape armed; a fatal error throws the heap
 * away (its blocks are freed without Duktape) and returns RF_EPROXY. */
static int pac_guard(rf__pac *p, pac_op op, void *arg)
{
  volatile int rc = RF_EPROXY;

  p->fatal_msg[0] = '\0';
  p->jb_armed = 1;
  if (setjmp(p->jb) == 0) {
    rc = op(p, arg);
  } else {
    p->ctx = NULL;
    p->armed = 0;
    pac_blk_free_all(p);
    rc = RF_EPROXY;
  }
  p->jb_armed = 0;
  return rc;
}

rf__pac *rf__pac_of(duk_context *ctx)
{
  duk_memory_functions mf;

  duk_get_memory_functions(ctx, &mf);
  return mf.udata;
}

/* --------------------------------------------------- heap life cycle */

/* Formats the error at the stack top: "<toString> (line N)" unless the
 * message already names the line.  Protected: may run script getters. */
static duk_ret_t pac_fmt_safe(duk_context *ctx, void *udata)
{
  char **msg = udata;
  double line = 0;
  const char *s;
  size_t n;

  if (duk_is_object(ctx, 0)) {
    duk_get_prop_string(ctx, 0, "lineNumber");
    if (duk_is_number(ctx, -1))
      line = duk_get_number(ctx, -1);
    duk_pop(ctx);
  }
  s = duk_safe_to_string(ctx, 0);
  if (line > 0 && strstr(s, "line ") == NULL)
    duk_push_sprintf(ctx, "%s (line %.0f)", s, line);
  else
    duk_push_string(ctx, s);
  s = duk_get_string(ctx, -1);
  n = strlen(s) + 1;
  *msg = malloc(n);
  if (*msg != NULL)
    memcpy(*msg, s, n);
  return 0;
}

/* Error code and message for a failed protected call (error on top). */
static int pac_report(rf__pac *p, const char *what, char *err, size_t errlen)
{
  char *msg = NULL;
  int rc;

  duk_dup_top(p->ctx);
  duk_safe_call(p->ctx, pac_fmt_safe, &msg, 1, 1);
  duk_pop(p->ctx);
  if (p->timed_out) {
    rc = RF_ETIMEDOUT;
    rf__errbuf_set(err, errlen, "%s: execution timeout (%u ms)", what,
             p->lim.deadline_ms);
  } else if (p->alloc_failed) {
    rc = RF_EPROXY;
    rf__errbuf_set(err, errlen, "%s: memory limit (%zu bytes) reached: %s",
                   what, p->lim.memory_bytes, msg != NULL ? msg : "?");
  } else {
    rc = RF_EPROXY;
    rf__errbuf_set(err, errlen, "%s: %s", what, msg != NULL ? msg : "error");
  }
  free(msg);
  return rc;
}

static duk_ret_t pac_load_safe(duk_context *ctx, void *udata)
{
  rf__pac *p = udata;

  duk_push_global_object(ctx);
  duk_del_prop_string(ctx, -1, "Duktape");
  duk_put_function_list(ctx, -1, rf__pac_funcs);
  duk_pop(ctx);
  duk_push_string(ctx, "pac");
  duk_compile_lstring_filename(ctx, 0, p->script, p->script_len);
  duk_call(ctx, 0);
  duk_pop(ctx);
  duk_push_global_object(ctx);
  duk_get_prop_string(ctx, -1, "FindProxyForURLEx");
  duk_get_prop_string(ctx, -2, "FindProxyForURL");
  if (!duk_is_function(ctx, -1) && !duk_is_function(ctx, -2))
    return duk_error(ctx, DUK_ERR_REFERENCE_ERROR,
                     "FindProxyForURL is not defined");
  duk_pop_3(ctx);
  return 0;
}

struct pac_errbuf {
  char *err;
  size_t errlen;
};

static int pac_build_op(rf__pac *p, void *arg)
{
  struct pac_errbuf *e = arg;
  int rc = 0;

  p->alloc_failed = 0;
  /* An allocation failure inside duk_create_heap has no catchpoint yet:
   * Duktape 2.7 then recurses while formatting the fatal message until the
   * stack overflows.  So creation runs unlimited (it takes ~100 KiB; the
   * budget has a floor of RF__PAC_MIN_MEMORY) and counts afterwards. */
  p->no_limit = 1;
  p->ctx = duk_create_heap(pac_alloc, pac_realloc, pac_free, p, pac_fatal);
  p->no_limit = 0;
  if (p->ctx == NULL) {
    rf__errbuf_set(e->err, e->errlen, "cannot create the script heap");
    return RF_ENOMEM;
  }
  pac_arm(p);
  if (duk_safe_call(p->ctx, pac_load_safe, p, 0, 1) != DUK_EXEC_SUCCESS)
    rc = pac_report(p, "PAC script", e->err, e->errlen);
  duk_pop(p->ctx);
  p->armed = 0;
  return rc;
}

static int pac_destroy_op(rf__pac *p, void *arg)
{
  (void)arg;
  if (p->ctx != NULL) {
    pac_arm(p);
    p->timed_out = 1; /* no script code (finalizers) may run */
    duk_destroy_heap(p->ctx);
    p->ctx = NULL;
    p->armed = 0;
  }
  return 0;
}

static void pac_destroy(rf__pac *p)
{
  pac_guard(p, pac_destroy_op, NULL);
  pac_blk_free_all(p); /* no-op unless Duktape leaked */
}

static int pac_build(rf__pac *p, char *err, size_t errlen)
{
  struct pac_errbuf e = { err, errlen };
  int rc = pac_guard(p, pac_build_op, &e);

  if (rc == RF_EPROXY && p->fatal_msg[0] != '\0')
    rf__errbuf_set(err, errlen, "PAC script: %s", p->fatal_msg);
  if (rc != 0)
    pac_destroy(p);
  return rc;
}

int rf__pac_new(rf__pac **out, const char *script, size_t len,
                const rf__pac_limits *lim, const rf__pac_dns *dns, char *err,
                size_t errlen)
{
  rf__pac *p = NULL;
  int rc;

  rf__errbuf_set(err, errlen, "%s", "");
  if (out != NULL)
    *out = NULL;
  if (out == NULL || script == NULL) {
    rf__errbuf_set(err, errlen, "invalid argument");
    return RF_EINVAL;
  }
  if (len > RF__PAC_MAX_SCRIPT) {
    rf__errbuf_set(err, errlen, "PAC script larger than %u bytes",
             RF__PAC_MAX_SCRIPT);
    return RF_ETOOBIG;
  }
  p = calloc(1, sizeof(*p));
  if (p == NULL)
    return RF_ENOMEM;
  p->blocks.h.next = p->blocks.h.prev = &p->blocks;
  if (lim != NULL)
    p->lim = *lim;
  if (p->lim.deadline_ms == 0)
    p->lim.deadline_ms = RF__PAC_DEFAULT_DEADLINE_MS;
  if (p->lim.memory_bytes == 0)
    p->lim.memory_bytes = RF__PAC_DEFAULT_MEMORY;
  if (p->lim.memory_bytes < RF__PAC_MIN_MEMORY) {
    rf__errbuf_set(err, errlen, "memory limit below %u bytes",
                   RF__PAC_MIN_MEMORY);
    rc = RF_EINVAL;
    goto out;
  }
  p->dns = dns != NULL ? *dns : rf__pac_dns_default;
  p->script = malloc(len + 1);
  if (p->script == NULL) {
    rc = RF_ENOMEM;
    goto out;
  }
  memcpy(p->script, script, len);
  p->script[len] = '\0';
  p->script_len = len;
  rc = pac_build(p, err, errlen);
  if (rc != 0)
    goto out;
  *out = p;
  p = NULL;
out:
  rf__pac_free(p);
  return rc;
}

/* "scheme://host[:port]/" and the unbracketed, lower-cased host. */
static int pac_sanitize(const char *url, char **san, char **host_out)
{
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL, *port = NULL;
  int rc = RF_EURL, v6;
  CURLUcode uc;
  size_t hl, n;

  *san = *host_out = NULL;
  if (u == NULL)
    return RF_ENOMEM;
  if ((uc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME)) ||
      (uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0)) ||
      (uc = curl_url_get(u, CURLUPART_HOST, &host, 0))) {
    if (uc == CURLUE_OUT_OF_MEMORY)
      rc = RF_ENOMEM; /* not the URL's fault */
    goto out;
  }
  uc = curl_url_get(u, CURLUPART_PORT, &port, 0);
  if (uc == CURLUE_OUT_OF_MEMORY) {
    rc = RF_ENOMEM; /* without it the port would be dropped */
    goto out;
  }
  if (uc != CURLUE_OK)
    port = NULL;
  hl = strlen(host);
  v6 = hl >= 2 && host[0] == '[' && host[hl - 1] == ']';
  if (hl == 0 || hl - (v6 ? 2u : 0u) == 0)
    goto out;
  rc = RF_ENOMEM;
  *host_out = malloc(hl + 1);
  n = strlen(scheme) + hl + (port != NULL ? strlen(port) + 1 : 0) + 5;
  *san = malloc(n);
  if (*host_out == NULL || *san == NULL)
    goto out;
  for (size_t i = 0; i < hl; i++)
    host[i] =
        (char)((host[i] >= 'A' && host[i] <= 'Z') ? host[i] + 32 : host[i]);
  memcpy(*host_out, host + v6, hl - 2u * (size_t)v6);
  (*host_out)[hl - 2u * (size_t)v6] = '\0';
  snprintf(*san, n, "%s://%s%s%s/", scheme, host, port != NULL ? ":" : "",
           port != NULL ? port : "");
  rc = 0;
out:
  if (rc != 0) {
    free(*san);
    free(*host_out);
    *san = *host_out = NULL;
  }
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_url_cleanup(u);
  return rc;
}

struct pac_call {
  const char *url, *host;
  char *result;
  int rc;
  char *err;
  size_t errlen;
};

static duk_ret_t pac_find_safe(duk_context *ctx, void *udata)
{
  struct pac_call *c = udata;
  duk_size_t l;
  const char *r;

  duk_push_global_object(ctx);
  duk_get_prop_string(ctx, -1, "FindProxyForURLEx");
  if (!duk_is_function(ctx, -1)) {
    duk_pop(ctx);
    duk_get_prop_string(ctx, -1, "FindProxyForURL");
    if (!duk_is_function(ctx, -1))
      return duk_error(ctx, DUK_ERR_REFERENCE_ERROR,
                       "FindProxyForURL is not defined");
  }
  duk_push_string(ctx, c->url);
  duk_push_string(ctx, c->host);
  duk_call(ctx, 2);
  if (!duk_is_string(ctx, -1)) {
    c->rc = RF_EPROXY;
    rf__errbuf_set(
        c->err, c->errlen, "FindProxyForURL returned a %s, not a string",
        duk_is_null_or_undefined(ctx, -1) ? "null/undefined" : "non-string");
    return 0;
  }
  r = duk_get_lstring(ctx, -1, &l);
  if (l > RF__PAC_MAX_RESULT) {
    c->rc = RF_EPROXY;
    rf__errbuf_set(c->err, c->errlen, "PAC result longer than %u bytes",
             RF__PAC_MAX_RESULT);
    return 0;
  }
  for (duk_size_t i = 0; i < l; i++)
    if ((unsigned char)r[i] >= 0x80 || r[i] == '\0') {
      c->rc = RF_EPROXY;
      rf__errbuf_set(c->err, c->errlen, "PAC result is not ASCII");
      return 0;
    }
  c->result = malloc(l + 1);
  if (c->result == NULL) {
    c->rc = RF_ENOMEM;
    return 0;
  }
  memcpy(c->result, r, l + 1);
  return 0;
}

static int pac_find_op(rf__pac *p, void *arg)
{
  struct pac_call *c = arg;
  int rc;

  p->alloc_failed = 0;
  pac_arm(p);
  if (duk_safe_call(p->ctx, pac_find_safe, c, 0, 1) != DUK_EXEC_SUCCESS)
    rc = pac_report(p, "FindProxyForURL", c->err, c->errlen);
  else
    rc = c->rc;
  duk_pop(p->ctx);
  p->armed = 0;
  return rc;
}

int rf__pac_find(rf__pac *p, const char *url, char **result_out, char *err,
                 size_t errlen)
{
  struct pac_call c = { NULL, NULL, NULL, 0, err, errlen };
  char *san = NULL, *host = NULL;
  int rc;

  rf__errbuf_set(err, errlen, "%s", "");
  if (result_out != NULL)
    *result_out = NULL;
  if (p == NULL || url == NULL || result_out == NULL)
    return RF_EINVAL;
  rf__pac_cache_clear(p);
  rc = pac_sanitize(url, &san, &host);
  if (rc != 0) {
    rf__errbuf_set(err, errlen, "%s",
                   rc == RF_ENOMEM ? "out of memory" : "cannot parse URL");
    goto out;
  }
  if (p->ctx == NULL) {
    rc = pac_build(p, err, errlen);
    if (rc != 0)
      goto out;
  }
  c.url = san;
  c.host = host;
  rc = pac_guard(p, pac_find_op, &c);
  if (rc == RF_EPROXY && p->fatal_msg[0] != '\0')
    rf__errbuf_set(err, errlen, "FindProxyForURL: %s", p->fatal_msg);
  /* A heap that ran out of time or memory may hold garbage the script
   * keeps reachable: start afresh next time. */
  if (p->ctx != NULL && (rc == RF_ETIMEDOUT || p->alloc_failed))
    pac_destroy(p);
  if (rc == 0) {
    *result_out = c.result;
    c.result = NULL;
  }
out:
  free(c.result);
  free(san);
  free(host);
  return rc;
}

const char *rf__pac_alerts(const rf__pac *p)
{
  return p != NULL ? p->alerts : "";
}

void rf__pac_free(rf__pac *p)
{
  if (p == NULL)
    return;
  pac_destroy(p);
  rf__pac_cache_clear(p);
  free(p->script);
  free(p);
}
