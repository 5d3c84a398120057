/*
 * engine/verdict.c: what a response means, as tables of (request,
 * response, what the job knows) -> (verdict, error, shape, message).  No
 * server: these are the rules the engine acts on.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "rangefetch/rangefetch.h"
#include "verdict.h"

#define U RF_SIZE_UNKNOWN

typedef struct row {
  const char *name;
  rf__req_kind kind;
  uint64_t start, end;
  long status;
  int has_cr;
  uint64_t cr_first, cr_last, cr_total;
  int64_t content_length;
  const char *etag;       /* response */
  const char *job_etag;   /* what the job holds */
  uint64_t total;         /* the job's length (or the journal's) */
  int single, if_range, resuming;
  int manifest;           /* has a manifest of manifest_length bytes */
  uint64_t manifest_length;
  rf__verdict_kind want;
  int want_err;
  rf__shape want_shape;
  const char *want_msg;   /* a part of the message, or NULL */
} row;

static const row rows[] = {
  /* The probe. */
  { "probe 206 ranges", RF__REQ_PROBE, 0, 1048576, 206, 1, 0, 1048575,
    5000000, 1048576, "\"a\"", "", U, 0, 0, 0, 0, 0, RF__V_ACCEPT, 0,
    RF__SHAPE_RANGES, NULL },
  { "probe 206 whole small file", RF__REQ_PROBE, 0, 1048576, 206, 1, 0, 99,
    100, 100, "", "", U, 0, 0, 0, 0, 0, RF__V_ACCEPT, 0, RF__SHAPE_RANGES,
    NULL },
  { "probe 206 other range", RF__REQ_PROBE, 0, 1048576, 206, 1, 5, 9, 100,
    5, "", "", U, 0, 0, 0, 0, 0, RF__V_RETRY, RF_ERANGE, RF__SHAPE_NONE,
    "Content-Range 5-9/100 to a request for bytes 0-1048575" },
  { "probe 206 past the end asked", RF__REQ_PROBE, 0, 10, 206, 1, 0, 10, 100,
    11, "", "", U, 0, 0, 0, 0, 0, RF__V_RETRY, RF_ERANGE, RF__SHAPE_NONE,
    NULL },
  { "probe 206 unknown total", RF__REQ_PROBE, 0, 10, 206, 1, 0, 9, U, 10, "",
    "", U, 0, 0, 0, 0, 0, RF__V_RETRY, RF_ERANGE, RF__SHAPE_NONE, NULL },
  { "probe 206 no Content-Range", RF__REQ_PROBE, 0, 10, 206, 0, 0, 0, 0, 10,
    "", "", U, 0, 0, 0, 0, 0, RF__V_RETRY, RF_ERANGE, RF__SHAPE_NONE,
    "HTTP 206 with a missing Content-Range" },
  { "probe 206 malformed Content-Range", RF__REQ_PROBE, 0, 10, 206, -1, 0, 0,
    0, 10, "", "", U, 0, 0, 0, 0, 0, RF__V_RETRY, RF_ERANGE, RF__SHAPE_NONE,
    "malformed" },
  { "probe 200 one stream", RF__REQ_PROBE, 0, 10, 200, 0, 0, 0, 0, 500, "",
    "", U, 0, 0, 0, 0, 0, RF__V_ACCEPT, 0, RF__SHAPE_SINGLE, NULL },
  { "probe 200 against the manifest's length", RF__REQ_PROBE, 0, 10, 200, 0,
    0, 0, 0, 500, "", "", U, 0, 0, 0, 1, 400, RF__V_FATAL, RF_EHASH,
    RF__SHAPE_NONE, "the manifest describes 400 bytes, the server has 500" },
  { "probe 200 no length, manifest", RF__REQ_PROBE, 0, 10, 200, 0, 0, 0, 0,
    -1, "", "", U, 0, 0, 0, 1, 400, RF__V_ACCEPT, 0, RF__SHAPE_SINGLE, NULL },
  { "probe 416 empty file", RF__REQ_PROBE, 0, 10, 416, 2, 0, 0, 0, 0, "", "",
    U, 0, 0, 0, 0, 0, RF__V_ACCEPT, 0, RF__SHAPE_EMPTY, NULL },
  { "probe 416 otherwise", RF__REQ_PROBE, 0, 10, 416, 2, 0, 0, 7, 0, "", "",
    U, 0, 0, 0, 0, 0, RF__V_FATAL, RF_EPROTO, RF__SHAPE_NONE,
    "server refused bytes=0-9 (HTTP 416)" },
  { "probe 503", RF__REQ_PROBE, 0, 10, 503, 0, 0, 0, 0, 0, "", "", U, 0, 0, 0,
    0, 0, RF__V_RETRY, RF_EHTTP, RF__SHAPE_NONE, "HTTP 503" },
  { "probe 404", RF__REQ_PROBE, 0, 10, 404, 0, 0, 0, 0, 0, "", "", U, 0, 0, 0,
    0, 0, RF__V_FATAL, RF_EHTTP, RF__SHAPE_NONE, "HTTP 404" },
  { "probe 407", RF__REQ_PROBE, 0, 10, 407, 0, 0, 0, 0, 0, "", "", U, 0, 0, 0,
    0, 0, RF__V_FATAL, RF_EPROXY, RF__SHAPE_NONE,
    "the proxy wants authentication" },
  /* A resume probe: If-Range under the journal's validator. */
  { "resume matches", RF__REQ_PROBE, 65536, 131072, 206, 1, 65536, 131071,
    500000, 65536, "\"v1\"", "\"v1\"", 500000, 0, 1, 1, 0, 0, RF__V_ACCEPT, 0,
    RF__SHAPE_RESUME, NULL },
  { "resume answered 200: changed", RF__REQ_PROBE, 65536, 131072, 200, 0, 0,
    0, 0, 500000, "\"v2\"", "\"v1\"", 500000, 0, 1, 1, 0, 0, RF__V_CHANGED,
    RF_ECHANGED, RF__SHAPE_NONE,
    "changed since the last run (HTTP 200, ETag \"v1\" -> \"v2\")" },
  { "resume other length", RF__REQ_PROBE, 65536, 131072, 206, 1, 65536,
    131071, 400000, 65536, "\"v1\"", "\"v1\"", 500000, 0, 1, 1, 0, 0,
    RF__V_CHANGED, RF_ECHANGED, RF__SHAPE_NONE, NULL },
  { "resume other ETag on 206", RF__REQ_PROBE, 0, 10, 206, 1, 0, 9, 500000,
    10, "\"v2\"", "\"v1\"", 500000, 0, 1, 1, 0, 0, RF__V_CHANGED, RF_ECHANGED,
    RF__SHAPE_NONE, NULL },
  /* Runs after the probe. */
  { "run 206 exact", RF__REQ_RUN, 100, 200, 206, 1, 100, 199, 1000, 100,
    "\"a\"", "\"a\"", 1000, 0, 1, 0, 0, 0, RF__V_ACCEPT, 0, RF__SHAPE_NONE,
    NULL },
  { "run 206 other range", RF__REQ_RUN, 100, 200, 206, 1, 100, 198, 1000, 99,
    "\"a\"", "\"a\"", 1000, 0, 1, 0, 0, 0, RF__V_RETRY, RF_ERANGE,
    RF__SHAPE_NONE, "to a request for bytes 100-199 of 1000" },
  { "run 206 other total", RF__REQ_RUN, 100, 200, 206, 1, 100, 199, 2000, 100,
    "\"a\"", "\"a\"", 1000, 0, 1, 0, 0, 0, RF__V_RETRY, RF_ERANGE,
    RF__SHAPE_NONE, NULL },
  { "run 206 new ETag", RF__REQ_RUN, 100, 200, 206, 1, 100, 199, 1000, 100,
    "\"b\"", "\"a\"", 1000, 0, 1, 0, 0, 0, RF__V_CHANGED, RF_ECHANGED,
    RF__SHAPE_NONE, "during the download (ETag \"a\" -> \"b\")" },
  { "run 200 same version: Range ignored", RF__REQ_RUN, 100, 200, 200, 0, 0,
    0, 0, 1000, "\"a\"", "\"a\"", 1000, 0, 1, 0, 0, 0, RF__V_RETRY, RF_ERANGE,
    RF__SHAPE_NONE, "ignored the Range" },
  { "run 200 new version", RF__REQ_RUN, 100, 200, 200, 0, 0, 0, 0, 1000,
    "\"b\"", "\"a\"", 1000, 0, 1, 0, 0, 0, RF__V_CHANGED, RF_ECHANGED,
    RF__SHAPE_NONE, "sent a new version" },
  { "run 200 without If-Range", RF__REQ_RUN, 100, 200, 200, 0, 0, 0, 0, 1000,
    "", "", 1000, 0, 0, 0, 0, 0, RF__V_CHANGED, RF_ECHANGED, RF__SHAPE_NONE,
    NULL },
  { "one stream again, same", RF__REQ_RUN, 0, 1000, 200, 0, 0, 0, 0, 1000,
    "\"a\"", "\"a\"", 1000, 1, 0, 0, 0, 0, RF__V_ACCEPT, 0, RF__SHAPE_NONE,
    NULL },
  { "one stream again, other length", RF__REQ_RUN, 0, 1000, 200, 0, 0, 0, 0,
    999, "\"a\"", "\"a\"", 1000, 1, 0, 0, 0, 0, RF__V_CHANGED, RF_ECHANGED,
    RF__SHAPE_NONE, "between two tries" },
  { "run 416: shrank", RF__REQ_RUN, 100, 200, 416, 2, 0, 0, 50, 0, "", "",
    1000, 0, 1, 0, 0, 0, RF__V_CHANGED, RF_ECHANGED, RF__SHAPE_NONE,
    "it shrank" },
  { "run 429", RF__REQ_RUN, 100, 200, 429, 0, 0, 0, 0, 0, "", "", 1000, 0, 1,
    0, 0, 0, RF__V_RETRY, RF_EHTTP, RF__SHAPE_NONE, "HTTP 429" },
  { "run 408", RF__REQ_RUN, 100, 200, 408, 0, 0, 0, 0, 0, "", "", 1000, 0, 1,
    0, 0, 0, RF__V_RETRY, RF_EHTTP, RF__SHAPE_NONE, NULL },
  { "run 599", RF__REQ_RUN, 100, 200, 599, 0, 0, 0, 0, 0, "", "", 1000, 0, 1,
    0, 0, 0, RF__V_RETRY, RF_EHTTP, RF__SHAPE_NONE, NULL },
  { "run 403", RF__REQ_RUN, 100, 200, 403, 0, 0, 0, 0, 0, "", "", 1000, 0, 1,
    0, 0, 0, RF__V_FATAL, RF_EHTTP, RF__SHAPE_NONE, NULL },
  /* The manifest. */
  { "manifest 200", RF__REQ_MANIFEST, 0, U, 200, 0, 0, 0, 0, 10, "", "", U, 0,
    0, 0, 0, 0, RF__V_ACCEPT, 0, RF__SHAPE_NONE, NULL },
  { "manifest 404", RF__REQ_MANIFEST, 0, U, 404, 0, 0, 0, 0, 10, "", "", U, 0,
    0, 0, 0, 0, RF__V_FATAL, RF_EHTTP, RF__SHAPE_NONE,
    "manifest http://h/m.rfm: HTTP 404 Not Found" },
  { "manifest 503", RF__REQ_MANIFEST, 0, U, 503, 0, 0, 0, 0, 10, "", "", U, 0,
    0, 0, 0, 0, RF__V_RETRY, RF_EHTTP, RF__SHAPE_NONE, "manifest" },
};

Test(verdict, response_table)
{
  size_t k;

  for (k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
    const row *r = &rows[k];
    rf__request rq = { r->kind, r->start, r->end };
    rf__response rs = { r->status, "Not Found", r->has_cr, r->cr_first,
                        r->cr_last, r->cr_total, r->content_length, r->etag,
                        "", NULL, 0 };
    rf__expect ex = { r->job_etag, "", r->total, r->single, r->if_range,
                      r->resuming, r->manifest, r->manifest_length,
                      "http://h/m.rfm", 0 };
    rf__verdict v;

    memset(&v, 0xa5, sizeof(v));
    rf__verdict_response(&v, &rq, &rs, &ex);
    cr_expect_eq(v.kind, r->want, "%s: kind %d, want %d (%s)", r->name,
                 v.kind, r->want, v.msg);
    cr_expect_eq(v.err, r->want_err, "%s: %s, want %s", r->name,
                 rf_err_name(v.err), rf_err_name(r->want_err));
    cr_expect_eq(v.shape, r->want_shape, "%s: shape %d", r->name, v.shape);
    if (r->want == RF__V_ACCEPT)
      cr_expect_str_empty(v.msg, "%s: %s", r->name, v.msg);
    else
      cr_expect(v.msg[0] != '\0', "%s: no message", r->name);
    if (r->want_msg != NULL)
      cr_expect(strstr(v.msg, r->want_msg) != NULL, "%s: '%s' lacks '%s'",
                r->name, v.msg, r->want_msg);
  }
}

/* Last-Modified stands in for a missing ETag; no validator at all never
 * reads as a change. */
Test(verdict, last_modified_and_no_validator)
{
  rf__request rq = { RF__REQ_RUN, 0, 10 };
  rf__response rs = { 206, "", 1, 0, 9, 100, 10, "", "Tue, 01 Dec 2026",
                      NULL, 0 };
  rf__expect ex = { "", "Mon, 30 Nov 2026", 100, 0, 1, 0, 0, 0, NULL, 0 };
  rf__verdict v;

  rf__verdict_response(&v, &rq, &rs, &ex);
  cr_assert_eq(v.kind, RF__V_CHANGED);
  ex.last_modified = "Tue, 01 Dec 2026";
  rf__verdict_response(&v, &rq, &rs, &ex);
  cr_assert_eq(v.kind, RF__V_ACCEPT);
  ex.last_modified = "";
  rs.last_modified = "anything";
  rf__verdict_response(&v, &rq, &rs, &ex);
  cr_assert_eq(v.kind, RF__V_ACCEPT);
}

/* rangefetch never asks for a content coding: an encoded body is not the
 * file's bytes, nor is a multipart answer to one range. */
Test(verdict, encoded_or_multipart_bodies_are_refused)
{
  static const struct {
    rf__req_kind kind;
    long status;
    const char *coding;
    int multipart;
    rf__verdict_kind want;
  } t[] = {
    { RF__REQ_RUN, 206, "gzip", 0, RF__V_FATAL },
    { RF__REQ_RUN, 206, "GZIP", 0, RF__V_FATAL },
    { RF__REQ_PROBE, 206, "br", 0, RF__V_FATAL },
    { RF__REQ_MANIFEST, 200, "deflate", 0, RF__V_FATAL },
    { RF__REQ_RUN, 206, "identity", 0, RF__V_ACCEPT },
    { RF__REQ_RUN, 206, "", 0, RF__V_ACCEPT },
    { RF__REQ_RUN, 206, NULL, 0, RF__V_ACCEPT },
    { RF__REQ_RUN, 206, NULL, 1, RF__V_FATAL },
    { RF__REQ_RUN, 503, "gzip", 0, RF__V_RETRY }, /* an error page */
  };
  size_t i;

  for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
    rf__request rq = { t[i].kind, 0, 10 };
    rf__response rs = { t[i].status, "", 1, 0, 9, 100, 10, "\"a\"", "",
                        t[i].coding, t[i].multipart };
    rf__expect ex = { "\"a\"", "", 100, 0, 1, 0, 0, 0, "http://m/x", 0 };
    rf__verdict v;

    if (t[i].kind == RF__REQ_MANIFEST)
      rs.has_cr = 0;
    if (t[i].status == 503) {
      rs.has_cr = 0;
      rf__verdict_status(&v, 503, "");
    } else {
      rf__verdict_response(&v, &rq, &rs, &ex);
    }
    cr_assert_eq(v.kind, t[i].want, "row %zu: %d %s", i, v.kind, v.msg);
    if (t[i].want == RF__V_FATAL) {
      cr_assert_eq(v.err, RF_EPROTO, "row %zu", i);
      cr_assert(strstr(v.msg, t[i].multipart ? "multipart" : "Content-Encoding") != NULL,
                "row %zu: %s", i, v.msg);
    }
  }
}

Test(verdict, curl_results)
{
  static const struct {
    CURLcode res;
    int proxied;
    rf__verdict_kind want;
    int err;
  } t[] = {
    { CURLE_COULDNT_RESOLVE_HOST, 0, RF__V_FATAL, RF_ERESOLVE },
    { CURLE_COULDNT_RESOLVE_PROXY, 1, RF__V_FATAL, RF_EPROXY },
    { CURLE_COULDNT_CONNECT, 0, RF__V_RETRY, RF_ECONNECT },
    { CURLE_COULDNT_CONNECT, 1, RF__V_RETRY, RF_EPROXY },
    { CURLE_OPERATION_TIMEDOUT, 0, RF__V_RETRY, RF_ETIMEDOUT },
    { CURLE_UNSUPPORTED_PROTOCOL, 0, RF__V_FATAL, RF_EURL },
    { CURLE_PEER_FAILED_VERIFICATION, 0, RF__V_FATAL, RF_ETLS },
    { CURLE_TOO_MANY_REDIRECTS, 0, RF__V_FATAL, RF_EHTTP },
    { CURLE_PROXY, 1, RF__V_FATAL, RF_EPROXY },
    { CURLE_OUT_OF_MEMORY, 0, RF__V_FATAL, RF_ENOMEM },
    { CURLE_PARTIAL_FILE, 0, RF__V_RETRY, RF_ELENGTH },
    { CURLE_RECV_ERROR, 0, RF__V_RETRY, RF_ENETWORK },
    { CURLE_GOT_NOTHING, 0, RF__V_RETRY, RF_ENETWORK },
  };
  size_t k;

  for (k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
    rf__verdict v;
    rf__verdict_curl(&v, t[k].res, t[k].proxied);
    cr_expect_eq(v.kind, t[k].want, "curl %d: kind %d", (int)t[k].res,
                 v.kind);
    cr_expect_eq(v.err, t[k].err, "curl %d: %s", (int)t[k].res,
                 rf_err_name(v.err));
  }
}
