/*
 * The resume journal: "<out>.part.rfj" beside "<out>.part".
 *
 * An append-only log written by the store's writer thread.  A fixed 4 KiB
 * header (written once, fsynced) holds what identifies the download; after
 * it come fixed 48-byte records: PIECE (piece i was pwritten; its XXH3-128)
 * and CHECKPOINT (the data of every PIECE record before me is on disk).
 * Each record carries the journal's random salt, a consecutive sequence
 * number and its own checksum, so a torn tail, stale bytes or garbage end
 * the valid part of the log.  The byte layout and the crash-safety argument
 * are in docs/journal.md.
 *
 * Not thread-safe: one thread appends (the writer); load runs before it.
 */
#ifndef RF_JOURNAL_H
#define RF_JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include <xxhash.h>

#define RF__JOURNAL_SUFFIX ".rfj" /* appended to the .part path */

#define RF__JOURNAL_VERSION 1u
#define RF__JOURNAL_HEADER_SIZE 4096u
#define RF__JOURNAL_RECORD_SIZE 48u
/* Most pieces a journal may have: the scheduler's own limit, so a header
 * never makes a reader allocate more than 17 bytes times this. */
#define RF__JOURNAL_MAX_PIECES (1u << 20)
/* Room for url + etag + last_modified (bytes, without NULs) in the header. */
#define RF__JOURNAL_STRINGS_MAX 4000u

enum rf__journal_rec_type {
  RF__JOURNAL_PIECE = 1,
  RF__JOURNAL_CHECKPOINT = 2
};

typedef struct rf__journal_meta {
  char *url;           /* the URL(s) as given, credentials stripped by the
                        * caller; malloc'd */
  uint64_t length;     /* content length */
  uint64_t piece_size; /* > 0 */
  uint32_t npieces;    /* ceil(length / piece_size) */
  char *etag;          /* may be ""; malloc'd */
  char *last_modified; /* may be ""; malloc'd */
  int has_manifest;
  XXH128_hash_t manifest_digest; /* XXH128 of the manifest text, when
                                  * has_manifest */
} rf__journal_meta;

typedef struct rf__journal {
  int fd;            /* -1 when closed */
  uint64_t salt;
  uint32_t next_seq;
  uint64_t end;      /* file offset where the next record goes */
} rf__journal;

/* Loaded state of an existing journal. */
typedef struct rf__journal_state {
  rf__journal_meta meta;
  uint32_t npieces;
  uint8_t *claimed;      /* npieces entries: 0 none, 1 PIECE record seen,
                          * 2 covered by a later CHECKPOINT */
  XXH128_hash_t *hashes; /* npieces entries: hash from the last PIECE record
                          * of that piece (zero when unclaimed) */
  uint64_t valid_end;    /* offset just after the last good record */
  uint32_t next_seq;
  uint64_t salt;
  unsigned records;      /* good records read */
  int torn;              /* 1 if bytes after valid_end were ignored */
} rf__journal_state;

/*
 * Create (O_CREAT|O_TRUNC) the journal at path with meta: write the header
 * with a fresh random salt, fsync the file and its directory.  meta is only
 * read (copied into the header, no pointer kept).  etag and last_modified
 * may be NULL (same as "").  On failure j->fd is -1, and the file is left
 * alone when meta is invalid.
 *
 * Returns 0, RF_EIO, RF_ENOSPC, RF_EACCES, RF_ENOENT, RF_ENOMEM, RF_EINVAL
 * (meta too large for the header, piece_size 0, npieces not
 * ceil(length / piece_size) or over RF__JOURNAL_MAX_PIECES, url NULL).
 */
int rf__journal_create(rf__journal *j, const char *path,
                       const rf__journal_meta *meta);

/*
 * Read a journal.  Returns 0 and fills st (free it with
 * rf__journal_state_free), RF_ENOENT (no file), RF_EACCES, RF_EIO,
 * RF_ENOMEM, or RF_EPROTO for an unusable header.  On any failure st is
 * zeroed (nothing to free) and err (if errlen > 0) gets one line, e.g.
 * "journal header checksum mismatch", "not a rangefetch journal",
 * "unsupported journal version 7".  A bad record never makes load fail: it
 * ends the valid part (st->torn = 1).
 */
int rf__journal_load(const char *path, rf__journal_state *st, char *err,
                     size_t errlen);

/*
 * Follow a journal that a writer may still be appending to: read the
 * records added to the journal at path since st was filled (by
 * rf__journal_load or an earlier call), from st->valid_end on, so that st
 * is then what rf__journal_load would give now.  Opens the file read-only
 * and never locks or writes it.  Work: the new records, plus one pass over
 * the pieces per 1024 new records that hold a CHECKPOINT.  st->torn is
 * recomputed (a record being appended right now reads as a torn tail, and
 * the next call reads it again).
 *
 * Returns 0 (st updated, also when nothing was added), RF_EPROTO (the file
 * is no longer the journal st was read from: another salt, or shorter than
 * st->valid_end; load it again), RF_EINVAL (st not loaded), RF_ENOENT,
 * RF_EACCES, RF_EIO, RF_ENOMEM; err (if errlen > 0) gets one line.  On
 * failure st still describes a good prefix of the log (possibly with some
 * new records applied) and can be freed or used again.
 */
int rf__journal_load_more(const char *path, rf__journal_state *st, char *err,
                          size_t errlen);

/* Free what st owns and zero it.  A zeroed st is fine. */
void rf__journal_state_free(rf__journal_state *st);

/* Free the strings of m and zero it.  A zeroed m is fine. */
void rf__journal_meta_free(rf__journal_meta *m);

/*
 * Reopen a loaded journal for appending: check that path still has st's
 * salt, truncate it to st->valid_end (and fsync when that cut something),
 * continue with st->salt and st->next_seq.  On failure j->fd is -1.
 *
 * Returns 0, RF_ENOENT, RF_EACCES, RF_EIO, RF_ENOSPC, RF_EPROTO (the file is
 * no longer the journal st was loaded from).
 */
int rf__journal_reopen(rf__journal *j, const char *path,
                       const rf__journal_state *st);

/*
 * Append one PIECE record (plain pwrite at j->end, no fsync).  A failed or
 * short write is cut back off, so the journal stays a whole number of
 * records and a later append can succeed.
 *
 * Returns 0, RF_EIO, RF_ENOSPC (also for EFBIG/EDQUOT), RF_EINVAL (journal
 * not open).
 */
int rf__journal_piece(rf__journal *j, uint32_t piece, XXH128_hash_t hash);

/*
 * Append a CHECKPOINT record then fdatasync the journal.  The caller must
 * have fdatasync()ed the data file first.  Returns as rf__journal_piece.
 */
int rf__journal_checkpoint(rf__journal *j);

/* Close the fd (no sync) and set it to -1.  A closed j is fine. */
void rf__journal_close(rf__journal *j);

/*
 * unlink path (ENOENT is not an error) and fsync the directory.
 * Returns 0, RF_EACCES, RF_EIO.
 */
int rf__journal_remove(const char *path);

/*
 * Encode one record into out (for tests and tools): type, seq, piece, hash
 * and salt, with its checksum.  No validation.
 */
void rf__journal_encode_record(unsigned char out[RF__JOURNAL_RECORD_SIZE],
                               uint32_t type, uint32_t seq, uint32_t piece,
                               XXH128_hash_t hash, uint64_t salt);

#endif /* RF_JOURNAL_H */
