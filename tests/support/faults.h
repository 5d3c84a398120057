/*
 * Test mode for an rf_server: generated files and fault directives, built
 * only on the server's response hooks (engine/server/hooks.h).  Nothing of
 * it is in the library; tests/support/testserver.c installs it.
 *
 * Test mode adds two things to a server:
 *
 * 1. Generated files.  "/gen/<SIZE>[?seed=N]" serves SIZE bytes (decimal)
 *    whose content is faults_gen_fill(..., N) (seed 1 by default), with the
 *    ETag "gen-<SIZE>-<N>" and a Last-Modified that depends on the seed
 *    only.  No memory proportional to SIZE is used.
 *
 * 2. Fault directives in the query string, for any path.  The server keeps
 *    one record per request-target (path and query, byte for byte) with the
 *    number of GET and HEAD requests received for it (every status; other
 *    methods get their 405 before test mode sees them).  "times=T"
 *    (default 1) bounds the one-shot faults: each of cut, corrupt, stall,
 *    badrange and shortlen has its own counter and applies to the first T
 *    responses of that target where it is applicable (see below).
 *    Directives, combined with '&', unknown ones ignored:
 *
 *    cut=K         GET responses with more than K body bytes: headers, K
 *                  body bytes, then the connection is closed.
 *    corrupt=OFF   GET responses whose body covers content offset OFF: that
 *                  byte is sent XORed with 0xFF.
 *    stall=MS      GET responses with more than stall_at=K (default 0) body
 *    stall_at=K    bytes: after K body bytes, nothing is sent for MS ms.
 *    badrange=1    GET responses that are 206: the range actually served
 *                  and announced in Content-Range starts one byte later than
 *                  asked, with the asked length (one byte earlier, or one
 *                  byte shorter, where that would pass the end).
 *    shortlen=1    GET responses that are 206 with at least one body byte:
 *                  correct headers, then half the body (rounded down) and
 *                  the connection is closed.
 *    s503=T        The target's first T requests get 503 with
 *    s429=T        "Retry-After: S" (ra=S, default 1) and a short text body
 *    ra=S          (s503 is checked first; both count the same requests).
 *    status=CODE   Every request gets CODE (200..599) and a short text body.
 *    norange=1     Range is ignored: 200 with the whole content, always,
 *                  and no Accept-Ranges header.
 *    chunked=1     As norange, and the body is sent with
 *                  "Transfer-Encoding: chunked" and no Content-Length
 *                  (HTTP/1.1 requests only).
 *    change_after=N  From the target's request N+1 on, the content has
 *                  changed: a generated file uses seed+1 (ETag and
 *                  Last-Modified follow), a real file is served XORed with
 *                  0x5A, with "-x5a" appended inside its ETag and a
 *                  Last-Modified one day later.  If-Range is compared with
 *                  the validators of the content served now.
 *    rate=BPS      The connection sends body bytes at no more than BPS
 *                  bytes per second (token bucket, 10 ms ticks, 20 ms of
 *                  burst); the cap stays on the connection for its later
 *                  requests until one names another rate.
 *    noetag=1      No ETag and no Last-Modified (If-Range never matches).
 *    delay=MS      Every response's headers are sent MS ms late.
 *    link=PORT     A generated file's answers announce a mirror:
 *                  "Link: <http://127.0.0.1:PORT/gen/SIZE?seed=N>;
 *                  rel=duplicate; pri=1" (RFC 6249).
 *    reprdigest=1  A generated file's answers carry "Repr-Digest:
 *                  sha-256=:B64:" of the whole content (RFC 9530); 2: a
 *                  wrong one (one base64 digit changed).
 *    digest=1      ... and "Digest: MD5=..., SHA-256=B64" (RFC 3230).
 *    hdr=NAME:VALUE  The request must carry the header NAME (any case)
 *                  with exactly VALUE, else 403 (percent-encoded in the
 *                  query: ':' may stay, ' ' is %20).
 *    nohdr=NAME    A request carrying the header NAME gets 400.
 *    basic=U:P     Without "Authorization: Basic base64(U:P)": 401 with
 *                  WWW-Authenticate: Basic.
 *    bearer=TOKEN  Without "Authorization: Bearer TOKEN": 401.
 *    cookie=N=V    Without the pair N=V in the Cookie header: 403.
 *    setcookie=N=V Every entity's answer carries "Set-Cookie: N=V;
 *                  Path=/".
 *    garble=N      Every GET body byte at a content offset that is a
 *                  multiple of N is sent XORed with 0xFF, every time (a
 *                  source that sends bad pieces).
 *
 *    Precedence: 405 (method) > status > s503 > s429 > 400/403/404 > the
 *    range logic.  Numbers are decimal; a malformed number disables that
 *    directive.
 *
 * Which hook does what (engine/server/hooks.h): request counts the target
 * and answers status/s503/s429, sets delay, norange, chunked; resolve
 * serves /gen/; entity applies noetag and change_after's validators; range
 * arms badrange, cut, shortlen, stall, corrupt, chunked and rate; read
 * generates; pace stalls and rates; body corrupts and XORs.
 */
#ifndef RF_TEST_FAULTS_H
#define RF_TEST_FAULTS_H

#include <stddef.h>
#include <stdint.h>

#include "rangefetch/server.h"

/*
 * faults_install - turn on generated files and fault directives for s.
 * Call it right after rf_server_new, on the loop's thread.  The records
 * are released with the server.  Returns 0, or -1 without memory.
 */
int faults_install(rf_server *s);

/*
 * faults_gen_fill - fill buf with bytes [off, off + len) of the generated
 * content for seed.  Any slice equals the same slice of the whole: word i
 * (bytes 8i..8i+7, little-endian) is splitmix64(i ^ (seed * golden)).
 */
void faults_gen_fill(void *buf, uint64_t off, size_t len, uint64_t seed);

#endif /* RF_TEST_FAULTS_H */
