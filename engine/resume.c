/*
 * Integrity and resume: the claim on the .part, the manifest (a file, or a
 * URL fetched first), the journal of an earlier run and the check of the
 * pieces it names, the pieces planned from what the probe learned.
 */
#include "job.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk/fileio.h"
#include "log.h"
#include "disk/journal.h"
#include "manifest/manifest_internal.h"
#include "rangefetch/manifest.h"
#include "util/textutil.h"

#include <openssl/evp.h>

static int adopt_manifest(rf_job *job, struct rf_manifest *m);
static uint64_t align_to_slice(rf_job *job, uint64_t ps, int fixed);

static int file_exists_with_suffix(const char *path, const char *suffix)
{
  size_t n = strlen(path) + strlen(suffix) + 1;
  char *p = malloc(n);
  int yes;

  if (p == NULL)
    return 1; /* no memory: say nothing rather than something wrong */
  snprintf(p, n, "%s%s", path, suffix);
  yes = rf__file_exists(p);
  free(p);
  return yes;
}

/*
 * Open and lock the .part file before anything else looks at it or its
 * journal: a second download to the same output is refused here, before it
 * touches either (rf__claim_open).
 */
int rf__job_claim_part(rf_job *job)
{
  long holder = 0;
  int e = rf__claim_open(job->part, &job->part_fd, &job->part_created, &holder);
  char who[64];

  if (e == 0)
    return 0;
  if (e == EAGAIN) {
    if (holder == (long)getpid())
      snprintf(who, sizeof(who), "another download in this process");
    else if (holder > 0)
      snprintf(who, sizeof(who), "another download (process %ld)", holder);
    else
      snprintf(who, sizeof(who), "another download");
    rf__engine_set_error(job->engine,
                         "%s is being written by %s: nothing was touched; "
                         "wait for it to finish or choose another output",
                         job->part, who);
    return RF_EBUSY;
  }
  rf__engine_set_error(job->engine, "cannot open %s: %s", job->part,
                       e == EISDIR ? "it is a directory" : strerror(e));
  return e == EISDIR ? RF_EEXIST : rf__errno_to_rf(e);
}

/*
 * Manifest (a file is read now; a URL is fetched first thing) and an
 * earlier run's journal: resume it, or refuse to touch another download.
 */
/* A .part left from an earlier run that cannot be resumed: say why
 * before its bytes go. */
static void warn_unresumable(rf_job *job, int no_verify)
{
  /* Bytes that cannot be resumed: say so before they go. */
  struct stat sb;
  if (fstat(job->part_fd, &sb) == 0 && sb.st_size > 0) {
    if (no_verify)
      RF_LOG(&job->engine->log, RF_LOG_WARN, "resume",
             "%s is left from an earlier run, but resuming needs "
             "verification (no_verify is set): starting over",
             job->part);
    else if (!file_exists_with_suffix(job->part, RF__JOURNAL_SUFFIX))
      RF_LOG(&job->engine->log, RF_LOG_WARN, "resume",
             "%s is left from an earlier run that kept no journal (its "
             "server ignored range requests, or it ran without "
             "verification): starting over",
             job->part);
  }
}

/* The manifest_sha256 option: 64 hex digits.  Returns 0, RF_EINVAL. */
static int take_pin(rf_job *job, const char *hex)
{
  size_t k;

  if (strlen(hex) != 64) {
    rf__engine_set_error(job->engine,
                         "the manifest's SHA-256 must be 64 hex digits, "
                         "not %zu characters",
                         strlen(hex));
    return RF_EINVAL;
  }
  for (k = 0; k < 32; k++) {
    int hi = rfx_hexval(hex[2 * k]), lo = rfx_hexval(hex[2 * k + 1]);
    if (hi < 0 || lo < 0) {
      rf__engine_set_error(job->engine,
                           "the manifest's SHA-256 must be 64 hex digits: "
                           "'%c' at position %zu is not one",
                           hi < 0 ? hex[2 * k] : hex[2 * k + 1],
                           hi < 0 ? 2 * k + 1 : 2 * k + 2);
      return RF_EINVAL;
    }
    job->manifest_pin[k] = (unsigned char)(hi << 4 | lo);
  }
  job->has_pin = 1;
  return 0;
}

/* The manifest's text against the pin, if there is one: 0, or RF_EHASH
 * with why. */
static int check_pin(rf_job *job, const char *text, size_t len, char *why,
                     size_t size)
{
  unsigned char md[32];

  if (!job->has_pin)
    return 0;
  if (EVP_Digest(text, len, md, NULL, EVP_sha256(), NULL) != 1) {
    snprintf(why, size, "cannot compute the manifest's SHA-256");
    return RF_EHASH;
  }
  if (memcmp(md, job->manifest_pin, 32) != 0) {
    char hex[65];
    size_t k;
    for (k = 0; k < 32; k++)
      snprintf(hex + 2 * k, 3, "%02x", md[k]);
    snprintf(why, size,
             "the manifest's SHA-256 is %s, not the pinned one: refused "
             "(someone changed it, or the pin is for another version)",
             hex);
    return RF_EHASH;
  }
  return 0;
}

/* The manifest option: a URL is fetched first thing, a file read now.
 * Trusted (for peers): a local file (the user's own), a URL over HTTPS
 * (the origin's word, authenticated), or any of them pinned. */
static int take_manifest(rf_job *job, const char *manifest)
{
  struct rf_manifest *m = NULL;
  char why[300];
  char *text = NULL;
  size_t len = 0;
  int rc, e;

  if (strncmp(manifest, "http://", 7) == 0 ||
      strncmp(manifest, "https://", 8) == 0) {
    job->manifest_url = strdup(manifest);
    job->manifest_trusted = job->has_pin || strncmp(manifest, "https://", 8) == 0;
    return job->manifest_url == NULL ? RF_ENOMEM : 0;
  }
  why[0] = '\0';
  if (job->has_pin) {
    e = rf__read_file_max(manifest, RF_MANIFEST_MAX_TEXT, 1, &text, &len, NULL);
    if (e != 0) {
      rf__engine_set_error(job->engine, "cannot read the manifest %s: %s",
                           manifest, strerror(e));
      return rf__errno_to_rf(e);
    }
    rc = check_pin(job, text, len, why, sizeof(why));
    if (rc == 0)
      rc = rf_manifest_parse(&m, text, len, why, sizeof(why));
    free(text);
    if (rc == 0)
      rc = adopt_manifest(job, m);
    if (rc != 0)
      rf__engine_set_error(job->engine, "%s: %s", manifest, why);
    job->manifest_trusted = rc == 0;
    return rc;
  }
  job->manifest_trusted = 1;
  rc = rf_manifest_load(&m, manifest, why, sizeof(why));
  if (rc == 0)
    rc = adopt_manifest(job, m);
  if (rc != 0 && why[0] != '\0') /* it names the file and, if any, the line */
    rf__engine_set_error(job->engine, "%s", why);
  else if (rc != 0)
    rf__engine_set_error(job->engine, "cannot use the manifest %s: %s",
                         manifest, rf_strerror(rc));
  return rc;
}

int rf__job_prepare_integrity(rf_job *job, const rf_job_options *o)
{
  rf_engine *e = job->engine;
  char why[300];
  rf__journal_state *js;
  int rc;

  if (o->version >= 2 && o->manifest_sha256 != NULL) {
    if (o->manifest == NULL || o->manifest[0] == '\0') {
      rf__engine_set_error(e, "a manifest SHA-256 is given, but no manifest");
      return RF_EINVAL;
    }
    if ((rc = take_pin(job, o->manifest_sha256)) != 0)
      return rc;
  }
  if (o->manifest != NULL && o->manifest[0] != '\0' &&
      (rc = take_manifest(job, o->manifest)) != 0)
    return rc;
  if (o->discard || job->stream)
    return 0; /* no file: nothing to resume, no journal */
  if (!o->no_resume && !job->part_created)
    warn_unresumable(job, o->no_verify);
  if (o->no_verify)
    return 0;
  job->journal_path = malloc(strlen(job->part) + sizeof(RF__JOURNAL_SUFFIX));
  if (job->journal_path == NULL)
    return RF_ENOMEM;
  sprintf(job->journal_path, "%s%s", job->part, RF__JOURNAL_SUFFIX);
  if (o->no_resume || job->part_created || !rf__file_exists(job->journal_path))
    return 0; /* a fresh start: the .part is truncated once the size is
                 known, the journal replaced */
  js = calloc(1, sizeof(*js));
  if (js == NULL)
    return RF_ENOMEM;
  rc = rf__journal_load(job->journal_path, js, why, sizeof(why));
  if (rc != 0) {
    RF_LOG(&e->log, RF_LOG_WARN, "resume", "%s is unusable (%s): starting over",
           job->journal_path, why);
    free(js);
    return 0;
  }
  if (js->meta.url == NULL || strcmp(js->meta.url, job->url_safe) != 0) {
    rf__engine_set_error(e,
                         "%s holds an unfinished download of %s, not of "
                         "%s: nothing was touched (resume that one, use "
                         "another output, or start over with --no-resume)",
                         job->part, js->meta.url ? js->meta.url : "?",
                         job->url_safe);
    rf__journal_state_free(js);
    free(js);
    return RF_ERESUME;
  }
  if ((job->manifest != NULL) != (js->meta.has_manifest != 0) ||
      (job->manifest != NULL &&
       !XXH128_isEqual(job->manifest_digest, js->meta.manifest_digest)) ||
      (js->meta.etag[0] == '\0' && js->meta.last_modified[0] == '\0')) {
    RF_LOG(&e->log, RF_LOG_WARN, "resume", "%s: %s: starting over", job->part,
           js->meta.etag[0] == '\0' && js->meta.last_modified[0] == '\0'
               ? "the server gave no validator (ETag or Last-Modified), so "
                 "an unchanged file cannot be told from a changed one"
               : "the manifest differs from the last run's");
    rf__journal_state_free(js);
    free(js);
    return 0;
  }
  /* Resume: the probe sends the old validator in If-Range. */
  snprintf(job->etag, sizeof(job->etag), "%s", js->meta.etag);
  snprintf(job->last_modified, sizeof(job->last_modified), "%s",
           js->meta.last_modified);
  rf__job_set_if_range(job);
  if (job->if_range == NULL) {
    rf__journal_state_free(js);
    free(js);
    return RF_ENOMEM;
  }
  job->resume = js;
  RF_LOG(&e->log, RF_LOG_INFO, "resume", "%s: %u records in the journal%s",
         job->part, js->records, js->torn ? " (a torn tail was ignored)" : "");
  return 0;
}

/* The If-Range header for job->etag / job->last_modified (a strong ETag
 * first: a weak one cannot be used); none when there is no validator. */
void rf__job_set_if_range(rf_job *job)
{
  char line[320];

  curl_slist_free_all(job->if_range);
  job->if_range = NULL;
  if (job->etag[0] != '\0' && strncmp(job->etag, "W/", 2) != 0)
    snprintf(line, sizeof(line), "If-Range: %s", job->etag);
  else if (job->last_modified[0] != '\0')
    snprintf(line, sizeof(line), "If-Range: %s", job->last_modified);
  else
    return;
  /* After the caller's headers (origin requests carry both). */
  job->if_range = rf__reqopts_headers_with(&job->req, line);
}

static int create_journal(rf_job *job)
{
  rf__journal_meta *m;
  rf__block *op;

  if (job->no_verify || job->total == 0 || job->journal_path == NULL)
    return 0;
  m = calloc(1, sizeof(*m));
  op = rf__store_op(RF__OP_JOURNAL_CREATE);
  if (m == NULL || op == NULL) {
    free(m);
    free(op);
    return RF_ENOMEM;
  }
  m->url = strdup(job->url_safe);
  m->etag = strdup(job->etag);
  m->last_modified = strdup(job->last_modified);
  m->length = job->total;
  m->piece_size = job->sched.piece_size;
  m->npieces = job->sched.npieces;
  m->has_manifest = job->manifest != NULL;
  m->manifest_digest = job->manifest_digest;
  op->ptr = m;
  if (m->url == NULL || m->etag == NULL || m->last_modified == NULL) {
    rf__store_op_free(op);
    return RF_ENOMEM;
  }
  return rf__job_submit_op(job, op);
}

/* What the probe learned decides the pieces; keep: resume a former run. */
int rf__job_start_pieces(rf_job *job, rf__conn *c, int keep)
{
  uint64_t ps;
  rf__block *op;
  int rc;

  if (job->manifest != NULL)
    ps = rf_manifest_piece_size(job->manifest);
  else if (keep)
    ps = job->resume->meta.piece_size;
  else if (job->piece_size_opt != 0)
    ps = job->piece_size_opt;
  else
    ps = rf__sched_auto_piece_size(job->total);
  if (job->stream && job->manifest == NULL)
    ps = rf__job_stream_piece(ps); /* held in memory until verified */
  ps = align_to_slice(job, ps, job->manifest != NULL || keep);
  if (job->manifest != NULL &&
      rf_manifest_length(job->manifest) != job->total) {
    rf__conn_set_error(c, RF_EHASH, 0,
                       "the manifest describes %llu bytes, the server has %llu",
                       (unsigned long long)rf_manifest_length(job->manifest),
                       (unsigned long long)job->total);
    return c->err;
  }
  rc = rf__sched_init(&job->sched, job->total, ps);
  if (rc == 0) {
    free(job->raced);
    free(job->piece_src);
    job->raced = calloc(job->sched.npieces + 1, 1);
    /* Every piece from no source yet (resumed ones stay so). */
    job->piece_src = malloc((job->sched.npieces + 1) * sizeof(uint16_t));
    if (job->raced == NULL || job->piece_src == NULL)
      rc = RF_ENOMEM;
    else
      memset(job->piece_src, 0xff,
             (job->sched.npieces + 1) * sizeof(uint16_t));
  }
  if (rc != 0) {
    rf__conn_set_error(c, rc, 0, "cannot plan %llu bytes in pieces of %llu: %s",
                       (unsigned long long)job->total, (unsigned long long)ps,
                       rf_strerror(rc));
    return rc;
  }
  if (job->stream && (rc = rf__job_stream_plan(job, c)) != 0)
    return rc;
  op = rf__store_op(RF__OP_PREALLOC);
  if (op != NULL) {
    op->arg = job->total;
    op->flag = keep;
  }
  rc = rf__job_submit_op(job, op);
  if (rc == 0 && !keep)
    rc = create_journal(job);
  if (rc != 0)
    rf__conn_set_error(c, rc, 0, "out of memory");
  return rc;
}

/* The slice cache hosts are asked in (cache_slice, or the default when
 * there are cache hosts); 0: none. */
uint64_t rf__job_cache_slice(const rf_job *job)
{
  unsigned k;

  for (k = 1; k < job->nsrcs; k++)
    if (job->srcs[k]->kind == RF_SOURCE_CACHE_HOST)
      return rf__job_slice_size(job);
  return 0;
}

/* Pieces of ps bytes, with cache hosts: whole slices, so that every
 * request to a cache host maps to whole cached slices.  A chosen size is
 * rounded up (said); a fixed one (fixed: the manifest's or the journal's)
 * that does not fit refuses the cache hosts (said). */
static uint64_t align_to_slice(rf_job *job, uint64_t ps, int fixed)
{
  uint64_t slice = rf__job_cache_slice(job), up;
  unsigned k;

  if (slice == 0 || ps % slice == 0)
    return ps;
  if (!fixed) {
    up = (ps + slice - 1) / slice * slice;
    if (job->piece_size_opt != 0)
      RF_LOG(&job->engine->log, RF_LOG_WARN, "sched",
             "piece size %llu is not a whole number of the cache hosts' "
             "slices (%llu bytes): using %llu, so that every request maps "
             "to whole cached slices",
             (unsigned long long)ps, (unsigned long long)slice,
             (unsigned long long)up);
    return up;
  }
  for (k = 1; k < job->nsrcs; k++) {
    rf__source *s = job->srcs[k];
    if (s->kind != RF_SOURCE_CACHE_HOST || s->state == RF_SOURCE_REFUSED ||
        s->state == RF_SOURCE_REMOVED)
      continue;
    s->state = RF_SOURCE_REFUSED;
    rf__fmt_clip(s->why, sizeof(s->why),
                 "the %s's pieces (%llu bytes) are not whole slices of %llu "
                 "bytes: each request would make the cache host fetch "
                 "slices twice",
                 job->manifest != NULL ? "manifest" : "unfinished download",
                 (unsigned long long)ps, (unsigned long long)slice);
    RF_LOG(&job->engine->log, RF_LOG_WARN, "source", "cache host %s refused: %s",
           s->name, s->why);
  }
  return ps;
}

/* The server still has what the journal describes: take the pieces on
 * disk, hashed again by the writer before they count. */
int rf__job_resume_pieces(rf_job *job, rf__conn *c)
{
  rf__journal_state *js = job->resume;
  rf__verify_item *items = NULL;
  rf__block *reopen, *verify;
  uint32_t i, n = 0, bad = 0;
  int rc = rf__job_start_pieces(job, c, 1);

  if (rc != 0)
    return rc;
  items = calloc(js->npieces + 1, sizeof(*items));
  reopen = rf__store_op(RF__OP_JOURNAL_REOPEN);
  verify = rf__store_op(RF__OP_VERIFY_MANY);
  if (items == NULL || reopen == NULL || verify == NULL) {
    free(items);
    free(reopen);
    free(verify);
    rf__conn_set_error(c, RF_ENOMEM, 0, "out of memory");
    return c->err;
  }
  for (i = 0; i < js->npieces && i < job->sched.npieces; i++) {
    uint64_t off, len;
    if (js->claimed[i] == 0)
      continue;
    /* (With SHA-256 pieces the journal's XXH128 cannot be compared with
     * the manifest: the journal belongs to this manifest (its digest is
     * in the journal's header) and records only pieces that matched it.) */
    if (job->manifest != NULL && !job->manifest_sha256_pieces &&
        !XXH128_isEqual(js->hashes[i], rf__manifest_piece(job->manifest, i))) {
      bad++; /* recorded with another hash than the manifest's */
      continue;
    }
    rf__sched_piece_range(&job->sched, i, &off, &len);
    items[n].piece = i;
    items[n].off = off;
    items[n].len = len;
    items[n].hash = js->hashes[i];
    n++;
    rf__sched_claim(&job->sched, i, 1); /* until checked */
  }
  reopen->ptr = js;
  verify->ptr = items;
  verify->count = n;
  rf__job_submit_op(job, reopen);
  rf__job_submit_op(job, verify);
  job->verifying++;
  RF_LOG(&job->engine->log, RF_LOG_INFO, "resume",
         "resuming: checking %u pieces on disk%s", n,
         bad ? " (some disagree with the manifest)" : "");
  return 0;
}

void rf__job_resume_checked(rf_job *job, rf__block *op)
{
  rf__verify_item *it = op->ptr;
  unsigned bad = 0;
  uint32_t k;

  if (job->verifying > 0)
    job->verifying--;
  for (k = 0; k < op->count; k++) {
    if (it[k].ok) {
      rf__job_piece_accept(job, it[k].piece);
      job->pieces_resumed++;
      job->bytes_resumed += it[k].len;
    } else {
      rf__sched_release(&job->sched, it[k].piece, 1);
      bad++;
    }
  }
  if (bad > 0)
    RF_LOG(&job->engine->log, RF_LOG_WARN, "resume",
           "%u pieces on disk did not match the journal: fetching them "
           "again",
           bad);
  RF_LOG(&job->engine->log, RF_LOG_INFO, "resume",
         "%u pieces (%llu bytes) kept from the last run", job->pieces_resumed,
         (unsigned long long)job->bytes_resumed);
  free(it);
  op->ptr = NULL;
  job->dirty = 1;
}

/* Take m as the job's manifest; its digest (for the journal) is that of
 * its canonical text, so the same manifest from a file or a URL, with
 * CRLF or LF, is the same manifest. */
static int adopt_manifest(rf_job *job, struct rf_manifest *m)
{
  char *canon = NULL;
  int rc = rf_manifest_format(&canon, m);

  if (rc != 0) {
    rf_manifest_free(m);
    return rc;
  }
  job->manifest = m;
  job->manifest_digest = XXH3_128bits(canon, strlen(canon));
  free(canon);
  job->manifest_sha256_pieces = rf__manifest_kind(m) == RF_MANIFEST_HASH_SHA256;
  /* Peers added before a fetched manifest was known: refused now if it
   * cannot check them. */
  {
    unsigned k;
    char why[300];
    for (k = 0; k < job->nsrcs; k++) {
      rf__source *s = job->srcs[k];
      if (s->kind == RF_SOURCE_PEER && s->state != RF_SOURCE_REFUSED &&
          s->state != RF_SOURCE_REMOVED &&
          !rf__job_peers_allowed(job, why, sizeof(why))) {
        s->state = RF_SOURCE_REFUSED;
        rf__fmt_clip(s->why, sizeof(s->why), "%s", why);
        RF_LOG(&job->engine->log, RF_LOG_WARN, "source", "peer %s refused: %s",
               s->name, why);
      }
    }
  }
  return 0;
}

static int load_manifest_text(rf_job *job, const char *text, size_t len,
                              char *err, size_t errlen)
{
  struct rf_manifest *m = NULL;
  int rc = rf_manifest_parse(&m, text, len, err, errlen);

  return rc != 0 ? rc : adopt_manifest(job, m);
}

void rf__job_conn_start_manifest(rf__conn *c)
{
  rf_job *job = c->job;
  int rc;

  free(job->manifest_buf);
  job->manifest_buf = NULL;
  job->manifest_len = 0;
  c->src = job->srcs[0];
  rc = rf__conn_prepare_manifest(c);
  if (rc == 0)
    rc = rf__curlm_add(&job->engine->m, c->easy);
  if (rc != 0) {
    rf__job_fail(job, rc, "cannot fetch the manifest: %s", rf_strerror(rc));
    return;
  }
  c->state = RF__CONN_BUSY;
  job->busy_now++;
  c->src->busy++;
}

void rf__job_manifest_fetched(rf_job *job, rf__conn *c, int err, int retryable,
                              const char *msg)
{
  char why[300];

  if (c->role == RF__ROLE_MANIFEST)

    c->role = RF__ROLE_RUN;
  if (err != 0) {
    if (retryable && ++job->probe_tries < job->max_tries) {
      job->retries++;
      c->state = RF__CONN_WAITING; /* on_backoff fetches it again */
      uv_timer_start(&c->timer, rf__conn_on_backoff, job->retry_base_ms, 0);
      return;
    }
    rf__job_fail(job, err, "cannot fetch the manifest %s: %s",
                 job->manifest_url, msg);
    return;
  }
  if (check_pin(job, job->manifest_buf != NULL ? job->manifest_buf : "",
                job->manifest_len, why, sizeof(why)) != 0) {
    rf__job_fail(job, RF_EHASH, "%s: %s", job->manifest_url, why);
    return;
  }
  if (load_manifest_text(job,
                         job->manifest_buf != NULL ? job->manifest_buf : "",
                         job->manifest_len, why, sizeof(why)) != 0) {
    rf__job_fail(job, RF_EINVAL, "%s: %s", job->manifest_url, why);
    return;
  }
  free(job->manifest_buf);
  job->manifest_buf = NULL;
  job->probe_tries = 0;
  job->state = RF__JOB_PROBING;
  rf__job_conn_start_probe(c);
}
