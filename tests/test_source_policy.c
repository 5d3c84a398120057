/*
 * The choices of a many-sourced download (engine/source/policy.c), as
 * tables: whether the origin may take pieces, which source an idle
 * connection serves, how long a run is, what a failure means.
 */
#include <criterion/criterion.h>

#include "source/policy.h"

#define O RF_SOURCE_ORIGIN
#define M RF_SOURCE_MIRROR
#define C RF_SOURCE_CACHE_HOST
#define P RF_SOURCE_PEER

static rf__src_view sv(rf_source_kind kind, int usable, unsigned busy,
                       double rate)
{
  rf__src_view v = { kind, usable, 1, busy, 8, rate };
  return v;
}

Test(source_policy, the_origin_waits_for_the_cache_tier)
{
  /* kind, usable of a cache host + an origin; elapsed, delay, failed */
  static const struct {
    int cache_usable;
    int has_cache;
    double elapsed;
    int delay;
    unsigned origin_delay;
    int failed;
    int peer_usable;
    int allowed;
  } t[] = {
    { 0, 0, 0, 0, 0, 0, 0, 1 },   /* no cache host: the origin serves */
    { 1, 1, 0, 0, 0, 0, 0, 0 },   /* a working cache host serves alone */
    { 1, 1, 0, 0, 0, 1, 0, 1 },   /* delay 0: the first failure lets it in */
    { 0, 1, 0, 0, 0, 1, 0, 1 },   /* every cache host out: the origin */
    { 1, 1, 5, 10, 0, 1, 0, 0 },  /* delay 10 s: not at 5 s */
    { 0, 1, 5, 10, 0, 1, 0, 0 },  /* ... even with every cache host out */
    { 1, 1, 11, 10, 0, 1, 0, 1 }, /* ... at 11 s */
    { 1, 1, 11, 10, 0, 0, 0, 0 }, /* no failure: the cache host serves */
    { 0, 1, 999, -1, 0, 1, 0, 0 },/* -1: never */
    { 0, 0, 1, 0, 5, 0, 1, 0 },   /* origin delay with a usable peer */
    { 0, 0, 6, 0, 5, 0, 1, 1 },   /* ... over */
    { 0, 0, 1, 0, 5, 0, 0, 1 },   /* ... nothing else usable: no wait */
  };
  size_t k;

  for (k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
    rf__src_view v[3];
    unsigned n = 1;
    rf__src_policy p = { t[k].elapsed, t[k].delay, t[k].origin_delay,
                         t[k].failed, 0 };
    v[0] = sv(O, 1, 0, 0);
    if (t[k].has_cache)
      v[n++] = sv(C, t[k].cache_usable, 0, 0);
    if (t[k].peer_usable)
      v[n++] = sv(P, 1, 0, 0);
    cr_assert_eq(rf__src_http_allowed(v, n, &p), t[k].allowed, "row %zu", k);
    cr_assert_eq(rf__src_eligible(v, n, 0, &p), t[k].allowed, "row %zu", k);
  }
}

Test(source_policy, cache_hosts_in_the_order_given)
{
  rf__src_view v[4] = { sv(O, 1, 0, 0), sv(C, 0, 0, 0), sv(C, 1, 0, 0),
                        sv(C, 1, 0, 0) };
  rf__src_policy p = { 0, 0, 0, 0, 0 };

  cr_assert_eq(rf__src_cache_in_use(v, 4), 2, "the first usable one");
  cr_assert(rf__src_eligible(v, 4, 2, &p));
  cr_assert_not(rf__src_eligible(v, 4, 3, &p), "the next stands by");
  cr_assert_not(rf__src_eligible(v, 4, 1, &p), "not usable");
  cr_assert_eq(rf__src_pick(v, 4, &p), 2);
  /* Placed by hashing: every usable one serves its own pieces. */
  p.cache_hash = 1;
  cr_assert(rf__src_eligible(v, 4, 3, &p));
  cr_assert_not(rf__src_eligible(v, 4, 1, &p));
}

Test(source_policy, pick_spreads_by_rate_per_connection)
{
  rf__src_policy p = { 10, 0, 0, 0, 0 };
  rf__src_view v[3] = { sv(O, 1, 2, 2e6), sv(M, 1, 2, 8e6), sv(M, 1, 1, 1e6) };

  /* Per connection: 1 MB/s, 4 MB/s, 1 MB/s: the second mirror. */
  cr_assert_eq(rf__src_pick(v, 3, &p), 1);
  /* At its cap, the next best; ties go to fewer connections. */
  v[1].cap = 2;
  cr_assert_eq(rf__src_pick(v, 3, &p), 2);
  /* A source without a connection comes first. */
  v[0].busy = 0;
  cr_assert_eq(rf__src_pick(v, 3, &p), 0);
  /* One that has not agreed yet gets one connection only. */
  v[0].busy = 1;
  v[0].agreed = 0;
  v[1].cap = 8;
  v[1].agreed = 0;
  cr_assert_eq(rf__src_pick(v, 3, &p), 2);
  /* Nothing usable: none. */
  v[0].usable = v[1].usable = v[2].usable = 0;
  cr_assert_eq(rf__src_pick(v, 3, &p), -1);
}

Test(source_policy, unmeasured_sources_count_as_the_best)
{
  rf__src_policy p = { 10, 0, 0, 0, 0 };
  rf__src_view v[2] = { sv(O, 1, 1, 4e6), sv(M, 1, 1, 0) };

  /* The mirror is unmeasured: as fast as the origin; fewer connections
   * break the tie, then the order. */
  cr_assert_eq(rf__src_pick(v, 2, &p), 0);
  v[0].busy = 2;
  v[0].rate = 8e6;
  cr_assert_eq(rf__src_pick(v, 2, &p), 1);
}

Test(source_policy, runs_by_rate)
{
  const uint64_t P = 1 << 20;

  cr_assert_eq(rf__src_run_pieces(0, 1e8, 100 * P, P, 64), 1,
               "unmeasured: one piece");
  cr_assert_eq(rf__src_run_pieces(5e7, 1e8, 100 * P, P, 64), 50,
               "half the rate: half of what is left");
  cr_assert_eq(rf__src_run_pieces(2e8, 1e8, 100 * P, P, 64), 64, "capped");
  cr_assert_eq(rf__src_run_pieces(1e5, 1e8, 10 * P, P, 64), 1,
               "slow near the tail: one piece");
  cr_assert_eq(rf__src_run_pieces(1e6, 0, 10 * P, P, 64), 64,
               "no job rate yet: the cap");
}

Test(source_policy, failures)
{
  static const struct {
    rf_source_kind kind;
    rf__src_fault fault;
    long status;
    unsigned fails, bad;
    rf__src_action want;
  } t[] = {
    { C, RF__SRC_FAULT_HTTP, 404, 1, 0, RF__SRC_BAN_ORIGIN },
    { C, RF__SRC_FAULT_HTTP, 403, 1, 0, RF__SRC_BAN_ORIGIN },
    { C, RF__SRC_FAULT_HTTP, 429, 1, 0, RF__SRC_RETRY },
    { C, RF__SRC_FAULT_HTTP, 503, 1, 0, RF__SRC_RETRY },
    { C, RF__SRC_FAULT_CONNECT, 0, 1, 0, RF__SRC_BAN_HOST },
    { C, RF__SRC_FAULT_RESOLVE, 0, 1, 0, RF__SRC_BAN_HOST },
    { C, RF__SRC_FAULT_TIMEOUT, 0, 1, 0, RF__SRC_BAN_HOST },
    { C, RF__SRC_FAULT_NETWORK, 0, 1, 0, RF__SRC_RETRY },
    { C, RF__SRC_FAULT_NETWORK, 0, 5, 0, RF__SRC_BAN_JOB },
    { M, RF__SRC_FAULT_HTTP, 404, 1, 0, RF__SRC_BAN_JOB },
    { M, RF__SRC_FAULT_HTTP, 416, 1, 0, RF__SRC_REFUSE },
    { M, RF__SRC_FAULT_HTTP, 500, 4, 0, RF__SRC_RETRY },
    { M, RF__SRC_FAULT_HTTP, 500, 5, 0, RF__SRC_BAN_JOB },
    { M, RF__SRC_FAULT_CONNECT, 0, 1, 0, RF__SRC_RETRY },
    { M, RF__SRC_FAULT_LENGTH, 206, 1, 0, RF__SRC_REFUSE },
    { M, RF__SRC_FAULT_NORANGE, 200, 1, 0, RF__SRC_REFUSE },
    { C, RF__SRC_FAULT_NORANGE, 200, 1, 0, RF__SRC_REFUSE },
    { P, RF__SRC_FAULT_HTTP, 416, 9, 0, RF__SRC_RETRY },
    { P, RF__SRC_FAULT_HTTP, 404, 1, 0, RF__SRC_BAN_JOB },
    { P, RF__SRC_FAULT_BADPIECE, 0, 1, 1, RF__SRC_RETRY },
    { P, RF__SRC_FAULT_BADPIECE, 0, 1, 2, RF__SRC_RETRY },
    { P, RF__SRC_FAULT_BADPIECE, 0, 1, 3, RF__SRC_BAN_JOB },
    { M, RF__SRC_FAULT_BADPIECE, 0, 1, 3, RF__SRC_BAN_JOB },
  };
  size_t k;

  for (k = 0; k < sizeof(t) / sizeof(t[0]); k++)
    cr_assert_eq(rf__src_on_failure(t[k].kind, t[k].fault, t[k].status,
                                    t[k].fails, t[k].bad, 5),
                 t[k].want, "row %zu", k);
}
