/* The resume journal: round trip, reopen, torn tails, bit flips, garbage. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk/journal.h"
#include "rangefetch/rangefetch.h"
#include "support/tmpdir.h"

#define HS RF__JOURNAL_HEADER_SIZE
#define RS RF__JOURNAL_RECORD_SIZE
#define MAXP 16

static char dir[64];

static void setup(void)
{
  tmpdir_make(dir, sizeof(dir), "journal");
}

static void teardown(void)
{
  tmpdir_remove(dir);
}

TestSuite(journal, .init = setup, .fini = teardown, .timeout = 300);

static void path_of(char *buf, size_t size, const char *name)
{
  snprintf(buf, size, "%s/%s", dir, name);
}

/* A deterministic, distinct hash for each (piece, version). */
static XXH128_hash_t hash_of(uint32_t piece, unsigned ver)
{
  return XXH3_128bits_withSeed(&piece, sizeof(piece), 1000u + ver);
}

static void make_meta(rf__journal_meta *m, uint64_t length, uint64_t psize)
{
  memset(m, 0, sizeof(*m));
  m->url = strdup("https://example.com/big.iso https://mirror.test/big.iso");
  m->etag = strdup("\"5f3e-abc\"");
  m->last_modified = strdup("Tue, 15 Nov 1994 08:12:31 GMT");
  m->length = length;
  m->piece_size = psize;
  m->npieces = (uint32_t)((length + psize - 1) / psize);
  m->has_manifest = 1;
  m->manifest_digest = XXH3_128bits("manifest", 8);
  cr_assert(m->url && m->etag && m->last_modified);
}

static void assert_meta_eq(const rf__journal_meta *a,
                           const rf__journal_meta *b)
{
  cr_assert_str_eq(a->url, b->url);
  cr_assert_str_eq(a->etag, b->etag);
  cr_assert_str_eq(a->last_modified, b->last_modified);
  cr_assert_eq(a->length, b->length);
  cr_assert_eq(a->piece_size, b->piece_size);
  cr_assert_eq(a->npieces, b->npieces);
  cr_assert_eq(a->has_manifest, b->has_manifest);
  if (a->has_manifest)
    cr_assert(XXH128_isEqual(a->manifest_digest, b->manifest_digest));
}

/* One appended record: 'P' piece/ver, or 'C' checkpoint. */
typedef struct op {
  char type;
  uint32_t piece;
  unsigned ver;
} op;

static void write_ops(rf__journal *j, const op *ops, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++) {
    if (ops[i].type == 'C')
      cr_assert_eq(rf__journal_checkpoint(j), 0);
    else
      cr_assert_eq(rf__journal_piece(j, ops[i].piece,
                                     hash_of(ops[i].piece, ops[i].ver)),
                   0);
  }
}

/* What a load of the first k records must give. */
static void model(const op *ops, size_t k, uint32_t np, uint8_t *claimed,
                  XXH128_hash_t *hashes)
{
  size_t last[MAXP], ck = 0, i;
  uint32_t p;

  cr_assert_leq(np, MAXP);
  memset(last, 0, sizeof(last));
  for (i = 0; i < k; i++) {
    if (ops[i].type == 'C') {
      ck = i + 1;
    } else {
      last[ops[i].piece] = i + 1;
      hashes[ops[i].piece] = hash_of(ops[i].piece, ops[i].ver);
    }
  }
  for (p = 0; p < np; p++) {
    claimed[p] = last[p] == 0 ? 0 : last[p] < ck ? 2 : 1;
    if (claimed[p] == 0)
      hashes[p] = (XXH128_hash_t){ 0, 0 };
  }
}

/* st must be exactly the replay of the first k of ops. */
static void assert_state_is(const rf__journal_state *st, const op *ops,
                            size_t k, uint32_t np, const char *what)
{
  uint8_t claimed[MAXP];
  XXH128_hash_t hashes[MAXP];
  uint32_t p;

  model(ops, k, np, claimed, hashes);
  cr_assert_eq(st->records, k, "%s: %u records, want %zu", what, st->records,
               k);
  cr_assert_eq(st->next_seq, k, "%s", what);
  cr_assert_eq(st->valid_end, HS + k * RS, "%s", what);
  cr_assert_eq(st->npieces, np, "%s", what);
  for (p = 0; p < np; p++) {
    cr_assert_eq(st->claimed[p], claimed[p], "%s: piece %u claimed %u want %u",
                 what, p, st->claimed[p], claimed[p]);
    if (claimed[p] != 0)
      cr_assert(XXH128_isEqual(st->hashes[p], hashes[p]),
                "%s: piece %u has a hash that was not its last one", what, p);
  }
}

static size_t read_file(const char *path, unsigned char *buf, size_t cap)
{
  FILE *f = fopen(path, "rb");
  size_t n;

  cr_assert_not_null(f, "%s", path);
  n = fread(buf, 1, cap, f);
  fclose(f);
  return n;
}

static void write_file(const char *path, const unsigned char *buf, size_t n)
{
  FILE *f = fopen(path, "wb");

  cr_assert_not_null(f, "%s", path);
  cr_assert_eq(fwrite(buf, 1, n, f), n);
  cr_assert_eq(fclose(f), 0);
}

static void append_file(const char *path, const unsigned char *buf, size_t n)
{
  FILE *f = fopen(path, "ab");

  cr_assert_not_null(f, "%s", path);
  cr_assert_eq(fwrite(buf, 1, n, f), n);
  cr_assert_eq(fclose(f), 0);
}

static uint64_t file_size(const char *path)
{
  struct stat sb;

  cr_assert_eq(stat(path, &sb), 0, "%s", path);
  return (uint64_t)sb.st_size;
}

/* Create path with meta and ops, closed. */
static uint64_t build(const char *path, const rf__journal_meta *m,
                      const op *ops, size_t n)
{
  rf__journal j;
  uint64_t salt;

  cr_assert_eq(rf__journal_create(&j, path, m), 0);
  cr_assert_geq(j.fd, 0);
  cr_assert_eq(j.end, HS);
  cr_assert_eq(j.next_seq, 0);
  write_ops(&j, ops, n);
  cr_assert_eq(j.end, HS + n * RS);
  cr_assert_eq(j.next_seq, n);
  salt = j.salt;
  rf__journal_close(&j);
  cr_assert_eq(j.fd, -1);
  rf__journal_close(&j); /* twice is fine */
  return salt;
}

static const op round_ops[] = {
  { 'P', 0, 0 }, { 'P', 1, 0 }, { 'P', 2, 0 }, { 'C', 0, 0 },
  { 'P', 3, 0 }, { 'P', 1, 1 }, { 'P', 4, 0 }, { 'C', 0, 0 },
  { 'P', 5, 0 }, { 'P', 5, 1 }, { 'P', 6, 0 },
};
#define NROUND (sizeof(round_ops) / sizeof(round_ops[0]))

Test(journal, round_trip)
{
  rf__journal_meta m;
  rf__journal_state st;
  char path[128], err[128];
  uint64_t salt;
  uint32_t p;

  make_meta(&m, 9 * 1048576 + 524288, 1048576);
  cr_assert_eq(m.npieces, 10);
  path_of(path, sizeof(path), "a.part" RF__JOURNAL_SUFFIX);
  salt = build(path, &m, round_ops, NROUND);
  cr_assert_eq(file_size(path), HS + NROUND * RS);

  cr_assert_eq(rf__journal_load(path, &st, err, sizeof(err)), 0, "%s", err);
  assert_meta_eq(&st.meta, &m);
  cr_assert_eq(st.salt, salt);
  cr_assert_eq(st.torn, 0);
  assert_state_is(&st, round_ops, NROUND, 10, "round trip");
  /* Spelled out: the model says the same. */
  cr_assert_eq(st.claimed[0], 2);
  cr_assert_eq(st.claimed[1], 2);
  cr_assert(XXH128_isEqual(st.hashes[1], hash_of(1, 1)), "last one wins");
  cr_assert_eq(st.claimed[4], 2);
  cr_assert_eq(st.claimed[5], 1);
  cr_assert(XXH128_isEqual(st.hashes[5], hash_of(5, 1)), "last one wins");
  cr_assert_eq(st.claimed[6], 1);
  for (p = 7; p < 10; p++)
    cr_assert_eq(st.claimed[p], 0);
  rf__journal_state_free(&st);
  cr_assert_null(st.claimed);
  rf__journal_state_free(&st); /* twice is fine */
  rf__journal_meta_free(&m);
}

Test(journal, empty_and_zero_length)
{
  rf__journal_meta m;
  rf__journal_state st;
  char path[128], err[128];
  rf__journal j;

  /* Header only: nothing claimed, nothing torn. */
  make_meta(&m, 3000, 1024);
  path_of(path, sizeof(path), "e.rfj");
  build(path, &m, NULL, 0);
  cr_assert_eq(rf__journal_load(path, &st, err, sizeof(err)), 0, "%s", err);
  assert_state_is(&st, NULL, 0, 3, "empty");
  cr_assert_eq(st.torn, 0);
  rf__journal_state_free(&st);
  rf__journal_meta_free(&m);

  /* A zero-length download: no pieces, no manifest, empty validators. */
  make_meta(&m, 0, 1024);
  m.has_manifest = 0;
  m.etag[0] = '\0';
  m.last_modified[0] = '\0';
  cr_assert_eq(m.npieces, 0);
  path_of(path, sizeof(path), "z.rfj");
  cr_assert_eq(rf__journal_create(&j, path, &m), 0);
  cr_assert_eq(rf__journal_checkpoint(&j), 0);
  rf__journal_close(&j);
  cr_assert_eq(rf__journal_load(path, &st, err, sizeof(err)), 0, "%s", err);
  assert_meta_eq(&st.meta, &m);
  cr_assert_str_eq(st.meta.etag, "");
  cr_assert_eq(st.records, 1);
  rf__journal_state_free(&st);
  rf__journal_meta_free(&m);
}

Test(journal, reopen_continues)
{
  static const op more[] = { { 'P', 7, 0 }, { 'P', 6, 2 }, { 'C', 0, 0 },
                             { 'P', 8, 0 } };
  op all[NROUND + 4];
  rf__journal_meta m;
  rf__journal_state st;
  rf__journal j;
  char path[128], err[128];
  uint64_t salt;

  make_meta(&m, 10 * 1048576, 1048576);
  path_of(path, sizeof(path), "r.rfj");
  salt = build(path, &m, round_ops, NROUND);
  cr_assert_eq(rf__journal_load(path, &st, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(rf__journal_reopen(&j, path, &st), 0);
  cr_assert_eq(j.salt, salt);
  cr_assert_eq(j.next_seq, NROUND);
  cr_assert_eq(j.end, HS + NROUND * RS);
  rf__journal_state_free(&st);
  write_ops(&j, more, 4);
  rf__journal_close(&j);

  memcpy(all, round_ops, sizeof(round_ops));
  memcpy(all + NROUND, more, sizeof(more));
  cr_assert_eq(rf__journal_load(path, &st, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(st.salt, salt);
  cr_assert_eq(st.torn, 0);
  assert_state_is(&st, all, NROUND + 4, 10, "after reopen");
  cr_assert_eq(st.claimed[7], 2);
  cr_assert_eq(st.claimed[8], 1);
  cr_assert(XXH128_isEqual(st.hashes[6], hash_of(6, 2)));
  rf__journal_state_free(&st);
  rf__journal_meta_free(&m);
}

Test(journal, salts_differ)
{
  rf__journal_meta m;
  char a[128], b[128];

  make_meta(&m, 4096, 1024);
  path_of(a, sizeof(a), "s1.rfj");
  path_of(b, sizeof(b), "s2.rfj");
  cr_assert_neq(build(a, &m, NULL, 0), build(b, &m, NULL, 0));
  rf__journal_meta_free(&m);
}

/* ~20 records over 8 pieces, checkpoints in between. */
static const op trunc_ops[] = {
  { 'P', 0, 0 }, { 'P', 1, 0 }, { 'P', 2, 0 }, { 'C', 0, 0 }, { 'P', 3, 0 },
  { 'P', 1, 1 }, { 'P', 4, 0 }, { 'C', 0, 0 }, { 'P', 5, 0 }, { 'P', 2, 1 },
  { 'P', 6, 0 }, { 'C', 0, 0 }, { 'P', 7, 0 }, { 'P', 0, 1 }, { 'P', 3, 1 },
  { 'C', 0, 0 }, { 'P', 5, 1 }, { 'P', 6, 1 }, { 'P', 6, 2 }, { 'C', 0, 0 },
  { 'P', 7, 1 },
};
#define NTRUNC (sizeof(trunc_ops) / sizeof(trunc_ops[0]))

Test(journal, truncated_at_every_byte)
{
  static unsigned char full[HS + NTRUNC * RS + 1];
  rf__journal_meta m;
  rf__journal_state st;
  char path[128], cut[128], err[128], what[64];
  size_t n, len, k;
  int rc;

  make_meta(&m, 8 * 65536, 65536);
  path_of(path, sizeof(path), "t.rfj");
  path_of(cut, sizeof(cut), "cut.rfj");
  build(path, &m, trunc_ops, NTRUNC);
  n = read_file(path, full, sizeof(full));
  cr_assert_eq(n, HS + NTRUNC * RS);

  for (len = 0; len <= n; len++) {
    write_file(cut, full, len);
    err[0] = '\0';
    rc = rf__journal_load(cut, &st, err, sizeof(err));
    if (len < HS) {
      cr_assert_eq(rc, RF_EPROTO, "cut at %zu: rc %d", len, rc);
      cr_assert_neq(err[0], '\0', "cut at %zu: no message", len);
      cr_assert_null(st.claimed);
      continue;
    }
    cr_assert_eq(rc, 0, "cut at %zu: %s", len, err);
    k = (len - HS) / RS;
    snprintf(what, sizeof(what), "cut at %zu", len);
    assert_state_is(&st, trunc_ops, k, 8, what);
    cr_assert_eq(st.torn, (len - HS) % RS != 0, "%s", what);
    if (len == HS)
      assert_meta_eq(&st.meta, &m);
    rf__journal_state_free(&st);
  }
  rf__journal_meta_free(&m);
}

static const op flip_ops[] = {
  { 'P', 0, 0 }, { 'P', 1, 0 }, { 'C', 0, 0 },
  { 'P', 2, 0 }, { 'P', 1, 1 }, { 'C', 0, 0 },
};
#define NFLIP (sizeof(flip_ops) / sizeof(flip_ops[0]))

/* Every single-bit flip: the header is refused, a record ends the log. */
Test(journal, bit_flips)
{
  rf__journal_meta m;
  rf__journal_state st;
  char path[128], err[128], what[64];
  unsigned char orig, bad;
  uint64_t size, off;
  int fd, bit, rc;

  make_meta(&m, 4 * 4096, 4096);
  path_of(path, sizeof(path), "f.rfj");
  build(path, &m, flip_ops, NFLIP);
  size = file_size(path);
  cr_assert_eq(size, HS + NFLIP * RS);
  fd = open(path, O_RDWR);
  cr_assert_geq(fd, 0);
  for (off = 0; off < size; off++) {
    cr_assert_eq(pread(fd, &orig, 1, (off_t)off), 1);
    for (bit = 0; bit < 8; bit++) {
      bad = (unsigned char)(orig ^ (1u << bit));
      cr_assert_eq(pwrite(fd, &bad, 1, (off_t)off), 1);
      err[0] = '\0';
      rc = rf__journal_load(path, &st, err, sizeof(err));
      snprintf(what, sizeof(what), "bit %d of byte %llu", bit,
               (unsigned long long)off);
      if (off < HS) {
        cr_assert_eq(rc, RF_EPROTO, "%s: rc %d", what, rc);
        cr_assert_neq(err[0], '\0', "%s: no message", what);
        cr_assert_null(st.claimed);
      } else {
        cr_assert_eq(rc, 0, "%s: %s", what, err);
        assert_state_is(&st, flip_ops, (size_t)(off - HS) / RS, 4, what);
        cr_assert_eq(st.torn, 1, "%s", what);
        rf__journal_state_free(&st);
      }
    }
    cr_assert_eq(pwrite(fd, &orig, 1, (off_t)off), 1);
  }
  /* Whole bytes too: XOR 0xFF. */
  for (off = HS; off < size; off++) {
    cr_assert_eq(pread(fd, &orig, 1, (off_t)off), 1);
    bad = (unsigned char)~orig;
    cr_assert_eq(pwrite(fd, &bad, 1, (off_t)off), 1);
    cr_assert_eq(rf__journal_load(path, &st, err, sizeof(err)), 0);
    snprintf(what, sizeof(what), "byte %llu", (unsigned long long)off);
    assert_state_is(&st, flip_ops, (size_t)(off - HS) / RS, 4, what);
    rf__journal_state_free(&st);
    cr_assert_eq(pwrite(fd, &orig, 1, (off_t)off), 1);
  }
  close(fd);
  /* Intact again. */
  cr_assert_eq(rf__journal_load(path, &st, err, sizeof(err)), 0);
  assert_state_is(&st, flip_ops, NFLIP, 4, "restored");
  cr_assert_eq(st.torn, 0);
  rf__journal_state_free(&st);
  rf__journal_meta_free(&m);
}

static const op base_ops[] = {
  { 'P', 0, 0 }, { 'P', 1, 0 }, { 'C', 0, 0 }, { 'P', 3, 0 }, { 'P', 0, 1 },
};
#define NBASE (sizeof(base_ops) / sizeof(base_ops[0]))

/* Append tail to a copy of base, check it is ignored and cut by reopen. */
static void check_tail_ignored(const unsigned char *base, size_t nbase,
                               const unsigned char *tail, size_t ntail,
                               const char *what)
{
  rf__journal_state st;
  rf__journal j;
  char path[128], err[128];
  XXH128_hash_t h = hash_of(2, 9);

  path_of(path, sizeof(path), "g.rfj");
  write_file(path, base, nbase);
  append_file(path, tail, ntail);
  cr_assert_eq(rf__journal_load(path, &st, err, sizeof(err)), 0, "%s: %s",
               what, err);
  assert_state_is(&st, base_ops, NBASE, 4, what);
  cr_assert_eq(st.torn, 1, "%s: tail not noticed", what);
  cr_assert_eq(rf__journal_reopen(&j, path, &st), 0, "%s", what);
  rf__journal_state_free(&st);
  cr_assert_eq(file_size(path), nbase, "%s: reopen did not truncate", what);
  cr_assert_eq(rf__journal_piece(&j, 2, h), 0);
  rf__journal_close(&j);
  cr_assert_eq(rf__journal_load(path, &st, err, sizeof(err)), 0, "%s", what);
  cr_assert_eq(st.torn, 0, "%s", what);
  cr_assert_eq(st.records, NBASE + 1, "%s", what);
  cr_assert_eq(st.claimed[2], 1, "%s", what);
  cr_assert(XXH128_isEqual(st.hashes[2], h), "%s", what);
  rf__journal_state_free(&st);
}

Test(journal, garbage_tail)
{
  static unsigned char base[HS + NBASE * RS], other[HS + (NBASE + 1) * RS];
  unsigned char rnd[100], rec[RS];
  rf__journal_meta m;
  rf__journal_state st;
  char path[128], opath[128], err[128];
  XXH128_hash_t h = hash_of(2, 5), zero = { 0, 0 };
  uint64_t x = 0x9e3779b97f4a7c15u, salt;
  op oops[NBASE + 1];
  size_t i;

  make_meta(&m, 4 * 4096, 4096);
  path_of(path, sizeof(path), "b.rfj");
  salt = build(path, &m, base_ops, NBASE);
  cr_assert_eq(read_file(path, base, sizeof(base)), sizeof(base));

  /* Positive control: a well-formed next record is accepted. */
  rf__journal_encode_record(rec, RF__JOURNAL_PIECE, NBASE, 2, h, salt);
  path_of(opath, sizeof(opath), "ok.rfj");
  write_file(opath, base, sizeof(base));
  append_file(opath, rec, RS);
  cr_assert_eq(rf__journal_load(opath, &st, err, sizeof(err)), 0);
  cr_assert_eq(st.records, NBASE + 1);
  cr_assert_eq(st.torn, 0);
  cr_assert(XXH128_isEqual(st.hashes[2], h));
  rf__journal_state_free(&st);

  /* Random bytes (xorshift, fixed seed). */
  for (i = 0; i < sizeof(rnd); i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rnd[i] = (unsigned char)x;
  }
  check_tail_ignored(base, sizeof(base), rnd, sizeof(rnd), "random");

  /* The record with the right sequence number from another journal (same
   * meta, another salt). */
  memcpy(oops, base_ops, sizeof(base_ops));
  oops[NBASE] = (op){ 'P', 2, 5 };
  path_of(opath, sizeof(opath), "other.rfj");
  cr_assert_neq(build(opath, &m, oops, NBASE + 1), salt);
  cr_assert_eq(read_file(opath, other, sizeof(other)), sizeof(other));
  check_tail_ignored(base, sizeof(base), other + HS + NBASE * RS, RS,
                     "other salt");

  /* A sequence number skipped. */
  rf__journal_encode_record(rec, RF__JOURNAL_PIECE, NBASE + 1, 2, h, salt);
  check_tail_ignored(base, sizeof(base), rec, RS, "skipped seq");
  /* A replayed record (old sequence number). */
  check_tail_ignored(base, sizeof(base), base + HS + RS, RS, "replayed");
  /* A piece index out of range. */
  rf__journal_encode_record(rec, RF__JOURNAL_PIECE, NBASE, 4, h, salt);
  check_tail_ignored(base, sizeof(base), rec, RS, "piece >= npieces");
  /* An unknown type. */
  rf__journal_encode_record(rec, 3, NBASE, 2, h, salt);
  check_tail_ignored(base, sizeof(base), rec, RS, "unknown type");
  /* A CHECKPOINT with a payload. */
  rf__journal_encode_record(rec, RF__JOURNAL_CHECKPOINT, NBASE, 1, zero,
                            salt);
  check_tail_ignored(base, sizeof(base), rec, RS, "checkpoint with piece");
  /* A bad checksum. */
  rf__journal_encode_record(rec, RF__JOURNAL_PIECE, NBASE, 2, h, salt);
  rec[RS - 1] ^= 0x40;
  check_tail_ignored(base, sizeof(base), rec, RS, "bad checksum");
  /* A good record cut short. */
  rec[RS - 1] ^= 0x40;
  check_tail_ignored(base, sizeof(base), rec, RS - 1, "partial record");
  /* A good record followed by garbage: the good one counts. */
  {
    unsigned char two[RS + 10];
    memcpy(two, rec, RS);
    memset(two + RS, 0xAB, 10);
    write_file(opath, base, sizeof(base));
    append_file(opath, two, sizeof(two));
    cr_assert_eq(rf__journal_load(opath, &st, err, sizeof(err)), 0);
    cr_assert_eq(st.records, NBASE + 1);
    cr_assert_eq(st.torn, 1);
    cr_assert_eq(st.valid_end, sizeof(base) + RS);
    rf__journal_state_free(&st);
  }
  rf__journal_meta_free(&m);
}

Test(journal, header_errors)
{
  static unsigned char buf[HS + RS];
  rf__journal_meta m;
  rf__journal_state st;
  char path[128], bad[128], err[128];
  int rc;

  path_of(path, sizeof(path), "h.rfj");
  path_of(bad, sizeof(bad), "bad.rfj");
  err[0] = 'x';
  cr_assert_eq(rf__journal_load(bad, &st, err, sizeof(err)), RF_ENOENT);
  cr_assert_null(st.claimed);

  make_meta(&m, 8192, 4096);
  build(path, &m, base_ops, 1);
  cr_assert_eq(read_file(path, buf, sizeof(buf)), sizeof(buf));

  memset(buf + 8, 'x', 200);
  memcpy(buf, "GIF8", 4);
  write_file(bad, buf, sizeof(buf));
  rc = rf__journal_load(bad, &st, err, sizeof(err));
  cr_assert_eq(rc, RF_EPROTO);
  cr_assert_str_eq(err, "not a rangefetch journal");

  cr_assert_eq(read_file(path, buf, sizeof(buf)), sizeof(buf));
  buf[4] = 7;
  write_file(bad, buf, sizeof(buf));
  cr_assert_eq(rf__journal_load(bad, &st, err, sizeof(err)), RF_EPROTO);
  cr_assert_str_eq(err, "unsupported journal version 7");

  buf[4] = 1;
  buf[100] ^= 1; /* inside the URL */
  write_file(bad, buf, sizeof(buf));
  cr_assert_eq(rf__journal_load(bad, &st, err, sizeof(err)), RF_EPROTO);
  cr_assert_str_eq(err, "journal header checksum mismatch");

  buf[100] ^= 1;
  write_file(bad, buf, 100);
  cr_assert_eq(rf__journal_load(bad, &st, err, sizeof(err)), RF_EPROTO);
  cr_assert_str_eq(err, "journal header truncated (100 bytes)");

  /* Fine again; a NULL err is allowed. */
  write_file(bad, buf, sizeof(buf));
  cr_assert_eq(rf__journal_load(bad, &st, NULL, 0), 0);
  cr_assert_eq(st.records, 1);
  rf__journal_state_free(&st);

  /* reopen refuses a file that is not the loaded journal any more. */
  {
    rf__journal j;
    cr_assert_eq(rf__journal_load(path, &st, err, sizeof(err)), 0);
    build(path, &m, NULL, 0); /* recreated: new salt */
    cr_assert_eq(rf__journal_reopen(&j, path, &st), RF_EPROTO);
    cr_assert_eq(j.fd, -1);
    cr_assert_eq(rf__journal_reopen(&j, "/nonexistent/x.rfj", &st),
                 RF_ENOENT);
    cr_assert_eq(j.fd, -1);
    rf__journal_state_free(&st);
  }
  rf__journal_meta_free(&m);
}

Test(journal, create_errors)
{
  rf__journal_meta m;
  rf__journal_state st;
  rf__journal j;
  char path[128], err[128];
  size_t room;

  make_meta(&m, 8192, 4096);
  cr_assert_eq(rf__journal_create(&j, "/nonexistent/dir/x.part.rfj", &m),
               RF_ENOENT);
  cr_assert_eq(j.fd, -1);

  /* Exactly full: url + etag + last_modified = RF__JOURNAL_STRINGS_MAX. */
  path_of(path, sizeof(path), "big.rfj");
  room = RF__JOURNAL_STRINGS_MAX - strlen(m.etag) - strlen(m.last_modified);
  free(m.url);
  m.url = malloc(room + 2);
  cr_assert_not_null(m.url);
  memset(m.url, 'u', room + 1);
  m.url[room] = '\0';
  cr_assert_eq(rf__journal_create(&j, path, &m), 0);
  rf__journal_close(&j);
  cr_assert_eq(rf__journal_load(path, &st, err, sizeof(err)), 0, "%s", err);
  assert_meta_eq(&st.meta, &m);
  rf__journal_state_free(&st);
  cr_assert_eq(rf__journal_remove(path), 0);
  cr_assert_eq(access(path, F_OK), -1);
  cr_assert_eq(rf__journal_remove(path), 0, "ENOENT is not an error");

  /* One byte more: refused, and no file is made. */
  m.url[room] = 'u';
  m.url[room + 1] = '\0';
  cr_assert_eq(rf__journal_create(&j, path, &m), RF_EINVAL);
  cr_assert_eq(j.fd, -1);
  cr_assert_eq(access(path, F_OK), -1);
  m.url[room] = '\0';

  m.npieces = 3; /* 8192 / 4096 = 2 */
  cr_assert_eq(rf__journal_create(&j, path, &m), RF_EINVAL);
  m.npieces = 2;
  m.piece_size = 0;
  cr_assert_eq(rf__journal_create(&j, path, &m), RF_EINVAL);
  m.piece_size = 4096;
  free(m.etag);
  m.etag = NULL; /* same as "" */
  cr_assert_eq(rf__journal_create(&j, path, &m), 0);
  rf__journal_close(&j);
  cr_assert_eq(rf__journal_load(path, &st, err, sizeof(err)), 0, "%s", err);
  cr_assert_str_eq(st.meta.etag, "");
  rf__journal_state_free(&st);

  /* Appending to a closed journal. */
  cr_assert_eq(rf__journal_piece(&j, 0, hash_of(0, 0)), RF_EINVAL);
  rf__journal_meta_free(&m);
}

/* A write that fails half-way leaves whole records only. */
Test(journal, write_error_cuts_partial_record)
{
  rf__journal_meta m;
  rf__journal_state st;
  rf__journal j;
  struct rlimit rl;
  char path[128], err[128];
  uint64_t limit = HS + 3 * RS + 20;
  uint32_t p;

  signal(SIGXFSZ, SIG_IGN);
  make_meta(&m, 8 * 4096, 4096);
  path_of(path, sizeof(path), "nospc.rfj");
  cr_assert_eq(rf__journal_create(&j, path, &m), 0);
  cr_assert_eq(getrlimit(RLIMIT_FSIZE, &rl), 0);
  rl.rlim_cur = limit;
  cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
  for (p = 0; p < 3; p++)
    cr_assert_eq(rf__journal_piece(&j, p, hash_of(p, 0)), 0);
  cr_assert_eq(rf__journal_piece(&j, 3, hash_of(3, 0)), RF_ENOSPC);
  cr_assert_eq(file_size(path), HS + 3 * RS, "partial record left behind");
  cr_assert_eq(rf__journal_checkpoint(&j), RF_ENOSPC);
  cr_assert_eq(file_size(path), HS + 3 * RS);
  cr_assert_eq(j.next_seq, 3);

  rl.rlim_cur = rl.rlim_max;
  cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
  cr_assert_eq(rf__journal_piece(&j, 3, hash_of(3, 0)), 0);
  cr_assert_eq(rf__journal_checkpoint(&j), 0);
  rf__journal_close(&j);
  cr_assert_eq(rf__journal_load(path, &st, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(st.records, 5);
  cr_assert_eq(st.torn, 0);
  for (p = 0; p < 4; p++)
    cr_assert_eq(st.claimed[p], 2);
  rf__journal_state_free(&st);
  rf__journal_meta_free(&m);
}

/*
 * A reader following a journal being written: after every append (one
 * record, or several with checkpoints among them) rf__journal_load_more
 * gives exactly what a fresh load gives; a record half written reads as a
 * torn tail and is picked up once complete.
 */
Test(journal, load_more_follows_appends)
{
  static const size_t steps[] = { 1, 1, 2, 1, 3, 5, 1, 4, 3 };
  rf__journal_meta m;
  rf__journal_state st, fresh, late;
  rf__journal j;
  unsigned char rec[RS];
  char path[128], err[128], what[64];
  size_t done = 0, i, k;

  make_meta(&m, 8 * 4096 - 100, 4096);
  path_of(path, sizeof(path), "follow.rfj");
  build(path, &m, NULL, 0);
  cr_assert_eq(rf__journal_load(path, &st, err, sizeof(err)), 0, "%s", err);
  assert_state_is(&st, NULL, 0, 8, "header only");
  cr_assert_eq(rf__journal_load(path, &late, err, sizeof(err)), 0);
  cr_assert_eq(rf__journal_load_more(path, &st, err, sizeof(err)), 0, "%s",
               err);
  assert_state_is(&st, NULL, 0, 8, "nothing new");
  cr_assert_eq(rf__journal_load(path, &fresh, err, sizeof(err)), 0);
  cr_assert_eq(rf__journal_reopen(&j, path, &fresh), 0);
  rf__journal_state_free(&fresh);

  for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
    cr_assert_leq(done + steps[i], NTRUNC);
    write_ops(&j, trunc_ops + done, steps[i]);
    done += steps[i];
    snprintf(what, sizeof(what), "after %zu records", done);
    cr_assert_eq(rf__journal_load_more(path, &st, err, sizeof(err)), 0,
                 "%s: %s", what, err);
    cr_assert_eq(st.torn, 0, "%s", what);
    assert_state_is(&st, trunc_ops, done, 8, what);
    cr_assert_eq(rf__journal_load(path, &fresh, err, sizeof(err)), 0);
    for (k = 0; k < 8; k++)
      cr_assert_eq(st.claimed[k], fresh.claimed[k], "%s: piece %zu", what, k);
    rf__journal_state_free(&fresh);
  }
  cr_assert_eq(done, NTRUNC);

  /* A record half written, then completed. */
  rf__journal_encode_record(rec, RF__JOURNAL_PIECE, (uint32_t)NTRUNC, 4,
                            hash_of(4, 9), j.salt);
  append_file(path, rec, 20);
  cr_assert_eq(rf__journal_load_more(path, &st, err, sizeof(err)), 0);
  cr_assert_eq(st.torn, 1);
  assert_state_is(&st, trunc_ops, NTRUNC, 8, "half a record");
  append_file(path, rec + 20, RS - 20);
  cr_assert_eq(rf__journal_load_more(path, &st, err, sizeof(err)), 0);
  cr_assert_eq(st.torn, 0);
  cr_assert_eq(st.records, NTRUNC + 1);
  cr_assert_eq(st.claimed[4], 1);
  cr_assert(XXH128_isEqual(st.hashes[4], hash_of(4, 9)));
  rf__journal_close(&j);
  rf__journal_state_free(&st);

  /* A reader that last looked at the header reads it all in one call. */
  cr_assert_eq(rf__journal_load_more(path, &late, err, sizeof(err)), 0);
  cr_assert_eq(rf__journal_load(path, &fresh, err, sizeof(err)), 0);
  cr_assert_eq(late.records, NTRUNC + 1);
  cr_assert_eq(late.valid_end, fresh.valid_end);
  for (k = 0; k < 8; k++) {
    cr_assert_eq(late.claimed[k], fresh.claimed[k], "late: piece %zu", k);
    cr_assert(XXH128_isEqual(late.hashes[k], fresh.hashes[k]));
  }
  cr_assert_eq(rf__journal_load_more(path, &late, err, sizeof(err)), 0);
  cr_assert_eq(late.records, NTRUNC + 1, "nothing read twice");
  rf__journal_state_free(&fresh);
  rf__journal_state_free(&late);
  rf__journal_meta_free(&m);
}

Test(journal, load_more_detects_replacement)
{
  rf__journal_meta m;
  rf__journal_state st, zero;
  char path[128], err[128];

  memset(&zero, 0, sizeof(zero));
  make_meta(&m, 8 * 4096, 4096);
  path_of(path, sizeof(path), "repl.rfj");
  cr_assert_eq(rf__journal_load_more(path, &zero, err, sizeof(err)),
               RF_EINVAL, "a state never loaded");
  build(path, &m, trunc_ops, 6);
  cr_assert_eq(rf__journal_load(path, &st, err, sizeof(err)), 0);

  /* Recreated (a new download): another salt. */
  build(path, &m, trunc_ops, 8);
  cr_assert_eq(rf__journal_load_more(path, &st, err, sizeof(err)), RF_EPROTO);
  cr_assert_str_eq(err, "journal was replaced");
  cr_assert_eq(st.records, 6, "st left as it was");
  rf__journal_state_free(&st);

  /* Shorter than what was read. */
  cr_assert_eq(rf__journal_load(path, &st, err, sizeof(err)), 0);
  cr_assert_eq(truncate(path, (off_t)(HS + 3 * RS)), 0);
  cr_assert_eq(rf__journal_load_more(path, &st, err, sizeof(err)), RF_EPROTO);
  cr_assert_str_eq(err, "journal shrank");

  cr_assert_eq(unlink(path), 0);
  cr_assert_eq(rf__journal_load_more(path, &st, err, sizeof(err)), RF_ENOENT);
  rf__journal_state_free(&st);
  rf__journal_meta_free(&m);
}

/* A header may not make a reader allocate for more than 2^20 pieces. */
Test(journal, piece_count_limit)
{
  static unsigned char buf[HS];
  rf__journal_meta m;
  rf__journal_state st;
  rf__journal j;
  char path[128], err[128];
  XXH128_hash_t sum;
  uint64_t v;
  int i;

  make_meta(&m, (uint64_t)RF__JOURNAL_MAX_PIECES, 1);
  path_of(path, sizeof(path), "many.rfj");
  cr_assert_eq(rf__journal_create(&j, path, &m), 0, "the limit itself");
  rf__journal_close(&j);
  cr_assert_eq(rf__journal_load(path, &st, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(st.npieces, RF__JOURNAL_MAX_PIECES);
  rf__journal_state_free(&st);
  m.length++;
  m.npieces++;
  cr_assert_eq(rf__journal_create(&j, path, &m), RF_EINVAL);

  /* A header with one piece more and a good checksum. */
  cr_assert_eq(read_file(path, buf, sizeof(buf)), sizeof(buf));
  v = m.length;
  for (i = 0; i < 8; i++)
    buf[24 + i] = (unsigned char)(v >> (8 * i));
  for (i = 0; i < 4; i++)
    buf[40 + i] = (unsigned char)(m.npieces >> (8 * i));
  sum = XXH3_128bits(buf, HS - 16);
  for (i = 0; i < 8; i++) {
    buf[HS - 16 + i] = (unsigned char)(sum.low64 >> (8 * i));
    buf[HS - 8 + i] = (unsigned char)(sum.high64 >> (8 * i));
  }
  write_file(path, buf, sizeof(buf));
  cr_assert_eq(rf__journal_load(path, &st, err, sizeof(err)), RF_EPROTO);
  cr_assert_str_eq(err, "journal piece count 1048577 over the limit of "
                        "1048576");
  rf__journal_meta_free(&m);
}
