/*
 * Response hooks of the range server: an internal interface, never public
 * and never used by `rangefetch serve`, through which a caller changes how
 * one rf_server answers.  In the spirit of curl's connection filters: a
 * const table of functions (every slot may be NULL) and a context pointer,
 * consulted at fixed points of every exchange.  The tests' generated files
 * and fault directives (tests/support/faults.c) are built on it.
 *
 * An exchange is one request and its response.  The points, in order:
 *
 *   request   a well-formed GET or HEAD has arrived (405 and malformed
 *             heads are answered before any hook runs)
 *   resolve   its path is decoded, before the file system is asked
 *   entity    the entity is known (size and validators)
 *   range     status and range are decided, before the head is written
 *   read      a virtual entity's bytes are needed
 *   pace      a body chunk is about to be produced
 *   body      a body chunk is about to be written
 *
 * An answer given by request or resolve (a status with a short text body)
 * skips the later points.  A download in progress (server/partial.h) skips
 * entity and range: its status and slice come from its journal, and its
 * pieces are checked before the head is written.  Hooks run on the loop's
 * thread and must not block; they may not call back into the server.
 */
#ifndef RF_SERVER_HOOKS_H
#define RF_SERVER_HOOKS_H

#include <stddef.h>
#include <stdint.h>

#include "rangefetch/server.h"

/* resolve's answer: the hook supplied the entity (see resolve). */
#define RF__SRV_VIRTUAL 1

/* What the hooks see of an exchange, and what they may change. */
typedef struct rf__srv_exchange {
  /* The request: set before request runs; read-only. */
  const char *target; /* request-target as received */
  const char *head;   /* the request head as received, header lines
                         included (CRLF-separated, NUL-terminated) */
  int is_get;         /* 1: GET, 0: HEAD */
  int http11;         /* HTTP/1.1 (else 1.0) */
  /*
   * The hooks' data for this connection: NULL on a new connection, kept
   * across its requests, handed to conn_free when the connection is gone.
   */
  void **conn_data;

  /* Set by request (all 0 by default). */
  uint64_t delay_ms; /* the response head goes out this much later */
  int ignore_range;  /* ignore Range and If-Range; no Accept-Ranges */
  /* Header lines (each with CRLF) for its answer: set by request (a
   * text answer's) or by entity (an entity's). */
  char extra[512];

  /*
   * The entity.  For a file: set by the server before entity runs (ETag
   * from size, mtime and inode; Last-Modified from mtime).  For a virtual
   * entity: set by resolve.  entity may change etag, lastmod ("" for
   * none); If-Range is compared with what it leaves.
   */
  uint64_t size;
  int64_t mtime;    /* Unix seconds (files only) */
  char etag[96];    /* with quotes; "" for none */
  char lastmod[40]; /* IMF-fixdate; "" for none */

  /*
   * The response.  Before range runs the server sets status (200, 206 or
   * 416), start and len (the body slice announced), limit = UINT64_MAX
   * and the rest 0.  range may then:
   *  - on a 206, move the slice (start + len <= size, len >= 1); the
   *    Content-Range header announces what it leaves;
   *  - on a GET, lower limit: only that many body bytes are sent;
   *  - set close_after: the connection closes after the body;
   *  - set chunked: Transfer-Encoding: chunked instead of Content-Length
   *    (HTTP/1.1 only: ignored for 1.0 requests).
   * status is read-only everywhere.
   */
  int status;
  uint64_t start;
  uint64_t len;
  uint64_t limit;
  int close_after;
  int chunked;
} rf__srv_exchange;

typedef struct rf__server_hooks {
  /*
   * request - a GET or HEAD arrived.  May set delay_ms, ignore_range and
   * extra.  Returns 0 to go on, or a status (200..599) to answer with a
   * short text body and the header lines in extra.
   */
  int (*request)(void *ctx, rf__srv_exchange *x);

  /*
   * resolve - path (percent-decoded, safe: no "..") is about to be looked
   * up under the root.  Returns 0 to serve the file, RF__SRV_VIRTUAL after
   * setting size, etag and lastmod of an entity whose bytes read supplies,
   * or a status (400..599) to answer with a short text body.
   */
  int (*resolve)(void *ctx, rf__srv_exchange *x, const char *path);

  /* entity - the entity is known: may change etag and lastmod. */
  void (*entity)(void *ctx, rf__srv_exchange *x);

  /* range - status and slice are decided: see rf__srv_exchange. */
  void (*range)(void *ctx, rf__srv_exchange *x);

  /*
   * read - fill buf with bytes [off, off + n) of the virtual entity.
   * Required when resolve returns RF__SRV_VIRTUAL.
   */
  void (*read)(void *ctx, rf__srv_exchange *x, void *buf, uint64_t off,
               size_t n);

  /*
   * pace - produced body bytes are out or on their way and the server is
   * about to produce up to want (>= 1) more.  Returns how many it may
   * produce now (1..want), or 0 to wait *wait_ms milliseconds and ask
   * again (the idle timeout sleeps meanwhile).
   */
  uint64_t (*pace)(void *ctx, rf__srv_exchange *x, uint64_t produced,
                   uint64_t want, uint64_t *wait_ms);

  /*
   * body - n content bytes at buf, starting at content offset off, are
   * about to be written: may change them in place.
   */
  void (*body)(void *ctx, rf__srv_exchange *x, void *buf, size_t n,
               uint64_t off);

  /* conn_free - a connection is gone: release its conn_data (non-NULL). */
  void (*conn_free)(void *ctx, void *conn_data);

  /*
   * destroy - the server is being released, after every conn_free: no
   * hook runs again.  Release ctx.
   */
  void (*destroy)(void *ctx);
} rf__server_hooks;

/*
 * rf__server_set_hooks - install hooks (borrowed: must outlive s) and ctx
 * on s.  Call it right after rf_server_new, on the loop's thread, at most
 * once; destroy runs even when s is freed without serving anything.
 */
void rf__server_set_hooks(rf_server *s, const rf__server_hooks *hooks,
                          void *ctx);

#endif /* RF_SERVER_HOOKS_H */
