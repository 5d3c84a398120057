/*
 * Downloads in progress, served by the range server (options.partial): a
 * request for NAME, where NAME does not exist but NAME.part and its journal
 * NAME.part.rfj (engine/disk/journal.h) do, is answered from the pieces the
 * journal lists as written, each re-hashed against the journal first.
 *
 * Shape
 *   Everything that touches the file system runs on the thread pool
 *   (uv_queue_work), in two steps per request:
 *    1. lookup: realpath, inside-the-root check and open of NAME.part and
 *       of its journal; the journal is read into the server's cache (once,
 *       then only what was appended: rf__journal_load_more) when its size,
 *       mtime or inode changed; the answer is decided and the expected
 *       hashes of the pieces to serve are copied out;
 *    2. verify: those pieces are read from NAME.part and hashed (XXH3-128),
 *       at most PART_VERIFY_STEP bytes per thread-pool job, so one request
 *       for a large range never holds a thread for long.
 *   Only then is the head written; the body is read from NAME.part as for
 *   any file.  A piece that does not match its hash, or cannot be read,
 *   turns the answer into a 416 and a log line.
 *
 * The cache holds the journals of at most PART_CACHE_MAX downloads (least
 * recently used first out).  It is the only state the thread-pool jobs
 * share: a mutex guards its list, another each entry's journal state.
 *
 * The files are opened read-only and never locked: the downloader holds an
 * OFD lock on NAME.part (disk/fileio.h), which our reads do not disturb and
 * our closes do not release, even in the downloader's own process.
 */
#ifndef RF_SERVER_PARTIAL_H
#define RF_SERVER_PARTIAL_H

#include <stddef.h>
#include <stdint.h>

#include "server/http.h"

typedef struct rf__srv_partials rf__srv_partials;

/* A new, empty cache into *out.  Returns 0 or RF_ENOMEM. */
int rf__srv_partials_new(rf__srv_partials **out);

/* Free the cache and every journal in it; no job may use it any more. */
void rf__srv_partials_free(rf__srv_partials *ps);

/*
 * rf__srv_partial_decide - the answer to req for a download in progress of
 * length bytes in pieces of piece_size, whose written pieces are those
 * with claimed[i] != 0 (a journal's rf__journal_state.claimed).  etag is
 * the entity's ETag (for If-Range); ignore_range: treat as without Range.
 *
 * Returns 206 (a single byte range inside written pieces: *start, *len),
 * 200 (no usable Range, or an If-Range that does not match, and every
 * piece written: *start = 0, *len = length) or 416 (anything else: *start
 * and *len 0).
 */
int rf__srv_partial_decide(const rf__srv_request *req, int ignore_range,
                           const char *etag, uint64_t length,
                           uint64_t piece_size, const uint8_t *claimed,
                           uint64_t *start, uint64_t *len);

#endif /* RF_SERVER_PARTIAL_H */
