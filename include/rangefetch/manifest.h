/*
 * rangefetch — piece manifests.
 *
 * A manifest describes some content: its length, the piece size it is cut
 * into, one hash per piece (XXH3-128 by default, or SHA-256), the XXH3-128
 * of the whole content (the value `xxhsum -H2` prints) and optionally its
 * SHA-256 (always with SHA-256 pieces).  `rangefetch get --manifest` uses
 * one to check every piece as it arrives.  The text format is described in
 * docs/manifest.md.
 *
 * xxHash detects accidents (bit rot, truncation, a proxy mangling bytes),
 * not attackers.  SHA-256 piece hashes let pieces from untrusted sources
 * (peers) be checked one by one, but only if the manifest itself came over
 * a trusted channel (pinned by its SHA-256, or over HTTPS from the origin).
 *
 * Ownership
 *   An rf_manifest is immutable once made; the functions that make one
 *   (rf_manifest_parse, rf_manifest_load, rf_manifest_create) give it to the
 *   caller, who releases it with rf_manifest_free.  Getters never fail on a
 *   valid manifest and return borrowed data.  Every function is thread-safe
 *   on distinct manifests, and the read-only ones on a shared manifest.
 */
#ifndef RF_MANIFEST_H
#define RF_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "version.h"
#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The format version this library reads and writes. */
#define RF_MANIFEST_FORMAT_VERSION 1

/* The usual file name suffix: the manifest of big.iso is big.iso.rfm. */
#define RF_MANIFEST_SUFFIX ".rfm"

/* Limits, checked by the parser and by rf_manifest_create.  The text limit
 * holds 2^20 pieces: about 37 MB of text with XXH3-128 pieces, 71 MB with
 * SHA-256 pieces and CR LF line ends. */
#define RF_MANIFEST_MAX_TEXT       (96u * 1024u * 1024u) /* bytes of text */
#define RF_MANIFEST_MAX_PIECES     (1u << 20)
#define RF_MANIFEST_MIN_PIECE_SIZE 1024u
#define RF_MANIFEST_MAX_PIECE_SIZE (1u << 30)
#define RF_MANIFEST_MAX_LENGTH     (1ULL << 62)

/* The longest piece digest (SHA-256), for rf_manifest_piece_digest. */
#define RF_MANIFEST_MAX_DIGEST 32u

typedef struct rf_manifest rf_manifest;

/*
 * The hash of each piece, the `piece-hash` line of the text.  Values are
 * only ever appended.
 *   RF_MANIFEST_HASH_XXH128  XXH3-128, 16 bytes: fast, catches accidents.
 *                            The default; no `piece-hash` line.
 *   RF_MANIFEST_HASH_SHA256  SHA-256, 32 bytes: for pieces from untrusted
 *                            sources.  Such a manifest always carries the
 *                            SHA-256 of the whole content too.
 */
typedef enum rf_manifest_hash {
  RF_MANIFEST_HASH_XXH128 = 0,
  RF_MANIFEST_HASH_SHA256 = 1
} rf_manifest_hash;

/*
 * rf_manifest_parse - read a manifest from text.
 *
 * out:    receives the manifest, to be released with rf_manifest_free; set
 *         to NULL on failure.
 * text:   len bytes, not necessarily NUL-terminated; read during the call
 *         only.  Lines end in "\n" or "\r\n".
 * err:    if not NULL, receives a one-line message (no newline) naming the
 *         line and what was wrong with it, e.g. "manifest line 5: bad hex in
 *         content-xxh128", truncated to errlen bytes (NUL included).  Left
 *         as "" on success.
 *
 * Returns 0, RF_EINVAL (malformed, truncated or inconsistent text; out or
 * text NULL), RF_ETOOBIG (text over RF_MANIFEST_MAX_TEXT, more than
 * RF_MANIFEST_MAX_PIECES pieces, a piece size over
 * RF_MANIFEST_MAX_PIECE_SIZE, a length over RF_MANIFEST_MAX_LENGTH or a
 * number that does not fit in 64 bits), RF_ENOMEM.
 */
RF_EXTERN int rf_manifest_parse(rf_manifest **out, const char *text, size_t len,
                                char *err, size_t errlen);

/*
 * rf_manifest_load - read the file at path and parse it.
 *
 * path is read to its end: a regular file, or a pipe or device (more than
 * RF_MANIFEST_MAX_TEXT bytes gives RF_ETOOBIG).  out, err, errlen: as for
 * rf_manifest_parse.  An I/O failure gives a message like "cannot read
 * manifest 'PATH': No such file or directory".
 *
 * Returns what rf_manifest_parse returns, and RF_ENOENT, RF_EACCES (cannot
 * open path), RF_EIO (read error, path is a directory).
 */
RF_EXTERN int rf_manifest_load(rf_manifest **out, const char *path, char *err,
                               size_t errlen);

/*
 * rf_manifest_create - hash the regular file at path into a new manifest
 * with XXH3-128 pieces (rf_manifest_create_ext makes SHA-256 ones).
 *
 * out:         receives the manifest; set to NULL on failure.
 * piece_size:  0 for the engine's default (1 MiB, doubled until the file
 *              has at most 65536 pieces, as `rangefetch get` picks),
 *              else RF_MANIFEST_MIN_PIECE_SIZE..RF_MANIFEST_MAX_PIECE_SIZE.
 * with_sha256: non-zero to also compute the SHA-256 of the whole content
 *              (much slower than xxHash: 1-2 GB/s).
 * threads:     threads that read and hash, caller's included; 0 means 2;
 *              at most 64.  Small files use the caller's thread only.
 *
 * The name recorded is the last component of path, with control characters
 * replaced by '?'.  The file is read once, sequentially, in 1 MiB chunks.
 * The call blocks until the whole file is read.
 *
 * Returns 0, RF_EINVAL (NULL argument, piece size out of range, threads
 * over 64, path is not a regular file), RF_ETOOBIG (more than
 * RF_MANIFEST_MAX_PIECES pieces at this piece size, file over
 * RF_MANIFEST_MAX_LENGTH), RF_ENOENT, RF_EACCES (cannot open path), RF_EIO
 * (read error; the file shrank or was modified while being read),
 * RF_ENOMEM.
 */
RF_EXTERN int rf_manifest_create(rf_manifest **out, const char *path,
                                 uint64_t piece_size, int with_sha256,
                                 unsigned threads);

#define RF_MANIFEST_CREATE_OPTIONS_VERSION 1

/* Options of rf_manifest_create_ext. */
typedef struct rf_manifest_create_options {
  unsigned version;            /* RF_MANIFEST_CREATE_OPTIONS_VERSION */
  uint64_t piece_size;         /* as for rf_manifest_create; 0: default */
  rf_manifest_hash piece_hash; /* default RF_MANIFEST_HASH_XXH128 */
  int content_sha256;          /* non-zero: record the SHA-256 of the whole
                                  content; implied by RF_MANIFEST_HASH_SHA256
                                  pieces */
  unsigned threads;            /* as for rf_manifest_create; 0: 2 */
} rf_manifest_create_options;

#define RF_MANIFEST_CREATE_OPTIONS_INIT                                        \
  {                                                                            \
    RF_MANIFEST_CREATE_OPTIONS_VERSION, 0, RF_MANIFEST_HASH_XXH128, 0, 0       \
  }

/*
 * rf_manifest_create_options_init - fill opts with the defaults, as
 * RF_MANIFEST_CREATE_OPTIONS_INIT.  NULL is a no-op.
 */
RF_EXTERN void
rf_manifest_create_options_init(rf_manifest_create_options *opts);

/*
 * rf_manifest_create_ext - rf_manifest_create with options, among them the
 * piece hash.  opts is read during the call only; NULL means the defaults
 * (XXH3-128 pieces, no content SHA-256).  With RF_MANIFEST_HASH_SHA256 the
 * pieces are hashed in parallel as with XXH3-128, and the SHA-256 of the
 * whole content is always computed (content_sha256 ignored).
 *
 * Returns what rf_manifest_create returns; RF_EINVAL also for an options
 * version 0 or newer than RF_MANIFEST_CREATE_OPTIONS_VERSION, or an
 * unknown piece_hash.
 */
RF_EXTERN int rf_manifest_create_ext(rf_manifest **out, const char *path,
                                     const rf_manifest_create_options *opts);

/*
 * rf_manifest_format - the manifest as text.
 *
 * out: receives a NUL-terminated string allocated with malloc(); the caller
 *      releases it with free().  Set to NULL on failure.  Parsing the text
 *      gives back an equal manifest.
 *
 * Returns 0, RF_EINVAL (m or out NULL), RF_ENOMEM.
 */
RF_EXTERN int rf_manifest_format(char **out, const rf_manifest *m);

/*
 * rf_manifest_save - write the manifest to path atomically.
 *
 * The text goes to "PATH.tmp", which is flushed (fsync) and renamed to path,
 * replacing any file there; the directory is then flushed too.  Readers see
 * either the old file or the whole new one.  On failure "PATH.tmp" is
 * removed and path is left as it was.  Two processes saving to the same
 * path at the same time may clash on "PATH.tmp".
 *
 * Returns 0, RF_EINVAL (NULL argument), RF_ENOMEM, RF_ENOENT (the directory
 * does not exist), RF_EACCES, RF_ENOSPC, RF_EIO.
 */
RF_EXTERN int rf_manifest_save(const rf_manifest *m, const char *path);

/* rf_manifest_length - the content length in bytes. */
RF_EXTERN uint64_t rf_manifest_length(const rf_manifest *m);

/* rf_manifest_piece_size - the piece size; the last piece may be shorter. */
RF_EXTERN uint64_t rf_manifest_piece_size(const rf_manifest *m);

/* rf_manifest_pieces - the number of pieces: ceil(length / piece size). */
RF_EXTERN uint32_t rf_manifest_pieces(const rf_manifest *m);

/*
 * rf_manifest_piece_hash_kind - how the pieces of m are hashed:
 * RF_MANIFEST_HASH_XXH128 or RF_MANIFEST_HASH_SHA256.
 */
RF_EXTERN rf_manifest_hash rf_manifest_piece_hash_kind(const rf_manifest *m);

/*
 * rf_manifest_piece_hash - the XXH3-128 of piece i, canonical (big-endian)
 * bytes, as XXH128_canonicalFromHash writes them.  Only for manifests with
 * XXH3-128 pieces; rf_manifest_piece_digest reads either kind.
 *
 * Returns 0, RF_EINVAL (i >= rf_manifest_pieces(m), m or out NULL, or the
 * pieces of m are SHA-256: rf_manifest_piece_hash_kind(m) is
 * RF_MANIFEST_HASH_SHA256); out untouched then.
 */
RF_EXTERN int rf_manifest_piece_hash(unsigned char out[16],
                                     const rf_manifest *m, uint32_t i);

/*
 * rf_manifest_piece_digest - the digest of piece i, whatever the kind: 16
 * bytes of XXH3-128 in canonical (big-endian) order, or 32 bytes of
 * SHA-256, as `sha256sum` prints them in hex.
 *
 * out:    outlen bytes; RF_MANIFEST_MAX_DIGEST is always enough.
 *
 * Returns the digest length (16 or 32), or RF_EINVAL (m or out NULL,
 * i >= rf_manifest_pieces(m), outlen shorter than the digest); out
 * untouched then.
 */
RF_EXTERN int rf_manifest_piece_digest(unsigned char *out, size_t outlen,
                                       const rf_manifest *m, uint32_t i);

/*
 * rf_manifest_content_xxh128 - the XXH3-128 of the whole content, canonical
 * bytes: in hex, what `xxhsum -H2 FILE` prints.
 */
RF_EXTERN void rf_manifest_content_xxh128(unsigned char out[16],
                                          const rf_manifest *m);

/*
 * rf_manifest_has_sha256 - 1 if the manifest carries a SHA-256 of the whole
 * content (always with SHA-256 pieces), else 0.
 */
RF_EXTERN int rf_manifest_has_sha256(const rf_manifest *m);

/*
 * rf_manifest_content_sha256 - the SHA-256 of the whole content; 32 zero
 * bytes when rf_manifest_has_sha256(m) is 0.
 */
RF_EXTERN void rf_manifest_content_sha256(unsigned char out[32],
                                          const rf_manifest *m);

/*
 * rf_manifest_name - the informational name (borrowed, valid until
 * rf_manifest_free), or NULL if the manifest has none.  Never use it as a
 * path without checking it: it comes from whoever wrote the manifest.
 */
RF_EXTERN const char *rf_manifest_name(const rf_manifest *m);

/* rf_manifest_free - release m.  NULL is a no-op. */
RF_EXTERN void rf_manifest_free(rf_manifest *m);

#ifdef __cplusplus
}
#endif
#endif /* RF_MANIFEST_H */
