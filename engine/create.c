/*
 * A new job: the options checked (URL, output, limits) and copied, the
 * .part claimed and the integrity prepared (resume.c), then started
 * (job.c); and the teardown of a job once its handles are closed.
 */
#include "job.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk/fileio.h"
#include "source/url.h"
#include "util/url.h"
#include "util/http.h"
#include "disk/journal.h"
#include "manifest/manifest_internal.h"
#include "rangefetch/manifest.h"

/* A directory where the output or its .part should go: said before
 * anything is fetched (the rename at the end would fail, with EIO). */
static int check_output_not_dir(rf_engine *e, const char *output)
{
  size_t n = strlen(output) + sizeof(".part");
  char *part;
  struct stat sb;
  int rc = 0;

  if (stat(output, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    rf__engine_set_error(e, "%s is a directory", output);
    return RF_EEXIST;
  }
  part = malloc(n);
  if (part == NULL)
    return RF_ENOMEM;
  snprintf(part, n, "%s.part", output);
  if (stat(part, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    rf__engine_set_error(e, "%s is a directory", part);
    rc = RF_EEXIST;
  }
  free(part);
  return rc;
}

/* Everything a job owns besides its uv handles; NULL fields are fine, so
 * this also undoes a half-built job. */
static void job_free(rf_job *job)
{
  uint32_t k;

  if (job->conns != NULL)
    for (k = 0; k < job->nconns; k++)
      rf__conn_cleanup(&job->conns[k]);
  free(job->conns);
  free(job->views);
  rf__reqopts_free(&job->req); /* after the handles that share its cookies */
  rf__sched_free(&job->sched);
  curl_slist_free_all(job->if_range);
  rf_manifest_free(job->manifest);
  free(job->manifest_url);
  free(job->manifest_buf);
  free(job->journal_path);
  free(job->raced);
  free(job->piece_src);
  free(job->hrw);
  free(job->hrw_key);
  free(job->hrw_mask);
  if (job->resume != NULL) {
    rf__journal_state_free(job->resume);
    free(job->resume);
  }
  if (job->resume_orphan != NULL) {
    rf__journal_state_free(job->resume_orphan);
    free(job->resume_orphan);
  }
  if (job->part_fd >= 0) { /* creation failed before the store took it */
    struct stat sb;
    if (job->part_created && fstat(job->part_fd, &sb) == 0 && sb.st_size == 0 &&
        rf__claim_check(job->part_fd, job->part))
      unlink(job->part);
    close(job->part_fd);
  }
  if (job->srcs != NULL)
    for (k = 0; k < job->nsrcs; k++)
      rf__source_free(job->srcs[k]);
  free(job->srcs);
  free(job->src_views);
  free(job->src_stats);
  free(job->origin_host);
  rf__mirror_list_free(&job->links);
  free(job->url);
  free(job->url_safe);
  free(job->output);
  free(job->part);
  free(job->proxy_user);
  if (job->proxy_password != NULL)
    memset(job->proxy_password, 0, strlen(job->proxy_password));
  free(job->proxy_password);
  free(job->proxy_ca_file);
  free(job->user_agent);
  free(job->ca_file);
  free(job);
}

void rf__job_destroy(rf_job *job)
{
  rf__engine_forget(job->engine, job);
  job_free(job);
}

static char *dup_or_null(const char *s)
{
  return s != NULL && s[0] != '\0' ? strdup(s) : NULL;
}

/* Stream mode: stream_fd must be open for writing.  Returns 0,
 * RF_EINVAL (said). */
static int check_stream(rf_engine *e, const rf_job_options *o)
{
  int fl;

  if (o->discard) {
    rf__engine_set_error(e, "stream and discard cannot be used together: "
                            "a discarded download writes nothing");
    return RF_EINVAL;
  }
  fl = o->stream_fd >= 0 ? fcntl(o->stream_fd, F_GETFL) : -1;
  if (fl < 0) {
    rf__engine_set_error(e, "stream_fd %d is not an open file descriptor",
                         o->stream_fd);
    return RF_EINVAL;
  }
  if ((fl & O_ACCMODE) == O_RDONLY) {
    rf__engine_set_error(e, "stream_fd %d is open for reading only",
                         o->stream_fd);
    return RF_EINVAL;
  }
  return 0;
}

/* Whether o asks for stream mode. */
static int wants_stream(const rf_job_options *o)
{
  return o->version >= 3 && o->stream;
}

/* The options and the output, checked before anything is made. */
static int check_options(rf_engine *e, const rf_job_options *o)
{
  char why[256];
  struct stat sb;
  int rc;

  if (o->url == NULL || (!o->discard && !wants_stream(o) &&
                         (o->output == NULL || o->output[0] == '\0')))
    return RF_EINVAL;
  if (wants_stream(o) && (rc = check_stream(e, o)) != 0)
    return rc;
  if (o->discard && o->manifest != NULL) {
    rf__engine_set_error(e, "a discarded download cannot be checked against "
                            "a manifest");
    return RF_EINVAL;
  }
  if (o->no_verify && o->manifest != NULL) {
    rf__engine_set_error(e, "no_verify and manifest cannot be used "
                            "together: a manifest is checked piece by "
                            "piece");
    return RF_EINVAL;
  }
  if (o->connections > RF_MAX_CONNECTIONS)
    return RF_EINVAL;
  if ((rc = rf__reqopts_check(o, why, sizeof(why))) != 0) {
    rf__engine_set_error(e, "%s", why);
    return rc;
  }
  if (o->version >= 3 && o->checksum != NULL) {
    unsigned char d[32];
    if ((rc = rf__parse_checksum(o->checksum, d, why, sizeof(why))) < 0) {
      rf__engine_set_error(e, "%s", why);
      return rc;
    }
    if (o->discard) {
      rf__engine_set_error(e, "a discarded download cannot be checked "
                              "against a checksum");
      return RF_EINVAL;
    }
  }
  rc = rf__url_check(o->url, why, sizeof(why));
  if (rc != 0) {
    if (rc != RF_ENOMEM)
      rf__engine_set_error(e, "%s", why);
    RF_LOG(&e->log, RF_LOG_ERROR, "job", "%s", why);
    return rc;
  }
  if (o->discard || wants_stream(o))
    return 0; /* no file */
  if ((rc = check_output_not_dir(e, o->output)) != 0)
    return rc;
  if (stat(o->output, &sb) == 0) {
    /* A crash between the final rename and the journal's removal leaves
     * a finished file and a journal without a .part: the journal is
     * ours and stale. */
    size_t n = strlen(o->output) + sizeof(".part");
    char *part = malloc(n), *stale = malloc(n + sizeof(RF__JOURNAL_SUFFIX));
    if (part != NULL && stale != NULL) {
      snprintf(part, n, "%s.part", o->output);
      snprintf(stale, n + sizeof(RF__JOURNAL_SUFFIX), "%s%s", part,
               RF__JOURNAL_SUFFIX);
      if (!rf__file_exists(part) && rf__file_exists(stale))
        rf__journal_remove(stale);
    }
    free(part);
    free(stale);
    if (!o->overwrite)
      return RF_EEXIST;
  }
  return 0;
}

/* Copy what the job keeps of o, defaults filled in.  Returns 0,
 * RF_ENOMEM. */
static int copy_options(rf_job *job, const rf_job_options *o)
{
  char name[32]; /* the output's name when there is no file */

  job->url = strdup(o->url);
  job->url_safe = rf__url_strip_credentials(o->url);
  job->discard = o->discard;
  job->stream = wants_stream(o);
  job->stream_fd = job->stream ? o->stream_fd : -1;
  if (o->discard)
    snprintf(name, sizeof(name), "(discarded)");
  else if (job->stream && o->stream_fd == STDOUT_FILENO)
    snprintf(name, sizeof(name), "(stdout)");
  else
    snprintf(name, sizeof(name), "(fd %d)", o->stream_fd);
  job->output = strdup(o->discard || (job->stream && (o->output == NULL ||
                                                      o->output[0] == '\0'))
                           ? name
                           : o->output);
  job->part = malloc(strlen(job->output != NULL ? job->output : "") + 6);
  job->ca_file = dup_or_null(o->ca_file);
  job->proxy_auth = o->proxy_auth;
  job->proxy_ca_file = dup_or_null(o->proxy_ca_file);
  if (o->proxy_user != NULL) {
    const char *colon = strchr(o->proxy_user, ':');
    job->proxy_user =
        colon != NULL ? strndup(o->proxy_user, (size_t)(colon - o->proxy_user))
                      : strdup(o->proxy_user);
    job->proxy_password = strdup(colon != NULL ? colon + 1 : "");
    if (job->proxy_user == NULL || job->proxy_password == NULL)
      return RF_ENOMEM;
  }
  job->user_agent = strdup(
      o->user_agent != NULL ? o->user_agent : "rangefetch/" RF_VERSION_STRING);
  if (rf__source_url_host(o->url, &job->origin_host, NULL, 0) == RF_ENOMEM)
    return RF_ENOMEM;
  if (job->url == NULL || job->url_safe == NULL || job->output == NULL ||
      job->part == NULL || job->user_agent == NULL)
    return RF_ENOMEM;
  sprintf(job->part, "%s.part", job->output);
  job->nconns = o->connections ? o->connections : RF_DEFAULT_CONNECTIONS;
  job->piece_size_opt = o->piece_size;
  if (job->stream && rf__job_stream_piece(o->piece_size) != o->piece_size) {
    job->piece_size_opt = rf__job_stream_piece(o->piece_size);
    RF_LOG(&job->engine->log, RF_LOG_WARN, "job",
           "piece size %llu is too large to stream (each piece is held in "
           "memory until it is verified): using %llu",
           (unsigned long long)o->piece_size,
           (unsigned long long)job->piece_size_opt);
  }
  job->max_tries = o->max_tries ? o->max_tries : 5;
  job->retry_base_ms = o->retry_base_ms ? o->retry_base_ms : 500;
  job->retry_max_ms = o->retry_max_ms ? o->retry_max_ms : 30000;
  job->stall_timeout_ms = o->stall_timeout_ms ? o->stall_timeout_ms : 30000;
  job->connect_timeout_ms =
      o->connect_timeout_ms ? o->connect_timeout_ms : 15000;
  job->progress_interval_ms =
      o->progress_interval_ms ? o->progress_interval_ms : 250;
  job->on_progress = o->on_progress;
  job->on_done = o->on_done;
  job->user_data = o->user_data;
  job->no_verify = o->no_verify || o->discard;
  if (o->version >= 2) {
    job->per_source = o->per_source;
    job->cache_fallback_delay = o->cache_fallback_delay;
    job->cache_host_proxy = o->cache_host_proxy;
    job->origin_delay = o->origin_delay;
    job->no_mirror_links = o->no_mirror_links;
    job->cache_slice = o->cache_slice;
    job->cache_host_hash = o->cache_host_hash;
  }
  if (job->per_source == 0 || job->per_source > job->nconns)
    job->per_source = job->nconns;
  if (rf__reqopts_init(&job->req, o) != 0)
    return RF_ENOMEM;
  if (o->version >= 3) {
    job->max_time_ms = o->max_time_ms;
    rf__bucket_set(&job->bucket, o->max_rate, uv_hrtime());
    if (o->checksum != NULL) {
      unsigned char d[32];
      char why[256];
      int kind = rf__parse_checksum(o->checksum, d, why, sizeof(why));
      if (kind == 1) {
        memcpy(job->want_sha256, d, 32);
        job->has_want_sha256 = 1;
      } else if (kind == 2) {
        XXH128_canonical_t cn;
        memcpy(cn.digest, d, 16);
        job->want_xxh128 = XXH128_hashFromCanonical(&cn);
        job->has_want_xxh128 = 1;
      }
    }
  }
  return 0;
}

/* The origin (source 0, with the job's explicit proxy if any), then the
 * sources of the options.  Returns 0, RF_EURL / RF_EINVAL (the engine's
 * last error says which source and why), RF_ENOMEM. */
static int make_sources(rf_job *job, const rf_job_options *o)
{
  rf__source *s;
  size_t k;
  int rc = rf__source_new(&s, job, RF_SOURCE_ORIGIN, o->url, job->per_source);

  if (rc != 0)
    return rc;
  s->proxy = dup_or_null(o->proxy);
  s->no_proxy = o->proxy != NULL && o->proxy[0] == '\0';
  if ((o->proxy != NULL && o->proxy[0] != '\0' && s->proxy == NULL) ||
      rf__job_source_add(job, s) != 0) {
    rf__source_free(s);
    return RF_ENOMEM;
  }
  if (o->version < 2 || o->nsources == 0)
    return 0;
  if (o->sources == NULL)
    return RF_EINVAL;
  for (k = 0; k < o->nsources; k++)
    if ((rc = rf__job_source_from(job, &o->sources[k], &s)) != 0)
      return rc;
  return 0;
}

int rf__job_create(rf_engine *e, const rf_job_options *o, rf_job **out)
{
  rf_job *job = NULL;
  unsigned k;
  int rc = check_options(e, o);

  if (rc != 0)
    return rc;
  job = calloc(1, sizeof(*job));
  if (job == NULL)
    return RF_ENOMEM;
  job->engine = e;
  job->part_fd = -1;
  job->total = RF_SIZE_UNKNOWN;
  job->rng = (uv_hrtime() ^ (uint64_t)(uintptr_t)job) | 1;
  rc = copy_options(job, o);
  if (rc == 0 && !job->discard && !job->stream)
    rc = rf__job_claim_part(job);
  if (rc == 0)
    rc = rf__job_prepare_integrity(job, o);
  if (rc == 0 && job->stream && job->manifest != NULL) {
    char why[300];
    rc = rf__job_stream_check_piece(
        job, rf_manifest_piece_size(job->manifest), why, sizeof(why));
    if (rc != 0) {
      rf__engine_set_error(e, "the manifest's %s", why);
      rc = RF_EINVAL;
    }
  }
  if (rc == 0)
    rc = make_sources(job, o);
  if (rc != 0)
    goto fail;
  job->conns = calloc(job->nconns, sizeof(*job->conns));
  job->views = calloc(job->nconns, sizeof(*job->views));
  if (job->conns == NULL || job->views == NULL) {
    rc = RF_ENOMEM;
    goto fail;
  }
  for (k = 0; k < job->nconns; k++) {
    rc = rf__conn_init(&job->conns[k], job, k);
    if (rc != 0)
      goto fail;
  }
  /* Last step that can fail: it hands the .part file to the writer. */
  rc = rf__job_start(job, !o->no_sync && !job->discard && !job->stream);
  if (rc != 0)
    goto fail;
  *out = job;
  return 0;

fail:
  job_free(job);
  return rc;
}
