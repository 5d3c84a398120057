/* The resume journal (see journal.h, docs/journal.md). */
#include "journal.h"

#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rangefetch/rangefetch.h"
#include "util/text.h"

/* Header layout (little-endian). */
#define H_MAGIC 0
#define H_VERSION 4
#define H_HSIZE 8
#define H_RSIZE 12
#define H_SALT 16
#define H_LENGTH 24
#define H_PSIZE 32
#define H_NPIECES 40
#define H_FLAGS 44
#define H_MDIGEST 48
#define H_HALG 64
#define H_URL_LEN 68
#define H_ETAG_LEN 72
#define H_LM_LEN 76
#define H_STRINGS 80
#define H_SUM (RF__JOURNAL_HEADER_SIZE - 16)

#define H_FLAG_MANIFEST 1u
#define HASH_ALG_XXH3_128 1u

/* Record layout (little-endian). */
#define R_TYPE 0
#define R_SEQ 4
#define R_PIECE 8
#define R_RESERVED 12
#define R_HASH 16
#define R_SALT 32
#define R_SUM 40

#define JOURNAL_MAGIC "RFJ1"

/* Records read per pread while loading. */
#define LOAD_BATCH 1024u

static void put32(unsigned char *p, uint32_t v)
{
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
  p[2] = (unsigned char)(v >> 16);
  p[3] = (unsigned char)(v >> 24);
}

static void put64(unsigned char *p, uint64_t v)
{
  put32(p, (uint32_t)v);
  put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get32(const unsigned char *p)
{
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
  return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put128(unsigned char *p, XXH128_hash_t h)
{
  put64(p, h.low64);
  put64(p + 8, h.high64);
}

static XXH128_hash_t get128(const unsigned char *p)
{
  XXH128_hash_t h;

  h.low64 = get64(p);
  h.high64 = get64(p + 8);
  return h;
}

/*
 * 64 random bits: getrandom(2), else /dev/urandom, else a mix of clock,
 * pid and address (a salt only has to differ from the last journal's).
 */
static uint64_t random_salt(void)
{
  uint64_t v = 0;
  unsigned char b[8];
  struct timespec ts;
  ssize_t n;
  int fd;

  do
    n = getrandom(b, sizeof(b), GRND_NONBLOCK);
  while (n < 0 && errno == EINTR);
  if (n == (ssize_t)sizeof(b))
    return get64(b);
  fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    size_t got = 0;
    int e = rf__pread_full(fd, b, sizeof(b), 0, &got);
    close(fd);
    if (e == 0 && got == sizeof(b))
      return get64(b);
  }
  clock_gettime(CLOCK_REALTIME, &ts);
  v = ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec;
  v ^= ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&v;
  return XXH3_64bits(&v, sizeof(v));
}

void rf__journal_encode_record(unsigned char out[RF__JOURNAL_RECORD_SIZE],
                               uint32_t type, uint32_t seq, uint32_t piece,
                               XXH128_hash_t hash, uint64_t salt)
{
  put32(out + R_TYPE, type);
  put32(out + R_SEQ, seq);
  put32(out + R_PIECE, piece);
  put32(out + R_RESERVED, 0);
  put128(out + R_HASH, hash);
  put64(out + R_SALT, salt);
  put64(out + R_SUM, XXH3_64bits(out, R_SUM));
}

static size_t str_len(const char *s)
{
  return s == NULL ? 0 : strlen(s);
}

/* Fill hdr (RF__JOURNAL_HEADER_SIZE bytes).  Returns 0 or RF_EINVAL. */
static int encode_header(unsigned char *hdr, const rf__journal_meta *m,
                         uint64_t salt)
{
  size_t ul, el, ll, at = H_STRINGS;
  uint64_t want;

  if (m == NULL || m->url == NULL || m->piece_size == 0)
    return RF_EINVAL;
  want = m->length / m->piece_size + (m->length % m->piece_size != 0);
  if (want != m->npieces || m->npieces > RF__JOURNAL_MAX_PIECES)
    return RF_EINVAL;
  ul = strlen(m->url);
  el = str_len(m->etag);
  ll = str_len(m->last_modified);
  if (ul > RF__JOURNAL_STRINGS_MAX || el > RF__JOURNAL_STRINGS_MAX ||
      ll > RF__JOURNAL_STRINGS_MAX ||
      ul + el + ll > RF__JOURNAL_STRINGS_MAX)
    return RF_EINVAL;

  memset(hdr, 0, RF__JOURNAL_HEADER_SIZE);
  memcpy(hdr + H_MAGIC, JOURNAL_MAGIC, 4);
  put32(hdr + H_VERSION, RF__JOURNAL_VERSION);
  put32(hdr + H_HSIZE, RF__JOURNAL_HEADER_SIZE);
  put32(hdr + H_RSIZE, RF__JOURNAL_RECORD_SIZE);
  put64(hdr + H_SALT, salt);
  put64(hdr + H_LENGTH, m->length);
  put64(hdr + H_PSIZE, m->piece_size);
  put32(hdr + H_NPIECES, m->npieces);
  if (m->has_manifest) {
    put32(hdr + H_FLAGS, H_FLAG_MANIFEST);
    put128(hdr + H_MDIGEST, m->manifest_digest);
  }
  put32(hdr + H_HALG, HASH_ALG_XXH3_128);
  put32(hdr + H_URL_LEN, (uint32_t)ul);
  put32(hdr + H_ETAG_LEN, (uint32_t)el);
  put32(hdr + H_LM_LEN, (uint32_t)ll);
  memcpy(hdr + at, m->url, ul);
  at += ul;
  if (el > 0)
    memcpy(hdr + at, m->etag, el);
  at += el;
  if (ll > 0)
    memcpy(hdr + at, m->last_modified, ll);
  put128(hdr + H_SUM, XXH3_128bits(hdr, H_SUM));
  return 0;
}

/* A malloc'd NUL-terminated copy of n bytes, or NULL. */
static char *dup_bytes(const unsigned char *p, size_t n)
{
  char *s = malloc(n + 1);

  if (s != NULL) {
    memcpy(s, p, n);
    s[n] = '\0';
  }
  return s;
}

static int all_zero(const unsigned char *p, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++)
    if (p[i] != 0)
      return 0;
  return 1;
}

/*
 * Check and decode a header into m and *salt.  Returns 0, RF_EPROTO (with
 * err) or RF_ENOMEM.  On failure m is zeroed.
 */
static int decode_header(const unsigned char *hdr, rf__journal_meta *m,
                         uint64_t *salt, char *err, size_t errlen)
{
  XXH128_hash_t sum;
  uint32_t version, flags, ul, el, ll, halg;
  uint64_t want;
  int rc = RF_EPROTO;

  memset(m, 0, sizeof(*m));
  if (memcmp(hdr + H_MAGIC, JOURNAL_MAGIC, 4) != 0) {
    rf__errbuf_set(err, errlen, "not a rangefetch journal");
    goto out;
  }
  version = get32(hdr + H_VERSION);
  if (version != RF__JOURNAL_VERSION) {
    rf__errbuf_set(err, errlen, "unsupported journal version %u", version);
    goto out;
  }
  sum = XXH3_128bits(hdr, H_SUM);
  if (!XXH128_isEqual(sum, get128(hdr + H_SUM))) {
    rf__errbuf_set(err, errlen, "journal header checksum mismatch");
    goto out;
  }
  /* The checksum matched: what follows can only be a writer's bug. */
  flags = get32(hdr + H_FLAGS);
  halg = get32(hdr + H_HALG);
  ul = get32(hdr + H_URL_LEN);
  el = get32(hdr + H_ETAG_LEN);
  ll = get32(hdr + H_LM_LEN);
  m->length = get64(hdr + H_LENGTH);
  m->piece_size = get64(hdr + H_PSIZE);
  m->npieces = get32(hdr + H_NPIECES);
  if (get32(hdr + H_HSIZE) != RF__JOURNAL_HEADER_SIZE ||
      get32(hdr + H_RSIZE) != RF__JOURNAL_RECORD_SIZE) {
    rf__errbuf_set(err, errlen, "journal header or record size not supported");
    goto out;
  }
  if (halg != HASH_ALG_XXH3_128) {
    rf__errbuf_set(err, errlen, "journal piece hash algorithm %u not supported",
            halg);
    goto out;
  }
  if ((flags & ~H_FLAG_MANIFEST) != 0) {
    rf__errbuf_set(err, errlen, "journal header has unknown flags 0x%x", flags);
    goto out;
  }
  if (ul > RF__JOURNAL_STRINGS_MAX || el > RF__JOURNAL_STRINGS_MAX ||
      ll > RF__JOURNAL_STRINGS_MAX ||
      (uint64_t)ul + el + ll > RF__JOURNAL_STRINGS_MAX ||
      !all_zero(hdr + H_STRINGS + ul + el + ll,
                H_SUM - H_STRINGS - (size_t)ul - el - ll) ||
      memchr(hdr + H_STRINGS, '\0', (size_t)ul + el + ll) != NULL) {
    rf__errbuf_set(err, errlen, "journal header strings malformed");
    goto out;
  }
  if (m->piece_size == 0) {
    rf__errbuf_set(err, errlen, "journal piece size is 0");
    goto out;
  }
  want = m->length / m->piece_size + (m->length % m->piece_size != 0);
  if (want != m->npieces) {
    rf__errbuf_set(err, errlen,
                   "journal piece count %u does not match the length",
                   m->npieces);
    goto out;
  }
  if (m->npieces > RF__JOURNAL_MAX_PIECES) {
    rf__errbuf_set(err, errlen, "journal piece count %u over the limit of %u",
                   m->npieces, RF__JOURNAL_MAX_PIECES);
    goto out;
  }
  m->has_manifest = (flags & H_FLAG_MANIFEST) != 0;
  if (m->has_manifest)
    m->manifest_digest = get128(hdr + H_MDIGEST);
  else if (!all_zero(hdr + H_MDIGEST, 16)) {
    rf__errbuf_set(err, errlen,
                   "journal manifest digest without manifest flag");
    goto out;
  }
  m->url = dup_bytes(hdr + H_STRINGS, ul);
  m->etag = dup_bytes(hdr + H_STRINGS + ul, el);
  m->last_modified = dup_bytes(hdr + H_STRINGS + ul + el, ll);
  if (m->url == NULL || m->etag == NULL || m->last_modified == NULL) {
    rf__errbuf_set(err, errlen, "out of memory");
    rc = RF_ENOMEM;
    goto out;
  }
  *salt = get64(hdr + H_SALT);
  rc = 0;
out:
  if (rc != 0)
    rf__journal_meta_free(m);
  return rc;
}

int rf__journal_create(rf__journal *j, const char *path,
                       const rf__journal_meta *meta)
{
  unsigned char *hdr = NULL;
  int fd = -1, rc, e;

  j->fd = -1;
  j->salt = 0;
  j->next_seq = 0;
  j->end = 0;
  hdr = malloc(RF__JOURNAL_HEADER_SIZE);
  if (hdr == NULL) {
    rc = RF_ENOMEM;
    goto out;
  }
  j->salt = random_salt();
  rc = encode_header(hdr, meta, j->salt);
  if (rc != 0)
    goto out;
  fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    rc = rf__errno_to_rf(errno);
    goto out;
  }
  e = rf__pwrite_full(fd, hdr, RF__JOURNAL_HEADER_SIZE, 0);
  if (e == 0 && fsync(fd) != 0)
    e = errno;
  if (e == 0)
    e = rf__fsync_dir_of(path);
  if (e != 0) {
    rc = rf__errno_to_rf(e);
    goto out;
  }
  j->fd = fd;
  fd = -1;
  j->end = RF__JOURNAL_HEADER_SIZE;
  rc = 0;
out:
  if (fd >= 0)
    close(fd);
  free(hdr);
  return rc;
}

/*
 * The type of r if it is the good record number seq of st's journal
 * (RF__JOURNAL_PIECE or RF__JOURNAL_CHECKPOINT), or 0 if it ends the log.
 */
static uint32_t record_check(const rf__journal_state *st,
                             const unsigned char *r, uint32_t seq)
{
  uint32_t type, piece;
  XXH128_hash_t hash;

  if (get64(r + R_SUM) != XXH3_64bits(r, R_SUM))
    return 0;
  if (get64(r + R_SALT) != st->salt)
    return 0;
  if (get32(r + R_SEQ) != seq)
    return 0;
  if (get32(r + R_RESERVED) != 0)
    return 0;
  type = get32(r + R_TYPE);
  piece = get32(r + R_PIECE);
  hash = get128(r + R_HASH);
  if (type == RF__JOURNAL_PIECE)
    return piece < st->npieces ? type : 0;
  if (type == RF__JOURNAL_CHECKPOINT)
    return piece == 0 && hash.low64 == 0 && hash.high64 == 0 ? type : 0;
  return 0;
}

/*
 * Apply the n bytes at buf, read at st->valid_end, to st: the good records
 * among them in order, up to the first bad one.  A CHECKPOINT covers every
 * PIECE record before it, so claimed[] stays what a replay from the start
 * gives.  Work: the records, plus one pass over claimed[] when the batch
 * holds a CHECKPOINT.  Returns 1 if a bad record ended the log, else 0.
 */
static int apply_batch(rf__journal_state *st, const unsigned char *buf,
                       size_t n)
{
  size_t nrec = n / RF__JOURNAL_RECORD_SIZE;
  size_t good, i, last_ck = SIZE_MAX;
  uint32_t p, type;

  for (good = 0; good < nrec; good++) {
    type = record_check(st, buf + good * RF__JOURNAL_RECORD_SIZE,
                        st->next_seq + (uint32_t)good);
    if (type == 0)
      break;
    if (type == RF__JOURNAL_CHECKPOINT)
      last_ck = good;
  }
  if (last_ck != SIZE_MAX) {
    for (p = 0; p < st->npieces; p++) /* claimed before this batch */
      if (st->claimed[p] == 1)
        st->claimed[p] = 2;
  }
  for (i = 0; i < good; i++) {
    const unsigned char *r = buf + i * RF__JOURNAL_RECORD_SIZE;
    if (get32(r + R_TYPE) != RF__JOURNAL_PIECE)
      continue;
    p = get32(r + R_PIECE);
    st->hashes[p] = get128(r + R_HASH);
    st->claimed[p] = last_ck != SIZE_MAX && i < last_ck ? 2 : 1;
  }
  st->records += (unsigned)good;
  st->next_seq += (uint32_t)good;
  st->valid_end += (uint64_t)good * RF__JOURNAL_RECORD_SIZE;
  return good < nrec;
}

/*
 * Read the records of the journal open at fd from st->valid_end to the end
 * of the log into st, with buf (bufsize bytes, a multiple of the record
 * size) as scratch.  Sets st->torn when bytes after the log's end were
 * ignored.  Returns 0, or an RF_E* code (with err) on a read error: st then
 * holds the records read before it.
 */
static int read_records(int fd, rf__journal_state *st, unsigned char *buf,
                        size_t bufsize, char *err, size_t errlen)
{
  size_t got;
  int e;

  for (;;) {
    e = rf__pread_full(fd, buf, bufsize, st->valid_end, &got);
    if (e != 0) {
      rf__errbuf_set(err, errlen, "cannot read journal: %s", strerror(e));
      return rf__errno_to_rf(e);
    }
    if (apply_batch(st, buf, got) ||
        got % RF__JOURNAL_RECORD_SIZE != 0) { /* a partial record at EOF */
      st->torn = 1;
      return 0;
    }
    if (got < bufsize)
      return 0;
  }
}

/* Open the journal at path for reading and check it is a regular file.
 * Returns 0 with *fd and *sb set, or RF_E* (err says why; *fd is then
 * -1 or an open descriptor the caller closes). */
static int open_journal(const char *path, int *fd, struct stat *sb, char *err,
                        size_t errlen)
{
  int e;

  *fd = open(path, O_RDONLY | O_CLOEXEC);
  if (*fd < 0) {
    e = errno;
    rf__errbuf_set(err, errlen, "cannot open journal: %s", strerror(e));
    return rf__errno_to_rf(e);
  }
  if (fstat(*fd, sb) != 0 || !S_ISREG(sb->st_mode)) {
    rf__errbuf_set(err, errlen, "journal is not a regular file");
    return RF_EPROTO;
  }
  return 0;
}

int rf__journal_load(const char *path, rf__journal_state *st, char *err,
                     size_t errlen)
{
  const size_t bufsize = (size_t)LOAD_BATCH * RF__JOURNAL_RECORD_SIZE;
  unsigned char *buf = NULL;
  size_t got;
  struct stat sb;
  int fd = -1, rc, e;

  memset(st, 0, sizeof(*st));
  if (errlen > 0 && err != NULL)
    err[0] = '\0';
  rc = open_journal(path, &fd, &sb, err, errlen);
  if (rc != 0)
    goto out;
  buf = malloc(bufsize > RF__JOURNAL_HEADER_SIZE ? bufsize
                                                 : RF__JOURNAL_HEADER_SIZE);
  if (buf == NULL) {
    rc = RF_ENOMEM;
    rf__errbuf_set(err, errlen, "out of memory");
    goto out;
  }
  e = rf__pread_full(fd, buf, RF__JOURNAL_HEADER_SIZE, 0, &got);
  if (e != 0) {
    rc = rf__errno_to_rf(e);
    rf__errbuf_set(err, errlen, "cannot read journal: %s", strerror(e));
    goto out;
  }
  if (got < RF__JOURNAL_HEADER_SIZE) {
    rc = RF_EPROTO;
    rf__errbuf_set(err, errlen, "journal header truncated (%zu bytes)", got);
    goto out;
  }
  rc = decode_header(buf, &st->meta, &st->salt, err, errlen);
  if (rc != 0)
    goto out;
  st->npieces = st->meta.npieces;
  st->claimed = calloc(st->npieces ? st->npieces : 1, 1);
  st->hashes = calloc(st->npieces ? st->npieces : 1, sizeof(*st->hashes));
  if (st->claimed == NULL || st->hashes == NULL) {
    rc = RF_ENOMEM;
    rf__errbuf_set(err, errlen, "out of memory");
    goto out;
  }
  st->valid_end = RF__JOURNAL_HEADER_SIZE;
  rc = read_records(fd, st, buf, bufsize, err, errlen);
out:
  if (rc != 0)
    rf__journal_state_free(st);
  free(buf);
  if (fd >= 0)
    close(fd);
  return rc;
}

int rf__journal_load_more(const char *path, rf__journal_state *st, char *err,
                          size_t errlen)
{
  const size_t bufsize = (size_t)LOAD_BATCH * RF__JOURNAL_RECORD_SIZE;
  unsigned char hdr[H_SALT + 8];
  unsigned char *buf = NULL;
  size_t got;
  struct stat sb;
  int fd = -1, rc, e;

  if (errlen > 0 && err != NULL)
    err[0] = '\0';
  if (st == NULL || st->valid_end < RF__JOURNAL_HEADER_SIZE) {
    rf__errbuf_set(err, errlen, "journal state not loaded");
    return RF_EINVAL;
  }
  rc = open_journal(path, &fd, &sb, err, errlen);
  if (rc != 0)
    goto out;
  e = rf__pread_full(fd, hdr, sizeof(hdr), 0, &got);
  if (e != 0) {
    rc = rf__errno_to_rf(e);
    rf__errbuf_set(err, errlen, "cannot read journal: %s", strerror(e));
    goto out;
  }
  if (got < sizeof(hdr) || memcmp(hdr + H_MAGIC, JOURNAL_MAGIC, 4) != 0 ||
      get64(hdr + H_SALT) != st->salt) {
    rc = RF_EPROTO;
    rf__errbuf_set(err, errlen, "journal was replaced");
    goto out;
  }
  if ((uint64_t)sb.st_size < st->valid_end) {
    rc = RF_EPROTO;
    rf__errbuf_set(err, errlen, "journal shrank");
    goto out;
  }
  buf = malloc(bufsize);
  if (buf == NULL) {
    rc = RF_ENOMEM;
    rf__errbuf_set(err, errlen, "out of memory");
    goto out;
  }
  st->torn = 0;
  rc = read_records(fd, st, buf, bufsize, err, errlen);
out:
  free(buf);
  if (fd >= 0)
    close(fd);
  return rc;
}

void rf__journal_meta_free(rf__journal_meta *m)
{
  if (m == NULL)
    return;
  free(m->url);
  free(m->etag);
  free(m->last_modified);
  memset(m, 0, sizeof(*m));
}

void rf__journal_state_free(rf__journal_state *st)
{
  if (st == NULL)
    return;
  rf__journal_meta_free(&st->meta);
  free(st->claimed);
  free(st->hashes);
  memset(st, 0, sizeof(*st));
}

int rf__journal_reopen(rf__journal *j, const char *path,
                       const rf__journal_state *st)
{
  unsigned char hdr[H_SALT + 8];
  struct stat sb;
  size_t got;
  int fd = -1, rc, e;

  j->fd = -1;
  fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    rc = rf__errno_to_rf(errno);
    goto out;
  }
  e = rf__pread_full(fd, hdr, sizeof(hdr), 0, &got);
  if (e != 0) {
    rc = rf__errno_to_rf(e);
    goto out;
  }
  if (got < sizeof(hdr) || memcmp(hdr, JOURNAL_MAGIC, 4) != 0 ||
      get64(hdr + H_SALT) != st->salt ||
      st->valid_end < RF__JOURNAL_HEADER_SIZE) {
    rc = RF_EPROTO;
    goto out;
  }
  if (fstat(fd, &sb) != 0) {
    rc = rf__errno_to_rf(errno);
    goto out;
  }
  if ((uint64_t)sb.st_size < st->valid_end) {
    rc = RF_EPROTO; /* shrank since load */
    goto out;
  }
  if ((uint64_t)sb.st_size > st->valid_end) {
    /* Make the cut durable before anything new lands after it, so old
     * records past it cannot reappear behind new ones after a crash. */
    if (ftruncate(fd, (off_t)st->valid_end) != 0 || fdatasync(fd) != 0) {
      rc = rf__errno_to_rf(errno);
      goto out;
    }
  }
  j->fd = fd;
  fd = -1;
  j->salt = st->salt;
  j->next_seq = st->next_seq;
  j->end = st->valid_end;
  rc = 0;
out:
  if (fd >= 0)
    close(fd);
  return rc;
}

static int append(rf__journal *j, uint32_t type, uint32_t piece,
                  XXH128_hash_t hash)
{
  unsigned char r[RF__JOURNAL_RECORD_SIZE];
  int e;

  if (j->fd < 0)
    return RF_EINVAL;
  rf__journal_encode_record(r, type, j->next_seq, piece, hash, j->salt);
  e = rf__pwrite_full(j->fd, r, sizeof(r), j->end);
  if (e != 0) {
    /* Cut a partial record off so that the next append lands on a record
     * boundary; if even that fails, load stops at the partial record. */
    if (ftruncate(j->fd, (off_t)j->end) != 0) {
      /* nothing more to do */
    }
    return rf__errno_to_rf(e);
  }
  j->end += sizeof(r);
  j->next_seq++;
  return 0;
}

int rf__journal_piece(rf__journal *j, uint32_t piece, XXH128_hash_t hash)
{
  return append(j, RF__JOURNAL_PIECE, piece, hash);
}

int rf__journal_checkpoint(rf__journal *j)
{
  XXH128_hash_t zero = { 0, 0 };
  int rc;

  rc = append(j, RF__JOURNAL_CHECKPOINT, 0, zero);
  if (rc == 0 && fdatasync(j->fd) != 0)
    rc = rf__errno_to_rf(errno);
  return rc;
}

void rf__journal_close(rf__journal *j)
{
  if (j == NULL || j->fd < 0)
    return;
  close(j->fd);
  j->fd = -1;
}

int rf__journal_remove(const char *path)
{
  int e;

  if (unlink(path) != 0 && errno != ENOENT)
    return rf__errno_to_rf(errno);
  e = rf__fsync_dir_of(path);
  return e == 0 ? 0 : rf__errno_to_rf(e);
}
