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
 * The XXH3-128 of piece i as a hash value (compare with XXH128_isEqual).
 * Unchecked: i must be below rf_manifest_pieces(m).
 */
XXH128_hash_t rf__manifest_piece(const rf_manifest *m, uint32_t i);

/* The XXH3-128 of the whole content. */
XXH128_hash_t rf__manifest_content(const rf_manifest *m);

#endif
