/*
 * The range server's request parser (engine/server/http.c), network-facing:
 * the input is what a client sends on one connection.  Parsed as
 * server.c does (at most 16 KiB of head at a time, pipelined requests one
 * after the other), then each target decoded as respond.c does and the
 * Range / If-Range evaluated against a few entity sizes.
 */
#include "fuzz.h"

#include "server/http.h"

#define HEAD_MAX (16u * 1024u) /* SRV_HEAD_MAX in server/conn.h */

static void check_range(const rf__srv_request *r, uint64_t size)
{
  uint64_t first = 0, last = 0;
  int rc;

  if (!r->range_seen || r->range_bad)
    return;
  if (r->if_range_seen)
    (void)rf__srv_if_range_matches(r, "\"v1\"",
                                   "Sun, 06 Nov 1994 08:49:37 GMT");
  rc = rf__srv_range_eval(r->range, size, &first, &last);
  if (rc < -1 || rc > 1)
    fuzz_fail("range_eval returned %d", rc);
  /* 206: a non-empty slice inside the entity. */
  if (rc == 1 && !(first <= last && last < size))
    fuzz_fail("range_eval gave %llu-%llu of %llu", (unsigned long long)first,
              (unsigned long long)last, (unsigned long long)size);
}

static void check_target(const char *target)
{
  const char *qmark = strchr(target, '?');
  size_t plen = qmark != NULL ? (size_t)(qmark - target) : strlen(target);
  char *path = malloc(plen + 1);
  int st;

  if (path == NULL)
    abort();
  st = rf__srv_path_decode(target, plen, path, plen + 1);
  if (st != 0 && st != 400 && st != 403 && st != 404)
    fuzz_fail("path_decode returned %d", st);
  if (st == 0 && (path[0] != '/' || strlen(path) > plen))
    fuzz_fail("path_decode gave a bad path");
  free(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const uint64_t sizes[] = { 0, 1, 4096, UINT64_MAX };
  size_t pos = 0;

  while (pos < size) {
    size_t avail = size - pos < HEAD_MAX ? size - pos : HEAD_MAX;
    char *in = fuzz_bytes(data + pos, avail);
    rf__srv_request r;
    size_t used;

    memset(&r, 0, sizeof(r));
    used = rf__srv_parse_request(&r, in, avail, HEAD_MAX);
    if (used > avail)
      fuzz_fail("parse_request took %zu of %zu bytes", used, avail);
    if (used == 0 && (avail >= HEAD_MAX || r.parse_status != 0))
      fuzz_fail("parse_request waits with %zu bytes", avail);
    if (used > 0 && r.parse_status == 0) {
      if (r.target == NULL)
        fuzz_fail("a good request without a target");
      check_target(r.target);
      for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        check_range(&r, sizes[i]);
    }
    free(r.target);
    free(r.head);
    free(in);
    if (used == 0)
      break; /* incomplete: the server would read more */
    pos += used;
  }
  return 0;
}
