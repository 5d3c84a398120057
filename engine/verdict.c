/* What a response means, decided without I/O (see verdict.h). */
#include "verdict.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rangefetch/rangefetch.h"

static void set(rf__verdict *v, rf__verdict_kind kind, int err, const char *fmt,
                ...) __attribute__((format(printf, 4, 5)));

static void set(rf__verdict *v, rf__verdict_kind kind, int err, const char *fmt,
                ...)
{
  va_list ap;

  v->kind = kind;
  v->err = err;
  v->shape = RF__SHAPE_NONE;
  va_start(ap, fmt);
  vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
  va_end(ap);
}

static void take(rf__verdict *v, rf__shape shape)
{
  v->kind = RF__V_ACCEPT;
  v->err = 0;
  v->shape = shape;
  v->msg[0] = '\0';
}

/* The strongest validator the job holds differs from the response's. */
static int validator_changed(const rf__expect *ex, const rf__response *rs)
{
  if (ex->etag[0] != '\0')
    return strcmp(ex->etag, rs->etag) != 0;
  if (ex->last_modified[0] != '\0')
    return strcmp(ex->last_modified, rs->last_modified) != 0;
  return 0;
}

static const char *or_none(const char *s)
{
  return s[0] != '\0' ? s : "none";
}

void rf__verdict_status(rf__verdict *v, long st, const char *reason)
{
  /* Overload, timeouts and server faults pass; the rest is the answer. */
  if (st == 408 || st == 429 || (st >= 500 && st < 600))
    set(v, RF__V_RETRY, RF_EHTTP, "HTTP %ld %s", st, reason);
  else if (st == 407)
    set(v, RF__V_FATAL, RF_EPROXY,
        "HTTP 407 %s: the proxy wants authentication", reason);
  else
    set(v, RF__V_FATAL, RF_EHTTP, "HTTP %ld %s", st, reason);
}

/* The first answer: what the content is like, or why it cannot be used. */
static void probe(rf__verdict *v, const rf__request *rq, const rf__response *rs,
                  const rf__expect *ex)
{
  if (ex->resuming) {
    /* If-Range answered 206 under the old validator, or it changed. */
    if (rs->status != 206 || rs->has_cr != 1 || rs->cr_first != rq->start ||
        rs->cr_total != ex->total || validator_changed(ex, rs))
      set(v, RF__V_CHANGED, RF_ECHANGED,
          "the remote file changed since the last run (HTTP %ld, ETag %s "
          "-> %s)",
          rs->status, or_none(ex->etag), or_none(rs->etag));
    else
      take(v, RF__SHAPE_RESUME);
  } else if (rs->status == 206) {
    if (rs->has_cr == 1 && rs->cr_first == rq->start &&
        rs->cr_total != RF_SIZE_UNKNOWN && rs->cr_last < rq->end)
      take(v, RF__SHAPE_RANGES);
    else if (rs->has_cr == 1)
      set(v, RF__V_RETRY, RF_ERANGE,
          "server answered with Content-Range %llu-%llu/%llu to a request "
          "for bytes %llu-%llu",
          (unsigned long long)rs->cr_first, (unsigned long long)rs->cr_last,
          (unsigned long long)rs->cr_total, (unsigned long long)rq->start,
          (unsigned long long)(rq->end - 1));
    else
      set(v, RF__V_RETRY, RF_ERANGE,
          "HTTP 206 with a %s Content-Range to a request for bytes "
          "%llu-%llu",
          rs->has_cr == 0 ? "missing" : "malformed",
          (unsigned long long)rq->start, (unsigned long long)(rq->end - 1));
  } else if (rs->status == 200) {
    if (ex->has_manifest && rs->content_length >= 0 &&
        (uint64_t)rs->content_length != ex->manifest_length)
      set(v, RF__V_FATAL, RF_EHASH,
          "the manifest describes %llu bytes, the server has %lld",
          (unsigned long long)ex->manifest_length,
          (long long)rs->content_length);
    else
      take(v, RF__SHAPE_SINGLE);
  } else if (rs->status == 416 && rs->has_cr == 2 && rs->cr_total == 0) {
    take(v, RF__SHAPE_EMPTY);
  } else if (rs->status == 416) {
    set(v, RF__V_FATAL, RF_EPROTO, "server refused bytes=%llu-%llu (HTTP 416)",
        (unsigned long long)rq->start, (unsigned long long)(rq->end - 1));
  } else {
    rf__verdict_status(v, rs->status, rs->reason);
  }
}

/* Any later answer: the same content, the bytes asked for. */
static void run(rf__verdict *v, const rf__request *rq, const rf__response *rs,
                const rf__expect *ex)
{
  if (rs->status == 206) {
    if (validator_changed(ex, rs))
      set(v, RF__V_CHANGED, RF_ECHANGED,
          "the remote file changed during the download (ETag %s -> %s)",
          or_none(ex->etag), or_none(rs->etag));
    else if (rs->has_cr != 1 || rs->cr_first != rq->start ||
             rs->cr_last + 1 != rq->end || rs->cr_total != ex->total)
      set(v, RF__V_RETRY, RF_ERANGE,
          "server answered with Content-Range %llu-%llu/%llu to a request "
          "for bytes %llu-%llu of %llu",
          (unsigned long long)rs->cr_first, (unsigned long long)rs->cr_last,
          (unsigned long long)rs->cr_total, (unsigned long long)rq->start,
          (unsigned long long)(rq->end - 1), (unsigned long long)ex->total);
    else
      take(v, RF__SHAPE_NONE);
  } else if (rs->status == 200 && ex->single) {
    if (validator_changed(ex, rs) ||
        (rs->content_length >= 0 && ex->total != RF_SIZE_UNKNOWN &&
         (uint64_t)rs->content_length != ex->total))
      set(v, RF__V_CHANGED, RF_ECHANGED,
          "the content changed between two tries");
    else
      take(v, RF__SHAPE_NONE);
  } else if (rs->status == 200) {
    if (ex->if_range && !validator_changed(ex, rs))
      set(v, RF__V_RETRY, RF_ERANGE, "server ignored the Range of a request");
    else
      set(v, RF__V_CHANGED, RF_ECHANGED,
          "the remote file changed during the download: the server sent a "
          "new version (ETag %s -> %s)",
          or_none(ex->etag), or_none(rs->etag));
  } else if (rs->status == 416) {
    set(v, RF__V_CHANGED, RF_ECHANGED,
        "the remote file changed during the download: it shrank");
  } else {
    rf__verdict_status(v, rs->status, rs->reason);
  }
}

/* An answer of another source: the origin's bytes asked for, in a 206
 * for the origin's length; its validator is its own business. */
static void foreign(rf__verdict *v, const rf__request *rq,
                    const rf__response *rs, const rf__expect *ex)
{
  if (rs->status == 206) {
    if (rs->has_cr == 1 && rs->cr_total != ex->total)
      set(v, RF__V_FATAL, RF_ELENGTH,
          "it has %llu bytes, the origin %llu",
          (unsigned long long)rs->cr_total, (unsigned long long)ex->total);
    else if (rs->has_cr != 1 || rs->cr_first != rq->start ||
             rs->cr_last + 1 != rq->end)
      set(v, RF__V_RETRY, RF_ERANGE,
          "it answered with Content-Range %llu-%llu/%llu to a request for "
          "bytes %llu-%llu",
          (unsigned long long)rs->cr_first, (unsigned long long)rs->cr_last,
          (unsigned long long)rs->cr_total, (unsigned long long)rq->start,
          (unsigned long long)(rq->end - 1));
    else
      take(v, RF__SHAPE_NONE);
  } else if (rs->status == 200) {
    set(v, RF__V_FATAL, RF_ERANGE,
        "it answered a range request with the whole file (HTTP 200%s): not "
        "usable for pieces",
        rs->content_length >= 0 && ex->total != RF_SIZE_UNKNOWN &&
                (uint64_t)rs->content_length != ex->total
            ? ", and another length"
            : "");
  } else {
    rf__verdict_status(v, rs->status, rs->reason);
  }
}

void rf__verdict_response(rf__verdict *v, const rf__request *rq,
                          const rf__response *rs, const rf__expect *ex)
{
  /* rangefetch never sends Accept-Encoding: a body in another coding is
   * not the file's bytes at their offsets, whatever the status says.
   * Nor is a multipart answer to one range. */
  if ((rs->status == 200 || rs->status == 206) &&
      rs->content_encoding != NULL && rs->content_encoding[0] != '\0' &&
      strcasecmp(rs->content_encoding, "identity") != 0) {
    set(v, RF__V_FATAL, RF_EPROTO,
        "the server sent the content with Content-Encoding: %.40s, which "
        "was not asked for (the bytes would not be the file's)",
        rs->content_encoding);
    return;
  }
  if (rs->status == 206 && rs->multipart) {
    set(v, RF__V_FATAL, RF_EPROTO,
        "the server answered one range with multipart/byteranges");
    return;
  }
  switch (rq->kind) {
  case RF__REQ_MANIFEST:
    if (rs->status == 200) {
      take(v, RF__SHAPE_NONE);
    } else {
      rf__verdict_status(v, rs->status, rs->reason);
      snprintf(v->msg, sizeof(v->msg), "manifest %s: HTTP %ld %s",
               ex->manifest_url != NULL ? ex->manifest_url : "?", rs->status,
               rs->reason);
    }
    break;
  case RF__REQ_PROBE:
    probe(v, rq, rs, ex);
    break;
  default:
    if (ex->foreign)
      foreign(v, rq, rs, ex);
    else
      run(v, rq, rs, ex);
    break;
  }
}

void rf__verdict_curl(rf__verdict *v, CURLcode res, int proxied)
{
  int err, retry = 1;

  switch (res) {
  case CURLE_COULDNT_RESOLVE_HOST:
    retry = 0;
    err = RF_ERESOLVE;
    break;
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_PROXY:
    retry = 0;
    err = RF_EPROXY;
    break;
  case CURLE_COULDNT_CONNECT:
    err = proxied ? RF_EPROXY : RF_ECONNECT;
    break;
  case CURLE_OPERATION_TIMEDOUT:
    err = RF_ETIMEDOUT;
    break;
  case CURLE_URL_MALFORMAT:
  case CURLE_UNSUPPORTED_PROTOCOL:
    retry = 0;
    err = RF_EURL;
    break;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
    retry = 0;
    err = RF_ETLS;
    break;
  case CURLE_TOO_MANY_REDIRECTS:
    retry = 0;
    err = RF_EHTTP;
    break;
  case CURLE_OUT_OF_MEMORY:
    retry = 0;
    err = RF_ENOMEM;
    break;
  case CURLE_PARTIAL_FILE:
    err = RF_ELENGTH;
    break;
  default:
    err = RF_ENETWORK;
    break;
  }
  v->kind = retry ? RF__V_RETRY : RF__V_FATAL;
  v->err = err;
  v->shape = RF__SHAPE_NONE;
  v->msg[0] = '\0';
}
