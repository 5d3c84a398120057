/*
 * Piece manifests: what the engine needs beyond the public API.
 * (include/rangefetch/manifest.h documents the rest.)
 */
#ifndef RF_MANIFEST_INTERNAL_H
#define RF_MANIFEST_INTERNAL_H

#include <stdint.h>
#include <xxhash.h>

#include "rangefetch/manifest.h"

/*
 * How the pieces of m are hashed (rf_manifest_piece_hash_kind without the
 * call through the public API).  Pick the accessor below by it.
 */
rf_manifest_hash rf__manifest_kind(const rf_manifest *m);

/*
 * The XXH3-128 of piece i as a hash value (compare with XXH128_isEqual).
 * Unchecked: i must be below rf_manifest_pieces(m).  Only for
 * RF_MANIFEST_HASH_XXH128 manifests: with SHA-256 pieces it returns a zero
 * hash, which must not be compared against (a fail-safe, not a value).
 */
XXH128_hash_t rf__manifest_piece(const rf_manifest *m, uint32_t i);

/*
 * The SHA-256 of piece i: 32 bytes owned by m (compare with memcmp or
 * CRYPTO_memcmp).  Unchecked: i must be below rf_manifest_pieces(m).  NULL
 * unless rf__manifest_kind(m) is RF_MANIFEST_HASH_SHA256.
 */
const unsigned char *rf__manifest_piece_sha256(const rf_manifest *m,
                                               uint32_t i);

/* The XXH3-128 of the whole content. */
XXH128_hash_t rf__manifest_content(const rf_manifest *m);

#endif
