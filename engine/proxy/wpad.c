/*
 * WPAD discovery (see wpad.h and docs/wpad.md).
 *
 * The pure parts have their own files: wpad_dns.c (DNS candidate names
 * with libpsl-bounded devolution, the resolv.conf search list) and
 * wpad_dhcp.c (the option 252 URL, dhclient lease files).  This file holds
 * the utilities they share (wpad_int.h) and the async part.
 *
 * Async part, one rf__wpad_req per discovery:
 * - a uv_work_t reads the DHCP sources, resolv.conf and (when the caller
 *   gave no psl) the public suffix list on the thread pool;
 * - back on the loop, the candidates are computed and looked up one at a
 *   time, each with a uv_timer_t quick-check timeout.
 * The request is freed only when nothing refers to it any more: `pending`
 * counts the queued work, every lookup still in flight (a timed-out or
 * cancelled lookup stays counted until its callback comes: uv_cancel on a
 * getaddrinfo that already runs fails) and the timer until its close
 * callback.  The user's callback runs at most once, with `state` moved
 * off WPAD_RUNNING first; nothing is freed while it runs.
 */
#include "wpad_int.h"
#include "dhcp_lease.h"
#include "util/text.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "disk/fileio.h"
#include "rangefetch/rangefetch.h"

/* ----------------------------------------------------------- utilities */

/* A growable string; `oom` sticks once an allocation failed. */
typedef struct wpad_buf {
  char *p;
  size_t len, cap;
  int oom;
} wpad_buf;

static void wpad_buf_vadd(wpad_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void wpad_buf_vadd(wpad_buf *b, const char *fmt, va_list ap)
{
  va_list ap2;
  int n;
  size_t need;

  if (b->oom)
    return;
  va_copy(ap2, ap);
  n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) {
    b->oom = 1;
    return;
  }
  need = b->len + (size_t)n + 1;
  if (need > b->cap) {
    size_t cap = b->cap != 0 ? b->cap : 128;
    char *p;

    while (cap < need)
      cap *= 2;
    p = realloc(b->p, cap);
    if (p == NULL) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
  b->len += (size_t)n;
}

static void wpad_buf_add(wpad_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void wpad_buf_add(wpad_buf *b, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  wpad_buf_vadd(b, fmt, ap);
  va_end(ap);
}

/* Section separator: "; " between sections, nothing before the first. */
static void wpad_buf_section(wpad_buf *b, const char *title)
{
  wpad_buf_add(b, "%s%s: ", b->len > 0 ? "; " : "", title);
}

int rf__wpad_is_space(char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

int rf__wpad_read_file(const char *path, char **out, size_t *len,
                       int *errno_out)
{
  int e = rf__read_file_max(path, RF__WPAD_MAX_FILE, 1, out, len, NULL);

  if (errno_out != NULL)
    *errno_out = e == EFBIG || e == ENOMEM ? 0 : e;
  return e == 0 ? 0 : e == EFBIG ? RF_ETOOBIG : rf__errno_to_rf(e);
}

char **rf__wpad_strv_pack(const char *const *starts, const size_t *lens,
                          size_t n)
{
  size_t i, bytes = (n + 1) * sizeof(char *);
  char **v;
  char *s;

  for (i = 0; i < n; i++)
    bytes += lens[i] + 1;
  v = malloc(bytes);
  if (v == NULL)
    return NULL;
  s = (char *)(v + n + 1);
  for (i = 0; i < n; i++) {
    v[i] = s;
    memcpy(s, starts[i], lens[i]);
    s[lens[i]] = '\0';
    s += lens[i] + 1;
  }
  v[n] = NULL;
  return v;
}

/* A one-block copy of a NULL-terminated list (NULL for NULL; *oom set when
 * the copy failed). */
static char **wpad_strv_dup(const char *const *src, int *oom)
{
  const char **starts = NULL;
  size_t *lens = NULL;
  size_t i, n = 0;
  char **v = NULL;

  if (src == NULL)
    return NULL;
  while (src[n] != NULL)
    n++;
  starts = malloc((n + 1) * sizeof(*starts));
  lens = malloc((n + 1) * sizeof(*lens));
  if (starts == NULL || lens == NULL)
    goto out;
  for (i = 0; i < n; i++) {
    starts[i] = src[i];
    lens[i] = strlen(src[i]);
  }
  v = rf__wpad_strv_pack(starts, lens, n);
out:
  if (v == NULL)
    *oom = 1;
  free(starts);
  free(lens);
  return v;
}

/* ------------------------------------------------------ async discovery */

enum wpad_state { WPAD_RUNNING, WPAD_DONE, WPAD_CANCELED };

/* One name lookup; freed in its callback, which always comes. */
typedef struct wpad_lookup {
  uv_getaddrinfo_t gai; /* first: the callback casts back */
  rf__wpad_req *owner;
  size_t index; /* into owner->cands */
} wpad_lookup;

struct rf__wpad_req {
  uv_loop_t *loop;
  rf__wpad_cb cb;
  void *user_data;
  enum wpad_state state;
  int in_cb;
  unsigned pending; /* work + lookups in flight + timer until closed */

  /* Configuration (copies; psl borrowed). */
  unsigned methods, timeout_ms, max;
  char *dhcp_url, *dhcp_url_source, *dhcp_url_file, *resolv_conf;
  char **lease_files, **domains;
  int64_t now;
  const psl_ctx_t *psl;
  rf__wpad_getaddrinfo_fn gai_fn;
  rf__wpad_cancel_fn cancel_fn;

  /* Written by the worker, read on the loop once it is done. */
  uv_work_t work;
  int work_queued;
  int work_err;         /* RF_ENOMEM */
  char *url, *source;   /* the DHCP answer */
  char **found_domains; /* from resolv.conf; NULL when unreadable */
  int resolv_err;
  psl_ctx_t *own_psl;
  wpad_buf tried;
  unsigned items; /* in the current section of tried */

  /* DNS phase, on the loop. */
  rf__wpad_candidate *cands;
  size_t n_cands, next;
  wpad_lookup *current; /* the lookup we wait for, or NULL */
  uv_timer_t timer;
  char dns_source[RF__WPAD_NAME_MAX + 8];
};

static void wpad_item(rf__wpad_req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends one item to the current section of r->tried. */
static void wpad_item(rf__wpad_req *r, const char *fmt, ...)
{
  va_list ap;

  if (r->items++ > 0)
    wpad_buf_add(&r->tried, ", ");
  va_start(ap, fmt);
  wpad_buf_vadd(&r->tried, fmt, ap);
  va_end(ap);
}

static void wpad_section(rf__wpad_req *r, const char *title)
{
  wpad_buf_section(&r->tried, title);
  r->items = 0;
}

/* ------------------------------------------- DHCP sources (thread pool) */

typedef struct wpad_file {
  char *path;
  int64_t mtime;
} wpad_file;

static int wpad_file_cmp(const void *a, const void *b)
{
  const wpad_file *x = a, *y = b;

  if (x->mtime != y->mtime)
    return x->mtime > y->mtime ? -1 : 1; /* newest first */
  return strcmp(x->path, y->path);
}

char **rf__dhcp_lease_files(const rf__dhcp_lease_dir *where, size_t nwhere)
{
  wpad_file *files = NULL;
  const char **starts = NULL;
  size_t *lens = NULL;
  size_t n = 0, cap = 0, i, w;
  char **v = NULL;
  int oom = 0;

  for (w = 0; w < nwhere && !oom; w++) {
    DIR *d = opendir(where[w].dir);
    struct dirent *e;

    if (d == NULL)
      continue;
    while ((e = readdir(d)) != NULL) {
      size_t nl = strlen(e->d_name), pl = strlen(where[w].prefix),
             sl = strlen(where[w].suffix);
      struct stat st;
      char *path;

      if (nl < pl + sl || strncmp(e->d_name, where[w].prefix, pl) != 0 ||
          strcmp(e->d_name + nl - sl, where[w].suffix) != 0)
        continue;
      path = malloc(strlen(where[w].dir) + 1 + nl + 1);
      if (path == NULL) {
        oom = 1;
        break;
      }
      sprintf(path, "%s/%s", where[w].dir, e->d_name);
      if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        free(path);
        continue;
      }
      if (n == cap) {
        size_t ncap = cap != 0 ? cap * 2 : 4;
        wpad_file *p = realloc(files, ncap * sizeof(*p));

        if (p == NULL) {
          free(path);
          oom = 1;
          break;
        }
        files = p;
        cap = ncap;
      }
      files[n].path = path;
      files[n].mtime = (int64_t)st.st_mtime;
      n++;
    }
    closedir(d);
  }
  if (oom)
    goto out;
  if (n > 0)
    qsort(files, n, sizeof(*files), wpad_file_cmp);
  starts = calloc(n + 1, sizeof(*starts));
  lens = calloc(n + 1, sizeof(*lens));
  if (starts == NULL || lens == NULL)
    goto out;
  for (i = 0; i < n; i++) {
    starts[i] = files[i].path;
    lens[i] = strlen(files[i].path);
  }
  v = rf__wpad_strv_pack(starts, lens, n);
out:
  for (i = 0; i < n; i++)
    free(files[i].path);
  free(files);
  free(starts);
  free(lens);
  return v;
}

/*
 * The default lease files: dhclient's (Debian, Red Hat) and NetworkManager's
 * dhclient backend, newest first.  Returns a one-block NULL-terminated list
 * or NULL (no memory).
 */
static char **wpad_default_leases(void)
{
  static const rf__dhcp_lease_dir where[] = {
    { "/var/lib/dhcp", "dhclient", ".leases" },
    { "/var/lib/dhclient", "dhclient", ".leases" },
    { "/var/lib/NetworkManager", "dhclient", ".lease" },
  };

  return rf__dhcp_lease_files(where, sizeof(where) / sizeof(where[0]));
}

/* Records a found URL (taking url) with its source. */
static void wpad_found(rf__wpad_req *r, char *url, const char *where)
{
  wpad_buf src = { NULL, 0, 0, 0 };

  wpad_buf_add(&src, "DHCP option 252 (%s)", where);
  if (src.oom) {
    free(url);
    free(src.p);
    r->work_err = RF_ENOMEM;
    return;
  }
  r->url = url;
  r->source = src.p;
  wpad_item(r, "%s (found)", where);
}

/* DHCP option 252 from the configured sources, in order. */
static void wpad_dhcp(rf__wpad_req *r)
{
  char **defaults = NULL, *url = NULL, *text = NULL;
  char *const *files;
  const char *why;
  size_t len, i;
  int err;

  wpad_section(r, "DHCP");
  if (r->dhcp_url != NULL) {
    const char *label =
        r->dhcp_url_source != NULL ? r->dhcp_url_source : "given";

    err = rf__wpad_parse_url(&url, r->dhcp_url, strlen(r->dhcp_url));
    if (err == 0) {
      wpad_found(r, url, label);
      return;
    }
    if (err == RF_ENOMEM)
      goto oom;
    wpad_item(r, "%s (option 252 is not an http(s) URL)", label);
  }
  if (r->dhcp_url_file != NULL) {
    err = rf__wpad_read_file(r->dhcp_url_file, &text, &len, NULL);
    if (err == 0) {
      err = rf__wpad_parse_url(&url, text, len);
      free(text);
      if (err == 0) {
        wpad_found(r, url, r->dhcp_url_file);
        return;
      }
      if (err == RF_ENOMEM)
        goto oom;
      wpad_item(r, "%s (option 252 is not an http(s) URL)", r->dhcp_url_file);
    } else if (err == RF_ENOMEM) {
      goto oom;
    } else {
      wpad_item(r, "%s (%s)", r->dhcp_url_file, rf_strerror(err));
    }
  }
  files = r->lease_files;
  if (files == NULL) {
    defaults = wpad_default_leases();
    if (defaults == NULL)
      goto oom;
    files = defaults;
    if (files[0] == NULL)
      wpad_item(r, "no dhclient lease file");
  }
  for (i = 0; files[i] != NULL; i++) {
    err = rf__wpad_read_leases(&url, &why, files[i], r->now);
    if (err == 0) {
      wpad_found(r, url, files[i]);
      break;
    }
    if (err == RF_ENOMEM)
      goto oom;
    wpad_item(r, "%s (%s)", files[i], why != NULL ? why : rf_strerror(err));
  }
  if (r->items == 0)
    wpad_item(r, "no source");
  free(defaults);
  return;
oom:
  free(defaults);
  r->work_err = RF_ENOMEM;
}

static void wpad_work(uv_work_t *w)
{
  rf__wpad_req *r = w->data;

  if (r->methods & RF__WPAD_DHCP)
    wpad_dhcp(r);
  if (r->url != NULL || r->work_err != 0 || !(r->methods & RF__WPAD_DNS))
    return;
  if (r->domains == NULL) {
    r->resolv_err =
        rf__wpad_read_resolv(&r->found_domains, NULL, r->resolv_conf);
    if (r->resolv_err == RF_ENOMEM) {
      r->work_err = RF_ENOMEM;
      return;
    }
  }
  if (r->psl == NULL)
    r->own_psl = psl_latest(NULL);
}

/* ------------------------------------------------------------ the loop */

static void wpad_req_free(rf__wpad_req *r)
{
  free(r->dhcp_url);
  free(r->dhcp_url_source);
  free(r->dhcp_url_file);
  free(r->resolv_conf);
  free(r->lease_files);
  free(r->domains);
  free(r->url);
  free(r->source);
  free(r->found_domains);
  psl_free(r->own_psl);
  free(r->tried.p);
  free(r->cands);
  free(r);
}

/* Frees r once it is finished or cancelled and nothing refers to it. */
static void wpad_maybe_free(rf__wpad_req *r)
{
  if (r->state == WPAD_RUNNING || r->pending > 0 || r->in_cb)
    return;
  wpad_req_free(r);
}

static void wpad_on_timer_closed(uv_handle_t *h)
{
  rf__wpad_req *r = h->data;

  r->pending--;
  wpad_maybe_free(r);
}

/* Stops everything in flight: the work (if it has not started), the
 * lookup we wait for (a hint: its callback still comes) and the timer. */
static void wpad_stop(rf__wpad_req *r)
{
  if (r->work_queued)
    (void)uv_cancel((uv_req_t *)&r->work);
  if (r->current != NULL) {
    wpad_lookup *lk = r->current;

    r->current = NULL;
    if (r->cancel_fn != NULL)
      (void)r->cancel_fn((uv_req_t *)&lk->gai);
  }
  if (!uv_is_closing((uv_handle_t *)&r->timer)) {
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, wpad_on_timer_closed);
  }
}

/* Ends the discovery with the user's callback (once). */
static void wpad_finish(rf__wpad_req *r, int status, const char *url,
                        const char *source)
{
  rf__wpad_result res;

  if (r->state != WPAD_RUNNING)
    return;
  r->state = WPAD_DONE;
  wpad_stop(r);
  res.status = status;
  res.url = status == 0 ? url : NULL;
  res.source = status == 0 ? source : NULL;
  if (r->tried.oom)
    res.tried = "(out of memory while recording what was tried)";
  else
    res.tried = r->tried.p != NULL ? r->tried.p : "";
  r->in_cb = 1;
  r->cb(&res, r->user_data);
  r->in_cb = 0;
}

static const char *wpad_gai_reason(int status, char *buf, size_t len)
{
  if (status == UV_EAI_NONAME || status == UV_EAI_NODATA)
    return "not found";
  snprintf(buf, len, "error: %s", uv_strerror(status));
  return buf;
}

static void wpad_dns_next(rf__wpad_req *r);

static void wpad_on_resolved(uv_getaddrinfo_t *g, int status,
                             struct addrinfo *res)
{
  wpad_lookup *lk = (wpad_lookup *)g;
  rf__wpad_req *r = lk->owner;

  uv_freeaddrinfo(res);
  r->pending--;
  if (r->current == lk) {
    const rf__wpad_candidate *c = &r->cands[lk->index];

    r->current = NULL;
    uv_timer_stop(&r->timer);
    if (status == 0) {
      wpad_item(r, "%s (found)", c->name);
      snprintf(r->dns_source, sizeof(r->dns_source), "DNS %s", c->name);
      wpad_finish(r, 0, c->url, r->dns_source);
    } else {
      char buf[128];

      wpad_item(r, "%s (%s)", c->name,
                wpad_gai_reason(status, buf, sizeof(buf)));
      wpad_dns_next(r);
    }
  }
  free(lk);
  wpad_maybe_free(r);
}

static void wpad_on_timeout(uv_timer_t *t)
{
  rf__wpad_req *r = t->data;
  wpad_lookup *lk = r->current;

  if (lk == NULL || r->state != WPAD_RUNNING)
    return;
  /* The lookup stays counted in pending until its callback comes. */
  r->current = NULL;
  wpad_item(r, "%s (timed out after %u ms)", r->cands[lk->index].name,
            r->timeout_ms);
  if (r->cancel_fn != NULL)
    (void)r->cancel_fn((uv_req_t *)&lk->gai);
  wpad_dns_next(r);
}

/* Starts the lookup of the next candidate, or ends with RF_ENOENT. */
static void wpad_dns_next(rf__wpad_req *r)
{
  while (r->state == WPAD_RUNNING && r->next < r->n_cands) {
    const rf__wpad_candidate *c = &r->cands[r->next];
    char node[RF__WPAD_NAME_MAX + 2];
    struct addrinfo hints;
    wpad_lookup *lk;
    int rc;

    lk = malloc(sizeof(*lk));
    if (lk == NULL) {
      wpad_finish(r, RF_ENOMEM, NULL, NULL);
      return;
    }
    memset(lk, 0, sizeof(*lk));
    lk->owner = r;
    lk->index = r->next++;
    /* Absolute name: the resolver must not append its search list. */
    snprintf(node, sizeof(node), "%s.", c->name);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    r->current = lk;
    r->pending++;
    uv_timer_start(&r->timer, wpad_on_timeout, r->timeout_ms, 0);
    rc = r->gai_fn(r->loop, &lk->gai, wpad_on_resolved, node, NULL, &hints);
    if (rc == 0)
      return;
    r->pending--;
    r->current = NULL;
    uv_timer_stop(&r->timer);
    free(lk);
    wpad_item(r, "%s (error: %s)", c->name, uv_strerror(rc));
  }
  wpad_finish(r, RF_ENOENT, NULL, NULL);
}

/* Back on the loop after the worker: the DHCP answer, or the DNS phase. */
static void wpad_dns_start(rf__wpad_req *r)
{
  char *const *domains = r->domains != NULL ? r->domains : r->found_domains;
  const char *resolv =
      r->resolv_conf != NULL ? r->resolv_conf : "/etc/resolv.conf";
  const psl_ctx_t *psl = r->psl != NULL ? r->psl : r->own_psl;
  size_t i;
  int err;

  wpad_section(r, "DNS");
  if (domains == NULL) {
    wpad_item(r, "cannot read %s (%s)", resolv, rf_strerror(r->resolv_err));
    wpad_finish(r, RF_ENOENT, NULL, NULL);
    return;
  }
  if (psl == NULL) {
    wpad_item(r, "no public suffix list");
    wpad_finish(r, RF_ENOENT, NULL, NULL);
    return;
  }
  err = rf__wpad_candidates(&r->cands, &r->n_cands, NULL, psl,
                            (const char *const *)domains, r->max);
  if (err != 0) {
    wpad_finish(r, err, NULL, NULL);
    return;
  }
  if (r->n_cands == 0) {
    if (domains[0] == NULL) {
      if (r->domains == NULL)
        wpad_item(r, "no search domain in %s", resolv);
      else
        wpad_item(r, "no search domain");
    } else {
      wpad_buf_add(&r->tried, "no usable domain (");
      for (i = 0; domains[i] != NULL; i++)
        wpad_buf_add(&r->tried, "%s%s", i > 0 ? " " : "", domains[i]);
      wpad_buf_add(&r->tried, ": invalid or public suffixes)");
    }
    wpad_finish(r, RF_ENOENT, NULL, NULL);
    return;
  }
  wpad_dns_next(r);
}

static void wpad_after_work(uv_work_t *w, int status)
{
  rf__wpad_req *r = w->data;

  (void)status; /* UV_ECANCELED only after rf__wpad_cancel */
  r->pending--;
  r->work_queued = 0;
  if (r->state == WPAD_RUNNING) {
    if (r->work_err != 0)
      wpad_finish(r, r->work_err, NULL, NULL);
    else if (r->url != NULL)
      wpad_finish(r, 0, r->url, r->source);
    else if (r->methods & RF__WPAD_DNS)
      wpad_dns_start(r);
    else
      wpad_finish(r, RF_ENOENT, NULL, NULL);
  }
  wpad_maybe_free(r);
}

int rf__wpad_discover(uv_loop_t *loop, const rf__wpad_config *cfg,
                      rf__wpad_cb cb, void *user_data, rf__wpad_req **req_out)
{
  rf__wpad_req *r;
  int oom = 0;

  if (req_out != NULL)
    *req_out = NULL;
  if (loop == NULL || cfg == NULL || cb == NULL || req_out == NULL ||
      (cfg->methods & ~(RF__WPAD_DHCP | RF__WPAD_DNS)) != 0)
    return RF_EINVAL;
  r = calloc(1, sizeof(*r));
  if (r == NULL)
    return RF_ENOMEM;
  r->loop = loop;
  r->cb = cb;
  r->user_data = user_data;
  r->state = WPAD_RUNNING;
  r->methods =
      cfg->methods != 0 ? cfg->methods : (RF__WPAD_DHCP | RF__WPAD_DNS);
  r->timeout_ms =
      cfg->timeout_ms != 0 ? cfg->timeout_ms : RF__WPAD_DEFAULT_TIMEOUT_MS;
  r->max = cfg->max_candidates != 0 ? cfg->max_candidates
                                    : RF__WPAD_DEFAULT_MAX_CANDIDATES;
  r->now = cfg->now != 0 ? cfg->now : (int64_t)time(NULL);
  r->psl = cfg->psl;
  r->gai_fn = cfg->getaddrinfo != NULL ? cfg->getaddrinfo : uv_getaddrinfo;
  if (cfg->cancel != NULL)
    r->cancel_fn = cfg->cancel;
  else if (cfg->getaddrinfo == NULL)
    r->cancel_fn = uv_cancel;
  r->dhcp_url = rf__strdup_opt(cfg->dhcp_url, &oom);
  r->dhcp_url_source = rf__strdup_opt(cfg->dhcp_url_source, &oom);
  r->dhcp_url_file = rf__strdup_opt(cfg->dhcp_url_file, &oom);
  r->resolv_conf = rf__strdup_opt(cfg->resolv_conf, &oom);
  r->lease_files = wpad_strv_dup(cfg->lease_files, &oom);
  r->domains = wpad_strv_dup(cfg->domains, &oom);
  if (oom) {
    wpad_req_free(r);
    return RF_ENOMEM;
  }
  if (uv_timer_init(loop, &r->timer) != 0) {
    wpad_req_free(r);
    return RF_EINTERNAL;
  }
  r->timer.data = r;
  r->pending = 1; /* the timer, until closed */
  r->work.data = r;
  if (uv_queue_work(loop, &r->work, wpad_work, wpad_after_work) != 0) {
    r->state = WPAD_CANCELED;
    wpad_stop(r); /* freed when the timer is closed */
    return RF_EINTERNAL;
  }
  r->pending++;
  r->work_queued = 1;
  *req_out = r;
  return 0;
}

void rf__wpad_cancel(rf__wpad_req *req)
{
  if (req == NULL || req->in_cb || req->state != WPAD_RUNNING)
    return;
  req->state = WPAD_CANCELED;
  wpad_stop(req);
  wpad_maybe_free(req);
}
