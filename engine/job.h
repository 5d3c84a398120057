/*
 * Internal shapes of the engine, a job and its connections, shared by
 * engine.c (public façade), job.c (life of a download) and transfer.c
 * (one HTTP range request on one connection).
 */
#ifndef RF_JOB_H
#define RF_JOB_H

#include <curl/curl.h>
#include <uv.h>
#include <xxhash.h>

#include "rangefetch/rangefetch.h"
#include "log.h"
#include "loop.h"
#include "scheduler.h"
#include "store.h"
#include "proxy/chain.h"

struct rf_manifest;

typedef struct rf__conn rf__conn;

/* Why a transfer ended, as the transfer code saw it. */
typedef enum rf__stop {
  RF__STOP_NONE = 0,
  RF__STOP_TRUNCATED,   /* we cut it at its (lowered) end on purpose */
  RF__STOP_PAUSED_FULL, /* unused */
  RF__STOP_ERROR        /* err/status describe the failure */
} rf__stop;

struct rf__conn {
  rf_job *job;
  unsigned id;
  CURL *easy;
  int busy;          /* added to the multi */
  int cancel;        /* remove it at the next opportunity */
  int paused;        /* write callback returned PAUSE */
  int waiting;       /* back-off timer running */
  unsigned gen;      /* job generation the request belongs to */

  /* The run of pieces assigned (valid when busy or continuing). */
  uint32_t run_first, run_count;
  int is_dup;        /* endgame duplicate of one piece */
  int probe;         /* the first request of the job */
  int probe_discard; /* accept the body but keep none of it (a resume
                        probe when every piece is on disk already) */
  int fetch_manifest;/* this transfer fetches the manifest */
  size_t route_idx;  /* candidate of the job's route the request uses */
  const rf_proxy *applied; /* candidate whose options the handle carries */
  /* The HTTP request: bytes [req_start, req_end) (req_end exclusive; for a
   * single stream of unknown length, RF_SIZE_UNKNOWN). */
  uint64_t req_start, req_end;
  uint64_t req_t0;   /* uv_hrtime() when the request was prepared */
  uint64_t end;      /* logical end, <= req_end, lowered by stealing */
  uint64_t pos;      /* next content offset expected */
  uint32_t piece;    /* piece pos is in */
  int piece_fresh;   /* pos is at the start of piece (hash reset pending) */
  XXH3_state_t *hash;
  rf__block *blk;

  /* Response state, reset per response (redirects give several). */
  long status;
  int headers_done;
  int accepted;      /* body bytes may be written */
  uint64_t discard;  /* error body bytes swallowed */
  char etag[256];
  char last_modified[64];
  char reason[96];
  int has_cr;
  uint64_t cr_first, cr_last, cr_total;
  int64_t content_length;
  int accept_ranges;
  uint64_t retry_after_ms;
  int has_retry_after;
  int has_location;

  rf__stop stop;
  int err;           /* RF_E* when stop == RF__STOP_ERROR */
  int retryable;     /* err may go away if asked again */
  char errmsg[256];

  unsigned fails;    /* consecutive failures of this connection */
  uv_timer_t timer;  /* back-off */
  char range[64];
  char errbuf[CURL_ERROR_SIZE];
  uint64_t bytes_total; /* received over its life, for rates */
  uint64_t bytes_at_tick;
  double rate;          /* bytes/s, smoothed over about a second */
  unsigned quiet_ticks; /* ticks in a row without a byte while busy */
  /* SO_RCVLOWAT on the response's socket (0: the default, 1 byte); see
   * tune_lowat() in transfer.c. */
  unsigned lowat;
  curl_socket_t fd;     /* the response's socket once looked up, or BAD */
  uint64_t lowat_check; /* next pos to re-size it at (0: not begun) */
};

struct rf_engine {
  uv_loop_t *loop;
  uv_loop_t own_loop;
  int own;
  rf__curlm m;
  rf__logger log;
  rf_job *jobs;        /* linked list */
  rf__chain *chain;    /* proxy resolvers */
  unsigned closing_parts; /* multi + chain still closing (rf_engine_free) */
  rf_proxy_credentials_cb proxy_creds; /* may be NULL */
  void *proxy_creds_ud;
  unsigned njobs;
  int in_callback;
  int freeing;
  /* Every socket libcurl opened for the engine's transfers and has not
   * closed (CURLOPT_OPENSOCKETFUNCTION / CLOSESOCKETFUNCTION): where a
   * connection's socket is looked up (rf__engine_conn_socket). */
  curl_socket_t *socks;
  size_t nsocks, socks_cap;
  char last_error[512];
};

typedef enum rf__job_state {
  RF__JOB_ROUTING,    /* asking the resolver chain for the route */
  RF__JOB_MANIFEST,   /* fetching the manifest named by a URL */
  RF__JOB_PROBING,
  RF__JOB_RUNNING,
  RF__JOB_FINISHING,  /* store op FINISH pending */
  RF__JOB_DONE        /* done callback called; closing handles */
} rf__job_state;

struct rf_job {
  rf_engine *engine;
  rf_job *next;
  rf__job_state state;
  unsigned gen;            /* bumped on restart */
  unsigned restarts;

  /* Options (copied). */
  char *url;               /* as given */
  char *url_safe;          /* without credentials, for messages */
  char *effective_url;     /* after redirects of the probe */
  char *output;
  char *part;
  int part_fd;             /* the claimed .part until the store takes it */
  int part_created;        /* this job made the .part (none was there) */
  char *proxy;             /* explicit proxy (bypasses the chain) */
  int no_proxy;            /* explicit "": direct, no chain */
  char *proxy_user, *proxy_password; /* for proxies without their own */
  unsigned proxy_auth;     /* RF_PROXY_AUTH_*; 0: the safe ones */
  char *proxy_ca_file;
  rf__route *route;        /* resolved route (NULL while routing) */
  rf__chain_req *route_req;/* resolution in flight */
  int route_worked;        /* feedback given for the route's success */
  char route_desc[900];    /* "via http://h:3128 (chosen by ...)" */
  char *user_agent;
  char *ca_file;
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
  uint64_t total;          /* RF_SIZE_UNKNOWN until known */
  int single;              /* server ignores ranges / unknown length */
  char etag[256];
  char last_modified[64];
  struct curl_slist *if_range; /* header list for requests after the probe */
  /* Integrity. */
  struct rf_manifest *manifest; /* NULL: none */
  char *manifest_url;      /* manifest to fetch before probing */
  XXH128_hash_t manifest_digest;
  CURL *manifest_easy;
  char *manifest_buf;
  size_t manifest_len;
  int no_verify;           /* no hashing, no journal */
  int discard;             /* nothing is written: no file at all */
  uint64_t created_ns;     /* uv_hrtime() when the job was added */
  uint64_t first_byte_ns;  /* uv_hrtime() of the first body byte, 0: none */
  char *journal_path;
  rf__journal_state *resume; /* journal of an earlier run, until used */
  rf__journal_state *resume_orphan; /* dropped by a restart, op pending */
  unsigned verifying;      /* read-back checks in flight */
  uint8_t *raced;          /* per piece: more than one connection wrote it */
  unsigned pieces_verified;
  unsigned pieces_failed;
  unsigned pieces_resumed;
  uint64_t bytes_resumed;
  unsigned source_bad;     /* pieces from the source that failed */
  int deferred_err;        /* a failure seen inside a libcurl callback */
  char deferred_msg[300];
  int finish_pending;      /* unused */
  int dirty;               /* something changed: run the scheduler */
  unsigned probe_tries;
  uint64_t rng;            /* xorshift state for back-off jitter */

  rf__sched sched;
  rf__store store;
  int store_open;
  rf__conn *conns;
  rf__run_view *views;      /* nconns: what the scheduler sees of them */

  /* Accounting. */
  uint64_t received;        /* bytes taken from the network */
  uint64_t done_bytes;      /* bytes of DONE pieces */
  uint64_t recv_at_tick;
  double rate;
  uint64_t start_ms;
  unsigned retries;
  char last_retry[300];    /* cause and try of the latest retry */
  uint64_t last_retry_ms;  /* loop time it was decided (0: none) */
  unsigned connects;
  unsigned busy_now;       /* transfers in the multi now */
  unsigned busy_max;
  uv_timer_t tick;         /* progress + housekeeping */
  uv_timer_t kick;         /* deferred work, 0 ms */

  /* Outcome. */
  int cancelled;
  int error;
  char message[512];
  long http_status;
  int curl_code;
  unsigned tries;
  unsigned open_handles;   /* uv handles + store still to close */
};

/* job.c */
int rf__job_create(rf_engine *e, const rf_job_options *o, rf_job **out);
void rf__job_on_done(rf_job *job, rf__conn *c, CURLcode res);
void rf__job_after_actions(rf_job *job);
void rf__job_cancel(rf_job *job);
void rf__job_abort(rf_job *job); /* engine freed: no callback */
void rf__job_progress(const rf_job *job, rf_progress *p);
void rf__job_destroy(rf_job *job);

/* sockets.c: open and close easy's sockets through e's socket list. */
void rf__engine_sockets_use(rf_engine *e, CURL *easy);
/* sockets.c: the socket easy's running transfer uses (found by the local
 * and remote ports libcurl reports), or CURL_SOCKET_BAD if unsure. */
curl_socket_t rf__engine_conn_socket(rf_engine *e, CURL *easy);
/* sockets.c: release the list (every socket closed already). */
void rf__engine_sockets_free(rf_engine *e);
/* engine.c: a job was released. */
void rf__engine_job_gone(rf_engine *e);
struct rf__static_config;
/* Add a static/override resolver (sets the last error on a bad URL). */
int rf__engine_add_static(rf_engine *e, const struct rf__static_config *cfg);
struct rf__pacres_config;
/* Add a PAC resolver (also WPAD: cfg->discovery) under name, a static
 * string ("pac", "wpad", "policy-pac"...). */
int rf__engine_add_pac(rf_engine *e, const struct rf__pacres_config *cfg,
                       const char *name);
/* engine.c: detail for the last failed rf_job_add. */
void rf__engine_set_error(rf_engine *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* At the end of a response's headers: 0 to accept the body, or an RF_E*
 * code (c->err, c->errmsg and c->retryable set). */
int rf__job_validate(rf_job *job, rf__conn *c);
/* Every byte of piece i arrived on c and was handed to the writer. */
void rf__job_piece_done(rf_job *job, rf__conn *c, uint32_t i,
                        XXH128_hash_t digest);

/* transfer.c */
int rf__conn_init(rf__conn *c, rf_job *job, unsigned id);
void rf__conn_cleanup(rf__conn *c);
/* Proxy options of c for the job's route (its current candidate). */
void rf__conn_apply_route(rf__conn *c);
/* Configure the easy handle for bytes [start, end) and the current URL. */
int rf__conn_prepare(rf__conn *c, uint64_t start, uint64_t end);
void rf__conn_reset_response(rf__conn *c);
/* Back to the default SO_RCVLOWAT (1 byte) if it was raised. */
void rf__conn_lowat_off(rf__conn *c);
/* Configure the easy handle to GET the job's manifest URL. */
void rf__conn_prepare_manifest(rf__conn *c);
/* Submit and drop the conn's staging block. */
void rf__conn_flush_block(rf__conn *c);
void rf__conn_drop_block(rf__conn *c);

#endif
