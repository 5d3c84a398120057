/*
 * An rf_server in test mode (generated files, fault directives: see
 * tests/support/faults.h) running on its own thread with its own uv loop, for the
 * tests of the engine and of the server itself.
 */
#ifndef RF_TESTSERVER_H
#define RF_TESTSERVER_H

#include <stdint.h>

#include "rangefetch/server.h"

typedef struct ts_server ts_server;

/*
 * ts_start - start a server on 127.0.0.1, port chosen by the kernel.
 *
 * root: directory to serve, or NULL for a fresh temporary directory that
 *       ts_stop removes with everything in it.
 *
 * Returns the server, or NULL on failure (after printing why to stderr).
 * Set RF_TS_LOG=1 in the environment to print the access log to stderr.
 * Sets SIGPIPE to SIG_IGN for the whole process (a client hanging up
 * mid-body would otherwise kill it).
 */
ts_server *ts_start(const char *root);

/*
 * ts_start_idle - as ts_start, with connections closed after idle_ms
 * milliseconds without progress (0: the server's default).
 */
ts_server *ts_start_idle(const char *root, unsigned idle_ms);

/*
 * ts_start_with - as ts_start_idle, with the limits, the rate limit,
 * partial and head_timeout_ms taken from opts (its other fields are
 * ignored).  ts_start and
 * ts_start_idle allow 4096 connections, also from one address.
 */
ts_server *ts_start_with(const char *root, unsigned idle_ms,
                         const rf_server_options *opts);

/*
 * ts_start_plain - as ts_start, without test mode: no generated files and
 * no fault directives, the server exactly as `rangefetch serve` runs it
 * (file bodies go out with sendfile).
 */
ts_server *ts_start_plain(const char *root);

/* The port the server listens on. */
uint16_t ts_port(const ts_server *t);

/* The directory served (borrowed, valid until ts_stop). */
const char *ts_root(const ts_server *t);

/*
 * ts_url - "http://127.0.0.1:<port><path_and_query>" in a string the
 * caller frees with free(); NULL without memory.
 */
char *ts_url(const ts_server *t, const char *path_and_query);

/* Requests parsed and connections accepted so far (any thread). */
uint64_t ts_requests(const ts_server *t);
uint64_t ts_connections(const ts_server *t);
/* The most connections open at once so far (any thread). */
uint64_t ts_peak_open(const ts_server *t);
/* Response body bytes the server wrote to sockets so far (any thread). */
uint64_t ts_body_bytes(const ts_server *t);

/*
 * ts_stop - free the server on its thread, wait for the thread, remove the
 * temporary directory if ts_start made one, free t.  NULL is a no-op.
 */
void ts_stop(ts_server *t);

/*
 * ts_file_matches_gen - whether the file at path holds exactly the
 * generated content of size bytes for seed (faults_gen_fill).  Returns 1 if
 * identical, 0 otherwise (including when the file cannot be read).
 */
int ts_file_matches_gen(const char *path, uint64_t size, uint64_t seed);

/*
 * ts_write_gen_file - write the generated content of size bytes for seed
 * to path (created or truncated).  Returns 0, or -1 on error.
 */
int ts_write_gen_file(const char *path, uint64_t size, uint64_t seed);

#endif /* RF_TESTSERVER_H */
