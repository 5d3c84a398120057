/*
 * What a response means, decided without I/O.
 *
 * Given what a request asked for, what the response's headers said and
 * what the job knows of the content (its length and validator), the
 * verdict is one of: accept the body, retry the request (with the error),
 * the remote content changed (start over), or fatal; with a one-line
 * message.  A probe's accepted answer also says what the content is like
 * (ranges, one stream, empty, a resume that still matches).  The job acts
 * on the verdict (engine/job.c); nothing here touches a connection, the
 * scheduler or the disk, so every rule is unit-tested without a server
 * (tests/test_verdict.c).
 */
#ifndef RF_VERDICT_H
#define RF_VERDICT_H

#include <curl/curl.h>
#include <stdint.h>

typedef enum rf__verdict_kind {
  RF__V_ACCEPT = 0, /* write the body */
  RF__V_RETRY,      /* may go away when asked again (err, msg) */
  RF__V_CHANGED,    /* the remote content changed: start over (msg) */
  RF__V_FATAL       /* the download cannot go on (err, msg) */
} rf__verdict_kind;

/* What an accepted probe learned about the content. */
typedef enum rf__shape {
  RF__SHAPE_NONE = 0, /* not a probe, or not accepted */
  RF__SHAPE_RANGES,   /* 206 for bytes 0-: ranges work, length known */
  RF__SHAPE_SINGLE,   /* 200: the whole content in one stream */
  RF__SHAPE_EMPTY,    /* 416 with "bytes *\/0": zero bytes */
  RF__SHAPE_RESUME    /* 206 under the former run's validator: resume */
} rf__shape;

typedef struct rf__verdict {
  rf__verdict_kind kind;
  int err;         /* RF_E* for RETRY, CHANGED (RF_ECHANGED) and FATAL */
  rf__shape shape; /* for an accepted probe */
  char msg[300];
} rf__verdict;

/* What the request asked for. */
typedef enum rf__req_kind {
  RF__REQ_PROBE = 0, /* the job's first request (bytes start-(end-1)) */
  RF__REQ_RUN,       /* a run of pieces, or an endgame duplicate */
  RF__REQ_MANIFEST   /* GET of the manifest URL */
} rf__req_kind;

typedef struct rf__request {
  rf__req_kind kind;
  uint64_t start, end; /* bytes [start, end) asked for */
} rf__request;

/* What the response's headers said. */
typedef struct rf__response {
  long status;
  const char *reason; /* status text, "" if none */
  int has_cr;         /* Content-Range: 0 none, 1 bytes a-b/c, 2 * /c,
                         -1 malformed */
  uint64_t cr_first, cr_last, cr_total; /* cr_total RF_SIZE_UNKNOWN: '*' */
  int64_t content_length;               /* -1: none */
  const char *etag;                     /* "" if none */
  const char *last_modified;
  const char *content_encoding; /* NULL or "": none */
  int multipart;                /* Content-Type: multipart/byteranges */
} rf__response;

/* What the job knows of the content. */
typedef struct rf__expect {
  const char *etag; /* the validator the job holds, "" if none */
  const char *last_modified;
  uint64_t total; /* length, RF_SIZE_UNKNOWN before the probe */
  int single;     /* one stream (the server ignores ranges) */
  int if_range;   /* requests carry If-Range */
  int resuming;   /* the probe asks under a former run's
                     validator, for a content of total bytes */
  int has_manifest;
  uint64_t manifest_length;
  const char *manifest_url; /* for messages */
  int foreign; /* the answer comes from another source than the origin
                  (a mirror, cache host or peer): held to the origin's
                  length, its validator means nothing */
} rf__expect;

/* The verdict on a response's headers. */
void rf__verdict_response(rf__verdict *v, const rf__request *rq,
                          const rf__response *rs, const rf__expect *ex);

/* The verdict on an HTTP error status alone (st is not 200/206). */
void rf__verdict_status(rf__verdict *v, long status, const char *reason);

/* The verdict on a transfer libcurl ended with res (not CURLE_OK): the
 * code and whether asking again may help; proxied: through a proxy.
 * msg is left empty: libcurl's own text or ours (a timeout) goes there. */
void rf__verdict_curl(rf__verdict *v, CURLcode res, int proxied);

#endif
