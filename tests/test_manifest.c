/* Piece manifests: hashing, round trips, the parser's rejections, the CLI. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include "manifest/manifest_internal.h"
#include "rangefetch/manifest.h"
#include "support/clipath.h"
#include "support/leaks.h"
#include "support/textfile.h"
#include "support/tmpdir.h"

static char dir[64];

static void setup(void)
{
  tmpdir_make(dir, sizeof(dir), "manifest");
}

static void teardown(void)
{
  tmpdir_remove(dir);
}

TestSuite(manifest, .init = setup, .fini = teardown, .timeout = 120);

/* ---------------------------------------------------------------- helpers */

static char *path_in(const char *name)
{
  static char buf[4][256];
  static int next;
  char *p = buf[next++ % 4];

  snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
  return p;
}

/* Deterministic bytes (xorshift64). */
static unsigned char *make_data(size_t len, uint64_t seed)
{
  unsigned char *b = malloc(len > 0 ? len : 1);
  uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
  size_t i;

  cr_assert_not_null(b);
  for (i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b[i] = (unsigned char)(x >> 24);
  }
  return b;
}

static void write_file(const char *path, const void *data, size_t len)
{
  FILE *f = fopen(path, "wb");

  cr_assert_not_null(f, "cannot create %s", path);
  if (len > 0)
    cr_assert_eq(fwrite(data, 1, len, f), len);
  cr_assert_eq(fclose(f), 0);
}

static void canon(XXH128_hash_t h, unsigned char out[16])
{
  XXH128_canonical_t c;

  XXH128_canonicalFromHash(&c, h);
  memcpy(out, c.digest, 16);
}

/* The SHA-256 of [data, data + len), by OpenSSL directly. */
static void sha256_of(const void *data, size_t len, unsigned char out[32])
{
  unsigned int n = 0;

  cr_assert_eq(EVP_Digest(data, len, out, &n, EVP_sha256(), NULL), 1);
  cr_assert_eq(n, 32);
}

/* Two manifests describe the same content the same way. */
static void assert_same(const rf_manifest *a, const rf_manifest *b)
{
  unsigned char x[RF_MANIFEST_MAX_DIGEST], y[RF_MANIFEST_MAX_DIGEST];
  const char *na = rf_manifest_name(a), *nb = rf_manifest_name(b);
  uint32_t i;

  cr_assert_eq(rf_manifest_length(a), rf_manifest_length(b));
  cr_assert_eq(rf_manifest_piece_size(a), rf_manifest_piece_size(b));
  cr_assert_eq(rf_manifest_pieces(a), rf_manifest_pieces(b));
  rf_manifest_content_xxh128(x, a);
  rf_manifest_content_xxh128(y, b);
  cr_assert_arr_eq(x, y, 16);
  cr_assert_eq(rf_manifest_has_sha256(a), rf_manifest_has_sha256(b));
  rf_manifest_content_sha256(x, a);
  rf_manifest_content_sha256(y, b);
  cr_assert_arr_eq(x, y, 32);
  cr_assert_eq(na == NULL, nb == NULL);
  if (na != NULL)
    cr_assert_str_eq(na, nb);
  cr_assert_eq(rf_manifest_piece_hash_kind(a), rf_manifest_piece_hash_kind(b));
  for (i = 0; i < rf_manifest_pieces(a); i++) {
    int n = rf_manifest_piece_digest(x, sizeof(x), a, i);

    cr_assert(n == 16 || n == 32, "piece %u: %d", i, n);
    cr_assert_eq(rf_manifest_piece_digest(y, sizeof(y), b, i), n);
    cr_assert_arr_eq(x, y, (size_t)n, "piece %u", i);
  }
}

/* format -> parse gives an equal manifest, and formats to the same text. */
static void assert_round_trip(const rf_manifest *m)
{
  rf_manifest *back = NULL;
  char *text = NULL, *again = NULL, err[256];

  cr_assert_eq(rf_manifest_format(&text, m), 0);
  cr_assert_eq(rf_manifest_parse(&back, text, strlen(text), err, sizeof(err)),
               0, "%s", err);
  cr_assert_str_eq(err, "");
  assert_same(m, back);
  cr_assert_eq(rf_manifest_format(&again, back), 0);
  cr_assert_str_eq(text, again);
  free(again);
  free(text);
  rf_manifest_free(back);
}

/* Create a manifest of data (written to a file) and check every hash. */
static void check_create(size_t len, uint64_t piece_size, unsigned threads)
{
  unsigned char *data = make_data(len, len + piece_size);
  unsigned char want[16], got[16], any[RF_MANIFEST_MAX_DIGEST];
  const char *path = path_in("data.bin");
  rf_manifest *m = NULL;
  uint64_t ps, n, i;

  write_file(path, data, len);
  cr_assert_eq(rf_manifest_create(&m, path, piece_size, 0, threads), 0,
               "len %zu piece size %lu", len, (unsigned long)piece_size);
  ps = piece_size != 0 ? piece_size : 1u << 20;
  n = len == 0 ? 0 : (len - 1) / ps + 1;
  cr_assert_eq(rf_manifest_length(m), len);
  cr_assert_eq(rf_manifest_piece_size(m), ps);
  cr_assert_eq(rf_manifest_pieces(m), n);
  cr_assert_eq(rf_manifest_has_sha256(m), 0);
  cr_assert_eq(rf_manifest_piece_hash_kind(m), RF_MANIFEST_HASH_XXH128);
  cr_assert_eq(rf__manifest_kind(m), RF_MANIFEST_HASH_XXH128);
  cr_assert_str_eq(rf_manifest_name(m), "data.bin");
  canon(XXH3_128bits(data, len), want);
  rf_manifest_content_xxh128(got, m);
  cr_assert_arr_eq(got, want, 16, "content hash, len %zu", len);
  cr_assert(XXH128_isEqual(rf__manifest_content(m), XXH3_128bits(data, len)));
  for (i = 0; i < n; i++) {
    size_t off = (size_t)(i * ps);
    size_t plen = len - off < ps ? len - off : (size_t)ps;

    canon(XXH3_128bits(data + off, plen), want);
    cr_assert_eq(rf_manifest_piece_hash(got, m, (uint32_t)i), 0);
    cr_assert_arr_eq(got, want, 16, "piece %lu of len %zu", (unsigned long)i,
                     len);
    cr_assert(XXH128_isEqual(rf__manifest_piece(m, (uint32_t)i),
                             XXH3_128bits(data + off, plen)));
    cr_assert_eq(rf_manifest_piece_digest(any, sizeof(any), m, (uint32_t)i),
                 16);
    cr_assert_arr_eq(any, want, 16);
    cr_assert_null(rf__manifest_piece_sha256(m, (uint32_t)i));
  }
  cr_assert_eq(rf_manifest_piece_hash(got, m, (uint32_t)n), RF_EINVAL);
  assert_round_trip(m);
  rf_manifest_free(m);
  free(data);
}

/* The same with SHA-256 pieces, each checked against OpenSSL's SHA-256 of
 * its byte range. */
static void check_create_sha256(size_t len, uint64_t piece_size,
                                unsigned threads)
{
  unsigned char *data = make_data(len, len + piece_size + 1);
  unsigned char want[32], got[RF_MANIFEST_MAX_DIGEST], x[16];
  const char *path = path_in("data.bin");
  rf_manifest_create_options o = RF_MANIFEST_CREATE_OPTIONS_INIT;
  XXH128_hash_t zero = { 0, 0 };
  rf_manifest *m = NULL;
  uint64_t ps, n, i;

  write_file(path, data, len);
  o.piece_size = piece_size;
  o.piece_hash = RF_MANIFEST_HASH_SHA256;
  o.threads = threads;
  cr_assert_eq(rf_manifest_create_ext(&m, path, &o), 0,
               "len %zu piece size %lu", len, (unsigned long)piece_size);
  ps = piece_size != 0 ? piece_size : 1u << 20;
  n = len == 0 ? 0 : (len - 1) / ps + 1;
  cr_assert_eq(rf_manifest_length(m), len);
  cr_assert_eq(rf_manifest_piece_size(m), ps);
  cr_assert_eq(rf_manifest_pieces(m), n);
  cr_assert_eq(rf_manifest_piece_hash_kind(m), RF_MANIFEST_HASH_SHA256);
  cr_assert_eq(rf__manifest_kind(m), RF_MANIFEST_HASH_SHA256);
  /* SHA-256 pieces imply the SHA-256 of the content, asked or not. */
  cr_assert_eq(rf_manifest_has_sha256(m), 1);
  sha256_of(data, len, want);
  rf_manifest_content_sha256(got, m);
  cr_assert_arr_eq(got, want, 32, "content SHA-256, len %zu", len);
  canon(XXH3_128bits(data, len), x);
  rf_manifest_content_xxh128(got, m);
  cr_assert_arr_eq(got, x, 16, "content XXH128, len %zu", len);
  for (i = 0; i < n; i++) {
    size_t off = (size_t)(i * ps);
    size_t plen = len - off < ps ? len - off : (size_t)ps;

    sha256_of(data + off, plen, want);
    memset(got, 0, sizeof(got));
    cr_assert_eq(rf_manifest_piece_digest(got, sizeof(got), m, (uint32_t)i),
                 32);
    cr_assert_arr_eq(got, want, 32, "piece %lu of len %zu, piece size %lu",
                     (unsigned long)i, len, (unsigned long)ps);
    cr_assert_not_null(rf__manifest_piece_sha256(m, (uint32_t)i));
    cr_assert_arr_eq(rf__manifest_piece_sha256(m, (uint32_t)i), want, 32);
    /* The XXH128 getters refuse, or give the documented fail-safe. */
    cr_assert_eq(rf_manifest_piece_hash(x, m, (uint32_t)i), RF_EINVAL);
    cr_assert(XXH128_isEqual(rf__manifest_piece(m, (uint32_t)i), zero));
  }
  cr_assert_eq(rf_manifest_piece_digest(got, sizeof(got), m, (uint32_t)n),
               RF_EINVAL);
  assert_round_trip(m);
  rf_manifest_free(m);
  free(data);
}

/* ---------------------------------------------------------------- create */

Test(manifest, create_edge_sizes)
{
  static const size_t sizes[] = { 0, 1, 4095, 4096, 4097, 5 * 4096 + 123 };
  size_t i;

  for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
    check_create(sizes[i], 4096, 0);
  ASSERT_NO_LEAKS();
}

Test(manifest, create_default_piece_size)
{
  check_create(0, 0, 0);
  check_create(3 * (1u << 20) + 77, 0, 0);
  ASSERT_NO_LEAKS();
}

/* Many chunks, odd piece sizes, several threads: same hashes as one. */
Test(manifest, create_chunking_and_threads)
{
  static const uint64_t pieces[] = { 1024, 3000, 1u << 20, (1u << 20) + 1,
                                     3u << 20 };
  static const unsigned threads[] = { 1, 2, 3, 8 };
  size_t len = 9 * (1u << 20) + 4321;
  size_t i, j;

  for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
    for (j = 0; j < sizeof(threads) / sizeof(threads[0]); j++)
      check_create(len, pieces[i], threads[j]);
  }
  ASSERT_NO_LEAKS();
}

/* Pieces over 4 MiB are hashed in 1 MiB slices. */
Test(manifest, create_sliced_pieces)
{
  check_create(13 * (1u << 20) + 5, 5u << 20, 2);
  check_create(10u << 20, 5u << 20, 3);
  check_create(10u << 20, (5u << 20) + 512, 1);
  check_create(1000, 1u << 30, 2);
  ASSERT_NO_LEAKS();
}

/* A sparse 3 GiB file: mostly zeros, a few bytes written. */
Test(manifest, create_sparse_3gib)
{
  const uint64_t total = 3ULL << 30, ps = 1u << 20;
  static const uint64_t offs[] = { 0, (3ULL << 29) + 5, (3ULL << 30) - 1 };
  const char *path = path_in("sparse.bin");
  unsigned char *zero = calloc(1, ps), *buf = malloc(ps);
  unsigned char want[16], got[16];
  XXH3_state_t *st = XXH3_createState();
  rf_manifest *m = NULL;
  uint64_t i, k;
  int fd;

  cr_assert(zero != NULL && buf != NULL && st != NULL);
  fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
  cr_assert_geq(fd, 0);
  cr_assert_eq(ftruncate(fd, (off_t)total), 0);
  for (k = 0; k < 3; k++)
    cr_assert_eq(pwrite(fd, "rf", 1, (off_t)offs[k]), 1);
  cr_assert_eq(close(fd), 0);

  cr_assert_eq(rf_manifest_create(&m, path, 0, 0, 0), 0);
  cr_assert_eq(rf_manifest_length(m), total);
  cr_assert_eq(rf_manifest_piece_size(m), ps); /* 3072 pieces */
  cr_assert_eq(rf_manifest_pieces(m), 3072);
  canon(XXH3_128bits(zero, ps), want);
  XXH3_128bits_reset(st);
  for (i = 0; i < 3072; i++) {
    const unsigned char *piece = zero;

    for (k = 0; k < 3; k++) {
      if (offs[k] / ps == i) {
        if (piece == zero)
          memset(buf, 0, ps);
        buf[offs[k] % ps] = 'r';
        piece = buf;
      }
    }
    XXH3_128bits_update(st, piece, ps);
    cr_assert_eq(rf_manifest_piece_hash(got, m, (uint32_t)i), 0);
    if (piece == zero) {
      cr_assert_arr_eq(got, want, 16, "zero piece %lu", (unsigned long)i);
    } else {
      unsigned char w[16];

      canon(XXH3_128bits(buf, ps), w);
      cr_assert_arr_eq(got, w, 16, "written piece %lu", (unsigned long)i);
      cr_assert_arr_neq(got, want, 16);
    }
  }
  canon(XXH3_128bits_digest(st), want);
  rf_manifest_content_xxh128(got, m);
  cr_assert_arr_eq(got, want, 16);
  assert_round_trip(m);
  rf_manifest_free(m);
  XXH3_freeState(st);
  free(zero);
  free(buf);
  ASSERT_NO_LEAKS();
}

Test(manifest, create_sha256_pieces)
{
  static const size_t sizes[] = { 0, 1, 4095, 4096, 4097, 5 * 4096 + 123 };
  static const uint64_t pieces[] = { 1024, 3000, (1u << 20) + 1, 3u << 20 };
  static const unsigned threads[] = { 1, 3 };
  size_t i, j;

  for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
    check_create_sha256(sizes[i], 4096, 0);
  check_create_sha256(3 * (1u << 20) + 77, 0, 0);
  /* Many chunks, odd piece sizes, several threads. */
  for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
    for (j = 0; j < sizeof(threads) / sizeof(threads[0]); j++)
      check_create_sha256(9 * (1u << 20) + 4321, pieces[i], threads[j]);
  }
  /* Pieces over 4 MiB, hashed in slices. */
  check_create_sha256(13 * (1u << 20) + 5, 5u << 20, 2);
  check_create_sha256(10u << 20, (5u << 20) + 512, 1);
  check_create_sha256(1000, 1u << 30, 2);
  ASSERT_NO_LEAKS();
}

Test(manifest, create_ext_options)
{
  rf_manifest_create_options o, init = RF_MANIFEST_CREATE_OPTIONS_INIT;
  const char *path = path_in("f");
  rf_manifest *m = (rf_manifest *)1;

  memset(&o, 0x5a, sizeof(o));
  rf_manifest_create_options_init(&o);
  cr_assert_eq(o.version, RF_MANIFEST_CREATE_OPTIONS_VERSION);
  cr_assert_eq(o.version, init.version);
  cr_assert_eq(o.piece_size, 0);
  cr_assert_eq(o.piece_hash, RF_MANIFEST_HASH_XXH128);
  cr_assert_eq(o.content_sha256, 0);
  cr_assert_eq(o.threads, 0);
  rf_manifest_create_options_init(NULL);

  write_file(path, "hello", 5);
  /* NULL: the defaults. */
  cr_assert_eq(rf_manifest_create_ext(&m, path, NULL), 0);
  cr_assert_eq(rf_manifest_piece_hash_kind(m), RF_MANIFEST_HASH_XXH128);
  cr_assert_eq(rf_manifest_has_sha256(m), 0);
  cr_assert_eq(rf_manifest_piece_size(m), 1u << 20);
  rf_manifest_free(m);
  /* A content SHA-256 with XXH128 pieces, as rf_manifest_create(..1..). */
  o.content_sha256 = 1;
  o.piece_size = 1024;
  cr_assert_eq(rf_manifest_create_ext(&m, path, &o), 0);
  cr_assert_eq(rf_manifest_piece_hash_kind(m), RF_MANIFEST_HASH_XXH128);
  cr_assert_eq(rf_manifest_has_sha256(m), 1);
  cr_assert_eq(rf_manifest_piece_size(m), 1024);
  rf_manifest_free(m);

  o.version = 0;
  cr_assert_eq(rf_manifest_create_ext(&m, path, &o), RF_EINVAL);
  cr_assert_null(m);
  o.version = RF_MANIFEST_CREATE_OPTIONS_VERSION + 1;
  cr_assert_eq(rf_manifest_create_ext(&m, path, &o), RF_EINVAL);
  rf_manifest_create_options_init(&o);
  o.piece_hash = (rf_manifest_hash)2;
  cr_assert_eq(rf_manifest_create_ext(&m, path, &o), RF_EINVAL);
  o.piece_hash = (rf_manifest_hash)-1;
  cr_assert_eq(rf_manifest_create_ext(&m, path, &o), RF_EINVAL);
  rf_manifest_create_options_init(&o);
  o.threads = 65;
  cr_assert_eq(rf_manifest_create_ext(&m, path, &o), RF_EINVAL);
  rf_manifest_create_options_init(&o);
  o.piece_size = 1023;
  o.piece_hash = RF_MANIFEST_HASH_SHA256;
  cr_assert_eq(rf_manifest_create_ext(&m, path, &o), RF_EINVAL);
  o.piece_size = 0;
  cr_assert_eq(rf_manifest_create_ext(NULL, path, &o), RF_EINVAL);
  cr_assert_eq(rf_manifest_create_ext(&m, NULL, &o), RF_EINVAL);
  cr_assert_eq(rf_manifest_create_ext(&m, path_in("missing"), &o), RF_ENOENT);
  cr_assert_eq(rf_manifest_create_ext(&m, dir, &o), RF_EINVAL);
  cr_assert_null(m);
  ASSERT_NO_LEAKS();
}

Test(manifest, sha256_abc)
{
  static const unsigned char abc[32] = {
    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
    0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
    0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad
  };
  static const unsigned char empty[32] = {
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4,
    0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b,
    0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55
  };
  const char *path = path_in("abc");
  unsigned char got[32];
  rf_manifest *m = NULL;
  char *text = NULL;

  write_file(path, "abc", 3);
  cr_assert_eq(rf_manifest_create(&m, path, 0, 1, 0), 0);
  cr_assert_eq(rf_manifest_has_sha256(m), 1);
  rf_manifest_content_sha256(got, m);
  cr_assert_arr_eq(got, abc, 32);
  cr_assert_eq(rf_manifest_format(&text, m), 0);
  cr_assert_not_null(strstr(text,
                            "\ncontent-sha256 ba7816bf8f01cfea414140de"
                            "5dae2223b00361a396177a9cb410ff61f20015ad\n"));
  assert_round_trip(m);
  free(text);
  rf_manifest_free(m);

  write_file(path, "", 0);
  cr_assert_eq(rf_manifest_create(&m, path, 0, 1, 0), 0);
  rf_manifest_content_sha256(got, m);
  cr_assert_arr_eq(got, empty, 32);
  rf_manifest_free(m);

  /* Many chunks, two threads: the SHA-256 still sees the bytes in order. */
  {
    size_t len = 5 * (1u << 20) + 3;
    unsigned char *data = make_data(len, 7);
    rf_manifest *m1 = NULL, *m2 = NULL;
    unsigned char a[32], b[32];

    write_file(path, data, len);
    cr_assert_eq(rf_manifest_create(&m1, path, 4096, 1, 1), 0);
    cr_assert_eq(rf_manifest_create(&m2, path, 4096, 1, 3), 0);
    assert_same(m1, m2);
    rf_manifest_content_sha256(a, m1);
    rf_manifest_content_sha256(b, m2);
    cr_assert_arr_eq(a, b, 32);
    rf_manifest_free(m1);
    rf_manifest_free(m2);
    free(data);
  }
  ASSERT_NO_LEAKS();
}

/* The content hash in hex is what `xxhsum -H2` prints, in its byte order. */
Test(manifest, content_hex_is_xxhsum_order)
{
  const char *path = path_in("abc");
  rf_manifest *m = NULL;
  char *text = NULL, want[80];
  XXH128_hash_t h = XXH3_128bits("abc", 3);

  write_file(path, "abc", 3);
  cr_assert_eq(rf_manifest_create(&m, path, 0, 0, 0), 0);
  cr_assert_eq(rf_manifest_format(&text, m), 0);
  snprintf(want, sizeof(want), "\ncontent-xxh128 %016llx%016llx\n",
           (unsigned long long)h.high64, (unsigned long long)h.low64);
  cr_assert_not_null(strstr(text, want), "%s", text);
  free(text);
  rf_manifest_free(m);
  ASSERT_NO_LEAKS();
}

Test(manifest, create_errors)
{
  rf_manifest *m = (rf_manifest *)1;
  const char *path = path_in("f");
  char *text = (char *)1;

  write_file(path, "x", 1);
  cr_assert_eq(rf_manifest_create(&m, path, 512, 0, 0), RF_EINVAL);
  cr_assert_null(m);
  cr_assert_eq(rf_manifest_create(&m, path, (1u << 30) + 1, 0, 0), RF_EINVAL);
  cr_assert_eq(rf_manifest_create(&m, path, 0, 0, 65), RF_EINVAL);
  cr_assert_eq(rf_manifest_create(&m, NULL, 0, 0, 0), RF_EINVAL);
  cr_assert_eq(rf_manifest_create(NULL, path, 0, 0, 0), RF_EINVAL);
  cr_assert_eq(rf_manifest_create(&m, dir, 0, 0, 0), RF_EINVAL);
  cr_assert_eq(rf_manifest_create(&m, path_in("missing"), 0, 0, 0), RF_ENOENT);
  cr_assert_null(m);
  cr_assert_eq(rf_manifest_format(&text, NULL), RF_EINVAL);
  cr_assert_null(text);
  cr_assert_eq(rf_manifest_save(NULL, path), RF_EINVAL);
  rf_manifest_free(NULL);
  ASSERT_NO_LEAKS();
}

/* Over 2^20 pieces at the smallest piece size: RF_ETOOBIG. */
Test(manifest, create_too_many_pieces)
{
  const char *path = path_in("big.bin");
  rf_manifest *m = NULL;
  int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);

  cr_assert_geq(fd, 0);
  cr_assert_eq(ftruncate(fd, (off_t)(1ULL << 30) + 1), 0);
  close(fd);
  cr_assert_eq(rf_manifest_create(&m, path, 1024, 0, 0), RF_ETOOBIG);
  cr_assert_null(m);
  ASSERT_NO_LEAKS();
}

/* ----------------------------------------------------------- save, load */

Test(manifest, save_and_load)
{
  const char *path = path_in("d.bin");
  const char *out = path_in("d.bin.rfm");
  unsigned char *data = make_data(100000, 3);
  rf_manifest *m = NULL, *back = NULL;
  char err[256];
  struct stat st;

  write_file(path, data, 100000);
  cr_assert_eq(rf_manifest_create(&m, path, 8192, 1, 0), 0);
  write_file(out, "old content", 11);
  cr_assert_eq(rf_manifest_save(m, out), 0);
  cr_assert_neq(stat(path_in("d.bin.rfm.tmp"), &st), 0);
  cr_assert_eq(rf_manifest_load(&back, out, err, sizeof(err)), 0, "%s", err);
  assert_same(m, back);
  rf_manifest_free(back);
  back = (rf_manifest *)1;

  cr_assert_eq(rf_manifest_load(&back, path_in("nope.rfm"), err, sizeof(err)),
               RF_ENOENT);
  cr_assert_null(back);
  cr_assert_not_null(strstr(err, "nope.rfm"), "%s", err);
  cr_assert_eq(rf_manifest_load(&back, dir, err, sizeof(err)), RF_EIO);
  cr_assert_eq(rf_manifest_load(&back, path, err, sizeof(err)), RF_EINVAL);
  cr_assert_str_eq(err, "manifest line 1: not a rangefetch manifest (the "
                        "first line must be 'rangefetch-manifest 1')");
  cr_assert_eq(rf_manifest_save(m, path_in("no/such/dir.rfm")), RF_ENOENT);
  rf_manifest_free(m);
  free(data);
  ASSERT_NO_LEAKS();
}

Test(manifest, load_too_big)
{
  const char *path = path_in("huge.rfm");
  rf_manifest *m = NULL;
  char err[256];
  int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);

  cr_assert_geq(fd, 0);
  cr_assert_eq(ftruncate(fd, RF_MANIFEST_MAX_TEXT + 1), 0);
  close(fd);
  cr_assert_eq(rf_manifest_load(&m, path, err, sizeof(err)), RF_ETOOBIG);
  cr_assert_not_null(strstr(err, "over the limit"), "%s", err);
  cr_assert_eq(
      rf_manifest_parse(&m, "", RF_MANIFEST_MAX_TEXT + 1, err, sizeof(err)),
      RF_ETOOBIG);
  cr_assert_null(m);
  ASSERT_NO_LEAKS();
}

/* ---------------------------------------------------------------- parse */

#define H0  "0123456789abcdef0123456789abcdef"
#define H1  "ffeeddccbbaa99887766554433221100"
#define SHA "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SE  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const char good[] = "rangefetch-manifest 1\n"
                           "length 2500\n"
                           "piece-size 1024\n"
                           "pieces 3\n"
                           "content-xxh128 " H1 "\n"
                           "content-sha256 " SHA "\n"
                           "name big file.iso\n"
                           "p " H0 "\n"
                           "p " H1 "\n"
                           "p " H0 "\n"
                           "end\n";

/* The same with SHA-256 pieces. */
static const char good_sha[] = "rangefetch-manifest 1\n"
                               "piece-hash sha256\n"
                               "length 2500\n"
                               "piece-size 1024\n"
                               "pieces 3\n"
                               "content-xxh128 " H1 "\n"
                               "content-sha256 " SHA "\n"
                               "name big file.iso\n"
                               "p " SHA "\n"
                               "p " SE "\n"
                               "p " SHA "\n"
                               "end\n";

static int parse_str(const char *text, char *err, size_t errlen,
                     rf_manifest **out)
{
  return rf_manifest_parse(out, text, strlen(text), err, errlen);
}

Test(manifest, parse_good)
{
  rf_manifest *m = NULL;
  unsigned char b[32];
  char err[256] = "junk", *text = NULL;

  cr_assert_eq(parse_str(good, err, sizeof(err), &m), 0, "%s", err);
  cr_assert_str_eq(err, "");
  cr_assert_eq(rf_manifest_length(m), 2500);
  cr_assert_eq(rf_manifest_piece_size(m), 1024);
  cr_assert_eq(rf_manifest_pieces(m), 3);
  cr_assert_str_eq(rf_manifest_name(m), "big file.iso");
  rf_manifest_content_xxh128(b, m);
  cr_assert_eq(b[0], 0xff);
  cr_assert_eq(b[15], 0x00);
  cr_assert_eq(rf__manifest_content(m).high64, 0xffeeddccbbaa9988ULL);
  cr_assert_eq(rf__manifest_piece(m, 0).low64, 0x0123456789abcdefULL);
  cr_assert_eq(rf_manifest_piece_hash(b, m, 1), 0);
  cr_assert_eq(b[0], 0xff);
  cr_assert_eq(rf_manifest_has_sha256(m), 1);
  rf_manifest_content_sha256(b, m);
  cr_assert_eq(b[0], 0xba);
  cr_assert_eq(rf_manifest_format(&text, m), 0);
  cr_assert_str_eq(text, good);
  free(text);
  rf_manifest_free(m);
  ASSERT_NO_LEAKS();
}

Test(manifest, parse_good_sha256)
{
  rf_manifest *m = NULL;
  unsigned char b[RF_MANIFEST_MAX_DIGEST], x[16];
  char err[256] = "junk", *text = NULL;

  cr_assert_eq(parse_str(good_sha, err, sizeof(err), &m), 0, "%s", err);
  cr_assert_str_eq(err, "");
  cr_assert_eq(rf_manifest_pieces(m), 3);
  cr_assert_eq(rf_manifest_piece_hash_kind(m), RF_MANIFEST_HASH_SHA256);
  cr_assert_eq(rf_manifest_has_sha256(m), 1);
  cr_assert_eq(rf_manifest_piece_digest(b, sizeof(b), m, 0), 32);
  cr_assert_eq(b[0], 0xba);
  cr_assert_eq(b[31], 0xad);
  cr_assert_eq(rf_manifest_piece_digest(b, sizeof(b), m, 1), 32);
  cr_assert_eq(b[0], 0xe3);
  cr_assert_eq(rf__manifest_piece_sha256(m, 1)[31], 0x55);
  cr_assert_eq(rf__manifest_piece_sha256(m, 2)[0], 0xba);
  rf_manifest_content_xxh128(b, m);
  cr_assert_eq(b[0], 0xff);
  /* The XXH128-only getter refuses and leaves out alone. */
  memset(x, 0x77, sizeof(x));
  cr_assert_eq(rf_manifest_piece_hash(x, m, 0), RF_EINVAL);
  cr_assert_eq(x[0], 0x77);
  cr_assert_eq(x[15], 0x77);
  cr_assert_eq(rf_manifest_format(&text, m), 0);
  cr_assert_str_eq(text, good_sha);
  free(text);
  rf_manifest_free(m);
  ASSERT_NO_LEAKS();
}

/* "piece-hash xxh128" is the default spelt out: the writer leaves it out,
 * so that readers older than the line read what it writes. */
Test(manifest, parse_piece_hash_xxh128_spelt_out)
{
  static const char text[] = "rangefetch-manifest 1\n"
                             "length 1\n"
                             "piece-hash xxh128\n"
                             "piece-size 1024\n"
                             "pieces 1\n"
                             "content-xxh128 " H1 "\n"
                             "p " H0 "\n"
                             "end\n";
  rf_manifest *m = NULL;
  char err[256], *out = NULL;

  cr_assert_eq(parse_str(text, err, sizeof(err), &m), 0, "%s", err);
  cr_assert_eq(rf_manifest_piece_hash_kind(m), RF_MANIFEST_HASH_XXH128);
  cr_assert_eq(rf_manifest_format(&out, m), 0);
  cr_assert_null(strstr(out, "piece-hash"), "%s", out);
  cr_assert_str_eq(out, "rangefetch-manifest 1\n"
                        "length 1\n"
                        "piece-size 1024\n"
                        "pieces 1\n"
                        "content-xxh128 " H1 "\n"
                        "p " H0 "\n"
                        "end\n");
  free(out);
  rf_manifest_free(m);
  ASSERT_NO_LEAKS();
}

Test(manifest, piece_digest_errors)
{
  rf_manifest *x = NULL, *s = NULL;
  unsigned char b[RF_MANIFEST_MAX_DIGEST];
  char err[256];

  cr_assert_eq(parse_str(good, err, sizeof(err), &x), 0, "%s", err);
  cr_assert_eq(parse_str(good_sha, err, sizeof(err), &s), 0, "%s", err);
  memset(b, 0x77, sizeof(b));
  cr_assert_eq(rf_manifest_piece_digest(b, 15, x, 0), RF_EINVAL);
  cr_assert_eq(rf_manifest_piece_digest(b, 31, s, 0), RF_EINVAL);
  cr_assert_eq(rf_manifest_piece_digest(b, sizeof(b), x, 3), RF_EINVAL);
  cr_assert_eq(rf_manifest_piece_digest(b, sizeof(b), s, 3), RF_EINVAL);
  cr_assert_eq(rf_manifest_piece_digest(b, sizeof(b), NULL, 0), RF_EINVAL);
  cr_assert_eq(rf_manifest_piece_digest(NULL, sizeof(b), s, 0), RF_EINVAL);
  cr_assert_eq(b[0], 0x77); /* untouched by every failure */
  cr_assert_eq(b[31], 0x77);
  cr_assert_eq(rf_manifest_piece_digest(b, 16, x, 1), 16);
  cr_assert_eq(b[0], 0xff);
  cr_assert_eq(b[16], 0x77);
  cr_assert_eq(rf_manifest_piece_digest(b, 32, s, 1), 32);
  cr_assert_eq(b[0], 0xe3);
  rf_manifest_free(x);
  rf_manifest_free(s);
  ASSERT_NO_LEAKS();
}

/*
 * The largest SHA-256 manifest: 2^20 pieces, CR LF line ends, the longest
 * name.  Over 64 MiB of text, under RF_MANIFEST_MAX_TEXT; it parses, and
 * formats to the same text with LF line ends.
 */
Test(manifest, parse_sha256_largest)
{
  const uint32_t n = RF_MANIFEST_MAX_PIECES;
  size_t cap = 8192 + (size_t)n * 68, len = 0, lf = 0, i;
  char *crlf = malloc(cap), *text = malloc(cap), *out = NULL;
  rf_manifest *m = NULL;
  unsigned char b[32];
  char err[256];
  int k;

  cr_assert(crlf != NULL && text != NULL);
  len = (size_t)snprintf(crlf, cap,
                         "rangefetch-manifest 1\r\npiece-hash sha256\r\n"
                         "length %llu\r\npiece-size 1024\r\npieces %u\r\n"
                         "content-xxh128 " H1 "\r\ncontent-sha256 " SHA
                         "\r\nname ",
                         (unsigned long long)n * 1024, (unsigned)n);
  memset(crlf + len, 'n', 4091);
  len += 4091;
  memcpy(crlf + len, "\r\n", 2);
  len += 2;
  for (i = 0; i < n; i++) {
    k = snprintf(crlf + len, cap - len, "p %08zx%s\r\n", i, SHA + 8);
    cr_assert_eq(k, 68);
    len += (size_t)k;
  }
  memcpy(crlf + len, "end\r\n", 5);
  len += 5;
  cr_assert_gt(len, (size_t)64 << 20);
  cr_assert_leq(len, RF_MANIFEST_MAX_TEXT);
  for (i = 0; i < len; i++) {
    if (crlf[i] != '\r')
      text[lf++] = crlf[i];
  }
  text[lf] = '\0';

  cr_assert_eq(rf_manifest_parse(&m, crlf, len, err, sizeof(err)), 0, "%s",
               err);
  cr_assert_eq(rf_manifest_pieces(m), n);
  cr_assert_eq(rf_manifest_piece_digest(b, sizeof(b), m, n - 1), 32);
  cr_assert_eq(b[0], 0x00);
  cr_assert_eq(b[1], 0x0f);
  cr_assert_eq(b[2], 0xff);
  cr_assert_eq(b[3], 0xff);
  cr_assert_eq(b[4], 0x8f); /* SHA's fifth byte */
  cr_assert_eq(rf_manifest_format(&out, m), 0);
  cr_assert_eq(strlen(out), lf);
  cr_assert(strcmp(out, text) == 0, "format differs from the LF text");
  free(out);
  free(text);
  free(crlf);
  rf_manifest_free(m);
  ASSERT_NO_LEAKS();
}

Test(manifest, parse_variants_accepted)
{
  static const char *const ok[] = {
    /* Keys in another order, upper-case hex, extension keys. */
    "rangefetch-manifest 1\n"
    "x-origin https://example.com/a\n"
    "pieces 1\n"
    "content-xxh128 " H0 "\n"
    "piece-size 1048576\n"
    "x-\xc3\xa9t\xc3\xa9\n"
    "length 1\n"
    "p 0123456789ABCDEF0123456789ABCDEF\n"
    "end\n",
    /* Empty content: no piece lines. */
    "rangefetch-manifest 1\n"
    "length 0\n"
    "piece-size 1024\n"
    "pieces 0\n"
    "content-xxh128 " H0 "\n"
    "end\n",
    /* Largest piece size, one piece. */
    "rangefetch-manifest 1\n"
    "length 1073741824\n"
    "piece-size 1073741824\n"
    "pieces 1\n"
    "content-xxh128 " H0 "\n"
    "p " H0 "\n"
    "end\n",
    /* SHA-256 pieces: piece-hash anywhere in the header, upper-case hex. */
    "rangefetch-manifest 1\n"
    "length 1\n"
    "content-sha256 " SHA "\n"
    "piece-size 1024\n"
    "pieces 1\n"
    "content-xxh128 " H0 "\n"
    "x-origin https://example.com/a\n"
    "piece-hash sha256\n"
    "p BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD\n"
    "end\n",
    /* SHA-256 pieces, empty content. */
    "rangefetch-manifest 1\n"
    "piece-hash sha256\n"
    "length 0\n"
    "piece-size 1024\n"
    "pieces 0\n"
    "content-xxh128 " H0 "\n"
    "content-sha256 " SE "\n"
    "end\n",
  };
  rf_manifest *m = NULL;
  char err[256];
  size_t i;

  for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    cr_assert_eq(parse_str(ok[i], err, sizeof(err), &m), 0, "%zu: %s", i, err);
    rf_manifest_free(m);
  }
  ASSERT_NO_LEAKS();
}

/* The same manifest with "\r\n" line ends, all or some. */
Test(manifest, parse_crlf)
{
  char crlf[sizeof(good) * 2], err[256];
  rf_manifest *a = NULL, *b = NULL;
  size_t i, n = 0, lines = 0;

  for (i = 0; good[i] != '\0'; i++) {
    if (good[i] == '\n' && lines++ % 2 == 0)
      crlf[n++] = '\r';
    crlf[n++] = good[i];
  }
  crlf[n] = '\0';
  cr_assert_eq(parse_str(good, err, sizeof(err), &a), 0);
  cr_assert_eq(parse_str(crlf, err, sizeof(err), &b), 0, "%s", err);
  assert_same(a, b);
  rf_manifest_free(b);
  n = 0;
  for (i = 0; good[i] != '\0'; i++) {
    if (good[i] == '\n')
      crlf[n++] = '\r';
    crlf[n++] = good[i];
  }
  crlf[n] = '\0';
  cr_assert_eq(parse_str(crlf, err, sizeof(err), &b), 0, "%s", err);
  assert_same(a, b);
  rf_manifest_free(a);
  rf_manifest_free(b);
  ASSERT_NO_LEAKS();
}

/* Every proper prefix fails, naming a line; only the whole text parses. */
Test(manifest, parse_truncated_everywhere)
{
  char crlf[sizeof(good) * 2], crlf_sha[sizeof(good_sha) * 2], err[256];
  const char *texts[4] = { good, crlf, good_sha, crlf_sha };
  rf_manifest *m = NULL;
  size_t i, t, n = 0, len;

  for (i = 0; good[i] != '\0'; i++) {
    if (good[i] == '\n')
      crlf[n++] = '\r';
    crlf[n++] = good[i];
  }
  crlf[n] = '\0';
  n = 0;
  for (i = 0; good_sha[i] != '\0'; i++) {
    if (good_sha[i] == '\n')
      crlf_sha[n++] = '\r';
    crlf_sha[n++] = good_sha[i];
  }
  crlf_sha[n] = '\0';
  for (t = 0; t < 4; t++) {
    len = strlen(texts[t]);
    for (i = 0; i < len; i++) {
      int rc = rf_manifest_parse(&m, texts[t], i, err, sizeof(err));

      cr_assert_eq(rc, RF_EINVAL, "prefix of %zu bytes parsed", i);
      cr_assert_null(m);
      cr_assert_eq(strncmp(err, "manifest line ", 14), 0, "%s", err);
    }
    cr_assert_eq(rf_manifest_parse(&m, texts[t], len, err, sizeof(err)), 0);
    rf_manifest_free(m);
  }
  /* At a line boundary the message says what is missing. */
  len = (size_t)(strstr(good, "p " H1) - good);
  cr_assert_eq(rf_manifest_parse(&m, good, len, err, sizeof(err)), RF_EINVAL);
  cr_assert_str_eq(err, "manifest line 9: missing 'end' line (truncated?)");
  cr_assert_eq(rf_manifest_parse(&m, good, len + 5, err, sizeof(err)),
               RF_EINVAL);
  cr_assert_str_eq(err, "manifest line 9: no newline at the end of the line "
                        "(truncated?)");
  ASSERT_NO_LEAKS();
}

typedef struct bad_case {
  const char *text;
  int rc;
  const char *msg; /* the whole message */
} bad_case;

#define HEAD "rangefetch-manifest 1\nlength 2500\npiece-size 1024\npieces 3\n"
#define XXH  "content-xxh128 " H1 "\n"
#define P3   "p " H0 "\np " H0 "\np " H0 "\n"
/* SHA-256 pieces: the first piece line is line 8. */
#define SHEAD                                                                  \
  "rangefetch-manifest 1\npiece-hash sha256\nlength 2500\npiece-size 1024\n"  \
  "pieces 3\n"
#define SXXH XXH "content-sha256 " SHA "\n"
#define S63  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a"
#define SNX  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ag"
#define SP3  "p " SHA "\np " SHA "\np " SHA "\n"

static const bad_case bad[] = {
  { "", RF_EINVAL, "manifest line 1: empty text, not a rangefetch manifest" },
  { "hello\n", RF_EINVAL,
    "manifest line 1: not a rangefetch manifest (the first line must be "
    "'rangefetch-manifest 1')" },
  { "rangefetch-manifest 2\n"
    "length 0\n",
    RF_EINVAL,
    "manifest line 1: unsupported version '2' (this build reads version 1)" },
  { "rangefetch-manifest 01\n", RF_EINVAL,
    "manifest line 1: unsupported version '01' (this build reads version "
    "1)" },
  { "rangefetch-manifest 1 \n", RF_EINVAL,
    "manifest line 1: unsupported version '1 ' (this build reads version "
    "1)" },
  /* Bad hex. */
  { HEAD "content-xxh128 0123456789abcdef0123456789abcdeg\n" P3 "end\n",
    RF_EINVAL,
    "manifest line 5: bad hex in content-xxh128 (expected 32 hex "
    "digits)" },
  { HEAD "content-xxh128 " H0 "0\n" P3 "end\n", RF_EINVAL,
    "manifest line 5: bad hex in content-xxh128 (expected 32 hex digits)" },
  { HEAD XXH "content-sha256 " H0 "\n" P3 "end\n", RF_EINVAL,
    "manifest line 6: bad hex in content-sha256 (expected 64 hex digits)" },
  { HEAD XXH "p " H0 "\np 0123456789abcdef 0123456789abcde\np " H0 "\nend\n",
    RF_EINVAL,
    "manifest line 7: bad hex in piece 1 (expected 'p' and 32 hex "
    "digits)" },
  { HEAD XXH "p  " H0 "\n"
             "end\n",
    RF_EINVAL,
    "manifest line 6: bad hex in piece 0 (expected 'p' and 32 hex "
    "digits)" },
  /* Wrong counts. */
  { HEAD XXH "p " H0 "\np " H0 "\nend\n", RF_EINVAL,
    "manifest line 8: 'end' after 2 piece lines, expected 3" },
  { HEAD XXH P3 "p " H0 "\nend\n", RF_EINVAL,
    "manifest line 9: more piece lines than pieces (3)" },
  { HEAD XXH "end\n", RF_EINVAL,
    "manifest line 6: 'end' after 0 piece lines, expected 3" },
  { "rangefetch-manifest 1\nlength 2500\npiece-size 1024\npieces 2\n" XXH
    "p " H0 "\np " H0 "\nend\n",
    RF_EINVAL,
    "manifest line 4: pieces 2 does not match length 2500 and piece-size "
    "1024 (expected 3)" },
  { "rangefetch-manifest 1\nlength 0\npiece-size 1024\npieces 1\n" XXH "p " H0
    "\nend\n",
    RF_EINVAL,
    "manifest line 4: pieces 1 does not match length 0 and piece-size 1024 "
    "(expected 0)" },
  /* Oversized. */
  { "rangefetch-manifest 1\nlength 4611686018427387905\n", RF_ETOOBIG,
    "manifest line 2: length 4611686018427387905 is over the limit of 2^62" },
  { "rangefetch-manifest 1\nlength 18446744073709551616\n", RF_ETOOBIG,
    "manifest line 2: length does not fit in 64 bits" },
  { "rangefetch-manifest 1\npiece-size 1073741825\n", RF_ETOOBIG,
    "manifest line 2: piece-size 1073741825 is over the maximum of "
    "1073741824" },
  { "rangefetch-manifest 1\npiece-size 1023\n", RF_EINVAL,
    "manifest line 2: piece-size 1023 is below the minimum of 1024" },
  { "rangefetch-manifest 1\npieces 1048577\n", RF_ETOOBIG,
    "manifest line 2: pieces 1048577 is over the limit of 1048576" },
  /* Duplicates, unknown and malformed header lines. */
  { HEAD "length 2500\n", RF_EINVAL,
    "manifest line 5: duplicate key 'length' (first on line 2)" },
  { HEAD XXH "name a\nname b\n", RF_EINVAL,
    "manifest line 7: duplicate key 'name' (first on line 6)" },
  { HEAD "colour blue\n", RF_EINVAL,
    "manifest line 5: unknown key 'colour' (extension keys start with "
    "'x-')" },
  { HEAD "Length 1\n", RF_EINVAL,
    "manifest line 5: unknown key 'Length' (extension keys start with "
    "'x-')" },
  { HEAD "\n", RF_EINVAL, "manifest line 5: empty line" },
  { HEAD " length 1\n", RF_EINVAL,
    "manifest line 5: line starts with a space" },
  { HEAD "name\n", RF_EINVAL, "manifest line 5: missing value for name" },
  { HEAD "name \n", RF_EINVAL, "manifest line 5: missing value for name" },
  { "rangefetch-manifest 1\nlength 25OO\n", RF_EINVAL,
    "manifest line 2: bad number in length (expected decimal digits)" },
  { "rangefetch-manifest 1\nlength 0100\n", RF_EINVAL,
    "manifest line 2: bad number in length (expected decimal digits)" },
  { "rangefetch-manifest 1\nlength -1\n", RF_EINVAL,
    "manifest line 2: bad number in length (expected decimal digits)" },
  { "rangefetch-manifest 1\nlength  1\n", RF_EINVAL,
    "manifest line 2: bad number in length (expected decimal digits)" },
  { "rangefetch-manifest 1\nlength 1\npiece-size 1024\npieces 1\np " H0
    "\nend\n",
    RF_EINVAL,
    "manifest line 5: missing 'content-xxh128' before the piece list" },
  { "rangefetch-manifest 1\nlength 1\n" XXH "end\n", RF_EINVAL,
    "manifest line 4: missing 'piece-size' before the piece list" },
  /* Structure. */
  { HEAD XXH "p " H0 "\nx-late 1\n", RF_EINVAL,
    "manifest line 7: expected 'p HASH' or 'end'" },
  { HEAD XXH P3 "x-late 1\n", RF_EINVAL, "manifest line 9: expected 'end'" },
  { HEAD XXH P3 "end\n\n", RF_EINVAL, "manifest line 10: text after 'end'" },
  { HEAD XXH P3 "end\nend\n", RF_EINVAL, "manifest line 10: text after 'end'" },
  { HEAD XXH P3 "end", RF_EINVAL,
    "manifest line 9: no newline at the end of the line (truncated?)" },
  { HEAD XXH P3 "end\r", RF_EINVAL,
    "manifest line 9: no newline at the end of the line (truncated?)" },
  { HEAD XXH P3 "end \n", RF_EINVAL, "manifest line 9: expected 'end'" },
  { HEAD XXH P3, RF_EINVAL,
    "manifest line 9: missing 'end' line (truncated?)" },
  { HEAD "name a\rb\n", RF_EINVAL,
    "manifest line 5: control character 0x0d at column 7" },
  { HEAD "name a\tb\n", RF_EINVAL,
    "manifest line 5: control character 0x09 at column 7" },
  /* SHA-256 pieces. */
  { SHEAD SXXH "p " S63 "\n" SP3 "end\n", RF_EINVAL,
    "manifest line 8: bad hex in piece 0 (expected 'p' and 64 hex digits)" },
  { SHEAD SXXH "p " SHA "\np " SHA "0\np " SHA "\nend\n", RF_EINVAL,
    "manifest line 9: bad hex in piece 1 (expected 'p' and 64 hex digits)" },
  { SHEAD SXXH "p " SHA "\np " SHA "\np " SNX "\nend\n", RF_EINVAL,
    "manifest line 10: bad hex in piece 2 (expected 'p' and 64 hex "
    "digits)" },
  { SHEAD SXXH "p  " S63 "\n" SP3 "end\n", RF_EINVAL,
    "manifest line 8: bad hex in piece 0 (expected 'p' and 64 hex digits)" },
  { SHEAD SXXH P3 "end\n", RF_EINVAL,
    "manifest line 8: bad hex in piece 0 (expected 'p' and 64 hex digits; "
    "32 digits is an xxh128 hash, but piece-hash is sha256)" },
  { HEAD XXH SP3 "end\n", RF_EINVAL,
    "manifest line 6: bad hex in piece 0 (expected 'p' and 32 hex digits; "
    "64 digits need the line 'piece-hash sha256')" },
  { HEAD XXH "p " SNX "\n", RF_EINVAL,
    "manifest line 6: bad hex in piece 0 (expected 'p' and 32 hex "
    "digits)" },
  { SHEAD XXH SP3 "end\n", RF_EINVAL,
    "manifest line 7: missing 'content-sha256' before the piece list "
    "(required with piece-hash sha256)" },
  { "rangefetch-manifest 1\nlength 0\npiece-size 1024\npieces 0\n" XXH
    "piece-hash sha256\nend\n",
    RF_EINVAL,
    "manifest line 7: missing 'content-sha256' before the piece list "
    "(required with piece-hash sha256)" },
  { SHEAD "end\n", RF_EINVAL,
    "manifest line 6: missing 'content-xxh128' before the piece list" },
  { "rangefetch-manifest 1\npiece-hash md5\n", RF_EINVAL,
    "manifest line 2: unknown piece-hash 'md5' (expected 'xxh128' or "
    "'sha256')" },
  { "rangefetch-manifest 1\npiece-hash SHA256\n", RF_EINVAL,
    "manifest line 2: unknown piece-hash 'SHA256' (expected 'xxh128' or "
    "'sha256')" },
  { "rangefetch-manifest 1\npiece-hash sha256 \n", RF_EINVAL,
    "manifest line 2: unknown piece-hash 'sha256 ' (expected 'xxh128' or "
    "'sha256')" },
  { "rangefetch-manifest 1\npiece-hash "
    "sha256sha256sha256sha256sha256sha256sha256sha256\n",
    RF_EINVAL,
    "manifest line 2: unknown piece-hash "
    "'sha256sha256sha256sha256sha256sha256sha2' (expected 'xxh128' or "
    "'sha256')" },
  { "rangefetch-manifest 1\npiece-hash\n", RF_EINVAL,
    "manifest line 2: missing value for piece-hash" },
  { "rangefetch-manifest 1\npiece-hash sha256\nlength 1\n"
    "piece-hash xxh128\n",
    RF_EINVAL,
    "manifest line 4: duplicate key 'piece-hash' (first on line 2)" },
};

Test(manifest, parse_rejections)
{
  rf_manifest *m = NULL;
  char err[256];
  size_t i;

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int rc = parse_str(bad[i].text, err, sizeof(err), &m);

    cr_expect_eq(rc, bad[i].rc, "case %zu: rc %d (%s)", i, rc, err);
    cr_expect_null(m, "case %zu", i);
    cr_expect_str_eq(err, bad[i].msg, "case %zu", i);
    rf_manifest_free(m);
    m = NULL;
  }
  ASSERT_NO_LEAKS();
}

Test(manifest, parse_nul_and_long_lines)
{
  char text[8192], err[256];
  rf_manifest *m = NULL;
  size_t n;

  n = (size_t)snprintf(text, sizeof(text), HEAD "name a");
  text[n++] = '\0';
  text[n++] = 'b';
  text[n++] = '\n';
  cr_assert_eq(rf_manifest_parse(&m, text, n, err, sizeof(err)), RF_EINVAL);
  cr_assert_str_eq(err, "manifest line 5: control character 0x00 at column "
                        "7");

  n = (size_t)snprintf(text, sizeof(text), HEAD "name ");
  memset(text + n, 'a', 4092);
  n += 4092;
  text[n++] = '\n';
  cr_assert_eq(rf_manifest_parse(&m, text, n, err, sizeof(err)), RF_EINVAL);
  cr_assert_str_eq(err, "manifest line 5: line longer than 4096 bytes");
  ASSERT_NO_LEAKS();
}

/* A small err buffer gets a truncated message; NULL err is fine. */
Test(manifest, parse_err_buffer)
{
  rf_manifest *m = NULL;
  char err[12];

  cr_assert_eq(parse_str("x\n", err, sizeof(err), &m), RF_EINVAL);
  cr_assert_str_eq(err, "manifest li");
  cr_assert_eq(parse_str("x\n", NULL, 0, &m), RF_EINVAL);
  cr_assert_eq(parse_str("x\n", err, 0, &m), RF_EINVAL);
  cr_assert_eq(rf_manifest_parse(NULL, good, strlen(good), NULL, 0), RF_EINVAL);
  ASSERT_NO_LEAKS();
}

/* Random damage never crashes and never passes without a message. */
Test(manifest, parse_mutations)
{
  size_t len, i, k;
  char *text = malloc(sizeof(good_sha));
  const char *orig;
  char err[256];
  uint64_t x = 42;

  cr_assert_not_null(text);
  for (i = 0; i < 40000; i++) {
    orig = i % 2 == 0 ? good : good_sha;
    len = strlen(orig);
    memcpy(text, orig, len);
    for (k = 0; k < 1 + i % 3; k++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      text[x % len] = (char)(x >> 40);
    }
    {
      rf_manifest *m = NULL;
      int rc = rf_manifest_parse(&m, text, len, err, sizeof(err));

      if (rc == 0) {
        rf_manifest_free(m);
      } else {
        cr_assert_null(m);
        cr_assert_eq(strncmp(err, "manifest line ", 14), 0, "%s", err);
      }
    }
  }
  free(text);
  ASSERT_NO_LEAKS();
}

/* ------------------------------------------------------------------ CLI */

static int run(const char *cmd)
{
  int st = system(cmd);

  cr_assert(WIFEXITED(st), "%s", cmd);
  return WEXITSTATUS(st);
}

Test(manifest, cli)
{
  const char *bin = clipath();
  const char *file = path_in("c.bin");
  unsigned char *data;
  char cmd[1024], line[512];
  rf_manifest *m = NULL;
  char err[256];
  FILE *f;

  data = make_data(3 * 4096 + 1, 9);
  write_file(file, data, 3 * 4096 + 1);
  snprintf(cmd, sizeof(cmd), "'%s' manifest '%s' --piece-size 4K > %s/out", bin,
           file, dir);
  cr_assert_eq(run(cmd), 0);
  cr_assert_eq(rf_manifest_load(&m, path_in("c.bin.rfm"), err, sizeof(err)), 0,
               "%s", err);
  cr_assert_eq(rf_manifest_pieces(m), 4);
  rf_manifest_free(m);
  f = fopen(path_in("out"), "r");
  cr_assert_not_null(f);
  cr_assert_not_null(fgets(line, sizeof(line), f));
  fclose(f);
  cr_assert_eq(strncmp(line, "wrote '", 7), 0, "%s", line);
  cr_assert_not_null(strstr(line, ".rfm': 4 pieces of 4.0 KiB, xxh128 "), "%s",
                     line);

  snprintf(cmd, sizeof(cmd), "'%s' manifest -q --sha256 -o - '%s' > %s/o2", bin,
           file, dir);
  cr_assert_eq(run(cmd), 0);
  cr_assert_eq(rf_manifest_load(&m, path_in("o2"), err, sizeof(err)), 0, "%s",
               err);
  cr_assert_eq(rf_manifest_has_sha256(m), 1);
  rf_manifest_free(m);

  snprintf(cmd, sizeof(cmd), "'%s' manifest '%s/missing' 2>/dev/null", bin,
           dir);
  cr_assert_eq(run(cmd), 4);
  snprintf(cmd, sizeof(cmd), "'%s' manifest --hash 2>/dev/null", bin);
  cr_assert_eq(run(cmd), 2);
  snprintf(cmd, sizeof(cmd), "'%s' manifest '%s' 2>/dev/null", bin, dir);
  cr_assert_eq(run(cmd), 4);
  snprintf(cmd, sizeof(cmd), "'%s' manifest --piece-size 1 '%s' 2>/dev/null",
           bin, file);
  cr_assert_eq(run(cmd), 2);
  snprintf(cmd, sizeof(cmd), "'%s' manifest 2>/dev/null", bin);
  cr_assert_eq(run(cmd), 2);
  snprintf(cmd, sizeof(cmd), "'%s' manifest -o '%s' '%s' 2>/dev/null", bin,
           file, file);
  cr_assert_eq(run(cmd), 2);
  snprintf(cmd, sizeof(cmd),
           "'%s' manifest -o '%s/no/dir.rfm' '%s' "
           "2>/dev/null",
           bin, dir, file);
  cr_assert_eq(run(cmd), 4);
  free(data);
  ASSERT_NO_LEAKS();
}

/* --hash sha256: SHA-256 pieces, as OpenSSL computes them, and always the
 * content SHA-256; --hash xxh128 is the default; anything else is refused. */
Test(manifest, cli_hash)
{
  const size_t len = 3 * 4096 + 1;
  const char *bin = clipath();
  const char *file = path_in("h.bin");
  unsigned char *data = make_data(len, 11);
  unsigned char want[32], got[RF_MANIFEST_MAX_DIGEST];
  char cmd[1024], text[1024], want_hex[65], err[256];
  rf_manifest *m = NULL;
  uint32_t i;
  size_t k;

  write_file(file, data, len);
  snprintf(cmd, sizeof(cmd),
           "'%s' manifest --hash sha256 --piece-size 4K '%s' >'%s/out'", bin,
           file, dir);
  cr_assert_eq(run(cmd), 0);
  tf_read(path_in("out"), text, sizeof(text));
  cr_assert_not_null(strstr(text, ".rfm': 4 sha256 pieces of 4.0 KiB, xxh128 "),
                     "%s", text);
  sha256_of(data, len, want);
  for (k = 0; k < 32; k++)
    snprintf(want_hex + 2 * k, 3, "%02x", want[k]);
  cr_assert_not_null(strstr(text, want_hex), "%s", text);
  cr_assert_eq(rf_manifest_load(&m, path_in("h.bin.rfm"), err, sizeof(err)), 0,
               "%s", err);
  cr_assert_eq(rf_manifest_piece_hash_kind(m), RF_MANIFEST_HASH_SHA256);
  cr_assert_eq(rf_manifest_has_sha256(m), 1);
  cr_assert_eq(rf_manifest_pieces(m), 4);
  for (i = 0; i < 4; i++) {
    size_t off = (size_t)i * 4096, plen = len - off < 4096 ? len - off : 4096;

    sha256_of(data + off, plen, want);
    cr_assert_eq(rf_manifest_piece_digest(got, sizeof(got), m, i), 32);
    cr_assert_arr_eq(got, want, 32, "piece %u", i);
  }
  rf_manifest_free(m);
  tf_read(path_in("h.bin.rfm"), text, sizeof(text));
  cr_assert_eq(strncmp(text, "rangefetch-manifest 1\npiece-hash sha256\n",
                       strlen("rangefetch-manifest 1\npiece-hash sha256\n")),
               0, "%s", text);

  snprintf(cmd, sizeof(cmd), "'%s' manifest -q --hash xxh128 -o - '%s' >'%s/x'",
           bin, file, dir);
  cr_assert_eq(run(cmd), 0);
  cr_assert_eq(rf_manifest_load(&m, path_in("x"), err, sizeof(err)), 0, "%s",
               err);
  cr_assert_eq(rf_manifest_piece_hash_kind(m), RF_MANIFEST_HASH_XXH128);
  cr_assert_eq(rf_manifest_has_sha256(m), 0);
  rf_manifest_free(m);

  snprintf(cmd, sizeof(cmd),
           "'%s' manifest --hash md5 '%s' >'%s/out' 2>'%s/err'", bin, file,
           dir, dir);
  cr_assert_eq(run(cmd), 2);
  tf_read(path_in("err"), text, sizeof(text));
  cr_assert_not_null(strstr(text, "invalid value 'md5' for --hash: expected "
                                  "xxh128 or sha256"),
                     "%s", text);
  snprintf(cmd, sizeof(cmd), "'%s' manifest --hash=SHA256 '%s' 2>/dev/null",
           bin, file);
  cr_assert_eq(run(cmd), 2);
  free(data);
  ASSERT_NO_LEAKS();
}
