/*
 * A download (struct rf_job) and the internal interface between the files
 * that carry it out:
 *   job.c     its life: start, probe, pieces, completion, finish and
 *             report (acting on the decisions below)
 *   schedule.c  what each idle connection does next (a source, a run,
 *             stealing, the endgame)
 *   create.c  rf__job_create: options checked and copied; teardown
 *   resume.c  the .part claim, the manifest, the journal and resume
 *   route.c   the route from the proxy chain and what a proxy failure means
 *   retry.c   back-off, retries, restarts when the content changed
 *   window.c  stream mode: the staging pool, the window of pieces ahead
 *             of what was written, what a stream cannot do
 * The decisions themselves are pure functions elsewhere: verdict.c (what a
 * response means), scheduler.c (what a connection fetches next, stealing,
 * the endgame), proxy/chain.c (failover), proxy/candidate.c (proxy faults).
 */
#ifndef RF_JOB_H
#define RF_JOB_H

#include <curl/curl.h>
#include <uv.h>
#include <xxhash.h>

#include "rangefetch/rangefetch.h"
#include "conn.h"
#include "engine_int.h"
#include "disk/journal.h"
#include "scheduler.h"
#include "disk/store.h"
#include "proxy/chain.h"
#include "source/source.h"
#include "reqopts.h"
#include "pace.h"
#include "util/http.h"

struct rf_manifest;

typedef enum rf__job_state {
  RF__JOB_ROUTING,  /* asking the resolver chain for the route */
  RF__JOB_MANIFEST, /* fetching the manifest named by a URL */
  RF__JOB_PROBING,
  RF__JOB_RUNNING,
  RF__JOB_FINISHING, /* store op FINISH pending */
  RF__JOB_DONE       /* done callback called; closing handles */
} rf__job_state;

struct rf_job {
  rf_engine *engine;
  rf_job *next;
  rf__job_state state;
  unsigned gen; /* bumped on restart */
  unsigned restarts;

  /* Options (copied). */
  char *url;           /* as given */
  char *url_safe;      /* without credentials, for messages */
  char *output;
  char *part;
  int part_fd;      /* the claimed .part until the store takes it */
  int part_created; /* this job made the .part (none was there) */
  char *proxy_user, *proxy_password; /* for proxies without their own */
  unsigned proxy_auth;               /* RF_PROXY_AUTH_*; 0: the safe ones */
  char *proxy_ca_file;

  /* Sources (engine/source/): srcs[0] is the origin; each owns its URL
   * and route.  Never shrinks: a removed source stays, REMOVED. */
  rf__source **srcs;
  unsigned nsrcs, srcs_cap;
  rf__src_view *src_views;   /* nsrcs: what the policy sees */
  rf_source_stats *src_stats; /* nsrcs: for the callbacks */
  char *origin_host;          /* the origin URL's host (cache host form) */
  unsigned per_source;
  int cache_fallback_delay;
  int cache_host_proxy;
  unsigned origin_delay;
  int no_mirror_links;
  int cache_failed;          /* a cache host failed during this job */
  uint16_t *piece_src;       /* per piece: the source of its copy */
  uint64_t cache_slice;      /* cache hosts' slice (0: none to respect) */
  int cache_host_hash;       /* pieces placed by rendezvous hashing */
  uint16_t *hrw;             /* per piece, its cache hosts in order */
  char *hrw_key;             /* the URL hashed (rf__hrw_key) */
  unsigned hrw_k;            /* cache hosts in hrw */
  uint32_t hrw_n;            /* pieces in hrw */
  uint8_t *hrw_mask;         /* scratch: the pieces a source takes */
  /* What the origin's first answer announced: mirrors (Link:
   * rel=duplicate, RFC 6249) and the whole content's SHA-256
   * (Repr-Digest, RFC 9530, or Digest, RFC 3230). */
  rf__mirror_list links;
  unsigned char repr_sha256[32];
  int has_repr;               /* 1: repr_sha256 holds the origin's word */
  char repr_from[16];         /* "Repr-Digest" or "Digest" */
  char *user_agent;
  char *ca_file;
  rf__reqopts req;      /* headers, credentials, cookies, TLS, addresses */
  rf__bucket bucket;    /* max_rate (engine/pace.c); rate 0: no limit */
  uv_timer_t pace;      /* wakes transfers the rate limit paused */
  unsigned max_time_ms; /* 0: no limit on the whole download */
  /* The checksum option: the whole content's expected digests. */
  unsigned char want_sha256[32];
  int has_want_sha256;
  XXH128_hash_t want_xxh128;
  int has_want_xxh128;
  unsigned nconns;
  uint64_t piece_size_opt;
  unsigned max_tries;
  unsigned retry_base_ms, retry_max_ms;
  unsigned stall_timeout_ms, connect_timeout_ms;
  unsigned progress_interval_ms;
  rf_progress_cb on_progress;
  rf_done_cb on_done;
  void *user_data;

  /* What the probe learned. */
  uint64_t total; /* RF_SIZE_UNKNOWN until known */
  int single;     /* server ignores ranges / unknown length */
  char etag[256];
  char last_modified[64];
  struct curl_slist *if_range; /* header list for requests after the probe */
  /* Integrity. */
  struct rf_manifest *manifest; /* NULL: none */
  int manifest_trusted;         /* from a local file, over HTTPS, or pinned */
  int manifest_sha256_pieces;   /* its piece hashes are SHA-256 */
  unsigned char manifest_pin[32]; /* manifest_sha256 option */
  int has_pin;
  char *manifest_url;           /* manifest to fetch before probing */
  XXH128_hash_t manifest_digest;
  CURL *manifest_easy;
  char *manifest_buf;
  size_t manifest_len;
  int no_verify;          /* no hashing, no journal */
  int discard;            /* nothing is written: no file at all */
  /* Stream mode (window.c): the content goes in order to stream_fd (the
   * caller's); no .part, journal or resume. */
  int stream;
  int stream_fd;
  int stream_verify;      /* a single stream cut into verified pieces
                             (a manifest): sched holds them */
  uint32_t stream_window; /* pieces handed out ahead of the output */
  uint64_t sent;          /* bytes handed to the writer */
  uint64_t created_ns;    /* uv_hrtime() when the job was added */
  uint64_t first_byte_ns; /* uv_hrtime() of the first body byte, 0: none */
  char *journal_path;
  rf__journal_state *resume;        /* journal of an earlier run, until used */
  rf__journal_state *resume_orphan; /* dropped by a restart, op pending */
  unsigned verifying;               /* read-back checks in flight */
  uint8_t *raced; /* per piece: more than one connection wrote it */
  unsigned pieces_verified;
  unsigned pieces_failed;
  unsigned pieces_resumed;
  uint64_t bytes_resumed;
  unsigned source_bad; /* pieces from the source that failed */
  int deferred_err;    /* a failure seen inside a libcurl callback */
  char deferred_msg[300];
  int dirty; /* something changed: run the scheduler */
  unsigned probe_tries;
  uint64_t rng; /* xorshift state for back-off jitter */

  rf__sched sched;
  rf__store store;
  int store_open;
  rf__conn *conns;
  rf__run_view *views; /* nconns: what the scheduler sees of them */

  /* Accounting. */
  uint64_t received;   /* bytes taken from the network */
  uint64_t done_bytes; /* bytes of DONE pieces */
  uint64_t recv_at_tick;
  double rate;
  uint64_t start_ms;
  unsigned retries;
  char last_retry[300];   /* cause and try of the latest retry */
  uint64_t last_retry_ms; /* loop time it was decided (0: none) */
  unsigned connects;
  unsigned busy_now; /* transfers in the multi now */
  unsigned busy_max;
  uv_timer_t tick; /* progress + housekeeping */
  uv_timer_t kick; /* deferred work, 0 ms */

  /* Outcome. */
  int cancelled;
  int error;
  char message[512];
  long http_status;
  int curl_code;
  unsigned tries;
  unsigned open_handles; /* uv handles + store still to close */
};

/* The engine no longer knows job (its last handle closed). */
static inline void rf__engine_forget(rf_engine *e, rf_job *job)
{
  rf_job **pp;

  for (pp = &e->jobs; *pp != NULL; pp = &(*pp)->next) {
    if (*pp == job) {
      *pp = job->next;
      return;
    }
  }
}

/* ------------------------------------------------------------ create.c */
/* Check and copy o, claim the .part, read the journal and the manifest,
 * start the job.  Returns 0 with *out, or an RF_E* code (the engine's last
 * error says why). */
int rf__job_create(rf_engine *e, const rf_job_options *o, rf_job **out);
/* Free a job whose handles are all closed. */
void rf__job_destroy(rf_job *job);

/* Byte offset of piece i; end byte (exclusive) of the run of n pieces
 * from first. */
static inline uint64_t rf__job_piece_off(const rf_job *job, uint32_t i)
{
  return (uint64_t)i * job->sched.piece_size;
}

static inline uint64_t rf__job_run_end(const rf_job *job, uint32_t first,
                                       uint32_t n)
{
  uint64_t off, len;

  rf__sched_piece_range(&job->sched, first + n - 1, &off, &len);
  return off + len;
}

/* ---------------------------------------------------------- schedule.c */
/* Give every idle connection its next request (or end the job when no
 * source is left). */
void rf__job_schedule(rf_job *job);
/* A usable source without a connection while all are busy: one stops
 * after its current piece (from the progress tick). */
void rf__job_make_room(rf_job *job);

/* --------------------------------------------------------------- job.c */
/* c fetches the run [first, first+count) from src. */
void rf__job_conn_start_run(rf__conn *c, rf__source *src, uint32_t first,
                            uint32_t count);
int rf__job_start(rf_job *job, int durable);
void rf__job_cancel(rf_job *job);
void rf__job_abort(rf_job *job); /* engine freed: no callback */
void rf__job_progress(const rf_job *job, rf_progress *p);
/* At the end of a response's headers: 0 to accept the body, or an RF_E*
 * code (c->err, c->errmsg and c->retryable set). */
int rf__job_validate(rf_job *job, rf__conn *c);
/* Every byte of piece i arrived on c and was handed to the writer;
 * digest is its XXH3-128, sha256 its SHA-256 (NULL unless the manifest
 * has SHA-256 pieces). */
void rf__job_piece_done(rf_job *job, rf__conn *c, uint32_t i,
                        XXH128_hash_t digest, const unsigned char *sha256);
/* libcurl finished c's transfer with res. */
void rf__job_on_done(rf_job *job, rf__conn *c, CURLcode res);
/* After libcurl's callbacks: act on what they noted, schedule. */
void rf__job_after_actions(rf_job *job);
/* Start the rate limit's timer (if not running) to resume the transfers
 * it paused once the bucket has tokens again. */
void rf__job_pace(rf_job *job);
/* End the job with err and a message (the completion callback runs);
 * returns err. */
int rf__job_fail(rf_job *job, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void rf__job_complete(rf_job *job, int err);
void rf__job_on_kick(uv_timer_t *t);
/* Queue a writer operation (NULL: out of memory). Returns 0, RF_ENOMEM. */
int rf__job_submit_op(rf_job *job, rf__block *op);
void rf__job_piece_accept(rf_job *job, uint32_t i);
/* c's request: stop it, give its run back, start one, start the probe. */
void rf__job_conn_remove(rf__conn *c);
void rf__job_conn_release(rf__conn *c);
int rf__job_conn_start(rf__conn *c, uint64_t start, uint64_t end);
void rf__job_conn_start_probe(rf__conn *c);
void rf__conn_set_error(rf__conn *c, int err, int retryable, const char *fmt,
                        ...) __attribute__((format(printf, 4, 5)));

/* ------------------------------------------------------------ resume.c */
/* Open and lock the .part before anything else looks at it. */
int rf__job_claim_part(rf_job *job);
/* The manifest (a file is read now) and an earlier run's journal. */
int rf__job_prepare_integrity(rf_job *job, const rf_job_options *o);
/* The cache hosts' slice size: cache_slice, or the default. */
static inline uint64_t rf__job_slice_size(const rf_job *job)
{
  return job->cache_slice != 0 ? job->cache_slice : RF_DEFAULT_CACHE_SLICE;
}

/* The slice size requests to cache hosts are aligned to (0: none: the
 * job has no cache host). */
uint64_t rf__job_cache_slice(const rf_job *job);
/* The If-Range header for the job's validator. */
void rf__job_set_if_range(rf_job *job);
/* The probe learned the size: plan the pieces (keep: resume). */
int rf__job_start_pieces(rf_job *job, rf__conn *c, int keep);
/* The server still has what the journal describes: check the pieces. */
int rf__job_resume_pieces(rf_job *job, rf__conn *c);
/* The writer re-hashed the journal's pieces (RF__OP_VERIFY_MANY). */
void rf__job_resume_checked(rf_job *job, rf__block *op);
void rf__job_conn_start_manifest(rf__conn *c);
void rf__job_manifest_fetched(rf_job *job, rf__conn *c, int err, int retryable,
                              const char *msg);

/* ------------------------------------------------------------- route.c */
/* The proxy c's request goes through, NULL: direct. */
const rf_proxy *rf__conn_proxy(const rf__conn *c);
/* The origin's route is known: the job goes on (manifest, probe). */
void rf__job_origin_routed(rf_job *job);
/* A transfer through a proxy ended: 0 if the proxy had nothing to do with
 * it, else err, retryable, msg and *failover (1: go on now on the route's
 * current candidate; -1: every candidate failed). */
int rf__job_proxy_fault(rf_job *job, rf__conn *c, CURLcode res, int *err,
                        int *retryable, char *msg, size_t size, int *failover);

/* ------------------------------------------------------------ window.c */
/* Stream mode's memory: at most RF__STREAM_POOL_MAX bytes of staging
 * blocks (of at most RF__STREAM_BLOCK), RF__STREAM_DUPS endgame duplicates
 * at once, pieces the engine or the caller sizes at most
 * RF__STREAM_PIECE_AUTO (window.c says why). */
#define RF__STREAM_POOL_MAX   ((size_t)64 << 20)
#define RF__STREAM_BLOCK      ((size_t)1 << 20)
#define RF__STREAM_DUPS       2u
#define RF__STREAM_PIECE_AUTO ((uint64_t)4 << 20)

/* Stream mode's pool for pieces of piece bytes in blocks of block bytes
 * and nconns connections: *window pieces may be handed out ahead of the
 * first one not written, *max_blocks blocks hold them and the endgame
 * duplicates, within RF__STREAM_POOL_MAX.  Pure.  Returns 0, RF_EINVAL
 * (a size 0), RF_ETOOBIG (two pieces and the duplicates do not fit). */
int rf__stream_pool(uint64_t piece, size_t block, unsigned nconns,
                    uint32_t *window, unsigned *max_blocks);
/* A piece size the engine or the caller chose, capped for streaming. */
uint64_t rf__job_stream_piece(uint64_t ps);
/* Whether pieces of piece bytes can be streamed: 0, or RF_ETOOBIG with
 * why. */
int rf__job_stream_check_piece(const rf_job *job, uint64_t piece, char *why,
                               size_t size);
/* The pieces are planned (rf__job_start_pieces): size the pool, hand out
 * pieces in order within the window.  Returns 0, or an RF_E* code with
 * c's error set. */
int rf__job_stream_plan(rf_job *job, rf__conn *c);
/* The writer wrote more: move the window (dirty when it moved). */
void rf__job_stream_advance(rf_job *job);
/* The probe found a single stream (no ranges): with a manifest, cut it
 * into the manifest's pieces (stream_verify).  Returns 0, or an RF_E*
 * code with c's error set. */
int rf__job_stream_single(rf_job *job, rf__conn *c);
/* That single stream broke: its pieces go (the probe plans again). */
void rf__job_stream_single_end(rf_job *job);
/* Whether the end checks the content's SHA-256 (RF__OP_FINISH flag 2),
 * which the writer must then compute from the first byte. */
int rf__job_stream_sha256(const rf_job *job);
/* The content's shape is known, no byte handed over yet: tell the writer
 * what to hash. */
void rf__job_stream_begin(rf_job *job);
/* The job would start over (what: why): a stream that wrote bytes
 * cannot; the job fails with err and 1 is returned.  0: go on. */
int rf__job_stream_stuck(rf_job *job, int err, const char *what);

/* Received bytes are cut into pieces, hashed and checked: with ranges,
 * and on a single stream in stream mode with a manifest. */
static inline int rf__job_by_piece(const rf_job *job)
{
  return !job->single || job->stream_verify;
}

/* A connection holds its piece's blocks until the piece is verified
 * (rf__conn_flush_block chains them; rf__job_piece_done hands them over). */
static inline int rf__job_holds_pieces(const rf_job *job)
{
  return job->stream && rf__job_by_piece(job);
}

/* ------------------------------------------------------------- retry.c */
/* c's back-off is over: try again. */
void rf__conn_on_backoff(uv_timer_t *t);
/* c failed with err: retry after a back-off, or give up on the job. */
void rf__job_conn_failed(rf_job *job, rf__conn *c, int err, int retryable,
                         const char *msg, uint64_t retry_after_ms);
/* The remote content changed: start over (bounded). */
void rf__job_restart(rf_job *job, const char *why);
/* What a libcurl timeout on c means, in our words. */
void rf__conn_timeout_message(const rf_job *job, rf__conn *c, char *msg,
                              size_t size);

#endif
