/*
 * The piece table and the choice of what each connection fetches next.
 * Pure bookkeeping: no I/O, no libcurl, no libuv, so it is tested directly.
 *
 * Content is cut into pieces of piece_size bytes (the last one shorter).
 * A piece is FREE (nobody fetches it), ACTIVE (inside some connection's
 * run) or DONE (every byte received and handed to the disk writer).
 * A run is a contiguous range of pieces given to one connection; it is
 * fetched with one HTTP request, piece after piece.
 */
#ifndef RF_SCHEDULER_H
#define RF_SCHEDULER_H

#include <stdint.h>

enum { RF__PIECE_FREE = 0, RF__PIECE_ACTIVE = 1, RF__PIECE_DONE = 2 };

typedef struct rf__sched {
  uint64_t total;
  uint64_t piece_size;
  uint32_t npieces;
  uint32_t ndone;
  uint8_t *state;  /* npieces entries */
  uint8_t *tries;  /* failed tries per piece (saturating) */
} rf__sched;

/* Piece size chosen for a content length when the caller gives none:
 * 1 MiB, doubled until there are at most 65536 pieces. */
uint64_t rf__sched_auto_piece_size(uint64_t total);

/* Returns 0, RF_EINVAL (piece_size 0, too many pieces), RF_ENOMEM. */
int rf__sched_init(rf__sched *s, uint64_t total, uint64_t piece_size);
void rf__sched_free(rf__sched *s);
/* Every piece back to FREE, tries cleared. */
void rf__sched_reset(rf__sched *s);

/* Byte range of piece i: [*off, *off + *len). */
void rf__sched_piece_range(const rf__sched *s, uint32_t i, uint64_t *off,
                           uint64_t *len);
uint32_t rf__sched_piece_of(const rf__sched *s, uint64_t off);

/*
 * Pick a run for an idle connection: the largest FREE run; when the piece
 * just before it is ACTIVE (another connection streams toward it) and the
 * run has at least two pieces, start at its middle (aria2's sparse
 * selector), so connections spread over the content.  At most max_pieces.
 * Marks the run ACTIVE.  Returns 1 and sets *first and *count, or 0 when no
 * piece is FREE.
 */
int rf__sched_take(rf__sched *s, uint32_t max_pieces, uint32_t *first,
                   uint32_t *count);

/* Pieces [first, first+count) that are not DONE go back to FREE. */
void rf__sched_release(rf__sched *s, uint32_t first, uint32_t count);

/* Piece i is DONE.  Returns 1 if it was not DONE before. */
int rf__sched_mark_done(rf__sched *s, uint32_t i);

/* Count a failed try on piece i; returns the new count. */
unsigned rf__sched_fail(rf__sched *s, uint32_t i);

static inline int rf__sched_complete(const rf__sched *s)
{
  return s->ndone == s->npieces;
}

/* Number of FREE pieces. */
uint32_t rf__sched_free_count(const rf__sched *s);

#endif
