/*
 * The journal reader (rf__journal_load and rf__journal_load_more,
 * engine/disk/journal.c): a journal is a file on disk that a crash, a full
 * disk or another program may have left in any state.
 *
 * Input: a flags byte, a split byte, then the journal file.  So that the
 * fuzzer gets past the checksums, the flags may repair them before the file
 * is written:
 *   1  header checksum (XXH3-128 of bytes 0-4079, at 4080)
 *   2  the salt of every record := the header's
 *   4  the sequence numbers of the records := 0, 1, 2...
 *   8  the checksum of every record (XXH3-64 of bytes 0-39, at 40)
 * The file goes to a directory of this process (removed at exit) and is
 * loaded.  Then the incremental reader is checked against it: the header
 * and the first split/255 of the records are written and loaded, the rest
 * appended and read with rf__journal_load_more; the state must be what
 * rf__journal_load gives for the whole file.
 */
#include "fuzz.h"

#include <errno.h>
#include <unistd.h>

#include "disk/journal.h"
#include "rangefetch/rangefetch.h"

#define HDR RF__JOURNAL_HEADER_SIZE
#define REC RF__JOURNAL_RECORD_SIZE

static char g_dir[256];
static char g_path[300];

static void remove_dir(void)
{
  unlink(g_path);
  rmdir(g_dir);
}

/* The path of this process's journal file (its directory made once). */
static const char *journal_path(void)
{
  if (g_dir[0] == '\0') {
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof(g_dir), "%s/rf-fuzz-journal-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(g_dir) == NULL)
      fuzz_fail("mkdtemp %s: %s", g_dir, strerror(errno));
    snprintf(g_path, sizeof(g_path), "%s/j.part.rfj", g_dir);
    atexit(remove_dir);
  }
  return g_path;
}

static void put_le(unsigned char *p, uint64_t v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}

static void repair(unsigned char *f, size_t n, unsigned flags)
{
  if (n < HDR)
    return;
  if (flags & 1u) {
    XXH128_hash_t h = XXH3_128bits(f, HDR - 16);
    put_le(f + HDR - 16, h.low64, 8);
    put_le(f + HDR - 8, h.high64, 8);
  }
  for (size_t i = 0; HDR + (i + 1) * REC <= n; i++) {
    unsigned char *r = f + HDR + i * REC;
    if (flags & 2u)
      memcpy(r + 32, f + 16, 8);
    if (flags & 4u)
      put_le(r + 4, i, 4);
    if (flags & 8u)
      put_le(r + 40, XXH3_64bits(r, 40), 8);
  }
}

static void write_file(const char *path, const unsigned char *f, size_t n)
{
  FILE *fp = fopen(path, "wb");

  if (fp == NULL || (n > 0 && fwrite(f, 1, n, fp) != n) || fclose(fp) != 0)
    fuzz_fail("cannot write %s: %s", path, strerror(errno));
}

static int same_str(const char *a, const char *b)
{
  return (a == NULL && b == NULL) ||
         (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void same_state(const rf__journal_state *a, const rf__journal_state *b)
{
  if (!same_str(a->meta.url, b->meta.url) ||
      !same_str(a->meta.etag, b->meta.etag) ||
      !same_str(a->meta.last_modified, b->meta.last_modified) ||
      a->meta.length != b->meta.length ||
      a->meta.piece_size != b->meta.piece_size ||
      a->meta.npieces != b->meta.npieces ||
      a->meta.has_manifest != b->meta.has_manifest || a->npieces != b->npieces)
    fuzz_fail("load_more: another header than load's");
  if (a->valid_end != b->valid_end || a->next_seq != b->next_seq ||
      a->salt != b->salt || a->records != b->records || a->torn != b->torn)
    fuzz_fail("load_more: end %llu seq %u records %u torn %d, load: end %llu "
              "seq %u records %u torn %d",
              (unsigned long long)a->valid_end, a->next_seq, a->records,
              a->torn, (unsigned long long)b->valid_end, b->next_seq,
              b->records, b->torn);
  for (uint32_t p = 0; p < a->npieces; p++)
    if (a->claimed[p] != b->claimed[p] ||
        !XXH128_isEqual(a->hashes[p], b->hashes[p]))
      fuzz_fail("load_more: piece %u claimed %u, load: %u", p,
                (unsigned)a->claimed[p], (unsigned)b->claimed[p]);
}

static void check_loaded(const rf__journal_state *st, size_t n)
{
  if (st->valid_end < HDR || st->valid_end > n ||
      (st->valid_end - HDR) % REC != 0 ||
      (st->valid_end - HDR) / REC != st->records ||
      st->npieces != st->meta.npieces || st->meta.piece_size == 0 ||
      st->meta.url == NULL || st->meta.etag == NULL ||
      st->meta.last_modified == NULL)
    fuzz_fail("load: an inconsistent state");
  if (st->torn != (st->valid_end != n))
    fuzz_fail("load: torn %d with %llu of %zu bytes valid", st->torn,
              (unsigned long long)st->valid_end, n);
  for (uint32_t p = 0; p < st->npieces; p++)
    if (st->claimed[p] > 2)
      fuzz_fail("load: piece %u claimed %u", p, (unsigned)st->claimed[p]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *path = journal_path();
  rf__journal_state whole, part;
  unsigned flags, split;
  unsigned char *f;
  size_t n, nrec, cut;
  char err[256];
  int rc;

  if (size < 2)
    return 0;
  flags = data[0];
  split = data[1];
  n = size - 2;
  f = (unsigned char *)fuzz_bytes(data + 2, n);
  repair(f, n, flags);
  write_file(path, f, n);
  rc = rf__journal_load(path, &whole, err, sizeof(err));
  if (rc != 0 && rc != RF_EPROTO)
    fuzz_fail("load returned %d: %s", rc, err);
  if (rc != 0 && err[0] == '\0')
    fuzz_fail("load failed without a message");
  if (rc == 0) {
    check_loaded(&whole, n);
    nrec = (n - HDR) / REC;
    cut = HDR + (nrec * split / 255) * REC;
    write_file(path, f, cut);
    rc = rf__journal_load(path, &part, err, sizeof(err));
    if (rc != 0)
      fuzz_fail("load of the first %zu bytes returned %d: %s", cut, rc, err);
    write_file(path, f, n);
    rc = rf__journal_load_more(path, &part, err, sizeof(err));
    if (rc != 0)
      fuzz_fail("load_more returned %d: %s", rc, err);
    same_state(&part, &whole);
    rf__journal_state_free(&part);
  }
  rf__journal_state_free(&whole);
  unlink(path);
  free(f);
  return 0;
}
