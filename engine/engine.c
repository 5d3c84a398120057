/* The public façade: engine and job handles, option checks, re-entrancy. */
#include "job.h"

#include "proxy/candidate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_curl_done(rf__curlm *m, CURL *easy, CURLcode res, void *ud)
{
  rf__conn *c = NULL;

  (void)m;
  (void)ud;
  curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&c);
  if (c != NULL)
    rf__job_on_done(c->job, c, res);
}

/* libcurl lost track of the transfers (loop.h): each ends as if libcurl
 * had ended it out of memory. */
static void on_curl_lost(rf__curlm *m, void *ud)
{
  rf_engine *e = ud;
  rf_job *job, *next;
  unsigned k;

  (void)m;
  for (job = e->jobs; job != NULL; job = next) {
    next = job->next;
    for (k = 0; k < job->nconns; k++) {
      rf__conn *c = &job->conns[k];
      if (c->state != RF__CONN_BUSY)
        continue;
      c->stop = RF__STOP_ERROR;
      rf__conn_set_error(c, RF_ENOMEM, 0,
                         "out of memory: libcurl lost track of the "
                         "transfer's socket");
      rf__job_on_done(job, c, CURLE_OUT_OF_MEMORY);
    }
  }
}

static void on_curl_after(rf__curlm *m, void *ud)
{
  rf_engine *e = ud;
  rf_job *job, *next;

  (void)m;
  for (job = e->jobs; job != NULL; job = next) {
    next = job->next;
    rf__job_after_actions(job);
  }
}

void rf_engine_options_init(rf_engine_options *opts)
{
  rf_engine_options defaults = RF_ENGINE_OPTIONS_INIT;

  if (opts != NULL)
    *opts = defaults;
}

int rf_engine_new(rf_engine **out, const rf_engine_options *opts)
{
  rf_engine_options defaults = RF_ENGINE_OPTIONS_INIT;
  rf_engine *e;
  int rc;

  if (out == NULL)
    return RF_EINVAL;
  *out = NULL;
  if (opts == NULL)
    opts = &defaults;
  if (opts->version == 0 || opts->version > RF_ENGINE_OPTIONS_VERSION)
    return RF_EINVAL;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return RF_EIO;
  e = calloc(1, sizeof(*e));
  if (e == NULL)
    return RF_ENOMEM;
  e->log.cb = opts->log_cb;
  e->log.level = opts->log_level;
  e->log.user_data = opts->log_user_data;
  if (opts->loop != NULL) {
    e->loop = opts->loop;
  } else {
    rc = uv_loop_init(&e->own_loop);
    if (rc != 0) {
      free(e);
      return rc == UV_ENOMEM ? RF_ENOMEM : RF_EIO;
    }
    e->own = 1;
    e->loop = &e->own_loop;
  }
  rc = rf__curlm_init(&e->m, e->loop, on_curl_done, on_curl_after,
                      on_curl_lost, e);
  if (rc == 0 && opts->version >= 2 && opts->max_connections > 0)
    rf__curlm_limit(&e->m, opts->max_connections);
  if (rc == 0) {
    rc = rf__chain_new(&e->chain, e->loop, &e->log);
    if (rc != 0) {
      /* Nothing ran yet: closing the multi completes on the next loop
       * run; for simplicity report the failure and leak nothing. */
      rf__curlm_close(&e->m, NULL);
      uv_run(e->loop, UV_RUN_NOWAIT);
    }
  }
  if (rc != 0) {
    if (e->own)
      uv_loop_close(&e->own_loop);
    free(e);
    return rc;
  }
  *out = e;
  return 0;
}

struct uv_loop_s *rf_engine_loop(rf_engine *engine)
{
  return engine->loop;
}

int rf_engine_run(rf_engine *e)
{
  if (e == NULL || !e->own)
    return RF_EINVAL;
  if (e->in_callback)
    return RF_EREENTRANT;
  uv_run(e->loop, UV_RUN_DEFAULT);
  return 0;
}

const char *rf_engine_last_error(const rf_engine *engine)
{
  return engine != NULL ? engine->last_error : "";
}


static void engine_part_closed(rf_engine *e)
{
  if (--e->closing_parts == 0 && !e->own) {
    rf__engine_sockets_free(e);
    rf__bans_free(e);
    free(e);
  }
}

static void on_multi_closed(rf__curlm *m, void *ud)
{
  rf_engine *e = ud;

  (void)m;
  e->m.multi = NULL;
  engine_part_closed(e);
}

static void on_chain_closed(void *ud)
{
  rf_engine *e = ud;

  e->chain = NULL;
  engine_part_closed(e);
}

void rf_engine_free(rf_engine *e)
{
  rf_job *job, *next;

  if (e == NULL)
    return;
  e->freeing = 1;
  for (job = e->jobs; job != NULL; job = next) {
    next = job->next;
    rf__job_abort(job);
  }
  e->closing_parts = 2;
  rf__chain_close(e->chain, on_chain_closed, e);
  rf__curlm_close(&e->m, on_multi_closed);
  if (e->own) {
    /* Run until every handle is closed, then release the loop. */
    uv_run(e->loop, UV_RUN_DEFAULT);
    uv_loop_close(e->loop);
    rf__engine_sockets_free(e);
    rf__bans_free(e);
    free(e);
  }
}

void rf_job_options_init(rf_job_options *opts)
{
  if (opts == NULL)
    return;
  memset(opts, 0, sizeof(*opts));
  opts->version = RF_JOB_OPTIONS_VERSION;
}

int rf_job_add(rf_job **out, rf_engine *e, const rf_job_options *opts)
{
  rf_job *job = NULL;
  int rc;

  if (out != NULL)
    *out = NULL;
  if (e == NULL || opts == NULL || opts->version == 0 ||
      opts->version > RF_JOB_OPTIONS_VERSION)
    return RF_EINVAL;
  e->last_error[0] = '\0';
  if (e->freeing)
    return RF_EINVAL;
  rc = rf__job_create(e, opts, &job);
  if (rc != 0 && e->last_error[0] == '\0')
    rf__engine_set_error(e, "%s", rf_strerror(rc));
  if (rc != 0)
    return rc;
  job->next = e->jobs; /* the engine's list; rf__engine_forget unlinks */
  e->jobs = job;
  if (out != NULL)
    *out = job;
  return 0;
}

void rf_job_cancel(rf_job *job)
{
  if (job != NULL)
    rf__job_cancel(job);
}

void rf_job_get_progress(rf_progress *out, const rf_job *job)
{
  rf__job_progress(job, out);
}

int rf_job_add_source(unsigned *id, rf_job *job, const rf_source_options *opts)
{
  rf__source *s;
  int rc;

  if (job == NULL || opts == NULL)
    return RF_EINVAL;
  job->engine->last_error[0] = '\0';
  if (job->state == RF__JOB_DONE || job->state == RF__JOB_FINISHING ||
      job->cancelled) {
    rf__engine_set_error(job->engine, "the job has ended");
    return RF_EINVAL;
  }
  rc = rf__job_source_from(job, opts, &s);
  if (rc != 0)
    return rc;
  if (id != NULL)
    *id = s->id;
  RF_LOG(&job->engine->log, RF_LOG_INFO, "source", "%s %s added",
         rf_source_kind_name(s->kind), s->name);
  rf__source_route(job, s); /* (at once, also while the origin's route
                                is still being resolved) */
  return 0;
}

int rf_job_remove_source(rf_job *job, unsigned id)
{
  rf__source *s;
  unsigned k;

  if (job == NULL || id == 0 || id >= job->nsrcs ||
      job->state == RF__JOB_DONE || job->state == RF__JOB_FINISHING)
    return RF_EINVAL;
  s = job->srcs[id];
  if (s->state == RF_SOURCE_REMOVED)
    return RF_EINVAL;
  s->state = RF_SOURCE_REMOVED;
  rf__source_route_cancel(s);
  /* Its requests stop at the next opportunity; their unfinished pieces
   * go back to the others (rf__job_after_actions). */
  for (k = 0; k < job->nconns; k++)
    if (job->conns[k].src == s && job->conns[k].state == RF__CONN_BUSY)
      job->conns[k].cancel = 1;
  RF_LOG(&job->engine->log, RF_LOG_INFO, "source", "%s %s removed",
         rf_source_kind_name(s->kind), s->name);
  job->dirty = 1;
  if (job->state != RF__JOB_DONE)
    uv_timer_start(&job->kick, rf__job_on_kick, 0, 0);
  return 0;
}

/* ---------------------------------------------------------------- proxies */

int rf_engine_add_resolver(rf_engine *e, const rf_resolver_ops *ops,
                           void *self)
{
  if (e == NULL || e->freeing)
    return RF_EINVAL;
  return rf__chain_add(e->chain, ops, self);
}

void rf_engine_set_context(rf_engine *e, rf_context context)
{
  if (e != NULL)
    rf__chain_set_context(e->chain, context);
}

void rf_engine_set_proxy_bad_time(rf_engine *e, unsigned seconds)
{
  if (e != NULL)
    rf__chain_set_bad_time(e->chain, seconds);
}

typedef struct explain_req {
  rf_explain_cb cb;
  void *ud;
  rf_engine *e;
} explain_req;

static void on_explained(void *ud, int err, const char *msg,
                         rf__route *route, const rf_route_info *info)
{
  explain_req *x = ud;

  (void)err;
  (void)msg;
  rf__route_free(route);
  x->e->in_callback++;
  x->cb(info, x->ud);
  x->e->in_callback--;
  free(x);
}

int rf_engine_explain(rf_engine *e, const char *url, rf_explain_cb cb,
                      void *user_data)
{
  explain_req *x;
  rf__chain_req *req;
  int rc;

  if (e == NULL || url == NULL || cb == NULL || e->freeing)
    return RF_EINVAL;
  x = calloc(1, sizeof(*x));
  if (x == NULL)
    return RF_ENOMEM;
  x->cb = cb;
  x->ud = user_data;
  x->e = e;
  rc = rf__chain_resolve(e->chain, url, on_explained, x, &req);
  if (rc != 0)
    free(x);
  return rc;
}

void rf_engine_set_proxy_credentials(rf_engine *e, rf_proxy_credentials_cb cb,
                                     void *user_data)
{
  if (e == NULL)
    return;
  e->proxy_creds = cb;
  e->proxy_creds_ud = user_data;
}

int rf_engine_save_proxy_marks(rf_engine *e, const char *path)
{
  if (e == NULL || e->chain == NULL)
    return RF_EINVAL;
  return rf__chain_save_marks(e->chain, path);
}

int rf_engine_load_proxy_marks(rf_engine *e, const char *path)
{
  if (e == NULL || e->chain == NULL)
    return RF_EINVAL;
  return rf__chain_load_marks(e->chain, path);
}
