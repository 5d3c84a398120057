/*
 * The sources of a job (see source.h): made from options, linked and
 * routed, kept usable or backed off, banned or refused on the policy's
 * word, measured, and reported.
 */
#include "job.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "source/url.h"
#include "util/url.h"

const char *rf_source_kind_name(rf_source_kind kind)
{
  switch (kind) {
  case RF_SOURCE_ORIGIN:
    return "origin";
  case RF_SOURCE_MIRROR:
    return "mirror";
  case RF_SOURCE_CACHE_HOST:
    return "cache-host";
  case RF_SOURCE_PEER:
    return "peer";
  }
  return "?";
}

const char *rf_source_state_name(rf_source_state state)
{
  switch (state) {
  case RF_SOURCE_ACTIVE:
    return "active";
  case RF_SOURCE_ROUTING:
    return "routing";
  case RF_SOURCE_HELD:
    return "held";
  case RF_SOURCE_BACKOFF:
    return "backoff";
  case RF_SOURCE_BANNED:
    return "banned";
  case RF_SOURCE_REFUSED:
    return "refused";
  case RF_SOURCE_REMOVED:
    return "removed";
  }
  return "?";
}

void rf_source_options_init(rf_source_options *opts)
{
  rf_source_options d = RF_SOURCE_OPTIONS_INIT;

  if (opts != NULL)
    *opts = d;
}

void rf__source_free(rf__source *s)
{
  if (s == NULL)
    return;
  rf__source_route_cancel(s);
  rf__route_free(s->route);
  free(s->url);
  free(s->url_safe);
  free(s->name);
  free(s->host);
  free(s->effective_url);
  free(s->proxy);
  free(s);
}

int rf__source_new(rf__source **out, rf_job *job, rf_source_kind kind,
                   const char *url, unsigned cap)
{
  rf_engine *e = job->engine;
  rf__source *s;
  char why[300];
  int rc;

  *out = NULL;
  if (url == NULL || url[0] == '\0') {
    rf__engine_set_error(e, "a %s needs a %s", rf_source_kind_name(kind),
                         kind == RF_SOURCE_CACHE_HOST ? "host name" : "URL");
    return RF_EURL;
  }
  s = calloc(1, sizeof(*s));
  if (s == NULL)
    return RF_ENOMEM;
  s->job = job;
  s->kind = kind;
  s->state = RF_SOURCE_ROUTING;
  s->cap = cap;
  s->connect_timeout_ms = job->connect_timeout_ms;
  why[0] = '\0';
  if (kind == RF_SOURCE_CACHE_HOST) {
    rc = rf__source_cache_url(job->url, url, &s->url, why, sizeof(why));
    if (rc == 0) {
      s->host = strdup(url);
      s->name = strdup(url);
      s->url_safe = rf__url_strip_credentials(s->url);
      if (s->host == NULL || s->name == NULL || s->url_safe == NULL)
        rc = RF_ENOMEM;
    }
    /* Delivery Optimization: a cache host gets 3 s to connect. */
    if (s->connect_timeout_ms > RF__SRC_CACHE_CONNECT_MS)
      s->connect_timeout_ms = RF__SRC_CACHE_CONNECT_MS;
    s->no_proxy = job->cache_host_proxy == RF_CACHE_HOST_PROXY_DIRECT;
  } else {
    rc = rf__url_check(url, why, sizeof(why));
    if (rc == 0) {
      s->url = strdup(url);
      s->url_safe = rf__url_strip_credentials(url);
      s->name = s->url_safe != NULL ? strdup(s->url_safe) : NULL;
      if (s->url == NULL || s->url_safe == NULL || s->name == NULL)
        rc = RF_ENOMEM;
    }
  }
  if (rc != 0) {
    if (rc != RF_ENOMEM) {
      char safe[600];
      if (kind == RF_SOURCE_CACHE_HOST)
        snprintf(safe, sizeof(safe), "%s", url);
      else
        rf_url_mask(safe, sizeof(safe), url);
      rf__engine_set_error(e, "%s %s: %s", rf_source_kind_name(kind), safe,
                           why);
    }
    rf__source_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

int rf__job_peers_allowed(const rf_job *job, char *why, size_t size)
{
  if (job->manifest == NULL && job->manifest_url == NULL) {
    snprintf(why, size,
             "peers are not trusted: they are used only with a manifest "
             "whose pieces are SHA-256 hashes (rangefetch manifest --hash "
             "sha256), and this download has no manifest");
    return 0;
  }
  if (!job->manifest_trusted) {
    snprintf(why, size,
             "peers are not trusted: the manifest must come from the origin "
             "over HTTPS, or be pinned with its SHA-256 (--manifest-sha256), "
             "and %s is a plain http URL",
             job->manifest_url != NULL ? job->manifest_url : "it");
    return 0;
  }
  if (job->manifest != NULL && !job->manifest_sha256_pieces) {
    snprintf(why, size,
             "peers are not trusted: the manifest's piece hashes are XXH3, "
             "which detects accidents, not attacks; make it with "
             "rangefetch manifest --hash sha256");
    return 0;
  }
  return 1;
}

int rf__job_source_check(rf_job *job, const rf_source_options *o)
{
  char why[400];

  if (o->version == 0 || o->version > RF_SOURCE_OPTIONS_VERSION) {
    rf__engine_set_error(job->engine, "source options version %u is not "
                         "supported (1 to %u)",
                         o->version, RF_SOURCE_OPTIONS_VERSION);
    return RF_EINVAL;
  }
  if (o->kind != RF_SOURCE_MIRROR && o->kind != RF_SOURCE_CACHE_HOST &&
      o->kind != RF_SOURCE_PEER) {
    rf__engine_set_error(job->engine,
                         "a source must be a mirror, a cache host or a peer "
                         "(the origin is the job's URL)");
    return RF_EINVAL;
  }
  if (o->kind == RF_SOURCE_PEER && !rf__job_peers_allowed(job, why,
                                                          sizeof(why))) {
    rf__engine_set_error(job->engine, "%s", why);
    return RF_EINVAL;
  }
  if (o->kind == RF_SOURCE_CACHE_HOST && job->sched.npieces > 0) {
    /* Pieces planned already: they must be whole slices. */
    uint64_t slice = rf__job_slice_size(job);
    if (job->sched.piece_size % slice != 0) {
      rf__engine_set_error(job->engine,
                           "cache host %s: this download's pieces (%llu "
                           "bytes) are not whole slices of %llu bytes",
                           o->url != NULL ? o->url : "",
                           (unsigned long long)job->sched.piece_size,
                           (unsigned long long)slice);
      return RF_EINVAL;
    }
  }
  return 0;
}

int rf__job_source_from(rf_job *job, const rf_source_options *o,
                        rf__source **out)
{
  rf__source *s, *origin = job->srcs[0];
  int rc = rf__job_source_check(job, o);

  *out = NULL;
  if (rc == 0)
    rc = rf__source_new(&s, job, o->kind, o->url,
                        o->max_connections != 0 ? o->max_connections
                                                : job->per_source);
  if (rc != 0)
    return rc;
  /* The origin's explicit route (the job's proxy option, or direct) is
   * every source's, but a cache host's under the policy "direct". */
  if (!s->no_proxy) {
    s->no_proxy = origin->no_proxy;
    if (origin->proxy != NULL && (s->proxy = strdup(origin->proxy)) == NULL)
      rc = RF_ENOMEM;
  }
  if (rc == 0)
    rc = rf__job_source_add(job, s);
  if (rc != 0) {
    rf__source_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

int rf__job_source_add(rf_job *job, rf__source *s)
{
  if (job->nsrcs == job->srcs_cap) {
    unsigned cap = job->srcs_cap ? job->srcs_cap * 2 : 4;
    rf__source **a = realloc(job->srcs, cap * sizeof(*a));
    rf__src_view *v;
    rf_source_stats *st;
    if (a == NULL)
      return RF_ENOMEM;
    job->srcs = a;
    v = realloc(job->src_views, cap * sizeof(*v));
    if (v == NULL)
      return RF_ENOMEM;
    job->src_views = v;
    st = realloc(job->src_stats, cap * sizeof(*st));
    if (st == NULL)
      return RF_ENOMEM;
    job->src_stats = st;
    job->srcs_cap = cap;
  }
  s->id = job->nsrcs;
  job->srcs[job->nsrcs++] = s;
  return 0;
}

/* A cache host banned engine-wide: the source waits out the ban. */
static int cache_banned(rf_job *job, rf__source *s)
{
  const rf__ban *b;
  uint64_t now = uv_now(job->engine->loop);

  if (s->kind != RF_SOURCE_CACHE_HOST || s->state == RF_SOURCE_REMOVED)
    return 0;
  b = rf__ban_find(job->engine, s->host, job->origin_host);
  if (b == NULL)
    return 0;
  s->state = RF_SOURCE_BANNED;
  s->retry_at = b->until;
  rf__fmt_clip(s->why, sizeof(s->why), "%s (banned %s for %llu s more)",
               b->why, b->origin != NULL ? "for this origin" : "for every origin",
               (unsigned long long)((b->until - now + 999) / 1000));
  return 1;
}

int rf__source_usable(rf_job *job, rf__source *s)
{
  uint64_t now = uv_now(job->engine->loop);

  switch (s->state) {
  case RF_SOURCE_ACTIVE:
  case RF_SOURCE_HELD:
    if (cache_banned(job, s))
      return 0;
    return s->route != NULL;
  case RF_SOURCE_BACKOFF:
  case RF_SOURCE_BANNED:
    if (s->retry_at == 0 || now < s->retry_at)
      return 0;
    if (cache_banned(job, s))
      return 0;
    s->state = RF_SOURCE_ACTIVE;
    s->why[0] = '\0';
    return s->route != NULL;
  default:
    return 0;
  }
}

static const char *fault_name(rf__src_fault f)
{
  switch (f) {
  case RF__SRC_FAULT_CONNECT:
    return "no connection";
  case RF__SRC_FAULT_RESOLVE:
    return "name not found";
  case RF__SRC_FAULT_TIMEOUT:
    return "timeout";
  case RF__SRC_FAULT_LENGTH:
    return "different length";
  case RF__SRC_FAULT_NORANGE:
    return "no ranges";
  case RF__SRC_FAULT_BADPIECE:
    return "bad piece";
  default:
    return "failure";
  }
}

/* s is out (refused or banned): its running requests stop now; their
 * unfinished pieces go back to the others (rf__job_after_actions). */
static void cut_requests(rf_job *job, rf__source *s)
{
  unsigned k;

  for (k = 0; k < job->nconns; k++)
    if (job->conns[k].src == s && job->conns[k].state == RF__CONN_BUSY)
      job->conns[k].cancel = 1;
  job->dirty = 1;
}

void rf__source_failed(rf_job *job, rf__source *s, rf__src_fault fault,
                       long status, const char *msg)
{
  rf_engine *e = job->engine;
  uint64_t now = uv_now(e->loop), delay;
  rf__src_action act;
  int counts = !(s->kind == RF_SOURCE_PEER && fault == RF__SRC_FAULT_HTTP &&
                 status == 416);

  if (fault != RF__SRC_FAULT_BADPIECE)
    s->errors++;
  if (counts)
    s->fails++;
  if (s->kind == RF_SOURCE_CACHE_HOST)
    job->cache_failed = 1;
  if (s->state == RF_SOURCE_REMOVED || s->state == RF_SOURCE_REFUSED)
    return;
  act = rf__src_on_failure(s->kind, fault, status, s->fails, s->bad_pieces,
                           job->max_tries);
  switch (act) {
  case RF__SRC_REFUSE:
    s->state = RF_SOURCE_REFUSED;
    rf__fmt_clip(s->why, sizeof(s->why), "%s", msg);
    RF_LOG(&e->log, RF_LOG_WARN, "source",
           "%s %s refused: %s; going on with the other sources",
           rf_source_kind_name(s->kind), s->name, msg);
    cut_requests(job, s);
    return;
  case RF__SRC_BAN_JOB:
    s->state = RF_SOURCE_BANNED;
    s->retry_at = 0;
    if (fault == RF__SRC_FAULT_BADPIECE)
      rf__fmt_clip(s->why, sizeof(s->why),
                   "%u pieces failed verification (last: %s)", s->bad_pieces,
                   msg);
    else
      rf__fmt_clip(s->why, sizeof(s->why), "%s (%u failures in a row)", msg,
                   s->fails);
    RF_LOG(&e->log, RF_LOG_WARN, "source",
           "%s %s banned for this download: %s", rf_source_kind_name(s->kind),
           s->name, s->why);
    cut_requests(job, s);
    return;
  case RF__SRC_BAN_ORIGIN:
  case RF__SRC_BAN_HOST:
    rf__ban_add(e, s->host, act == RF__SRC_BAN_ORIGIN ? job->origin_host : NULL,
                RF__SRC_BAN_MS, msg);
    s->state = RF_SOURCE_BANNED;
    s->retry_at = now + RF__SRC_BAN_MS;
    rf__fmt_clip(s->why, sizeof(s->why), "%s (banned for 15 minutes%s)", msg,
                 act == RF__SRC_BAN_ORIGIN ? " for this origin" : "");
    RF_LOG(&e->log, RF_LOG_WARN, "source", "cache host %s: %s", s->name,
           s->why);
    cut_requests(job, s);
    return;
  case RF__SRC_RETRY:
    break;
  }
  /* Back off: doubling from the job's base, capped; a peer without the
   * piece yet waits the base only. */
  delay = (uint64_t)job->retry_base_ms
          << (s->fails > 10 ? 10 : s->fails > 0 ? s->fails - 1 : 0);
  if (delay > job->retry_max_ms)
    delay = job->retry_max_ms;
  s->state = RF_SOURCE_BACKOFF;
  s->retry_at = now + delay;
  rf__fmt_clip(s->why, sizeof(s->why), "%s", msg);
  RF_LOG(&e->log, RF_LOG_WARN, "source", "%s %s: %s (%s); again in %.1f s",
         rf_source_kind_name(s->kind), s->name, msg, fault_name(fault),
         (double)delay / 1000.0);
}

void rf__source_worked(rf_job *job, rf__source *s)
{
  (void)job;
  s->fails = 0;
  if (!s->agreed) {
    s->agreed = 1;
    if (s->id != 0)
      RF_LOG(&job->engine->log, RF_LOG_INFO, "source",
             "%s %s agrees with the origin: in use (%s)",
             rf_source_kind_name(s->kind), s->name, s->route_desc);
  }
}

void rf__sources_tick(rf_job *job, double dt)
{
  unsigned k;
  double a = dt / (dt + 1.0);

  for (k = 0; k < job->nsrcs; k++) {
    rf__source *s = job->srcs[k];
    double inst = (double)(s->net_bytes - s->net_at_tick) / dt;
    s->net_at_tick = s->net_bytes;
    if (s->busy == 0 && inst == 0)
      continue; /* keep what it was measured at while idle */
    s->rate = s->rate == 0 ? inst : s->rate + a * (inst - s->rate);
  }
}

void rf__sources_policy(rf_job *job, rf__src_policy *p)
{
  p->elapsed = (double)(uv_now(job->engine->loop) - job->start_ms) / 1000.0;
  p->cache_fallback_delay = job->cache_fallback_delay;
  p->origin_delay = job->origin_delay;
  p->cache_failed = job->cache_failed;
  p->cache_hash = job->cache_host_hash;
}

rf__src_view *rf__sources_views(rf_job *job)
{
  unsigned k;

  for (k = 0; k < job->nsrcs; k++) {
    rf__source *s = job->srcs[k];
    rf__src_view *v = &job->src_views[k];
    v->kind = s->kind;
    v->usable = rf__source_usable(job, s);
    v->agreed = s->agreed;
    v->busy = s->busy;
    v->cap = s->cap;
    v->rate = s->rate;
  }
  return job->src_views;
}

void rf__sources_stats(rf_job *job, uint64_t bytes_from[RF_SOURCE_KINDS])
{
  unsigned k;
  rf__src_view *v = rf__sources_views(job);
  rf__src_policy p;

  rf__sources_policy(job, &p);
  memset(bytes_from, 0, sizeof(uint64_t) * RF_SOURCE_KINDS);
  for (k = 0; k < job->nsrcs; k++) {
    rf__source *s = job->srcs[k];
    rf_source_stats *st = &job->src_stats[k];
    st->id = s->id;
    st->kind = s->kind;
    st->state = s->state;
    if (v[k].usable && s->busy == 0 &&
        !rf__src_eligible(v, job->nsrcs, k, &p) && job->nsrcs > 1)
      st->state = RF_SOURCE_HELD;
    st->name = s->name;
    st->route = s->route_desc;
    st->why = s->why;
    st->bytes = s->bytes;
    st->rate = s->rate;
    st->connections = s->busy;
    st->requests = s->requests;
    st->errors = s->errors;
    st->bad_pieces = s->bad_pieces;
    bytes_from[s->kind] += s->bytes;
  }
}

/* What a failed request says about its source (not the origin). */
rf__src_fault rf__source_fault_of(const rf_job *job, rf__conn *c, CURLcode res,
                                  int proxy_msg, long *status)
{
  curl_off_t connect_us = 0;

  *status = 0;
  if (proxy_msg)
    return RF__SRC_FAULT_NETWORK;
  if (c->stop == RF__STOP_ERROR && c->headers_done) {
    *status = c->status;
    if (c->status == 206 && c->has_cr == 1 && c->cr_total != job->total)
      return RF__SRC_FAULT_LENGTH;
    if (c->status == 200)
      return RF__SRC_FAULT_NORANGE;
    return c->status >= 400 ? RF__SRC_FAULT_HTTP : RF__SRC_FAULT_NETWORK;
  }
  switch (res) {
  case CURLE_COULDNT_RESOLVE_HOST:
    return RF__SRC_FAULT_RESOLVE;
  case CURLE_COULDNT_CONNECT:
    return RF__SRC_FAULT_CONNECT;
  case CURLE_OPERATION_TIMEDOUT:
    curl_easy_getinfo(c->easy, CURLINFO_CONNECT_TIME_T, &connect_us);
    return connect_us == 0 ? RF__SRC_FAULT_CONNECT : RF__SRC_FAULT_TIMEOUT;
  default:
    return RF__SRC_FAULT_NETWORK;
  }
}

/* Mirrors the origin announced (Link: rel=duplicate, RFC 6249) become
 * sources, lowest pri first. */
void rf__job_adopt_link_mirrors(rf_job *job)
{
  size_t k, order[RF__MIRRORS_MAX], n = job->links.n, i, j;

  if (n == 0 || job->no_mirror_links || job->single)
    return;
  for (k = 0; k < n; k++)
    order[k] = k;
  for (i = 1; i < n; i++) /* insertion sort: stable, at most 32 */
    for (j = i; j > 0 && job->links.v[order[j]].pri <
                             job->links.v[order[j - 1]].pri;
         j--) {
      size_t t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  for (k = 0; k < n; k++) {
    const rf__mirror *m = &job->links.v[order[k]];
    rf_source_options o = RF_SOURCE_OPTIONS_INIT;
    rf__source *s;
    o.url = m->url;
    if (rf__job_source_from(job, &o, &s) != 0)
      continue; /* (the parser already refused what is not http(s)) */
    RF_LOG(&job->engine->log, RF_LOG_INFO, "source",
           "the origin announces mirror %s (pri %u)", s->name, m->pri);
    rf__source_route(job, s);
  }
  rf__mirror_list_free(&job->links);
}

/* ------------------------------------------------------------------ bans */

const rf__ban *rf__ban_find(rf_engine *e, const char *host, const char *origin)
{
  rf__ban *b, **pp;
  uint64_t now = uv_now(e->loop);

  for (pp = &e->bans; (b = *pp) != NULL;) {
    if (b->until <= now) { /* expired */
      *pp = b->next;
      free(b->host);
      free(b->origin);
      free(b);
      continue;
    }
    if (strcasecmp(b->host, host) == 0 &&
        (b->origin == NULL ||
         (origin != NULL && strcasecmp(b->origin, origin) == 0)))
      return b;
    pp = &b->next;
  }
  return NULL;
}

void rf__ban_add(rf_engine *e, const char *host, const char *origin,
                 uint64_t ms, const char *why)
{
  rf__ban *b = calloc(1, sizeof(*b));

  if (b == NULL)
    return; /* out of memory: the job's own source state still holds */
  b->host = strdup(host);
  b->origin = origin != NULL ? strdup(origin) : NULL;
  if (b->host == NULL || (origin != NULL && b->origin == NULL)) {
    free(b->host);
    free(b->origin);
    free(b);
    return;
  }
  b->until = uv_now(e->loop) + ms;
  rf__fmt_clip(b->why, sizeof(b->why), "%s", why);
  b->next = e->bans;
  e->bans = b;
}

void rf__bans_free(rf_engine *e)
{
  rf__ban *b, *next;

  for (b = e->bans; b != NULL; b = next) {
    next = b->next;
    free(b->host);
    free(b->origin);
    free(b);
  }
  e->bans = NULL;
}
