/*
 * rangefetch — the range server.
 *
 * A small HTTP/1.1 server on libuv that serves the files under one
 * directory with single-range support (206 / 416), HEAD, keep-alive, ETag
 * and Last-Modified.  It is what a peer serves pieces with, and what
 * `rangefetch serve` runs.  Paths that leave the directory (.., symlinks
 * pointing outside) are refused with 403.
 *
 * Downloads in progress (options.partial): a request for NAME where NAME
 * does not exist but NAME.part and its journal NAME.part.rfj do is
 * answered from the pieces the journal lists as written, each re-hashed
 * (XXH3-128) against the journal before it is served:
 *  - GET or HEAD with one byte range inside such pieces: 206, with the
 *    whole length in Content-Range;
 *  - any other range, or no Range (unless every piece is written, then
 *    200): 416, whose Content-Range names the whole length; a piece whose
 *    bytes do not match its hash: 416 too, and a line in the log;
 *  - ETag "rfpart-<16 hex digits>" (the journal's salt: it names this
 *    download, never the origin's ETag, and changes when the download
 *    starts over), no Last-Modified; If-Range is compared with that ETag.
 * The files are only read: never locked, never written.
 *
 * Limits: at most max_connections connections, at most max_per_client
 * from one IP address; a connection over either limit is answered at once
 * "503 Service Unavailable" with "Retry-After: 1" and closed (its request
 * is not read).  rate_limit caps the response body bytes per second, all
 * connections together (a token bucket holding 50 ms of the rate).
 */
#ifndef RF_SERVER_H
#define RF_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "version.h"
#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif

struct uv_loop_s;

typedef struct rf_server rf_server;

#define RF_SERVER_OPTIONS_VERSION 3

/* What 0 in max_connections and max_per_client stands for. */
#define RF_SERVER_DEFAULT_MAX_CONNECTIONS 256u
#define RF_SERVER_DEFAULT_MAX_PER_CLIENT 16u

typedef struct rf_server_options {
  unsigned version;        /* RF_SERVER_OPTIONS_VERSION */
  struct uv_loop_s *loop;  /* required: the loop the server runs on */
  const char *root;        /* required: directory to serve */
  const char *host;        /* address to listen on; NULL: "127.0.0.1" */
  uint16_t port;           /* 0: the kernel picks one (see rf_server_port) */
  /* Log: one line per request (method, target, status, body bytes), one
   * per connection refused and per piece of a download in progress not
   * served; NULL for none.  Lines carry no control characters. */
  void (*log_cb)(const char *line, void *user_data);
  void *user_data;

  /* Version 2.  A version 1 caller gets what 0 means in each. */
  /* Open connections at once; 0: RF_SERVER_DEFAULT_MAX_CONNECTIONS. */
  unsigned max_connections;
  /* Open connections from one IP address; 0:
   * RF_SERVER_DEFAULT_MAX_PER_CLIENT.  UINT_MAX: no limit of its own. */
  unsigned max_per_client;
  /* Response body bytes per second over all connections; 0: no limit. */
  uint64_t rate_limit;
  /* 1: serve downloads in progress (see above); 0 (the default): NAME.part
   * is an ordinary file and NAME does not exist. */
  int partial;

  /* Version 3. */
  /* A connection that makes no progress (no byte read or written) for
   * this long is closed; 0: RF_SERVER_DEFAULT_IDLE_MS. */
  unsigned idle_timeout_ms;
  /* A client must send a whole request head within this long of its
   * first byte, however it trickles it (slowloris); else the connection
   * is closed.  0: RF_SERVER_DEFAULT_HEAD_MS. */
  unsigned head_timeout_ms;
} rf_server_options;

#define RF_SERVER_DEFAULT_IDLE_MS 60000u
#define RF_SERVER_DEFAULT_HEAD_MS 10000u

#define RF_SERVER_OPTIONS_INIT                                                 \
  {                                                                            \
    RF_SERVER_OPTIONS_VERSION, NULL, NULL, NULL, 0, NULL, NULL, 0, 0, 0, 0,    \
        0, 0                                                                   \
  }

/*
 * rf_server_options_init - fill opts with the defaults, as
 * RF_SERVER_OPTIONS_INIT.  NULL is a no-op.
 */
RF_EXTERN void rf_server_options_init(rf_server_options *opts);

/*
 * rf_server_new - start listening.
 *
 * out: receives the server, NULL on failure.
 *
 * Returns 0, RF_EINVAL (out or opts NULL, options version 0 or newer than
 * RF_SERVER_OPTIONS_VERSION, missing loop/root, bad host, partial neither 0
 * nor 1), RF_ENOENT (root does not exist or is not a directory), RF_EBUSY
 * (address in use), RF_EACCES, RF_ENOMEM, RF_EIO.
 */
RF_EXTERN int rf_server_new(rf_server **out, const rf_server_options *opts);

/* rf_server_port - the port the server listens on (useful with port 0). */
RF_EXTERN uint16_t rf_server_port(const rf_server *server);

/*
 * rf_server_free - stop listening, close every connection and release the
 * server once the loop has run the close callbacks (run the loop after this
 * call, as with uv_close).  NULL is a no-op.
 */
RF_EXTERN void rf_server_free(rf_server *server);

#ifdef __cplusplus
}
#endif
#endif /* RF_SERVER_H */
