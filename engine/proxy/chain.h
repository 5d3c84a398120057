/*
 * The resolver chain of an engine: the registered resolvers in order, the
 * asynchronous walk that asks them one after the other, the route cache
 * (per context + scheme + host + port), the bad-proxy table shared by every
 * job, and the explanation of each decision.
 */
#ifndef RF_PROXY_CHAIN_H
#define RF_PROXY_CHAIN_H

#include <uv.h>

#include "log.h"
#include "rangefetch/proxy.h"

typedef struct rf__chain rf__chain;
typedef struct rf__chain_req rf__chain_req;

/* A resolved route, owned by whoever received it (rf__route_free). */
typedef struct rf__route {
  rf_proxy *cands;     /* n >= 1 candidates, secrets included */
  size_t n;
  size_t cur;          /* candidate in use */
  int resolver;        /* index of the resolver that chose it, -1: none */
  char chosen_by[512]; /* "pac: http://wpad/wpad.dat" */
  char *tried;         /* failures so far, "a: why; b: why" (malloc'd) */
  rf_proxy **extra;    /* blocks adopted by rf__route_adopt */
  size_t nextra;
} rf__route;

void rf__route_free(rf__route *r);
/* Replace candidate k by *one (a one-candidate block from
 * rf__proxy_list_copy, which the route then owns).  Returns 0, RF_ENOMEM. */
int rf__route_adopt(rf__route *r, size_t k, rf_proxy *one);
/* Append "why" to r->tried (best effort). */
void rf__route_note_failure(rf__route *r, const char *why);

/* What a dead candidate means for the route (rf__route_fail). */
typedef enum rf__route_step {
  RF__ROUTE_SAME = 0, /* another request moved the route on already: go
                         on with the current candidate */
  RF__ROUTE_NEXT,     /* the next candidate is current now */
  RF__ROUTE_EXHAUSTED /* every candidate failed: msg says which and why */
} rf__route_step;

/*
 * Candidate idx of r was found dead (why: one line).  The failover rule:
 * if idx is the current candidate, the failure is noted and the next one
 * becomes current; past the last, the route is exhausted (it stays on its
 * last candidate) and msg gets the message naming every failure, who
 * chose the route and whether a direct connection was tried.
 */
rf__route_step rf__route_fail(rf__route *r, size_t idx, const char *why,
                              char *msg, size_t size);

/*
 * Done: err 0 and a route (ownership passes to the callee), or err != 0
 * with msg (no route).  info describes the decision (borrowed, for the
 * duration of the call).
 */
typedef void (*rf__chain_cb)(void *ud, int err, const char *msg,
                             rf__route *route, const rf_route_info *info);

int rf__chain_new(rf__chain **out, uv_loop_t *loop, const rf__logger *log);

/* Cancels every request (their callbacks are not called), destroys the
 * resolvers and frees the chain once its handles are closed; closed(ud) is
 * called then (from the loop). */
void rf__chain_close(rf__chain *ch, void (*closed)(void *ud), void *ud);

int rf__chain_add(rf__chain *ch, const rf_resolver_ops *ops, void *self);
/* The same under another name than ops->name (a static string): one set of
 * ops serves as "static", "override" or "policy", "pac" or "wpad"... */
int rf__chain_add_named(rf__chain *ch, const rf_resolver_ops *ops, void *self,
                        const char *name);
void rf__chain_set_context(rf__chain *ch, rf_context ctx);
rf_context rf__chain_context(const rf__chain *ch);
void rf__chain_set_bad_time(rf__chain *ch, unsigned seconds);

/*
 * Resolve url.  cb is called once from the loop, never from inside this
 * call, unless the request is cancelled.  Returns 0, RF_EURL, RF_ENOMEM.
 */
int rf__chain_resolve(rf__chain *ch, const char *url, rf__chain_cb cb,
                      void *ud, rf__chain_req **req_out);
void rf__chain_cancel(rf__chain_req *req);

/* A proxy of a route fared so: dead ones are marked bad for every job;
 * the resolver that chose the route hears about it. */
void rf__chain_report(rf__chain *ch, const rf__route *route,
                      const rf_proxy *p, rf_proxy_outcome o,
                      const char *detail);
/* Persist / restore the bad marks (see rf_engine_save_proxy_marks). */
int rf__chain_save_marks(rf__chain *ch, const char *path);
int rf__chain_load_marks(rf__chain *ch, const char *path);
/* Seconds p stays marked bad (0: not bad). */
unsigned rf__chain_bad_for(rf__chain *ch, const rf_proxy *p);

/*
 * Reduce url to "scheme://host[:port]/" and its parts for rf_resolve_info:
 * no credentials, path, query or fragment; host lower-cased, IPv6 without
 * brackets.  Returns 0, RF_EURL or RF_ENOMEM.
 */
int rf__url_reduce(const char *url, char *out, size_t size, char *scheme,
                   size_t scheme_size, char *host, size_t host_size,
                   unsigned *port);

#endif
