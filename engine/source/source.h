/*
 * A source of a job's bytes: the origin, a mirror, a cache host or a peer
 * (rangefetch.h, docs/sources.md).  Each has its own URL, route (the proxy
 * chain is asked per source URL), connection cap, measured rate, error and
 * bad-piece counts and a state; source.c keeps them and acts on the
 * choices of policy.c.  Sources live as long as their job: a removed one
 * stays, REMOVED, so that connections and stats may still point at it.
 *
 * Cache host bans outlive jobs: the engine keeps them (rf__ban), keyed by
 * cache host and origin host (a 4xx) or cache host alone (no connection),
 * for 15 minutes, as Delivery Optimization does.
 */
#ifndef RF_SOURCE_H
#define RF_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "rangefetch/rangefetch.h"
#include "proxy/chain.h"
#include "source/policy.h"

struct rf_job;
struct rf_engine;

typedef struct rf__source {
  struct rf_job *job;
  unsigned id; /* 0: the origin */
  rf_source_kind kind;
  rf_source_state state;
  char *url;           /* requests go here (a cache host: its URL form) */
  char *url_safe;      /* without credentials, for messages */
  char *name;          /* for people: url_safe, or a cache host's HOST[:PORT] */
  char *host;          /* cache host: HOST[:PORT] as given (ban key) */
  char *effective_url; /* after the redirects of its first answer */
  char *proxy;         /* origin: the job's explicit proxy */
  int no_proxy;        /* explicit direct (a cache host with policy direct) */
  rf__route *route;    /* NULL while routing */
  rf__chain_req *route_req;
  int route_worked;
  char route_desc[900];
  unsigned cap;               /* connections at most */
  unsigned connect_timeout_ms;
  int agreed;          /* an answer matched the origin's length */

  /* Measures. */
  unsigned busy;       /* requests running */
  unsigned requests;
  unsigned errors;
  unsigned fails;      /* failures in a row */
  unsigned bad_pieces;
  uint64_t bytes;      /* bytes of the pieces it delivered that counted */
  uint64_t net_bytes;  /* bytes received from it */
  uint64_t net_at_tick;
  double rate;         /* bytes/s, smoothed */
  uint64_t retry_at;   /* BACKOFF / BANNED for a while: loop ms, 0: never */
  char why[300];
} rf__source;

/* A new source for job (not yet linked): checks the URL or cache host
 * name; a cache host's URL is made from the origin's.  On failure the
 * engine's last error says why.  Returns 0, RF_EURL, RF_ENOMEM. */
int rf__source_new(rf__source **out, struct rf_job *job, rf_source_kind kind,
                   const char *url, unsigned cap);
void rf__source_free(rf__source *s);

/* Whether o may become a source of job: version, kind (not the origin),
 * a peer only with a trusted manifest (RF_EINVAL, the engine's last error
 * says why). */
int rf__job_source_check(struct rf_job *job, const rf_source_options *o);

/* A peer's pieces can be checked: the job's manifest is trusted (from the
 * origin over HTTPS, pinned, or a local file) and, once known, hashes
 * its pieces with SHA-256.  0 with why filled otherwise. */
int rf__job_peers_allowed(const struct rf_job *job, char *why, size_t size);

/* A source for o, checked (rf__job_source_check), made, given the
 * origin's explicit route and linked to job.  Returns 0 with *out, or as
 * those (the engine's last error says why). */
int rf__job_source_from(struct rf_job *job, const rf_source_options *o,
                        rf__source **out);

/* Link s to job (its id is set).  Returns 0, RF_ENOMEM. */
int rf__job_source_add(struct rf_job *job, rf__source *s);

/* Ask the chain for s's route (the origin's: the job waits for it). */
void rf__source_route(struct rf_job *job, rf__source *s);
/* Cancel a route request in flight. */
void rf__source_route_cancel(rf__source *s);
/* "via proxy http://h:3128 (chosen by ...)" of s's current candidate. */
void rf__source_describe_route(rf__source *s);

/* Whether s may be given requests (routed, not backing off, banned,
 * refused or removed); moves an expired back-off or ban back to ACTIVE. */
int rf__source_usable(struct rf_job *job, rf__source *s);

/* A request of s failed with fault (status for HTTP faults); msg says
 * how.  Acts on rf__src_on_failure: back-off, bans, refusal, with a log
 * line naming the source. */
void rf__source_failed(struct rf_job *job, rf__source *s, rf__src_fault fault,
                       long status, const char *msg);
/* What a failed request of c (libcurl's res; proxy_msg: the proxy was
 * at fault) says about its source; *status gets the HTTP status that
 * mattered (0: none). */
struct rf__conn;
rf__src_fault rf__source_fault_of(const struct rf_job *job, struct rf__conn *c,
                                  CURLcode res, int proxy_msg, long *status);

/* Mirrors the origin announced (Link: rel=duplicate) become sources. */
void rf__job_adopt_link_mirrors(struct rf_job *job);

/* A request of s succeeded (its answer agreed with the origin). */
void rf__source_worked(struct rf_job *job, rf__source *s);

/* The per-tick rate of each source. */
void rf__sources_tick(struct rf_job *job, double dt);

/* Fill job->src_stats for the callbacks, and bytes per kind. */
void rf__sources_stats(struct rf_job *job, uint64_t bytes_from[RF_SOURCE_KINDS]);

/* The policy's views of the job's sources (job->src_views). */
rf__src_view *rf__sources_views(struct rf_job *job);
void rf__sources_policy(struct rf_job *job, rf__src_policy *p);

/* Engine-wide cache host bans (15 minutes). */
typedef struct rf__ban {
  struct rf__ban *next;
  char *host;        /* cache host HOST[:PORT] */
  char *origin;      /* origin host, NULL: every origin */
  uint64_t until;    /* loop ms */
  char why[300];
} rf__ban;

/* The ban that applies to cache host for origin now, or NULL. */
const rf__ban *rf__ban_find(struct rf_engine *e, const char *host,
                            const char *origin);
/* Ban host (for origin; NULL: every origin) until now + ms. */
void rf__ban_add(struct rf_engine *e, const char *host, const char *origin,
                 uint64_t ms, const char *why);
void rf__bans_free(struct rf_engine *e);

#endif
