/*
 * The route of a source's requests: asked of the proxy chain for the
 * source's own URL (so a PAC may send a cache host DIRECT and the origin
 * through the proxy), or the job's explicit proxy; described for messages,
 * with credentials; and what a failed request had to do with its proxy
 * (dead: fail over; refused credentials; refused request).
 */
#include "job.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "proxy/candidate.h"

const rf_proxy *rf__conn_proxy(const rf__conn *c)
{
  const rf__route *r = c->src != NULL ? c->src->route : NULL;

  if (r == NULL || c->route_idx >= r->n ||
      r->cands[c->route_idx].type == RF_PROXY_DIRECT)
    return NULL;
  return &r->cands[c->route_idx];
}

void rf__source_describe_route(rf__source *s)
{
  const rf__route *r = s->route;
  char name[300];

  if (r == NULL) {
    s->route_desc[0] = '\0';
    return;
  }
  rf_proxy_format(name, sizeof(name), &r->cands[r->cur]);
  if (r->cands[r->cur].type == RF_PROXY_DIRECT)
    snprintf(s->route_desc, sizeof(s->route_desc), "direct (chosen by %s)",
             r->chosen_by);
  else
    snprintf(s->route_desc, sizeof(s->route_desc),
             "via proxy %s (chosen by %s)", name, r->chosen_by);
}

/* Proxies of the route without credentials: ask the engine's callback
 * (e.g. ~/.netrc), unless the job gives credentials for every proxy. */
static void route_credentials(rf_job *job, rf__route *route)
{
  rf_engine *e = job->engine;
  char user[256], pass[256];
  size_t k;

  if (e->proxy_creds == NULL || job->proxy_user != NULL)
    return;
  for (k = 0; k < route->n; k++) {
    rf_proxy *p = &route->cands[k];
    rf_proxy q;
    rf_proxy *copy = NULL;
    if (p->type == RF_PROXY_DIRECT || p->user != NULL ||
        (p->auth & RF_PROXY_AUTH_NONE))
      continue;
    user[0] = pass[0] = '\0';
    q = *p;
    q.password = NULL;
    e->in_callback++;
    if (e->proxy_creds(user, sizeof(user), pass, sizeof(pass), &q,
                       e->proxy_creds_ud) == 1 &&
        user[0] != '\0') {
      user[sizeof(user) - 1] = pass[sizeof(pass) - 1] = '\0';
      q.user = user;
      q.password = pass;
      if (rf__proxy_list_copy(&q, 1, 1, &copy) == 0) {
        /* The route's strings live in one block: keep the new ones in
         * a block of their own, owned by the route. */
        if (rf__route_adopt(route, k, copy) != 0)
          free(copy);
      }
    }
    e->in_callback--;
    memset(pass, 0, sizeof(pass));
  }
}

static void route_ready(rf__source *s, rf__route *route)
{
  rf_job *job = s->job;
  size_t k;
  char list[400];

  route_credentials(job, route);
  s->route = route;
  rf__source_describe_route(s);
  list[0] = '\0';
  for (k = 0; k < route->n; k++) {
    char name[300];
    size_t len = strlen(list);
    rf_proxy_format(name, sizeof(name), &route->cands[k]);
    snprintf(list + len, sizeof(list) - len, "%s%s", k ? "; " : "", name);
  }
  RF_LOG(&job->engine->log, RF_LOG_INFO, "proxy", "%s%s%s: route %s [%s]",
         s->id == 0 ? "" : rf_source_kind_name(s->kind), s->id == 0 ? "" : " ",
         s->name, s->route_desc, list);
  if (s->state == RF_SOURCE_ROUTING)
    s->state = RF_SOURCE_ACTIVE;
  if (s->id == 0) {
    rf__job_origin_routed(job);
    return;
  }
  job->dirty = 1;
  uv_timer_start(&job->kick, rf__job_on_kick, 0, 0);
}

static void on_route(void *ud, int err, const char *msg, rf__route *route,
                     const rf_route_info *info)
{
  rf__source *s = ud;
  rf_job *job = s->job;

  (void)info;
  s->route_req = NULL;
  if (err != 0) {
    rf__route_free(route);
    if (s->id == 0) {
      rf__job_fail(job, err, "%s: no route: %s", job->url_safe,
                   msg != NULL ? msg : rf_strerror(err));
      return;
    }
    s->state = RF_SOURCE_REFUSED;
    rf__fmt_clip(s->why, sizeof(s->why), "no route: %s",
                 msg != NULL ? msg : rf_strerror(err));
    RF_LOG(&job->engine->log, RF_LOG_WARN, "source", "%s %s: %s",
           rf_source_kind_name(s->kind), s->name, s->why);
    return;
  }
  route_ready(s, route);
}

void rf__source_route_cancel(rf__source *s)
{
  if (s->route_req != NULL) {
    rf__chain_cancel(s->route_req);
    s->route_req = NULL;
  }
}

/* Ask for s's route: the job's own proxy option (the origin and its
 * mirrors and peers), direct (a cache host with policy direct), or the
 * engine's chain for s's URL. */
void rf__source_route(rf_job *job, rf__source *s)
{
  rf__route *route;
  char buf[1024];
  int rc;

  if (s->route != NULL || s->route_req != NULL ||
      s->state == RF_SOURCE_REMOVED)
    return;
  if (s->proxy != NULL || s->no_proxy) {
    rf_proxy p;
    memset(&p, 0, sizeof(p));
    if (s->proxy != NULL) {
      rc = rf_proxy_parse(&p, buf, sizeof(buf), s->proxy);
      if (rc != 0) {
        rf__job_fail(job, RF_EURL,
                     "the proxy option is not a proxy URL "
                     "(scheme://host[:port])");
        return;
      }
    }
    route = calloc(1, sizeof(*route));
    if (route == NULL || rf__proxy_list_copy(&p, 1, 1, &route->cands) != 0) {
      free(route);
      memset(buf, 0, sizeof(buf));
      rf__job_fail(job, RF_ENOMEM, "out of memory");
      return;
    }
    memset(buf, 0, sizeof(buf));
    route->n = 1;
    route->resolver = -1;
    snprintf(route->chosen_by, sizeof(route->chosen_by), "%s",
             s->proxy != NULL || s->kind != RF_SOURCE_CACHE_HOST
                 ? "the job's proxy option"
                 : "the cache host proxy policy: direct");
    route_ready(s, route);
    return;
  }
  s->state = RF_SOURCE_ROUTING;
  rc = rf__chain_resolve(job->engine->chain, s->url, on_route, s,
                         &s->route_req);
  if (rc != 0) {
    if (s->id == 0) {
      rf__job_fail(job, rc, "%s: cannot resolve the proxy route: %s",
                   job->url_safe, rf_strerror(rc));
      return;
    }
    s->state = RF_SOURCE_REFUSED;
    rf__fmt_clip(s->why, sizeof(s->why), "cannot resolve the proxy route: %s",
                 rf_strerror(rc));
  }
}

/* The message for a proxy that wants authentication it did not get. */
/*
 * A transfer through a proxy failed; what the proxy had to do with it.
 * Returns 0 (not the proxy: the caller goes on as usual), or fills err,
 * retryable, msg and *failover (1: retry now on the route's current
 * candidate; -1: every candidate failed).
 */
int rf__job_proxy_fault(rf_job *job, rf__conn *c, CURLcode res, int *err,
                        int *retryable, char *msg, size_t size, int *failover)
{
  const rf_proxy *p = rf__conn_proxy(c);
  rf__source *s = c->src;
  rf__route *r = s->route;
  unsigned offered = 0;
  char why[400];
  rf__proxy_fault f;

  *failover = 0;
  if (p == NULL)
    return 0;
  f = rf__proxy_classify(c->easy, res, c->status, p, &offered, why,
                         sizeof(why));
  switch (f) {
  case RF__PROXY_FAULT_NONE:
    if (res == CURLE_OK && !s->route_worked && c->headers_done) {
      s->route_worked = 1;
      rf__chain_report(job->engine->chain, r, p, RF_PROXY_WORKED, NULL);
    }
    return 0;
  case RF__PROXY_FAULT_DEAD:
    rf__chain_report(job->engine->chain, r, p, RF_PROXY_DEAD, why);
    *err = RF_EPROXY;
    *retryable = 1;
    switch (rf__route_fail(r, c->route_idx, why, msg, size)) {
    case RF__ROUTE_EXHAUSTED:
      *failover = -1;
      return 1;
    case RF__ROUTE_NEXT:
      rf__source_describe_route(s);
      RF_LOG(&job->engine->log, RF_LOG_WARN, "proxy", "%s; failing over: %s",
             why, s->route_desc);
      break;
    default:
      break;
    }
    snprintf(msg, size, "%s", why);
    *failover = 1;
    return 1;
  case RF__PROXY_FAULT_AUTH:
    rf__chain_report(job->engine->chain, r, p, RF_PROXY_AUTH_FAILED, why);
    *err = RF_EPROXYAUTH;
    *retryable = 0;
    {
      char am[700];
      rf__proxy_auth_message(p, job->proxy_auth, job->proxy_user, offered, why,
                             am, sizeof(am));
      snprintf(msg, size, "%.500s (proxy chosen by %.480s)", am, r->chosen_by);
    }
    return 1;
  case RF__PROXY_FAULT_REFUSED:
    rf__chain_report(job->engine->chain, r, p, RF_PROXY_REFUSED, why);
    *err = RF_EPROXY;
    *retryable = 0;
    snprintf(msg, size, "%s (proxy chosen by %s)", why, r->chosen_by);
    return 1;
  }
  return 0;
}
