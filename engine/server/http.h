/*
 * The server's side of HTTP/1.1, without I/O: reading a request head,
 * decoding its path, evaluating Range and If-Range, reason phrases.
 * The grammar it shares with the engine is in util/http.h.
 */
#ifndef RF_SERVER_HTTP_H
#define RF_SERVER_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define RF__SRV_FIELD_MAX 128 /* longest Range / If-Range kept */

enum { RF__SRV_M_OTHER, RF__SRV_M_GET, RF__SRV_M_HEAD };

/* A request head, as rf__srv_parse_request reads it. */
typedef struct rf__srv_request {
  char method[16];
  int mkind;        /* RF__SRV_M_* */
  int keep_alive;   /* the connection stays open after the response */
  int http11;       /* HTTP/1.1 (else 1.0) */
  int parse_status; /* 0, or the status answering a malformed head */
  char *target;     /* request-target as received (owned) */
  char *head;       /* the whole head as received, for a request hook
                       (owned; NULL without one) */
  int range_seen;
  int range_bad; /* repeated, too long: ignored */
  char range[RF__SRV_FIELD_MAX];
  int if_range_seen;
  int if_range_bad; /* too long: never matches */
  char if_range[RF__SRV_FIELD_MAX];
} rf__srv_request;

/*
 * rf__srv_parse_request - parse the request head at the start of the len
 * bytes at in into r (zeroed by the caller).
 *
 * Returns 0 while the head is incomplete and len < max, else the number of
 * bytes it takes (leading empty lines included).  A malformed head sets
 * r->parse_status (400, 431 when len reaches max without a head, or 505)
 * and takes the head, or everything for a 431.  r->target is malloc'ed (the
 * caller frees it) and NULL when the head is malformed before it.
 */
size_t rf__srv_parse_request(rf__srv_request *r, const char *in, size_t len,
                             size_t max);

/*
 * rf__srv_path_decode - percent-decode the path part of a target (n bytes
 * at s) into out, which holds size bytes.  Returns 0, 400 (no leading '/',
 * bad escape, NUL byte), 403 (a ".." segment) or 404 (too long).
 */
int rf__srv_path_decode(const char *s, size_t n, char *out, size_t size);

/*
 * rf__srv_range_eval - evaluate a Range value against size.  Returns 1
 * (satisfiable: *first and *last set), 0 (unsatisfiable: 416) or -1
 * (malformed, other unit or several ranges: ignore the header).
 */
int rf__srv_range_eval(const char *v, uint64_t size, uint64_t *first,
                       uint64_t *last);

/*
 * rf__srv_if_range_matches - whether r's If-Range names the entity with
 * these validators (strong comparison; "" for a validator it lacks).
 */
int rf__srv_if_range_matches(const rf__srv_request *r, const char *etag,
                             const char *lastmod);

/* rf__srv_reason - reason phrase of an HTTP status ("Status" if unknown). */
const char *rf__srv_reason(int status);

#endif /* RF_SERVER_HTTP_H */
