/*
 * Internal extensions of the range server (include/rangefetch/server.h),
 * for the tests: an idle timeout, counters, and the response hooks
 * (server/hooks.h) the tests' faults are built on.  `rangefetch serve`
 * uses none of them.
 */
#ifndef RF_SERVER_INTERNAL_H
#define RF_SERVER_INTERNAL_H

#include <stdint.h>

#include "rangefetch/server.h"
#include "server/hooks.h"

/*
 * rf__server_set_idle_timeout - close connections that make no progress for
 * ms milliseconds (default 60000; 0 restores the default).  Call it on the
 * loop's thread; it applies to timers armed afterwards.
 */
void rf__server_set_idle_timeout(rf_server *s, uint64_t ms);

/*
 * rf__server_requests - requests parsed by s so far (well-formed or not).
 * rf__server_connections - TCP connections s accepted so far.
 * Both are atomic reads, callable from any thread while s is alive.
 */
uint64_t rf__server_requests(const rf_server *s);
uint64_t rf__server_connections(const rf_server *s);

/* The most connections s had open at once (any thread). */
uint64_t rf__server_peak_open(const rf_server *s);
/* rf__server_body_bytes - response body bytes written to sockets so far. */
uint64_t rf__server_body_bytes(const rf_server *s);

#endif /* RF_SERVER_INTERNAL_H */
