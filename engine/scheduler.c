/* Piece table and run selection (see scheduler.h). */
#include "scheduler.h"

#include <stdlib.h>
#include <string.h>

#include "rangefetch/rangefetch.h"

#define RF__MAX_PIECES (1u << 20)

uint64_t rf__sched_auto_piece_size(uint64_t total)
{
  uint64_t p = 1ULL << 20;

  while (total / p >= 65536 && p < (1ULL << 30))
    p <<= 1;
  return p;
}

int rf__sched_init(rf__sched *s, uint64_t total, uint64_t piece_size)
{
  uint64_t n;

  memset(s, 0, sizeof(*s));
  if (piece_size == 0)
    return RF_EINVAL;
  n = total == 0 ? 0 : (total - 1) / piece_size + 1;
  if (n > RF__MAX_PIECES)
    return RF_EINVAL;
  s->total = total;
  s->piece_size = piece_size;
  s->npieces = (uint32_t)n;
  s->limit = (uint32_t)n;
  s->state = calloc(n > 0 ? n : 1, 1);
  s->tries = calloc(n > 0 ? n : 1, 1);
  if (s->state == NULL || s->tries == NULL) {
    rf__sched_free(s);
    return RF_ENOMEM;
  }
  return 0;
}

void rf__sched_free(rf__sched *s)
{
  free(s->state);
  free(s->tries);
  s->state = NULL;
  s->tries = NULL;
  s->npieces = 0;
}

void rf__sched_reset(rf__sched *s)
{
  memset(s->state, RF__PIECE_FREE, s->npieces);
  memset(s->tries, 0, s->npieces);
  s->ndone = 0;
}

void rf__sched_piece_range(const rf__sched *s, uint32_t i, uint64_t *off,
                           uint64_t *len)
{
  uint64_t o = (uint64_t)i * s->piece_size;
  uint64_t l = s->total - o < s->piece_size ? s->total - o : s->piece_size;

  *off = o;
  *len = l;
}

uint32_t rf__sched_piece_of(const rf__sched *s, uint64_t off)
{
  return (uint32_t)(off / s->piece_size);
}

/* The pieces a take may hand out: [0, end). */
static uint32_t take_end(const rf__sched *s)
{
  return s->limit < s->npieces ? s->limit : s->npieces;
}

int rf__sched_take(rf__sched *s, uint32_t max_pieces, uint32_t *first,
                   uint32_t *count)
{
  uint32_t best = 0, best_len = 0, i = 0, start, len, k, end = take_end(s);

  if (max_pieces == 0)
    max_pieces = 1;
  while (i < end) {
    if (s->state[i] != RF__PIECE_FREE) {
      i++;
      continue;
    }
    start = i;
    while (i < end && s->state[i] == RF__PIECE_FREE)
      i++;
    len = i - start;
    if (len > best_len) {
      best = start;
      best_len = len;
    }
    if (s->in_order)
      break; /* the lowest */
  }
  if (best_len == 0)
    return 0;
  start = best;
  len = best_len;
  if (!s->in_order && start > 0 && s->state[start - 1] == RF__PIECE_ACTIVE &&
      len >= 2) {
    start += len / 2;
    len -= len / 2;
  }
  if (len > max_pieces)
    len = max_pieces;
  for (k = 0; k < len; k++)
    s->state[start + k] = RF__PIECE_ACTIVE;
  *first = start;
  *count = len;
  return 1;
}

int rf__sched_take_mask(rf__sched *s, uint32_t max_pieces, const uint8_t *mask,
                        uint32_t *first, uint32_t *count)
{
  uint32_t best = 0, best_len = 0, i = 0, start, len, k, end = take_end(s);

  if (max_pieces == 0)
    max_pieces = 1;
  while (i < end) {
    if (s->state[i] != RF__PIECE_FREE || !mask[i]) {
      i++;
      continue;
    }
    start = i;
    while (i < end && s->state[i] == RF__PIECE_FREE && mask[i])
      i++;
    len = i - start;
    if (len > best_len) {
      best = start;
      best_len = len;
    }
    if (s->in_order)
      break; /* the lowest */
  }
  if (best_len == 0)
    return 0;
  len = best_len < max_pieces ? best_len : max_pieces;
  for (k = 0; k < len; k++)
    s->state[best + k] = RF__PIECE_ACTIVE;
  *first = best;
  *count = len;
  return 1;
}

void rf__sched_release(rf__sched *s, uint32_t first, uint32_t count)
{
  uint32_t k;

  for (k = 0; k < count && first + k < s->npieces; k++)
    if (s->state[first + k] != RF__PIECE_DONE)
      s->state[first + k] = RF__PIECE_FREE;
}

int rf__sched_mark_done(rf__sched *s, uint32_t i)
{
  if (i >= s->npieces || s->state[i] == RF__PIECE_DONE)
    return 0;
  s->state[i] = RF__PIECE_DONE;
  s->ndone++;
  return 1;
}

unsigned rf__sched_fail(rf__sched *s, uint32_t i)
{
  if (i >= s->npieces)
    return 0;
  if (s->tries[i] < 255)
    s->tries[i]++;
  return s->tries[i];
}

uint32_t rf__sched_free_count(const rf__sched *s)
{
  uint32_t i, n = 0;

  for (i = 0; i < s->npieces; i++)
    n += s->state[i] == RF__PIECE_FREE;
  return n;
}

void rf__sched_claim(rf__sched *s, uint32_t first, uint32_t count)
{
  uint32_t i;

  for (i = first; i < first + count && i < s->npieces; i++)
    if (s->state[i] != RF__PIECE_DONE)
      s->state[i] = RF__PIECE_ACTIVE;
}

int rf__sched_pick_steal(const rf__run_view *v, unsigned n, int only_src,
                         uint32_t *first, uint32_t *give)
{
  uint32_t best = 0;
  unsigned k;
  int victim = -1;

  for (k = 0; k < n; k++) {
    uint32_t end_piece, left;
    if (!v[k].busy || v[k].dup || v[k].probe || v[k].stopping ||
        v[k].run_count == 0 || (only_src >= 0 && v[k].src != only_src))
      continue;
    end_piece = v[k].run_first + v[k].run_count;
    if (v[k].piece + 1 >= end_piece)
      continue;
    left = end_piece - (v[k].piece + 1); /* pieces it has not started */
    if (left > best) {
      best = left;
      victim = (int)k;
    }
  }
  if (victim < 0 || best < 2)
    return -1;
  *give = best / 2;
  *first = v[victim].run_first + v[victim].run_count - *give;
  return victim;
}

/* Whether some busy duplicate already fetches piece i. */
static int duplicated(const rf__run_view *v, unsigned n, uint32_t i)
{
  unsigned k;

  for (k = 0; k < n; k++)
    if (v[k].busy && v[k].dup && v[k].run_first == i)
      return 1;
  return 0;
}

int rf__sched_pick_duplicate(const rf__sched *s, const rf__run_view *v,
                             unsigned n, double avg_rate, uint64_t min_left,
                             int avoid_src, int only_src)
{
  double best = 0, dup_eta;
  uint64_t off, len;
  unsigned k;
  int victim = -1;

  for (k = 0; k < n; k++) {
    uint64_t left;
    double eta;
    /* A connection past the last piece of its run is only finishing its
     * response: nothing of it to duplicate. */
    if (!v[k].busy || v[k].dup || v[k].stopping || v[k].run_count == 0 ||
        v[k].piece >= v[k].run_first + v[k].run_count ||
        v[k].piece >= s->npieces || s->state[v[k].piece] == RF__PIECE_DONE ||
        duplicated(v, n, v[k].piece) ||
        (avoid_src >= 0 && v[k].src == avoid_src) ||
        (only_src >= 0 && v[k].src != only_src))
      continue;
    rf__sched_piece_range(s, v[k].piece, &off, &len);
    left = off + len > v[k].pos ? off + len - v[k].pos : 0;
    if (left < min_left)
      continue;
    eta = v[k].rate > 1.0 && v[k].quiet_ticks < 2 ? (double)left / v[k].rate
                                                  : 1e9;
    if (eta > best) {
      best = eta;
      victim = (int)k;
    }
  }
  if (victim < 0)
    return -1;
  rf__sched_piece_range(s, v[victim].piece, &off, &len);
  dup_eta = avg_rate > 1.0 ? (double)len / avg_rate : 1e9;
  if (best < 1e9 && best <= 2.0 * dup_eta)
    return -1; /* the owner will be done about as soon: leave it */
  return victim;
}
