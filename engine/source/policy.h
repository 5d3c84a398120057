/*
 * The choices of a many-sourced download, decided without I/O: which
 * source an idle connection serves next, how long a run it gets, whether
 * the origin and mirrors may take pieces yet (cache hosts first, origin
 * delay), and what a failed request means for its source (back off, ban,
 * refuse).  The job (engine/job.c, engine/source/source.c) acts on them;
 * everything here is unit-tested without a server
 * (tests/test_source_policy.c).
 */
#ifndef RF_SOURCE_POLICY_H
#define RF_SOURCE_POLICY_H

#include <stdint.h>

#include "rangefetch/rangefetch.h"

/* What the choices need to know of one source. */
typedef struct rf__src_view {
  rf_source_kind kind;
  int usable;    /* routed, not backing off, banned, refused or removed */
  int agreed;    /* one of its answers matched the origin's length */
  unsigned busy; /* requests running */
  unsigned cap;  /* connections at most */
  double rate;   /* bytes per second of the whole source, recent; 0: not
                    measured yet */
} rf__src_view;

/* The job's policy and where it stands. */
typedef struct rf__src_policy {
  double elapsed;           /* seconds since the job started */
  int cache_fallback_delay; /* rf_job_options.cache_fallback_delay */
  unsigned origin_delay;    /* rf_job_options.origin_delay */
  int cache_failed;         /* a cache host failed during this job */
  int cache_hash;           /* pieces placed by rendezvous hashing: every
                               usable cache host serves its own */
} rf__src_policy;

/*
 * Whether the origin and mirrors (the "HTTP" sources, in Delivery
 * Optimization's words) may take pieces now:
 *  - during origin_delay, not while a cache host or a peer is usable;
 *  - with cache hosts configured and usable (the cache tier is preferred):
 *    not before a cache host failed; after a failure at once (delay 0),
 *    after cache_fallback_delay seconds from the start (N > 0), or never
 *    (-1).  When no cache host is usable any more, fallback follows the
 *    same delay (-1 still never).
 * Peers are never held; of the cache hosts only the first usable one in
 * the order given serves (rf__src_cache_in_use), the others stand by,
 * unless pieces are placed by hashing (cache_hash): then every usable
 * one serves.
 */
int rf__src_http_allowed(const rf__src_view *v, unsigned n,
                         const rf__src_policy *p);

/* The cache host that serves now: the first usable one in v's order;
 * -1: none. */
int rf__src_cache_in_use(const rf__src_view *v, unsigned n);

/* Whether source i may take pieces now (usable, not held, and for a cache
 * host the one in use). */
int rf__src_eligible(const rf__src_view *v, unsigned n, unsigned i,
                     const rf__src_policy *p);

/*
 * The source an idle connection serves next, or -1.  Among usable sources
 * with room (busy < cap; a source that has not agreed yet gets one
 * connection only, its probe), and not held by rf__src_http_allowed:
 *   1. one without any connection (new, or it lost its last one): so
 *      every usable source keeps being measured;
 *   2. the fastest per connection (rate / busy); an unmeasured source
 *      counts as fast as the best measured one.
 * Ties go to the fewer connections, then to the lower index (the origin
 * and the order the sources were given).
 */
int rf__src_pick(const rf__src_view *v, unsigned n, const rf__src_policy *p);

/*
 * Pieces in a run for a connection of a source that moves conn_rate
 * bytes/s (0: unmeasured) when left bytes remain and the whole job moves
 * job_rate: a fast connection gets up to max_pieces; a slow one only what
 * it can fetch in the time the job needs for what is left (so it never
 * holds the tail), and at least one piece.  Unmeasured: one piece.
 */
uint32_t rf__src_run_pieces(double conn_rate, double job_rate, uint64_t left,
                            uint64_t piece_size, uint32_t max_pieces);

/* What a failed request of a source means for the source. */
typedef enum rf__src_action {
  RF__SRC_RETRY = 0,   /* back off, then try again */
  RF__SRC_BAN_JOB,     /* not used again by this job */
  RF__SRC_BAN_ORIGIN,  /* cache host: banned for this origin host, 15 min */
  RF__SRC_BAN_HOST,    /* cache host: banned for every origin, 15 min */
  RF__SRC_REFUSE       /* it disagrees with the origin: refused */
} rf__src_action;

/* How a request failed, as far as its source is concerned. */
typedef enum rf__src_fault {
  RF__SRC_FAULT_HTTP = 0, /* an HTTP status (status) */
  RF__SRC_FAULT_CONNECT,  /* no connection: refused, unreachable, timeout
                             while connecting */
  RF__SRC_FAULT_RESOLVE,  /* its name does not resolve */
  RF__SRC_FAULT_TIMEOUT,  /* it stopped answering */
  RF__SRC_FAULT_NETWORK,  /* the connection broke, TLS, other transfer
                             errors */
  RF__SRC_FAULT_LENGTH,   /* its length differs from the origin's */
  RF__SRC_FAULT_NORANGE,  /* it answered 200 (the whole file) to a range */
  RF__SRC_FAULT_BADPIECE  /* a piece failed verification */
} rf__src_fault;

/*
 * The action for a non-origin source's failure.  fails: the source's
 * failures in a row, this one included; bad_pieces: its pieces that failed
 * verification so far (this one included); max_fails: the job's tries.
 *  - any source: a different length or a 200 for a range: REFUSE; 3 bad
 *    pieces: BAN_JOB (a bad piece before that: RETRY, i.e. demoted);
 *  - cache host (Delivery Optimization's rules): a 4xx but 408/429:
 *    BAN_ORIGIN; no connection, no name, a timeout: BAN_HOST;
 *  - mirror: 416 (its file is shorter): REFUSE; another 4xx but 408/429:
 *    BAN_JOB;
 *  - peer: 416 (it has not got that piece yet): RETRY; other 4xx: BAN_JOB;
 *  - otherwise RETRY until max_fails failures in a row, then BAN_JOB.
 */
rf__src_action rf__src_on_failure(rf_source_kind kind, rf__src_fault fault,
                                  long status, unsigned fails,
                                  unsigned bad_pieces, unsigned max_fails);

/* Bad pieces after which a source is banned for the job. */
#define RF__SRC_MAX_BAD_PIECES 3u
/* A cache host's ban (Delivery Optimization: 15 minutes). */
#define RF__SRC_BAN_MS (15ull * 60 * 1000)
/* A cache host's connect timeout (Delivery Optimization: 3 s). */
#define RF__SRC_CACHE_CONNECT_MS 3000u

#endif
