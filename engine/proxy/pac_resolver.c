/*
 * The PAC (and WPAD) resolver.  One script per resolver; requests queue
 * until the script is there; one evaluation at a time runs on a libuv
 * worker thread (the evaluator and its DNS lookups block that thread, never
 * the loop); results are cached per scheme+host+port.
 */
#include "proxy/pac_resolver.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "log.h"
#include "loop.h"
#include "disk/fileio.h"
#include "util/text.h"
#include "proxy/chain.h"
#include "proxy/wpad.h"

#define PACRES_MAX_CACHE 512u
#define PACRES_RETRY_MS 8000u     /* after a failed fetch or compile */
#define PACRES_WPAD_RETRY_MS 60000u

enum { LOC_NONE, LOC_URL, LOC_FILE, LOC_DATA };

typedef struct pend {
  rf_resolve_req *req; /* NULL: cancelled while being evaluated */
  char url[540];
  struct pend *next;
} pend;

typedef struct res_ent {
  char url[540];
  char *result;
  unsigned eval_no;
  uint64_t until_ms;
} res_ent;

struct rf__pacres {
  uv_loop_t *loop;
  const rf__logger *log;
  int wpad;
  int kind;
  char *location;       /* URL, file path (LOC_FILE) or NULL */
  char shown[300];      /* location for messages (data: URLs shortened) */
  char label[256];
  rf_pac_options opts;
  rf__pac_limits limits;
  rf__pac_dns dns;
  char *user, *password, *ca_file; /* for the proxies the script names */
  unsigned auth;

  /* WPAD discovery */
  const rf__pacres_discovery *disc;
  void *disc_handle;
  int discovering;
  uint64_t disc_failed_at;
  char disc_error[512];
  char source[512];     /* how the PAC URL was found */

  /* The script */
  char *script;         /* fetched or decoded text; NULL: none yet */
  size_t script_len;
  uint64_t script_at;
  int recompile;        /* script changed: the worker compiles it */
  uint64_t load_failed_at;
  char load_error[512];
  int have_error;

  /* Fetching */
  rf__curlm m;
  int m_open;           /* m initialised and not yet closed */
  CURL *easy;
  char *fbuf;
  size_t flen;
  int ftoobig;
  char errbuf[CURL_ERROR_SIZE];

  /* Evaluation */
  uv_work_t work;
  int working;
  pend *wp;             /* the request being evaluated */
  rf__pac *pac;         /* used by the worker only while working */
  int w_rc;
  char *w_result;
  char w_err[512];
  double w_ms;
  pend *head, *tail;

  res_ent *cache;
  size_t ncache;
  unsigned evaluations;
  int dying;
};

static void pump(rf__pacres *pr);

static uint64_t now_ms(const rf__pacres *pr)
{
  return uv_now(pr->loop);
}

/* ------------------------------------------------------------- freeing */

static void maybe_free(rf__pacres *pr)
{
  size_t i;

  if (!pr->dying || pr->working || pr->m_open || pr->discovering)
    return;
  for (i = 0; i < pr->ncache; i++)
    free(pr->cache[i].result);
  free(pr->cache);
  rf__pac_free(pr->pac);
  free(pr->script);
  free(pr->fbuf);
  free(pr->location);
  free(pr->user);
  if (pr->password != NULL)
    memset(pr->password, 0, strlen(pr->password));
  free(pr->password);
  free(pr->ca_file);
  free(pr);
}

/* ------------------------------------------------------------- answers */

static void answer_error(rf__pacres *pr, rf_resolve_req *req,
                         const char *what)
{
  char detail[900];

  rf__fmt_clip(detail, sizeof(detail), "%s%sPAC %s: %s", pr->label,
               pr->label[0] ? ": " : "", pr->shown, what);
  rf_resolve_answer(req, pr->opts.mandatory ? RF_RESOLVE_ERROR_MANDATORY
                                            : RF_RESOLVE_ERROR,
                    NULL, 0, detail);
}

static void fail_all(rf__pacres *pr, const char *what)
{
  /* Bounded: the queue only shrinks here. */
  while (pr->head != NULL) {
    pend *p = pr->head;
    pr->head = p->next;
    answer_error(pr, p->req, what);
    free(p);
  }
  pr->tail = NULL;
}

static void pass_all(rf__pacres *pr, const char *why)
{
  while (pr->head != NULL) {
    pend *p = pr->head;
    pr->head = p->next;
    rf_resolve_answer(p->req, RF_RESOLVE_PASS, NULL, 0, why);
    free(p);
  }
  pr->tail = NULL;
}

/* Answer req with the candidates of a result string. */
static void answer_result(rf__pacres *pr, rf_resolve_req *req,
                          const char *result, unsigned eval_no, int cached)
{
  rf__pac_candidate *c = NULL;
  rf_proxy *list = NULL;
  size_t n = 0, i;
  char detail[2400], what[700];
  int rc = rf__pac_parse_result(result, &c, &n);

  if (rc != 0) {
    snprintf(what, sizeof(what), "returned \"%.500s\": no usable element",
             result);
    answer_error(pr, req, what);
    return;
  }
  list = calloc(n, sizeof(*list));
  if (list == NULL) {
    free(c);
    answer_error(pr, req, "out of memory");
    return;
  }
  for (i = 0; i < n; i++) {
    switch (c[i].kind) {
    case RF__PAC_DIRECT:
      list[i].type = RF_PROXY_DIRECT;
      break;
    case RF__PAC_PROXY:
      list[i].type = RF_PROXY_HTTP;
      break;
    case RF__PAC_HTTPS:
      list[i].type = RF_PROXY_HTTPS;
      break;
    case RF__PAC_SOCKS4:
      list[i].type = RF_PROXY_SOCKS4;
      break;
    case RF__PAC_SOCKS5:
      /* As browsers do: the proxy resolves the name. */
      list[i].type = RF_PROXY_SOCKS5H;
      break;
    }
    if (list[i].type != RF_PROXY_DIRECT) {
      list[i].host = c[i].host;
      list[i].port = c[i].port;
      list[i].user = pr->user;
      list[i].password = pr->password;
      list[i].auth = pr->auth;
      list[i].ca_file = pr->ca_file;
    }
  }
  if (cached)
    snprintf(what, sizeof(what), "(cached from evaluation #%u)", eval_no);
  else
    snprintf(what, sizeof(what), "(evaluation #%u)", eval_no);
  snprintf(detail, sizeof(detail), "%s%sPAC %s%s%s returned \"%.600s\" %s",
           pr->label, pr->label[0] ? ": " : "", pr->shown,
           pr->source[0] ? ", " : "", pr->source, result, what);
  rf_resolve_answer(req, RF_RESOLVE_OK, list, n, detail);
  free(list);
  free(c);
}

static res_ent *cache_find(rf__pacres *pr, const char *url)
{
  size_t i;
  uint64_t now = now_ms(pr);

  for (i = 0; i < pr->ncache; i++)
    if (pr->cache[i].until_ms > now && strcmp(pr->cache[i].url, url) == 0)
      return &pr->cache[i];
  return NULL;
}

static void cache_put(rf__pacres *pr, const char *url, const char *result,
                      unsigned eval_no)
{
  res_ent *e = NULL;
  uint64_t now = now_ms(pr);
  size_t i;
  char *copy = strdup(result);

  if (copy == NULL)
    return;
  for (i = 0; i < pr->ncache && e == NULL; i++)
    if (pr->cache[i].until_ms <= now || strcmp(pr->cache[i].url, url) == 0)
      e = &pr->cache[i];
  if (e == NULL && pr->ncache < PACRES_MAX_CACHE) {
    res_ent *g = realloc(pr->cache, (pr->ncache + 1) * sizeof(*g));
    if (g == NULL) {
      free(copy);
      return;
    }
    pr->cache = g;
    e = &g[pr->ncache++];
    memset(e, 0, sizeof(*e));
  }
  if (e == NULL)
    e = &pr->cache[0];
  free(e->result);
  e->result = copy;
  snprintf(e->url, sizeof(e->url), "%s", url);
  e->eval_no = eval_no;
  e->until_ms = now + (uint64_t)pr->opts.refresh_s * 1000u;
}

static void cache_clear(rf__pacres *pr)
{
  size_t i;

  for (i = 0; i < pr->ncache; i++) {
    free(pr->cache[i].result);
    pr->cache[i].result = NULL;
    pr->cache[i].until_ms = 0;
  }
}

/* ---------------------------------------------------------- evaluation */

static int read_file(const char *path, char **out, size_t *len, char *err,
                     size_t errlen)
{
  int e = rf__read_file_max(path, RF__PAC_MAX_SCRIPT, 0, out, len, NULL);

  if (e == 0)
    return 0;
  if (e == ENOMEM)
    return RF_ENOMEM;
  if (e == EFBIG) {
    snprintf(err, errlen, "%s is larger than %u KiB", path,
             RF__PAC_MAX_SCRIPT / 1024);
    return RF_ETOOBIG;
  }
  snprintf(err, errlen, "cannot read %s: %s", path, strerror(e));
  return e == ENOENT || e == ENOTDIR ? RF_ENOENT : rf__errno_to_rf(e);
}

/* On the worker thread: (re)compile if asked, then evaluate. */
static void work_cb(uv_work_t *w)
{
  rf__pacres *pr = w->data;
  uint64_t t0 = uv_hrtime();
  int rc = 0;

  pr->w_err[0] = '\0';
  pr->w_result = NULL;
  if (pr->kind == LOC_FILE && pr->recompile) {
    char *text = NULL;
    size_t len = 0;
    rc = read_file(pr->location, &text, &len, pr->w_err, sizeof(pr->w_err));
    if (rc == 0) {
      free(pr->script);
      pr->script = text;
      pr->script_len = len;
    }
  }
  if (rc == 0 && (pr->recompile || pr->pac == NULL)) {
    rf__pac *fresh = NULL;
    rc = rf__pac_new(&fresh, pr->script, pr->script_len, &pr->limits,
                     &pr->dns, pr->w_err, sizeof(pr->w_err));
    if (rc == 0) {
      rf__pac_free(pr->pac);
      pr->pac = fresh;
    }
  }
  if (rc == 0)
    rc = rf__pac_find(pr->pac, pr->wp->url, &pr->w_result, pr->w_err,
                      sizeof(pr->w_err));
  pr->w_rc = rc;
  pr->w_ms = (double)(uv_hrtime() - t0) / 1e6;
}

static void after_work_cb(uv_work_t *w, int status)
{
  rf__pacres *pr = w->data;
  pend *p = pr->wp;
  int compiled = pr->recompile || pr->pac == NULL;

  pr->working = 0;
  pr->wp = NULL;
  if (pr->dying) {
    free(pr->w_result);
    free(p);
    maybe_free(pr);
    return;
  }
  if (status != 0 && pr->w_rc == 0) {
    pr->w_rc = RF_ECANCELED;
    snprintf(pr->w_err, sizeof(pr->w_err), "evaluation cancelled");
  }
  if (pr->w_rc == 0) {
    pr->recompile = 0;
    if (pr->kind == LOC_FILE && compiled)
      pr->script_at = now_ms(pr);
    pr->evaluations++;
    RF_LOG(pr->log, RF_LOG_INFO, "pac",
           "FindProxyForURL(%s) = \"%s\" (evaluation #%u, %.1f ms)", p->url,
           pr->w_result, pr->evaluations, pr->w_ms);
    cache_put(pr, p->url, pr->w_result, pr->evaluations);
    if (p->req != NULL)
      answer_result(pr, p->req, pr->w_result, pr->evaluations, 0);
  } else {
    const char *what = pr->w_err[0] ? pr->w_err : rf_strerror(pr->w_rc);
    RF_LOG(pr->log, RF_LOG_WARN, "pac", "%s: %s", pr->shown, what);
    if (p->req != NULL)
      answer_error(pr, p->req, what);
    if (pr->pac == NULL || pr->recompile) {
      /* The script itself is bad: every waiting request gets the same
       * answer, and it is tried again only after a pause. */
      snprintf(pr->load_error, sizeof(pr->load_error), "%s", what);
      pr->load_failed_at = now_ms(pr);
      pr->have_error = 1;
      if (pr->kind == LOC_URL) {
        free(pr->script);
        pr->script = NULL;
      }
      fail_all(pr, what);
    }
  }
  free(pr->w_result);
  pr->w_result = NULL;
  free(p);
  pump(pr);
}

/* ------------------------------------------------------------- fetching */

static size_t fetch_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
  rf__pacres *pr = ud;
  size_t len = size * nmemb;
  char *g;

  if (pr->flen + len > RF__PAC_MAX_SCRIPT) {
    pr->ftoobig = 1;
    return CURL_WRITEFUNC_ERROR;
  }
  g = realloc(pr->fbuf, pr->flen + len + 1);
  if (g == NULL)
    return CURL_WRITEFUNC_ERROR;
  pr->fbuf = g;
  memcpy(g + pr->flen, ptr, len);
  pr->flen += len;
  g[pr->flen] = '\0';
  return len;
}

/* Latin-1 to UTF-8 when the text is not valid UTF-8 (PAC files default to
 * ISO-8859-1).  Returns a malloc'd copy or NULL (no memory). */
static char *to_utf8(const char *s, size_t n, size_t *out_len)
{
  size_t i = 0, extra = 0;
  int valid = 1;
  char *out, *w;

  while (i < n && valid) {
    size_t k = rfx_utf8_len((const unsigned char *)s + i, n - i);
    valid = k > 0;
    i += k;
  }
  if (!valid)
    for (i = 0; i < n; i++)
      extra += (unsigned char)s[i] >= 0x80;
  out = malloc(n + extra + 1);
  if (out == NULL)
    return NULL;
  if (valid) {
    memcpy(out, s, n);
    out[n] = '\0';
    *out_len = n;
    return out;
  }
  w = out;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) {
      *w++ = (char)c;
    } else {
      *w++ = (char)(0xC0 | (c >> 6));
      *w++ = (char)(0x80 | (c & 0x3F));
    }
  }
  *w = '\0';
  *out_len = (size_t)(w - out);
  return out;
}

static void load_failed(rf__pacres *pr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void load_failed(rf__pacres *pr, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(pr->load_error, sizeof(pr->load_error), fmt, ap);
  va_end(ap);
  pr->load_failed_at = now_ms(pr);
  pr->have_error = 1;
  RF_LOG(pr->log, RF_LOG_WARN, "pac", "%s: %s", pr->shown, pr->load_error);
  fail_all(pr, pr->load_error);
}

static void fetch_done(rf__curlm *m, CURL *easy, CURLcode res, void *ud)
{
  rf__pacres *pr = ud;
  long status = 0;
  char *text;
  size_t len;

  (void)m;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  rf__curlm_remove(&pr->m, easy);
  curl_easy_cleanup(easy);
  pr->easy = NULL;
  if (pr->dying)
    return;
  if (pr->ftoobig || res == CURLE_FILESIZE_EXCEEDED) {
    load_failed(pr, "the script is larger than %u KiB",
                RF__PAC_MAX_SCRIPT / 1024);
  } else if (res != CURLE_OK) {
    load_failed(pr, "cannot fetch it: %s",
                pr->errbuf[0] ? pr->errbuf : curl_easy_strerror(res));
  } else if (status != 200) {
    load_failed(pr, "fetching it gave HTTP %ld (200 expected)", status);
  } else if ((text = to_utf8(pr->fbuf != NULL ? pr->fbuf : "", pr->flen,
                             &len)) == NULL) {
    load_failed(pr, "out of memory");
  } else {
    free(pr->script);
    pr->script = text;
    pr->script_len = len;
    pr->script_at = now_ms(pr);
    pr->recompile = 1;
    pr->have_error = 0;
    cache_clear(pr);
    RF_LOG(pr->log, RF_LOG_INFO, "pac", "fetched %s (%zu bytes)", pr->shown,
           len);
  }
  free(pr->fbuf);
  pr->fbuf = NULL;
  pr->flen = 0;
  pump(pr);
}

/* libcurl lost track of the fetch (loop.h). */
static void fetch_lost(rf__curlm *m, void *ud)
{
  rf__pacres *pr = ud;

  if (pr->easy != NULL)
    fetch_done(m, pr->easy, CURLE_OUT_OF_MEMORY, pr);
}

static void on_m_closed(rf__curlm *m, void *ud)
{
  rf__pacres *pr = ud;

  (void)m;
  pr->m_open = 0;
  maybe_free(pr);
}

static int start_fetch(rf__pacres *pr)
{
  CURL *e;
  int rc, bad = 0; /* bad: a string libcurl could not copy */

  if (!pr->m_open) {
    rc = rf__curlm_init(&pr->m, pr->loop, fetch_done, NULL, fetch_lost, pr);
    if (rc != 0)
      return rc;
    pr->m_open = 1;
  }
  e = curl_easy_init();
  if (e == NULL)
    return RF_ENOMEM;
  pr->errbuf[0] = '\0';
  pr->ftoobig = 0;
  pr->flen = 0;
  bad |= curl_easy_setopt(e, CURLOPT_URL, pr->location) != CURLE_OK;
  curl_easy_setopt(e, CURLOPT_PRIVATE, pr);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, fetch_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, pr);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, pr->errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)pr->opts.fetch_timeout_ms);
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                   (curl_off_t)RF__PAC_MAX_SCRIPT);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
  /* Never file: or anything else, even through a redirect. */
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  /* Fetched directly: the script decides about proxies, not the reverse;
   * and no environment proxy either. */
  bad |= curl_easy_setopt(e, CURLOPT_PROXY, "") != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_NOPROXY, "") != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_USERAGENT,
                          "rangefetch-pac/" RF_VERSION_STRING) != CURLE_OK;
  rc = bad ? RF_ENOMEM : rf__curlm_add(&pr->m, e);
  if (rc != 0) {
    curl_easy_cleanup(e);
    return rc;
  }
  pr->easy = e;
  RF_LOG(pr->log, RF_LOG_INFO, "pac", "fetching %s", pr->shown);
  return 0;
}

/* ------------------------------------------------------------ discovery */

static void discovered(rf__pacres *pr, int err, const char *url,
                       const char *source)
{
  pr->discovering = 0;
  pr->disc_handle = NULL;
  if (pr->dying) {
    maybe_free(pr);
    return;
  }
  if (err != 0 || url == NULL) {
    snprintf(pr->disc_error, sizeof(pr->disc_error),
             "WPAD found no PAC file: %s", source != NULL ? source : "");
    pr->disc_failed_at = now_ms(pr);
    RF_LOG(pr->log, RF_LOG_INFO, "wpad", "%s", pr->disc_error);
    pass_all(pr, pr->disc_error);
    return;
  }
  free(pr->location);
  pr->location = strdup(url);
  if (pr->location == NULL) {
    fail_all(pr, "out of memory");
    return;
  }
  pr->kind = LOC_URL;
  snprintf(pr->shown, sizeof(pr->shown), "%s", url);
  snprintf(pr->source, sizeof(pr->source), "found by WPAD (%s)",
           source != NULL ? source : "");
  RF_LOG(pr->log, RF_LOG_INFO, "wpad", "PAC URL %s %s", url, pr->source);
  pump(pr);
}

/* ----------------------------------------------------------------- pump */

static void pump(rf__pacres *pr)
{
  uint64_t now = now_ms(pr);
  int guard = 0;

  if (pr->dying || pr->working || pr->easy != NULL || pr->discovering)
    return;
  while (pr->head != NULL && guard++ < 4096) {
    pend *p = pr->head;
    res_ent *hit;

    if (pr->wpad && pr->location == NULL) {
      if (pr->disc_failed_at != 0 &&
          now - pr->disc_failed_at < PACRES_WPAD_RETRY_MS) {
        pass_all(pr, pr->disc_error);
        return;
      }
      pr->discovering = 1;
      if (pr->disc->start(pr->disc->ud, pr->loop, pr, discovered,
                          &pr->disc_handle) != 0) {
        pr->discovering = 0;
        pass_all(pr, "WPAD discovery could not start");
      }
      return;
    }
    if (pr->have_error && now - pr->load_failed_at < PACRES_RETRY_MS) {
      fail_all(pr, pr->load_error);
      return;
    }
    if (pr->kind == LOC_URL &&
        (pr->script == NULL ||
         now - pr->script_at >= (uint64_t)pr->opts.refresh_s * 1000u)) {
      int rc = start_fetch(pr);
      if (rc != 0)
        load_failed(pr, "cannot start fetching it: %s", rf_strerror(rc));
      return;
    }
    if (pr->kind == LOC_FILE &&
        (pr->script_at == 0 ||
         now - pr->script_at >= (uint64_t)pr->opts.refresh_s * 1000u))
      pr->recompile = 1;
    hit = cache_find(pr, p->url);
    if (hit != NULL) {
      pr->head = p->next;
      if (pr->head == NULL)
        pr->tail = NULL;
      answer_result(pr, p->req, hit->result, hit->eval_no, 1);
      free(p);
      continue;
    }
    pr->head = p->next;
    if (pr->head == NULL)
      pr->tail = NULL;
    pr->wp = p;
    pr->working = 1;
    pr->work.data = pr;
    if (uv_queue_work(pr->loop, &pr->work, work_cb, after_work_cb) != 0) {
      pr->working = 0;
      pr->wp = NULL;
      answer_error(pr, p->req, "cannot queue the evaluation");
      free(p);
      continue;
    }
    return;
  }
}

/* ------------------------------------------------------------ resolver */

static void pacres_resolve(void *self, rf_resolve_req *req,
                           const rf_resolve_info *info)
{
  rf__pacres *pr = self;
  res_ent *hit = cache_find(pr, info->url);
  pend *p;

  if (hit != NULL) {
    answer_result(pr, req, hit->result, hit->eval_no, 1);
    return;
  }
  p = calloc(1, sizeof(*p));
  if (p == NULL) {
    answer_error(pr, req, "out of memory");
    return;
  }
  p->req = req;
  snprintf(p->url, sizeof(p->url), "%s", info->url);
  if (pr->tail != NULL)
    pr->tail->next = p;
  else
    pr->head = p;
  pr->tail = p;
  pump(pr);
}

static void pacres_cancel(void *self, rf_resolve_req *req)
{
  rf__pacres *pr = self;
  pend **pp = &pr->head, *prev = NULL;

  if (pr->wp != NULL && pr->wp->req == req) {
    pr->wp->req = NULL; /* the evaluation finishes; nobody hears of it */
    return;
  }
  while (*pp != NULL) {
    if ((*pp)->req == req) {
      pend *p = *pp;
      *pp = p->next;
      if (pr->tail == p)
        pr->tail = prev;
      free(p);
      return;
    }
    prev = *pp;
    pp = &(*pp)->next;
  }
}

static void pacres_destroy(void *self)
{
  rf__pacres *pr = self;

  pr->dying = 1;
  while (pr->head != NULL) {
    pend *p = pr->head;
    pr->head = p->next;
    free(p);
  }
  pr->tail = NULL;
  if (pr->discovering && pr->disc_handle != NULL) {
    pr->disc->cancel(pr->disc_handle);
    pr->discovering = 0;
  }
  if (pr->easy != NULL) {
    rf__curlm_remove(&pr->m, pr->easy);
    curl_easy_cleanup(pr->easy);
    pr->easy = NULL;
  }
  if (pr->m_open)
    rf__curlm_close(&pr->m, on_m_closed);
  maybe_free(pr);
}

static const rf_resolver_ops pacres_ops = { "pac", pacres_resolve,
                                            pacres_cancel, NULL,
                                            pacres_destroy };

const rf_resolver_ops *rf__pacres_ops(void)
{
  return &pacres_ops;
}

/* ------------------------------------------------- WPAD discovery glue */

typedef struct wpad_glue {
  rf__pacres *pr;
  void (*done)(rf__pacres *pr, int err, const char *url, const char *source);
  rf__wpad_req *req;
} wpad_glue;

static void wpad_glue_cb(const rf__wpad_result *res, void *ud)
{
  wpad_glue *g = ud;
  rf__pacres *pr = g->pr;
  void (*done)(rf__pacres *, int, const char *, const char *) = g->done;

  free(g);
  done(pr, res->status, res->url, res->status == 0 ? res->source : res->tried);
}

static int wpad_glue_start(void *ud, uv_loop_t *loop, rf__pacres *pr,
                           void (*done)(rf__pacres *pr, int err,
                                        const char *url, const char *source),
                           void **handle)
{
  rf__wpad_config cfg;
  wpad_glue *g = calloc(1, sizeof(*g));
  int rc;

  (void)ud;
  if (g == NULL)
    return RF_ENOMEM;
  memset(&cfg, 0, sizeof(cfg));
  cfg.dhcp_url_file = getenv("RANGEFETCH_WPAD_URL_FILE");
  g->pr = pr;
  g->done = done;
  rc = rf__wpad_discover(loop, &cfg, wpad_glue_cb, g, &g->req);
  if (rc != 0) {
    free(g);
    return rc;
  }
  *handle = g;
  return 0;
}

static void wpad_glue_cancel(void *handle)
{
  wpad_glue *g = handle;

  rf__wpad_cancel(g->req);
  free(g);
}

const rf__pacres_discovery rf__wpad_system_discovery = {
  wpad_glue_start, wpad_glue_cancel, NULL
};

/* ------------------------------------------------------------- creation */

static int b64(int c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+' || c == '-')
    return 62;
  if (c == '/' || c == '_')
    return 63;
  return -1;
}

/* "data:[<type>][;base64],<payload>" into a malloc'd script. */
static int decode_data_url(const char *url, char **out, size_t *len)
{
  const char *comma = strchr(url, ',');
  const char *p;
  char *buf, *w;
  int base64;
  unsigned acc = 0, bits = 0;

  if (comma == NULL)
    return RF_EURL;
  base64 = comma - url >= 7 && strncasecmp(comma - 7, ";base64", 7) == 0;
  buf = malloc(strlen(comma) + 1);
  if (buf == NULL)
    return RF_ENOMEM;
  w = buf;
  for (p = comma + 1; *p != '\0'; p++) {
    int c = (unsigned char)*p;
    if (c == '%' && rfx_hexval(p[1]) >= 0 && rfx_hexval(p[2]) >= 0) {
      c = rfx_hexval(p[1]) * 16 + rfx_hexval(p[2]);
      p += 2;
    }
    if (!base64) {
      *w++ = (char)c;
      continue;
    }
    if (c == '=' || c == ' ' || c == '\n' || c == '\r')
      continue;
    if (b64(c) < 0) {
      free(buf);
      return RF_EURL;
    }
    acc = (acc << 6) | (unsigned)b64(c);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      *w++ = (char)((acc >> bits) & 0xFF);
    }
  }
  *w = '\0';
  *len = (size_t)(w - buf);
  if (*len > RF__PAC_MAX_SCRIPT) {
    free(buf);
    return RF_ETOOBIG;
  }
  *out = buf;
  return 0;
}

int rf__pacres_new(rf__pacres **out, uv_loop_t *loop, const rf__logger *log,
                   const rf__pacres_config *cfg)
{
  rf__pacres *pr;
  const char *loc = cfg->location;
  int rc = 0;

  *out = NULL;
  if ((loc == NULL || loc[0] == '\0') && cfg->discovery == NULL)
    return RF_EINVAL;
  pr = calloc(1, sizeof(*pr));
  if (pr == NULL)
    return RF_ENOMEM;
  pr->loop = loop;
  pr->log = log;
  pr->opts = cfg->opts;
  if (pr->opts.fetch_timeout_ms == 0)
    pr->opts.fetch_timeout_ms = 30000;
  if (pr->opts.refresh_s == 0)
    pr->opts.refresh_s = 12u * 3600u;
  pr->limits = cfg->limits;
  if (cfg->opts.deadline_ms != 0)
    pr->limits.deadline_ms = cfg->opts.deadline_ms;
  if (cfg->opts.memory_bytes != 0)
    pr->limits.memory_bytes = cfg->opts.memory_bytes;
  pr->dns = cfg->dns != NULL ? *cfg->dns : rf__pac_dns_default;
  snprintf(pr->label, sizeof(pr->label), "%s",
           cfg->label != NULL ? cfg->label : "");
  if (loc == NULL || loc[0] == '\0') {
    pr->wpad = 1;
    pr->disc = cfg->discovery;
    pr->kind = LOC_NONE;
    snprintf(pr->shown, sizeof(pr->shown), "(WPAD)");
  } else if (strncasecmp(loc, "data:", 5) == 0) {
    pr->kind = LOC_DATA;
    rc = decode_data_url(loc, &pr->script, &pr->script_len);
    pr->recompile = 1;
    snprintf(pr->shown, sizeof(pr->shown), "data: URL (%zu bytes)",
             pr->script_len);
  } else if (strncasecmp(loc, "http://", 7) == 0 ||
             strncasecmp(loc, "https://", 8) == 0) {
    pr->kind = LOC_URL;
    pr->location = strdup(loc);
    rc = pr->location != NULL ? 0 : RF_ENOMEM;
    snprintf(pr->shown, sizeof(pr->shown), "%s", loc);
  } else if (strncasecmp(loc, "file://", 7) == 0 || loc[0] == '/' ||
             strstr(loc, "://") == NULL) {
    const char *path = strncasecmp(loc, "file://", 7) == 0 ? loc + 7 : loc;
    pr->kind = LOC_FILE;
    pr->location = strdup(path);
    rc = pr->location != NULL ? 0 : RF_ENOMEM;
    snprintf(pr->shown, sizeof(pr->shown), "%s", path);
  } else {
    rc = RF_EURL;
  }
  pr->auth = cfg->auth;
  if (rc == 0) {
    int oom = 0;
    pr->user = rf__strdup_opt(cfg->user, &oom);
    pr->password = rf__strdup_opt(cfg->password, &oom);
    pr->ca_file = rf__strdup_opt(cfg->ca_file, &oom);
    if (oom)
      rc = RF_ENOMEM;
  }
  if (rc != 0) {
    pr->dying = 1;
    maybe_free(pr);
    return rc;
  }
  *out = pr;
  return 0;
}
