/*
 * The resolver chain: asks the resolvers in order, caches routes, keeps the
 * bad-proxy marks and explains what it decided.
 *
 * Answers are never acted on inside the resolver's call: rf_resolve_answer
 * queues them and a 0 ms timer delivers them from the loop, so a resolver
 * that answers at once behaves like one that answers later.
 */
#include "proxy/chain.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "disk/fileio.h"
#include "proxy/candidate.h"

#define RF__ROUTE_CACHE_MS (300u * 1000u)
#define RF__BAD_DEFAULT_S 300u
#define RF__MAX_CACHE 256u
#define RF__MAX_BAD 256u

typedef struct resolver_ent {
  const rf_resolver_ops *ops;
  void *self;
  const char *name; /* ops->name, or the name it was added under */
} resolver_ent;

typedef struct step_rec {
  const char *resolver;
  rf_resolve_status status;
  char *detail;
  double seconds;
} step_rec;

typedef struct cache_ent {
  char key[560];
  rf_proxy *cands;
  size_t n;
  int resolver;
  char chosen_by[512];
  step_rec *steps;
  size_t nsteps;
  uint64_t until_ms;
} cache_ent;

typedef struct bad_ent {
  char key[300];
  uint64_t until_ms;
} bad_ent;

struct rf_resolve_req {
  rf__chain *ch;
  rf__chain_req *creq; /* NULL: orphaned (its chain request is gone) */
  int answered;
  rf_resolve_status status;
  rf_proxy *list;
  size_t n;
  char *detail;
  rf_resolve_req *next; /* in the answered queue */
};

struct rf__chain_req {
  rf__chain *ch;
  rf__chain_req *prev, *next;
  char url[540];
  char scheme[8];
  char host[256];
  char key[560];
  rf_resolve_info info;
  size_t idx;            /* resolver being asked */
  rf_resolve_req *cur;   /* its request, NULL when none */
  step_rec *steps;
  size_t nsteps;
  uint64_t step_start;
  int from_cache;        /* deliver the cache entry */
  int ready;             /* queued for delivery without a resolver */
  rf__chain_req *next_ready;
  rf__chain_cb cb;
  void *ud;
};

struct rf__chain {
  uv_loop_t *loop;
  const rf__logger *log;
  resolver_ent *ents;
  size_t nents;
  rf_context ctx;
  unsigned bad_time_s;
  cache_ent *cache;
  size_t ncache;
  bad_ent *bad;
  size_t nbad;
  rf__chain_req *reqs;
  size_t nreqs;
  rf_resolve_req *answered, *answered_tail;
  rf__chain_req *ready;
  uv_timer_t defer;
  uv_timer_t keepalive;
  int closing;
  unsigned open_handles;
  void (*closed)(void *);
  void *closed_ud;
};

/* ------------------------------------------------------------- helpers */

static uint64_t now_ms(const rf__chain *ch)
{
  return uv_now(ch->loop);
}

int rf__route_adopt(rf__route *r, size_t k, rf_proxy *one)
{
  rf_proxy **g = realloc(r->extra, (r->nextra + 1) * sizeof(*g));

  if (g == NULL)
    return RF_ENOMEM;
  r->extra = g;
  g[r->nextra++] = one;
  r->cands[k] = *one;
  return 0;
}

void rf__route_free(rf__route *r)
{
  size_t i;

  if (r == NULL)
    return;
  for (i = 0; i < r->nextra; i++) {
    if (r->extra[i]->password != NULL)
      memset((char *)(uintptr_t)r->extra[i]->password, 0,
             strlen(r->extra[i]->password));
    free(r->extra[i]);
  }
  free(r->extra);
  free(r->cands);
  free(r->tried);
  free(r);
}

void rf__route_note_failure(rf__route *r, const char *why)
{
  size_t old = r->tried != NULL ? strlen(r->tried) : 0;
  char *t = realloc(r->tried, old + strlen(why) + 3);

  if (t == NULL)
    return;
  if (old > 0)
    memcpy(t + old, "; ", 2), old += 2;
  strcpy(t + old, why);
  r->tried = t;
}

rf__route_step rf__route_fail(rf__route *r, size_t idx, const char *why,
                              char *msg, size_t size)
{
  int direct = 0;
  size_t k;

  if (r->cur != idx)
    return RF__ROUTE_SAME;
  rf__route_note_failure(r, why);
  if (++r->cur < r->n)
    return RF__ROUTE_NEXT;
  for (k = 0; k < r->n; k++)
    direct |= r->cands[k].type == RF_PROXY_DIRECT;
  r->cur = r->n - 1;
  snprintf(msg, size,
           "no candidate of the route worked (%s); the route was chosen by "
           "%s%s",
           r->tried != NULL ? r->tried : why, r->chosen_by,
           direct ? "" : "; it has no DIRECT, so no direct connection was "
                         "tried");
  return RF__ROUTE_EXHAUSTED;
}

int rf__url_reduce(const char *url, char *out, size_t size, char *scheme,
                   size_t scheme_size, char *host, size_t host_size,
                   unsigned *port)
{
  CURLU *u = curl_url();
  char *s = NULL, *h = NULL, *p = NULL;
  int rc = RF_EURL;
  size_t i, hl;
  unsigned long pv;
  CURLUcode uc;

  if (u == NULL)
    return RF_ENOMEM;
  uc = curl_url_set(u, CURLUPART_URL, url, 0);
  if (uc == CURLUE_OK)
    uc = curl_url_get(u, CURLUPART_SCHEME, &s, 0);
  if (uc == CURLUE_OK)
    uc = curl_url_get(u, CURLUPART_HOST, &h, 0);
  if (uc == CURLUE_OK)
    uc = curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT);
  if (uc != CURLUE_OK) {
    if (uc == CURLUE_OUT_OF_MEMORY) /* not the URL's fault */
      rc = RF_ENOMEM;
    goto out;
  }
  if (strcmp(s, "http") != 0 && strcmp(s, "https") != 0)
    goto out;
  hl = strlen(h);
  if (h[0] == '[') { /* IPv6: without brackets (and zone id) */
    memmove(h, h + 1, hl);
    hl = strcspn(h, "]%");
    h[hl] = '\0';
  }
  if (hl == 0 || hl >= host_size || strlen(s) >= scheme_size)
    goto out;
  for (i = 0; i < hl; i++)
    if (h[i] >= 'A' && h[i] <= 'Z')
      h[i] = (char)(h[i] - 'A' + 'a');
  pv = strtoul(p, NULL, 10);
  if (pv == 0 || pv > 65535)
    goto out;
  strcpy(scheme, s);
  strcpy(host, h);
  *port = (unsigned)pv;
  {
    int def = (strcmp(s, "http") == 0 && pv == 80) ||
              (strcmp(s, "https") == 0 && pv == 443);
    int v6 = strchr(h, ':') != NULL;
    int n;
    if (def)
      n = snprintf(out, size, "%s://%s%s%s/", s, v6 ? "[" : "", h,
                   v6 ? "]" : "");
    else
      n = snprintf(out, size, "%s://%s%s%s:%lu/", s, v6 ? "[" : "", h,
                   v6 ? "]" : "", pv);
    if (n < 0 || (size_t)n >= size)
      goto out;
  }
  rc = 0;
out:
  curl_free(s);
  curl_free(h);
  curl_free(p);
  curl_url_cleanup(u);
  return rc;
}

static void steps_free(step_rec *s, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++)
    free(s[i].detail);
  free(s);
}

static int steps_copy(const step_rec *src, size_t n, step_rec **out)
{
  size_t i;
  step_rec *s = calloc(n > 0 ? n : 1, sizeof(*s));

  *out = NULL;
  if (s == NULL)
    return RF_ENOMEM;
  for (i = 0; i < n; i++) {
    s[i] = src[i];
    s[i].detail = strdup(src[i].detail != NULL ? src[i].detail : "");
    if (s[i].detail == NULL) {
      steps_free(s, i);
      return RF_ENOMEM;
    }
  }
  *out = s;
  return 0;
}

/* ----------------------------------------------------------- bad marks */

static bad_ent *bad_find(rf__chain *ch, const rf_proxy *p)
{
  char key[300];
  size_t i;
  uint64_t now = now_ms(ch);

  rf_proxy_format(key, sizeof(key), p); /* its identity */
  for (i = 0; i < ch->nbad; i++)
    if (strcmp(ch->bad[i].key, key) == 0 && ch->bad[i].until_ms > now)
      return &ch->bad[i];
  return NULL;
}

unsigned rf__chain_bad_for(rf__chain *ch, const rf_proxy *p)
{
  bad_ent *b;

  if (p == NULL || p->type == RF_PROXY_DIRECT)
    return 0;
  b = bad_find(ch, p);
  return b != NULL ? (unsigned)((b->until_ms - now_ms(ch) + 999) / 1000) : 0;
}

static void bad_mark_until(rf__chain *ch, const rf_proxy *p, uint64_t until)
{
  bad_ent *b = bad_find(ch, p);
  uint64_t now = now_ms(ch);
  size_t i;

  if (b == NULL) {
    /* Reuse an expired slot, or grow (bounded: the oldest is replaced). */
    for (i = 0; i < ch->nbad && b == NULL; i++)
      if (ch->bad[i].until_ms <= now)
        b = &ch->bad[i];
    if (b == NULL && ch->nbad < RF__MAX_BAD) {
      bad_ent *g = realloc(ch->bad, (ch->nbad + 1) * sizeof(*g));
      if (g == NULL)
        return;
      ch->bad = g;
      b = &ch->bad[ch->nbad++];
    }
    if (b == NULL) {
      b = &ch->bad[0];
      for (i = 1; i < ch->nbad; i++)
        if (ch->bad[i].until_ms < b->until_ms)
          b = &ch->bad[i];
    }
    rf_proxy_format(b->key, sizeof(b->key), p);
  }
  b->until_ms = until;
}

static void bad_mark(rf__chain *ch, const rf_proxy *p)
{
  bad_mark_until(ch, p, now_ms(ch) + (uint64_t)ch->bad_time_s * 1000);
}

int rf__chain_save_marks(rf__chain *ch, const char *path)
{
  char tmp[4200];
  FILE *f;
  size_t i;
  uint64_t now = now_ms(ch);
  time_t wall = time(NULL);
  int rc = 0;

  if (path == NULL || strlen(path) > 4096)
    return RF_EINVAL;
  for (i = 0; i < ch->nbad && ch->bad[i].until_ms <= now; i++)
    ;
  if (i == ch->nbad && access(path, F_OK) != 0)
    return 0; /* nothing to keep, nothing to clear: no file at all */
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  f = fopen(tmp, "w");
  if (f == NULL)
    return rf__errno_to_rf(errno);
  for (i = 0; i < ch->nbad; i++)
    if (ch->bad[i].until_ms > now)
      fprintf(f, "%s %lld\n", ch->bad[i].key,
              (long long)wall +
                  (long long)((ch->bad[i].until_ms - now + 999) / 1000));
  if (fflush(f) != 0 || ferror(f))
    rc = rf__errno_to_rf(errno);
  if (fclose(f) != 0 && rc == 0)
    rc = rf__errno_to_rf(errno);
  if (rc == 0 && rename(tmp, path) != 0)
    rc = rf__errno_to_rf(errno);
  if (rc != 0)
    unlink(tmp);
  return rc;
}

int rf__chain_load_marks(rf__chain *ch, const char *path)
{
  char line[400], url[320], buf[512];
  FILE *f;
  long long until;
  time_t wall = time(NULL);
  unsigned n = 0;

  if (path == NULL)
    return RF_EINVAL;
  f = fopen(path, "r");
  if (f == NULL)
    return errno == ENOENT ? 0 : rf__errno_to_rf(errno);
  /* Bounded: RF__MAX_BAD lines are read at most. */
  while (n++ < RF__MAX_BAD && fgets(line, sizeof(line), f) != NULL) {
    rf_proxy p;
    if (sscanf(line, "%319s %lld", url, &until) != 2 || until <= wall)
      continue;
    if (rf_proxy_parse(&p, buf, sizeof(buf), url) != 0 ||
        p.type == RF_PROXY_DIRECT || p.user != NULL)
      continue;
    bad_mark_until(ch, &p, now_ms(ch) + (uint64_t)(until - wall) * 1000u);
  }
  fclose(f);
  return 0;
}

/* Good candidates first, in their order, then the bad ones (Chromium's
 * rule: a bad proxy is still tried when nothing else is left). */
static void order_by_bad(rf__chain *ch, rf_proxy *c, size_t n)
{
  size_t i, k = 0;
  rf_proxy *tmp;
  int *bad;

  if (n < 2)
    return;
  tmp = malloc(n * sizeof(*tmp));
  bad = malloc(n * sizeof(*bad));
  if (tmp == NULL || bad == NULL) {
    free(tmp);
    free(bad);
    return;
  }
  for (i = 0; i < n; i++)
    bad[i] = rf__chain_bad_for(ch, &c[i]) > 0;
  for (i = 0; i < n; i++)
    if (!bad[i])
      tmp[k++] = c[i];
  for (i = 0; i < n; i++)
    if (bad[i])
      tmp[k++] = c[i];
  memcpy(c, tmp, n * sizeof(*c));
  free(tmp);
  free(bad);
}

/* -------------------------------------------------------------- cache */

static cache_ent *cache_find(rf__chain *ch, const char *key)
{
  size_t i;
  uint64_t now = now_ms(ch);

  for (i = 0; i < ch->ncache; i++)
    if (ch->cache[i].until_ms > now && strcmp(ch->cache[i].key, key) == 0)
      return &ch->cache[i];
  return NULL;
}

static void cache_ent_clear(cache_ent *e)
{
  free(e->cands);
  steps_free(e->steps, e->nsteps);
  memset(e, 0, sizeof(*e));
}

static void cache_store(rf__chain *ch, const rf__chain_req *r,
                        const rf_proxy *cands, size_t n, int resolver,
                        const char *chosen_by)
{
  cache_ent *e = NULL;
  uint64_t now = now_ms(ch);
  size_t i;

  for (i = 0; i < ch->ncache && e == NULL; i++)
    if (ch->cache[i].until_ms <= now || strcmp(ch->cache[i].key, r->key) == 0)
      e = &ch->cache[i];
  if (e == NULL && ch->ncache < RF__MAX_CACHE) {
    cache_ent *g = realloc(ch->cache, (ch->ncache + 1) * sizeof(*g));
    if (g == NULL)
      return;
    ch->cache = g;
    e = &ch->cache[ch->ncache++];
    memset(e, 0, sizeof(*e));
  }
  if (e == NULL)
    e = &ch->cache[0];
  cache_ent_clear(e);
  if (rf__proxy_list_copy(cands, n, 1, &e->cands) != 0)
    return;
  if (steps_copy(r->steps, r->nsteps, &e->steps) != 0) {
    free(e->cands);
    e->cands = NULL;
    return;
  }
  e->nsteps = r->nsteps;
  e->n = n;
  e->resolver = resolver;
  snprintf(e->key, sizeof(e->key), "%s", r->key);
  snprintf(e->chosen_by, sizeof(e->chosen_by), "%s", chosen_by);
  e->until_ms = now + RF__ROUTE_CACHE_MS;
}

/* ------------------------------------------------------------ the walk */

static void keepalive_cb(uv_timer_t *t)
{
  (void)t;
}

static void req_link(rf__chain *ch, rf__chain_req *r)
{
  r->next = ch->reqs;
  if (ch->reqs != NULL)
    ch->reqs->prev = r;
  ch->reqs = r;
  if (ch->nreqs++ == 0) /* keep the loop alive while routes are pending */
    uv_timer_start(&ch->keepalive, keepalive_cb, 3600u * 1000u,
                   3600u * 1000u);
}

static void req_unlink(rf__chain *ch, rf__chain_req *r)
{
  if (r->prev != NULL)
    r->prev->next = r->next;
  else
    ch->reqs = r->next;
  if (r->next != NULL)
    r->next->prev = r->prev;
  r->prev = r->next = NULL;
  if (--ch->nreqs == 0)
    uv_timer_stop(&ch->keepalive);
}

static void req_free(rf__chain_req *r)
{
  steps_free(r->steps, r->nsteps);
  free(r);
}

static void defer_cb(uv_timer_t *t);

static void arm(rf__chain *ch)
{
  if (!ch->closing)
    uv_timer_start(&ch->defer, defer_cb, 0, 0);
}

/* Deliver: route (owned by the callee) or an error. */
static void finish(rf__chain_req *r, int err, const char *msg,
                   rf_proxy *cands, size_t n, int resolver,
                   const char *chosen_by)
{
  rf__chain *ch = r->ch;
  rf_route_info info;
  rf_route_step *steps = NULL;
  rf_proxy *pub = NULL;
  unsigned *bad = NULL;
  rf__route *route = NULL;
  size_t i;

  memset(&info, 0, sizeof(info));
  if (err == 0) {
    route = calloc(1, sizeof(*route));
    if (route == NULL || rf__proxy_list_copy(cands, n, 1, &route->cands) != 0) {
      free(route);
      route = NULL;
      err = RF_ENOMEM;
      msg = "out of memory";
    } else {
      route->n = n;
      route->resolver = resolver;
      order_by_bad(ch, route->cands, n);
      snprintf(route->chosen_by, sizeof(route->chosen_by), "%s", chosen_by);
    }
  }
  info.url = r->url;
  info.context = r->info.context;
  info.error = err;
  info.chosen_by = err == 0 ? chosen_by : (msg != NULL ? msg : "");
  info.from_cache = r->from_cache;
  info.auth = RF_PROXY_AUTH_SAFE; /* jobs may allow others (proxy_auth) */
  steps = calloc(r->nsteps > 0 ? r->nsteps : 1, sizeof(*steps));
  if (steps != NULL) {
    for (i = 0; i < r->nsteps; i++) {
      steps[i].resolver = r->steps[i].resolver;
      steps[i].status = r->steps[i].status;
      steps[i].detail = r->steps[i].detail != NULL ? r->steps[i].detail : "";
      steps[i].seconds = r->steps[i].seconds;
    }
    info.steps = steps;
    info.nsteps = r->nsteps;
  }
  if (route != NULL && rf__proxy_list_copy(route->cands, route->n, 0, &pub) == 0) {
    bad = calloc(route->n, sizeof(*bad));
    if (bad != NULL) {
      for (i = 0; i < route->n; i++)
        bad[i] = rf__chain_bad_for(ch, &route->cands[i]);
      info.candidates = pub;
      info.ncandidates = route->n;
      info.bad_for_s = bad;
    }
  }
  req_unlink(ch, r);
  r->cb(r->ud, err, msg, route, &info);
  free(steps);
  free(pub);
  free(bad);
  req_free(r);
}

static void add_step(rf__chain_req *r, const char *name,
                     rf_resolve_status st, const char *detail)
{
  step_rec *g = realloc(r->steps, (r->nsteps + 1) * sizeof(*g));

  if (g == NULL)
    return;
  r->steps = g;
  g[r->nsteps].resolver = name;
  g[r->nsteps].status = st;
  g[r->nsteps].detail = strdup(detail != NULL ? detail : "");
  g[r->nsteps].seconds =
      (double)(uv_now(r->ch->loop) - r->step_start) / 1000.0;
  r->nsteps++;
}

static void ask_next(rf__chain_req *r);

static void handle_answer(rf__chain_req *r, rf_resolve_req *a)
{
  rf__chain *ch = r->ch;
  const resolver_ent *ent = &ch->ents[r->idx];
  char chosen[512];

  r->cur = NULL;
  add_step(r, ent->name, a->status, a->detail);
  switch (a->status) {
  case RF_RESOLVE_OK:
    snprintf(chosen, sizeof(chosen), "%s%s%s", ent->name,
             a->detail != NULL && a->detail[0] ? ": " : "",
             a->detail != NULL ? a->detail : "");
    RF_LOG(ch->log, RF_LOG_INFO, "proxy", "%s: route chosen by %s", r->url,
           chosen);
    cache_store(ch, r, a->list, a->n, (int)r->idx, chosen);
    finish(r, 0, NULL, a->list, a->n, (int)r->idx, chosen);
    return;
  case RF_RESOLVE_ERROR_MANDATORY:
    snprintf(chosen, sizeof(chosen), "%s: %s", ent->name,
             a->detail != NULL ? a->detail : "failed");
    RF_LOG(ch->log, RF_LOG_WARN, "proxy",
           "%s: %s; it is mandatory: no direct connection", r->url, chosen);
    finish(r, RF_EPROXY, chosen, NULL, 0, -1, NULL);
    return;
  case RF_RESOLVE_ERROR:
    RF_LOG(ch->log, RF_LOG_WARN, "proxy", "%s: resolver %s failed: %s",
           r->url, ent->name, a->detail != NULL ? a->detail : "");
    break;
  case RF_RESOLVE_PASS:
    RF_LOG(ch->log, RF_LOG_DEBUG, "proxy", "%s: resolver %s has no opinion",
           r->url, ent->name);
    break;
  }
  r->idx++;
  ask_next(r);
}

static void answer_free(rf_resolve_req *a)
{
  free(a->list);
  free(a->detail);
  free(a);
}

static void ask_next(rf__chain_req *r)
{
  rf__chain *ch = r->ch;
  rf_resolve_req *a;

  if (r->idx >= ch->nents) {
    rf_proxy direct;
    const char *why = "default: no resolver had an opinion, direct";
    memset(&direct, 0, sizeof(direct));
    if (ch->nents == 0)
      why = "default: no proxy configured, direct";
    cache_store(ch, r, &direct, 1, -1, why);
    finish(r, 0, NULL, &direct, 1, -1, why);
    return;
  }
  a = calloc(1, sizeof(*a));
  if (a == NULL) {
    finish(r, RF_ENOMEM, "out of memory", NULL, 0, -1, NULL);
    return;
  }
  a->ch = ch;
  a->creq = r;
  r->cur = a;
  r->step_start = uv_now(ch->loop);
  ch->ents[r->idx].ops->resolve(ch->ents[r->idx].self, a, &r->info);
}

static void defer_cb(uv_timer_t *t)
{
  rf__chain *ch = t->data;
  int guard = 0;

  /* Bounded: every round consumes queued items; new ones re-arm. */
  while ((ch->answered != NULL || ch->ready != NULL) && guard++ < 1024) {
    rf_resolve_req *a = ch->answered;
    rf__chain_req *r = ch->ready;
    if (a != NULL) {
      ch->answered = a->next;
      if (ch->answered == NULL)
        ch->answered_tail = NULL;
      if (a->creq != NULL)
        handle_answer(a->creq, a);
      answer_free(a);
      continue;
    }
    ch->ready = r->next_ready;
    r->ready = 0;
    if (r->from_cache) {
      cache_ent *e = cache_find(ch, r->key);
      if (e != NULL) {
        steps_free(r->steps, r->nsteps);
        r->steps = NULL;
        r->nsteps = 0;
        if (steps_copy(e->steps, e->nsteps, &r->steps) == 0)
          r->nsteps = e->nsteps;
        finish(r, 0, NULL, e->cands, e->n, e->resolver, e->chosen_by);
        continue;
      }
      r->from_cache = 0; /* expired meanwhile */
    }
    ask_next(r);
  }
  if (ch->answered != NULL || ch->ready != NULL)
    arm(ch);
}

int rf_resolve_answer(rf_resolve_req *a, rf_resolve_status status,
                      const rf_proxy *list, size_t n, const char *detail)
{
  rf__chain *ch;
  int rc = 0;

  if (a == NULL)
    return RF_EINVAL;
  if (a->answered)
    return RF_EINVAL;
  ch = a->ch;
  a->answered = 1;
  a->status = status;
  if (status == RF_RESOLVE_OK) {
    if (n == 0 || list == NULL) {
      rc = RF_EINVAL;
    } else {
      rc = rf__proxy_list_copy(list, n, 1, &a->list);
      a->n = rc == 0 ? n : 0;
    }
    if (rc != 0) {
      a->status = RF_RESOLVE_ERROR;
      detail = rc == RF_ENOMEM ? "out of memory"
                               : "invalid answer (no candidate, or a "
                                 "candidate without host)";
    }
  } else if (status != RF_RESOLVE_PASS && status != RF_RESOLVE_ERROR &&
             status != RF_RESOLVE_ERROR_MANDATORY) {
    a->status = RF_RESOLVE_ERROR;
    detail = "invalid answer status";
    rc = RF_EINVAL;
  }
  a->detail = strdup(detail != NULL ? detail : "");
  a->next = NULL;
  if (ch->answered_tail != NULL)
    ch->answered_tail->next = a;
  else
    ch->answered = a;
  ch->answered_tail = a;
  arm(ch);
  return rc;
}

int rf__chain_resolve(rf__chain *ch, const char *url, rf__chain_cb cb,
                      void *ud, rf__chain_req **req_out)
{
  rf__chain_req *r;
  int rc;

  *req_out = NULL;
  if (ch->closing)
    return RF_EINVAL;
  r = calloc(1, sizeof(*r));
  if (r == NULL)
    return RF_ENOMEM;
  rc = rf__url_reduce(url, r->url, sizeof(r->url), r->scheme,
                      sizeof(r->scheme), r->host, sizeof(r->host),
                      &r->info.port);
  if (rc != 0) {
    free(r);
    return rc;
  }
  r->ch = ch;
  r->cb = cb;
  r->ud = ud;
  r->info.url = r->url;
  r->info.scheme = r->scheme;
  r->info.host = r->host;
  r->info.context = ch->ctx;
  snprintf(r->key, sizeof(r->key), "%d|%s", (int)ch->ctx, r->url);
  r->from_cache = cache_find(ch, r->key) != NULL;
  req_link(ch, r);
  r->ready = 1;
  r->next_ready = ch->ready;
  ch->ready = r;
  arm(ch);
  *req_out = r;
  return 0;
}

void rf__chain_cancel(rf__chain_req *r)
{
  rf__chain *ch;

  if (r == NULL)
    return;
  ch = r->ch;
  if (r->ready) {
    rf__chain_req **pp = &ch->ready;
    while (*pp != NULL && *pp != r)
      pp = &(*pp)->next_ready;
    if (*pp == r)
      *pp = r->next_ready;
  }
  if (r->cur != NULL) {
    rf_resolve_req *a = r->cur;
    if (a->answered) {
      a->creq = NULL; /* freed when the queue reaches it */
    } else {
      const resolver_ent *ent = &ch->ents[r->idx];
      ent->ops->cancel(ent->self, a);
      answer_free(a);
    }
  }
  req_unlink(ch, r);
  req_free(r);
}

void rf__chain_report(rf__chain *ch, const rf__route *route,
                      const rf_proxy *p, rf_proxy_outcome o,
                      const char *detail)
{
  char name[300];

  if (p == NULL || p->type == RF_PROXY_DIRECT)
    return;
  rf_proxy_format(name, sizeof(name), p);
  if (o == RF_PROXY_DEAD) {
    bad_mark(ch, p);
    RF_LOG(ch->log, RF_LOG_WARN, "proxy", "%s marked bad for %u s: %s", name,
           ch->bad_time_s, detail != NULL ? detail : "");
  }
  if (route != NULL && route->resolver >= 0 &&
      (size_t)route->resolver < ch->nents) {
    const resolver_ent *ent = &ch->ents[route->resolver];
    if (ent->ops->feedback != NULL) {
      rf_proxy pub = *p;
      pub.password = NULL;
      ent->ops->feedback(ent->self, &pub, o, detail);
    }
  }
}

/* ---------------------------------------------------------- lifecycle */

int rf__chain_new(rf__chain **out, uv_loop_t *loop, const rf__logger *log)
{
  rf__chain *ch = calloc(1, sizeof(*ch));

  *out = NULL;
  if (ch == NULL)
    return RF_ENOMEM;
  ch->loop = loop;
  ch->log = log;
  ch->bad_time_s = RF__BAD_DEFAULT_S;
  uv_timer_init(loop, &ch->defer);
  uv_timer_init(loop, &ch->keepalive);
  ch->defer.data = ch;
  ch->keepalive.data = ch;
  ch->open_handles = 2;
  *out = ch;
  return 0;
}

int rf__chain_add(rf__chain *ch, const rf_resolver_ops *ops, void *self)
{
  return rf__chain_add_named(ch, ops, self, ops != NULL ? ops->name : NULL);
}

int rf__chain_add_named(rf__chain *ch, const rf_resolver_ops *ops, void *self,
                        const char *name)
{
  resolver_ent *g;

  if (ops == NULL || ops->resolve == NULL || ops->cancel == NULL ||
      name == NULL || ch->closing)
    return RF_EINVAL;
  g = realloc(ch->ents, (ch->nents + 1) * sizeof(*g));
  if (g == NULL)
    return RF_ENOMEM;
  ch->ents = g;
  g[ch->nents].ops = ops;
  g[ch->nents].self = self;
  g[ch->nents].name = name;
  ch->nents++;
  return 0;
}

void rf__chain_set_context(rf__chain *ch, rf_context ctx)
{
  ch->ctx = ctx;
}

rf_context rf__chain_context(const rf__chain *ch)
{
  return ch->ctx;
}

void rf__chain_set_bad_time(rf__chain *ch, unsigned seconds)
{
  ch->bad_time_s = seconds != 0 ? seconds : RF__BAD_DEFAULT_S;
}


static void on_handle_closed(uv_handle_t *h)
{
  rf__chain *ch = h->data;

  if (--ch->open_handles == 0) {
    void (*closed)(void *) = ch->closed;
    void *ud = ch->closed_ud;
    free(ch);
    if (closed != NULL)
      closed(ud);
  }
}

void rf__chain_close(rf__chain *ch, void (*closed)(void *ud), void *ud)
{
  size_t i;

  if (ch == NULL) {
    if (closed != NULL)
      closed(ud);
    return;
  }
  while (ch->reqs != NULL)
    rf__chain_cancel(ch->reqs);
  ch->closing = 1;
  while (ch->answered != NULL) {
    rf_resolve_req *a = ch->answered;
    ch->answered = a->next;
    answer_free(a);
  }
  ch->answered_tail = NULL;
  for (i = 0; i < ch->nents; i++)
    if (ch->ents[i].ops->destroy != NULL)
      ch->ents[i].ops->destroy(ch->ents[i].self);
  free(ch->ents);
  ch->ents = NULL;
  ch->nents = 0;
  for (i = 0; i < ch->ncache; i++)
    cache_ent_clear(&ch->cache[i]);
  free(ch->cache);
  free(ch->bad);
  ch->cache = NULL;
  ch->bad = NULL;
  ch->closed = closed;
  ch->closed_ud = ud;
  uv_close((uv_handle_t *)&ch->defer, on_handle_closed);
  uv_close((uv_handle_t *)&ch->keepalive, on_handle_closed);
}
