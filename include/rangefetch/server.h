/*
 * rangefetch — the range server.
 *
 * A small HTTP/1.1 server on libuv that serves the files under one
 * directory with single-range support (206 / 416), HEAD, keep-alive, ETag
 * and Last-Modified.  It is what a peer serves pieces with, and what
 * `rangefetch serve` runs.  Paths that leave the directory (.., symlinks
 * pointing outside) are refused with 403.
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

#define RF_SERVER_OPTIONS_VERSION 1

typedef struct rf_server_options {
  unsigned version;        /* RF_SERVER_OPTIONS_VERSION */
  struct uv_loop_s *loop;  /* required: the loop the server runs on */
  const char *root;        /* required: directory to serve */
  const char *host;        /* address to listen on; NULL: "127.0.0.1" */
  uint16_t port;           /* 0: the kernel picks one (see rf_server_port) */
  /* Access log: one line per request, or NULL for none. */
  void (*log_cb)(const char *line, void *user_data);
  void *user_data;
} rf_server_options;

#define RF_SERVER_OPTIONS_INIT                                                 \
  {                                                                            \
    RF_SERVER_OPTIONS_VERSION, NULL, NULL, NULL, 0, NULL, NULL                 \
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
 * RF_SERVER_OPTIONS_VERSION, missing loop/root, bad host), RF_ENOENT (root does
 * not exist or is not a directory), RF_EBUSY (address in use), RF_EACCES,
 * RF_ENOMEM, RF_EIO.
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
