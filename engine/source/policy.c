/* The choices of a many-sourced download, without I/O (see policy.h). */
#include "policy.h"

static int is_http(rf_source_kind k)
{
  return k == RF_SOURCE_ORIGIN || k == RF_SOURCE_MIRROR;
}

int rf__src_cache_in_use(const rf__src_view *v, unsigned n)
{
  unsigned i;

  for (i = 0; i < n; i++)
    if (v[i].kind == RF_SOURCE_CACHE_HOST && v[i].usable)
      return (int)i;
  return -1;
}

int rf__src_http_allowed(const rf__src_view *v, unsigned n,
                         const rf__src_policy *p)
{
  unsigned i;
  int caches = 0, cache_usable = 0, peer_usable = 0;

  for (i = 0; i < n; i++) {
    if (v[i].kind == RF_SOURCE_CACHE_HOST) {
      caches = 1;
      cache_usable |= v[i].usable;
    } else if (v[i].kind == RF_SOURCE_PEER) {
      peer_usable |= v[i].usable;
    }
  }
  if (p->origin_delay > 0 && p->elapsed < (double)p->origin_delay &&
      (cache_usable || peer_usable))
    return 0;
  if (!caches)
    return 1;
  if (p->cache_fallback_delay < 0)
    return 0; /* never: the cache tier or nothing */
  if (cache_usable && !p->cache_failed)
    return 0; /* the cache tier works: it serves */
  if (p->cache_fallback_delay > 0 &&
      p->elapsed < (double)p->cache_fallback_delay)
    return 0; /* round robin over the cache hosts until the delay */
  return 1;
}

int rf__src_eligible(const rf__src_view *v, unsigned n, unsigned i,
                     const rf__src_policy *p)
{
  if (i >= n || !v[i].usable)
    return 0;
  if (is_http(v[i].kind))
    return rf__src_http_allowed(v, n, p);
  if (v[i].kind == RF_SOURCE_CACHE_HOST)
    return p->cache_hash || rf__src_cache_in_use(v, n) == (int)i;
  return 1;
}

/* Connections source i may have now. */
static unsigned room(const rf__src_view *s)
{
  unsigned cap = s->agreed ? s->cap : 1;

  return s->busy < cap ? cap - s->busy : 0;
}

int rf__src_pick(const rf__src_view *v, unsigned n, const rf__src_policy *p)
{
  unsigned i;
  int best = -1;
  double best_rate = 0, top = 0;

  /* The best measured rate per connection, for unmeasured sources. */
  for (i = 0; i < n; i++) {
    double r = v[i].busy > 0 ? v[i].rate / v[i].busy : v[i].rate;
    if (v[i].usable && r > top)
      top = r;
  }
  /* 1. A source without a connection. */
  for (i = 0; i < n; i++)
    if (v[i].busy == 0 && room(&v[i]) > 0 && rf__src_eligible(v, n, i, p))
      return (int)i;
  /* 2. The fastest per connection. */
  for (i = 0; i < n; i++) {
    double r;
    if (room(&v[i]) == 0 || !rf__src_eligible(v, n, i, p))
      continue;
    r = v[i].rate > 0 ? v[i].rate / (v[i].busy > 0 ? v[i].busy : 1) : top;
    if (best < 0 || r > best_rate ||
        (r == best_rate && v[i].busy < v[best].busy)) {
      best = (int)i;
      best_rate = r;
    }
  }
  return best;
}

uint32_t rf__src_run_pieces(double conn_rate, double job_rate, uint64_t left,
                            uint64_t piece_size, uint32_t max_pieces)
{
  double secs, bytes;
  uint64_t n;

  if (max_pieces == 0)
    max_pieces = 1;
  if (conn_rate <= 0 || piece_size == 0)
    return 1;
  if (job_rate <= 0)
    return max_pieces;
  /* The time the whole job needs for what is left; this connection gets
   * what it can fetch in that time (the tail stays with the fast). */
  secs = (double)left / job_rate;
  bytes = conn_rate * secs;
  if (bytes >= (double)max_pieces * (double)piece_size)
    return max_pieces;
  n = (uint64_t)(bytes / (double)piece_size);
  return n == 0 ? 1 : (uint32_t)n;
}

rf__src_action rf__src_on_failure(rf_source_kind kind, rf__src_fault fault,
                                  long status, unsigned fails,
                                  unsigned bad_pieces, unsigned max_fails)
{
  int client_error = fault == RF__SRC_FAULT_HTTP && status >= 400 &&
                     status < 500 && status != 408 && status != 429;

  switch (fault) {
  case RF__SRC_FAULT_LENGTH:
  case RF__SRC_FAULT_NORANGE:
    return RF__SRC_REFUSE;
  case RF__SRC_FAULT_BADPIECE:
    return bad_pieces >= RF__SRC_MAX_BAD_PIECES ? RF__SRC_BAN_JOB
                                                : RF__SRC_RETRY;
  default:
    break;
  }
  if (kind == RF_SOURCE_CACHE_HOST) {
    if (client_error)
      return RF__SRC_BAN_ORIGIN;
    if (fault == RF__SRC_FAULT_CONNECT || fault == RF__SRC_FAULT_RESOLVE ||
        fault == RF__SRC_FAULT_TIMEOUT)
      return RF__SRC_BAN_HOST;
  } else if (kind == RF_SOURCE_PEER) {
    if (fault == RF__SRC_FAULT_HTTP && status == 416)
      return RF__SRC_RETRY; /* it has not got that piece yet */
    if (client_error)
      return RF__SRC_BAN_JOB;
  } else if (client_error) {
    /* A mirror without the bytes the origin has is a shorter file. */
    return status == 416 ? RF__SRC_REFUSE : RF__SRC_BAN_JOB;
  }
  return fails >= max_fails ? RF__SRC_BAN_JOB : RF__SRC_RETRY;
}
