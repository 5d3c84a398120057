/*
 * The piece table and the choice of what each connection fetches next:
 * a free run, half of a busy run (stealing), or a duplicate of a
 * straggling piece (the endgame).  Pure bookkeeping over the table and a
 * small view of the connections' runs: no I/O, no libcurl, no libuv, so
 * it is tested directly.  The job (engine/job.c) acts on the choices; the
 * table is written only here.
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
  uint8_t *state; /* npieces entries */
  uint8_t *tries; /* failed tries per piece (saturating) */
  /* Pieces from limit on are not handed out (rf__sched_take*): the
   * window of stream mode, ahead of what was written.  npieces (set by
   * rf__sched_init): no limit. */
  uint32_t limit;
  /* 1: rf__sched_take hands out the lowest free pieces, in order (stream
   * mode), instead of the largest free run from its middle. */
  int in_order;
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
 * selector), so connections spread over the content.  With in_order set:
 * the run that starts at the lowest FREE piece instead.  At most
 * max_pieces, none from limit on.  Marks the run ACTIVE.  Returns 1 and
 * sets *first and *count, or 0 when no piece before limit is FREE.
 */
int rf__sched_take(rf__sched *s, uint32_t max_pieces, uint32_t *first,
                   uint32_t *count);

/* As rf__sched_take, among the pieces with mask[i] != 0 only (the pieces
 * that belong to one source, say), and without the sparse start: the
 * largest FREE run of such pieces (with in_order: the lowest), at most
 * max_pieces, none from limit on. */
int rf__sched_take_mask(rf__sched *s, uint32_t max_pieces, const uint8_t *mask,
                        uint32_t *first, uint32_t *count);

/* Pieces [first, first+count) that are not DONE become ACTIVE (a request
 * the caller made on its own, such as the probe, owns them). */
void rf__sched_claim(rf__sched *s, uint32_t first, uint32_t count);

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

/* What the choices below need to know of one connection. */
typedef struct rf__run_view {
  int busy;     /* a request is running */
  int stopping; /* cancelled, or of a former generation of the job */
  int probe;    /* the job's first request */
  int dup;      /* an endgame duplicate of piece run_first */
  int src;      /* the source its request goes to (-1: none) */
  uint32_t run_first, run_count; /* its run (run_count 0: none) */
  uint32_t piece;                /* the piece its next byte belongs to */
  uint64_t pos;                  /* its next byte */
  double rate;                   /* bytes per second, recent */
  unsigned quiet_ticks;          /* progress ticks in a row without a byte */
} rf__run_view;

/*
 * Stealing: the busy run with the most pieces not yet started gives the
 * upper half of them to an idle connection.  Returns the index of that
 * run in v[0..n) with *first and *give set (the victim keeps
 * [run_first, *first)), or -1 when no run has two unstarted pieces.
 * only_src >= 0: only runs of that source (pieces placed on a source stay
 * there).  Marks nothing: the pieces stay ACTIVE, they only change hands.
 */
int rf__sched_pick_steal(const rf__run_view *v, unsigned n, int only_src,
                         uint32_t *first, uint32_t *give);

/*
 * The endgame: which connection's current piece an idle connection should
 * fetch again.  Only a straggler is worth it: the owner's time left at its
 * own rate (a connection quiet for two ticks counts as stalled) must be
 * more than twice what the whole piece takes at avg_rate, the average rate
 * per busy connection; and more than min_left bytes must be left.  A piece
 * already duplicated is not duplicated again.  avoid_src >= 0: only
 * stragglers on another source than avoid_src (the duplicate goes to a
 * different source); only_src >= 0: only stragglers on that source.
 * Returns the index in v[0..n), or -1.
 */
int rf__sched_pick_duplicate(const rf__sched *s, const rf__run_view *v,
                             unsigned n, double avg_rate, uint64_t min_left,
                             int avoid_src, int only_src);

#endif
