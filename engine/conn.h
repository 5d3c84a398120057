/*
 * One connection of a job and the HTTP range request it runs (the code is
 * in transfer.c: easy-handle setup, the header and write callbacks).
 */
#ifndef RF_CONN_H
#define RF_CONN_H

#include <curl/curl.h>
#include <uv.h>
#include <xxhash.h>

#include "rangefetch/proxy.h"
#include "rangefetch/rangefetch.h"
#include "disk/store.h"

typedef struct rf__conn rf__conn;

/* Why a transfer ended, as the transfer code saw it. */
typedef enum rf__stop {
  RF__STOP_NONE = 0,
  RF__STOP_TRUNCATED, /* we cut it at its (lowered) end on purpose */
  RF__STOP_ERROR      /* err/status describe the failure */
} rf__stop;

/* Where a connection is. */
typedef enum rf__conn_state {
  RF__CONN_IDLE = 0, /* no request */
  RF__CONN_BUSY,     /* its transfer is in the multi */
  RF__CONN_WAITING   /* its back-off timer runs before the next try */
} rf__conn_state;

/* What its request is for. */
typedef enum rf__conn_role {
  RF__ROLE_RUN = 0, /* a run of pieces [run_first, run_first+run_count) */
  RF__ROLE_PROBE,   /* the job's first request: size, validator, ranges */
  RF__ROLE_DUP,     /* an endgame duplicate of piece run_first */
  RF__ROLE_MANIFEST /* GET of the job's manifest URL */
} rf__conn_role;

struct rf__source;

struct rf__conn {
  rf_job *job;
  struct rf__source *src; /* the source its request goes to */
  unsigned id;
  CURL *easy;
  rf__conn_state state;
  rf__conn_role role;
  int cancel;   /* BUSY: remove it at the next opportunity */
  int paused;   /* BUSY: the write callback returned PAUSE */
  int rate_paused; /* BUSY: paused by the job's rate limit */
  long bufsize;    /* CURLOPT_BUFFERSIZE without a rate limit */
  unsigned gen; /* job generation the request belongs to */

  /* The run of pieces assigned (valid when busy or continuing). */
  uint32_t run_first, run_count;
  /* PROBE: accept the body but keep none of it (a resume probe when every
   * piece is on disk already). */
  int probe_discard;
  size_t route_idx;        /* candidate of the job's route the request uses */
  const rf_proxy *applied; /* candidate whose options the handle carries */
  /* The HTTP request: bytes [req_start, req_end) (req_end exclusive; for a
   * single stream of unknown length, RF_SIZE_UNKNOWN). */
  uint64_t req_start, req_end;
  uint64_t req_t0; /* uv_hrtime() when the request was prepared */
  uint64_t end;    /* logical end, <= req_end, lowered by stealing */
  uint64_t pos;    /* next content offset expected */
  uint32_t piece;  /* piece pos is in */
  int piece_fresh; /* pos is at the start of piece (hash reset pending) */
  XXH3_state_t *hash;
  struct evp_md_ctx_st *sha; /* the piece's SHA-256 (a manifest with
                                SHA-256 pieces), else NULL */
  rf__block *blk;
  /* Stream mode: the full blocks of the piece being received, in order,
   * held until the piece is verified (rf__conn_chain_submit). */
  rf__block *chain, *chain_tail;

  /* Response state, reset per response (redirects give several). */
  long status;
  int headers_done;
  int accepted;     /* body bytes may be written */
  uint64_t discard; /* error body bytes swallowed */
  char etag[256];
  char last_modified[64];
  char reason[96];
  char content_encoding[48];
  int multipart; /* Content-Type: multipart/byteranges */
  int has_cr;
  uint64_t cr_first, cr_last, cr_total;
  int64_t content_length;
  int accept_ranges;
  uint64_t retry_after_ms;
  int has_retry_after;
  int has_location;

  rf__stop stop;
  int err;       /* RF_E* when stop == RF__STOP_ERROR */
  int retryable; /* err may go away if asked again */
  char errmsg[256];

  unsigned fails;   /* consecutive failures of this connection */
  uv_timer_t timer; /* back-off */
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

/* transfer.c */
int rf__conn_init(rf__conn *c, rf_job *job, unsigned id);
void rf__conn_cleanup(rf__conn *c);
/* Proxy options of c for the job's route (its current candidate).
 * Returns 0, RF_ENOMEM (libcurl could not copy a string). */
int rf__conn_apply_route(rf__conn *c);
/* Configure the easy handle for bytes [start, end) and the current URL.
 * Returns 0, RF_ENOMEM (the request must not be sent). */
int rf__conn_prepare(rf__conn *c, uint64_t start, uint64_t end);
void rf__conn_reset_response(rf__conn *c);
/* Back to the default SO_RCVLOWAT (1 byte) if it was raised. */
void rf__conn_lowat_off(rf__conn *c);
/* Configure the easy handle to GET the job's manifest URL.  Returns 0,
 * RF_ENOMEM (the request must not be sent). */
int rf__conn_prepare_manifest(rf__conn *c);
/* Submit the conn's staging block to the writer; when the job holds
 * pieces (stream mode), it joins the piece's chain instead. */
void rf__conn_flush_block(rf__conn *c);
/* Give back the staging block and the chain unwritten. */
void rf__conn_drop_block(rf__conn *c);
/* Hand the chain (a verified piece) to the writer. */
void rf__conn_chain_submit(rf__conn *c);

#endif
