/*
 * Piece manifests: parse, format, save, and create by hashing a file.
 *
 * Hashing reads the file once in chunks of about 1 MiB, several threads
 * reading different chunks at the same time (a copy out of the page cache
 * costs more than XXH3 on AVX2, so the reads are what needs spreading over
 * the cores).  Pieces that lie whole in a chunk are hashed by the thread
 * that read it, in parallel.  The whole-content hashes (XXH3-128, SHA-256)
 * are sequential: a thread feeds its chunk to them when its turn comes,
 * chunk after chunk in file order, while the others read ahead.  Pieces
 * larger than 4 MiB are cut into 1 MiB slices that are fed, in turn, to one
 * streaming state the same way.  Pieces are hashed with XXH3-128 or, for
 * manifests that must hold against untrusted sources, SHA-256: the same
 * scheme, another function.
 */
#include "manifest_internal.h"
#include "disk/fileio.h"
#include "util/text.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <xxhash.h>
#ifdef RF_HAVE_XXH_DISPATCH
#  include <xxh_x86dispatch.h>
#endif

#include "rangefetch/rangefetch.h"
#include "scheduler.h"

#define MF_MAGIC       "rangefetch-manifest"
#define MF_MAX_LINE    4096u             /* bytes, without the line end */
#define MF_MAX_NAME    (MF_MAX_LINE - 5) /* "name " + value fits a line */
#define MF_CHUNK       (1u << 20)        /* bytes read at once */
#define MF_MAX_WHOLE   (4u << 20)        /* larger pieces are sliced */
#define MF_MAX_THREADS 64u

struct rf_manifest {
  uint64_t length;
  uint64_t piece_size;
  uint32_t npieces;
  rf_manifest_hash kind; /* of the piece hashes */
  int has_sha256;
  XXH128_hash_t content;
  unsigned char sha256[32];
  char *name;               /* NULL: none */
  XXH128_hash_t *pieces;    /* XXH128 kind, else NULL */
  unsigned char *piece_sha; /* SHA256 kind: 32 bytes a piece, else NULL */
};

static const char mf_hex[] = "0123456789abcdef";

/* ------------------------------------------------------------ accessors */

rf_manifest_hash rf__manifest_kind(const rf_manifest *m)
{
  return m->kind;
}

XXH128_hash_t rf__manifest_piece(const rf_manifest *m, uint32_t i)
{
  XXH128_hash_t none = { 0, 0 };

  return m->pieces != NULL ? m->pieces[i] : none;
}

const unsigned char *rf__manifest_piece_sha256(const rf_manifest *m,
                                               uint32_t i)
{
  return m->piece_sha != NULL ? m->piece_sha + (size_t)i * 32 : NULL;
}

XXH128_hash_t rf__manifest_content(const rf_manifest *m)
{
  return m->content;
}

uint64_t rf_manifest_length(const rf_manifest *m)
{
  return m->length;
}

uint64_t rf_manifest_piece_size(const rf_manifest *m)
{
  return m->piece_size;
}

uint32_t rf_manifest_pieces(const rf_manifest *m)
{
  return m->npieces;
}

rf_manifest_hash rf_manifest_piece_hash_kind(const rf_manifest *m)
{
  return m->kind;
}

int rf_manifest_piece_hash(unsigned char out[16], const rf_manifest *m,
                           uint32_t i)
{
  XXH128_canonical_t c;

  if (m == NULL || out == NULL || i >= m->npieces ||
      m->kind != RF_MANIFEST_HASH_XXH128)
    return RF_EINVAL;
  XXH128_canonicalFromHash(&c, m->pieces[i]);
  memcpy(out, c.digest, 16);
  return 0;
}

int rf_manifest_piece_digest(unsigned char *out, size_t outlen,
                             const rf_manifest *m, uint32_t i)
{
  XXH128_canonical_t c;

  if (m == NULL || out == NULL || i >= m->npieces)
    return RF_EINVAL;
  if (m->kind == RF_MANIFEST_HASH_SHA256) {
    if (outlen < 32)
      return RF_EINVAL;
    memcpy(out, m->piece_sha + (size_t)i * 32, 32);
    return 32;
  }
  if (outlen < 16)
    return RF_EINVAL;
  XXH128_canonicalFromHash(&c, m->pieces[i]);
  memcpy(out, c.digest, 16);
  return 16;
}

void rf_manifest_content_xxh128(unsigned char out[16], const rf_manifest *m)
{
  XXH128_canonical_t c;

  XXH128_canonicalFromHash(&c, m->content);
  memcpy(out, c.digest, 16);
}

int rf_manifest_has_sha256(const rf_manifest *m)
{
  return m->has_sha256;
}

void rf_manifest_content_sha256(unsigned char out[32], const rf_manifest *m)
{
  memcpy(out, m->sha256, 32);
}

const char *rf_manifest_name(const rf_manifest *m)
{
  return m->name;
}

void rf_manifest_free(rf_manifest *m)
{
  if (m == NULL)
    return;
  free(m->name);
  free(m->pieces);
  free(m->piece_sha);
  free(m);
}

/* A manifest of npieces pieces of the given kind, hashes zeroed. */
static int mf_alloc(rf_manifest **out, uint32_t npieces, rf_manifest_hash kind)
{
  rf_manifest *m = calloc(1, sizeof(*m));
  size_t n = npieces > 0 ? npieces : 1;

  *out = NULL;
  if (m == NULL)
    return RF_ENOMEM;
  m->npieces = npieces;
  m->kind = kind;
  if (kind == RF_MANIFEST_HASH_SHA256)
    m->piece_sha = calloc(n, 32);
  else
    m->pieces = calloc(n, sizeof(*m->pieces));
  if (m->pieces == NULL && m->piece_sha == NULL) {
    free(m);
    return RF_ENOMEM;
  }
  *out = m;
  return 0;
}

static int mf_errno(int e)
{
  switch (e) {
  case ENOENT:
  case ENOTDIR:
    return RF_ENOENT;
  case EACCES:
  case EPERM:
  case EROFS:
    return RF_EACCES;
  case ENOSPC:
  case EDQUOT:
    return RF_ENOSPC;
  case ENOMEM:
    return RF_ENOMEM;
  default:
    return RF_EIO;
  }
}

/* --------------------------------------------------------------- parser */

typedef struct mf_parser {
  const char *text;
  size_t len;
  size_t pos;         /* start of the next line */
  unsigned long line; /* number of the line last read, 1-based */
  char *err;
  size_t errlen;
} mf_parser;

/* Header keys, in the order the formatter writes them. */
enum {
  KEY_PIECE_HASH,
  KEY_LENGTH,
  KEY_PIECE_SIZE,
  KEY_PIECES,
  KEY_XXH128,
  KEY_SHA256,
  KEY_NAME,
  KEY_COUNT
};

static const char *const mf_keys[KEY_COUNT] = {
  "piece-hash",     "length",         "piece-size", "pieces",
  "content-xxh128", "content-sha256", "name"
};

/* The values of "piece-hash", by rf_manifest_hash. */
static const char *const mf_hash_names[] = { "xxh128", "sha256" };

__attribute__((format(printf, 4, 5))) static int
mf_fail_at(mf_parser *p, unsigned long line, int rc, const char *fmt, ...)
{
  va_list ap;
  int n;

  if (p->err == NULL || p->errlen == 0)
    return rc;
  if (line > 0)
    n = snprintf(p->err, p->errlen, "manifest line %lu: ", line);
  else
    n = snprintf(p->err, p->errlen, "manifest: ");
  if (n < 0 || (size_t)n >= p->errlen)
    return rc;
  va_start(ap, fmt);
  vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
  va_end(ap);
  return rc;
}

/*
 * Read the next line into [*s, *s + *n), without its "\n" or "\r\n".
 * Returns 1, 0 at the end of the text, or an error.
 */
static int mf_next_line(mf_parser *p, const char **s, size_t *n)
{
  const char *start, *nl;
  size_t i, len;

  if (p->pos == p->len)
    return 0;
  p->line++;
  start = p->text + p->pos;
  nl = memchr(start, '\n', p->len - p->pos);
  if (nl == NULL)
    return mf_fail_at(p, p->line, RF_EINVAL,
                      "no newline at the end of the line (truncated?)");
  len = (size_t)(nl - start);
  p->pos += len + 1;
  if (len > 0 && start[len - 1] == '\r')
    len--;
  if (len > MF_MAX_LINE)
    return mf_fail_at(p, p->line, RF_EINVAL, "line longer than %u bytes",
                      MF_MAX_LINE);
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)start[i];

    if (c < 0x20 || c == 0x7f)
      return mf_fail_at(p, p->line, RF_EINVAL,
                        "control character 0x%02x at column %zu", c, i + 1);
  }
  *s = start;
  *n = len;
  return 1;
}

static int mf_is(const char *s, size_t n, const char *lit)
{
  size_t l = strlen(lit);

  return n == l && memcmp(s, lit, l) == 0;
}

/* Exactly 2 * nbytes hex digits (either case) into out.  Returns 0 or -1. */
static int mf_unhex(const char *s, size_t n, unsigned char *out, size_t nbytes)
{
  size_t i;

  if (n != 2 * nbytes)
    return -1;
  for (i = 0; i < nbytes; i++) {
    int hi = rfx_hexval(s[2 * i]);
    int lo = rfx_hexval(s[2 * i + 1]);

    if (hi < 0 || lo < 0)
      return -1;
    out[i] = (unsigned char)(hi << 4 | lo);
  }
  return 0;
}

/* Decimal digits, no sign, no leading zero.  0, RF_EINVAL or RF_ETOOBIG. */
static int mf_number(const char *s, size_t n, uint64_t *out)
{
  uint64_t v = 0;
  size_t i;

  if (n == 0 || (n > 1 && s[0] == '0'))
    return RF_EINVAL;
  for (i = 0; i < n; i++) {
    unsigned d;

    if (s[i] < '0' || s[i] > '9')
      return RF_EINVAL;
    d = (unsigned)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10)
      return RF_ETOOBIG;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

typedef struct mf_header {
  unsigned long seen[KEY_COUNT]; /* line of each key, 0: not seen */
  rf_manifest_hash kind;
  uint64_t length;
  uint64_t piece_size;
  uint64_t pieces;
  XXH128_hash_t content;
  unsigned char sha256[32];
  const char *name;
  size_t name_len;
} mf_header;

/* One "KEY VALUE" line of the header, value [v, v + vn). */
static int mf_header_value(mf_parser *p, mf_header *h, int key, const char *v,
                           size_t vn)
{
  XXH128_canonical_t c;
  uint64_t num = 0;
  int rc;

  switch (key) {
  case KEY_LENGTH:
  case KEY_PIECE_SIZE:
  case KEY_PIECES:
    rc = mf_number(v, vn, &num);
    if (rc == RF_ETOOBIG)
      return mf_fail_at(p, p->line, rc, "%s does not fit in 64 bits",
                        mf_keys[key]);
    if (rc != 0)
      return mf_fail_at(p, p->line, rc,
                        "bad number in %s (expected decimal digits)",
                        mf_keys[key]);
    break;
  case KEY_XXH128:
    if (mf_unhex(v, vn, c.digest, sizeof(c.digest)) != 0)
      return mf_fail_at(p, p->line, RF_EINVAL,
                        "bad hex in content-xxh128 (expected 32 hex "
                        "digits)");
    h->content = XXH128_hashFromCanonical(&c);
    return 0;
  case KEY_SHA256:
    if (mf_unhex(v, vn, h->sha256, sizeof(h->sha256)) != 0)
      return mf_fail_at(p, p->line, RF_EINVAL,
                        "bad hex in content-sha256 (expected 64 hex "
                        "digits)");
    return 0;
  case KEY_PIECE_HASH:
    if (mf_is(v, vn, mf_hash_names[RF_MANIFEST_HASH_XXH128]))
      h->kind = RF_MANIFEST_HASH_XXH128;
    else if (mf_is(v, vn, mf_hash_names[RF_MANIFEST_HASH_SHA256]))
      h->kind = RF_MANIFEST_HASH_SHA256;
    else
      return mf_fail_at(p, p->line, RF_EINVAL,
                        "unknown piece-hash '%.*s' (expected 'xxh128' or "
                        "'sha256')",
                        (int)(vn > 40 ? 40 : vn), v);
    return 0;
  default:
    h->name = v;
    h->name_len = vn;
    return 0;
  }
  if (key == KEY_LENGTH) {
    if (num > RF_MANIFEST_MAX_LENGTH)
      return mf_fail_at(p, p->line, RF_ETOOBIG,
                        "length %" PRIu64 " is over the limit of 2^62", num);
    h->length = num;
  } else if (key == KEY_PIECE_SIZE) {
    if (num < RF_MANIFEST_MIN_PIECE_SIZE)
      return mf_fail_at(p, p->line, RF_EINVAL,
                        "piece-size %" PRIu64 " is below the minimum of %u",
                        num, RF_MANIFEST_MIN_PIECE_SIZE);
    if (num > RF_MANIFEST_MAX_PIECE_SIZE)
      return mf_fail_at(p, p->line, RF_ETOOBIG,
                        "piece-size %" PRIu64 " is over the maximum of %u", num,
                        RF_MANIFEST_MAX_PIECE_SIZE);
    h->piece_size = num;
  } else {
    if (num > RF_MANIFEST_MAX_PIECES)
      return mf_fail_at(p, p->line, RF_ETOOBIG,
                        "pieces %" PRIu64 " is over the limit of %u", num,
                        RF_MANIFEST_MAX_PIECES);
    h->pieces = num;
  }
  return 0;
}

/* One header line [s, s + n): a known key, or an x- extension (ignored). */
static int mf_header_line(mf_parser *p, mf_header *h, const char *s, size_t n)
{
  const char *sp = memchr(s, ' ', n);
  size_t klen = sp != NULL ? (size_t)(sp - s) : n;
  int key;

  if (klen > 2 && s[0] == 'x' && s[1] == '-')
    return 0;
  for (key = 0; key < KEY_COUNT; key++) {
    if (mf_is(s, klen, mf_keys[key]))
      break;
  }
  if (key == KEY_COUNT) {
    if (klen == 0)
      return mf_fail_at(p, p->line, RF_EINVAL,
                        n == 0 ? "empty line" : "line starts with a space");
    return mf_fail_at(p, p->line, RF_EINVAL,
                      "unknown key '%.*s' (extension keys start with 'x-')",
                      (int)(klen > 40 ? 40 : klen), s);
  }
  if (h->seen[key] != 0)
    return mf_fail_at(p, p->line, RF_EINVAL,
                      "duplicate key '%s' (first on line %lu)", mf_keys[key],
                      h->seen[key]);
  if (sp == NULL || klen + 1 == n)
    return mf_fail_at(p, p->line, RF_EINVAL, "missing value for %s",
                      mf_keys[key]);
  h->seen[key] = p->line;
  return mf_header_value(p, h, key, sp + 1, n - klen - 1);
}

/* The header is over (first "p" or "end" line): check it, make *m. */
static int mf_header_done(mf_parser *p, mf_header *h, rf_manifest **m)
{
  static const int required[] = { KEY_LENGTH, KEY_PIECE_SIZE, KEY_PIECES,
                                  KEY_XXH128 };
  uint64_t expect;
  size_t i;
  int rc;

  for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
    if (h->seen[required[i]] == 0)
      return mf_fail_at(p, p->line, RF_EINVAL,
                        "missing '%s' before the piece list",
                        mf_keys[required[i]]);
  }
  if (h->kind == RF_MANIFEST_HASH_SHA256 && h->seen[KEY_SHA256] == 0)
    return mf_fail_at(p, p->line, RF_EINVAL,
                      "missing 'content-sha256' before the piece list "
                      "(required with piece-hash sha256)");
  expect = h->length == 0 ? 0 : (h->length - 1) / h->piece_size + 1;
  if (h->pieces != expect)
    return mf_fail_at(p, h->seen[KEY_PIECES], RF_EINVAL,
                      "pieces %" PRIu64 " does not match length %" PRIu64
                      " and piece-size %" PRIu64 " (expected %" PRIu64 ")",
                      h->pieces, h->length, h->piece_size, expect);
  rc = mf_alloc(m, (uint32_t)h->pieces, h->kind);
  if (rc != 0)
    return mf_fail_at(p, 0, rc, "out of memory");
  (*m)->length = h->length;
  (*m)->piece_size = h->piece_size;
  (*m)->content = h->content;
  if (h->seen[KEY_SHA256] != 0) {
    (*m)->has_sha256 = 1;
    memcpy((*m)->sha256, h->sha256, sizeof(h->sha256));
  }
  if (h->seen[KEY_NAME] != 0) {
    (*m)->name = malloc(h->name_len + 1);
    if ((*m)->name == NULL)
      return mf_fail_at(p, 0, RF_ENOMEM, "out of memory");
    memcpy((*m)->name, h->name, h->name_len);
    (*m)->name[h->name_len] = '\0';
  }
  return 0;
}

/*
 * The hash [v, v + vn) of piece i (after "p "), of m's kind.  A hash of
 * the other kind's length gets a message saying so: the usual mistake is
 * a missing or wrong piece-hash line.
 */
static int mf_piece_value(mf_parser *p, rf_manifest *m, uint32_t i,
                          const char *v, size_t vn)
{
  XXH128_canonical_t c;

  if (m->kind == RF_MANIFEST_HASH_SHA256) {
    if (mf_unhex(v, vn, m->piece_sha + (size_t)i * 32, 32) == 0)
      return 0;
    if (mf_unhex(v, vn, c.digest, sizeof(c.digest)) == 0)
      return mf_fail_at(p, p->line, RF_EINVAL,
                        "bad hex in piece %" PRIu32 " (expected 'p' and 64 "
                        "hex digits; 32 digits is an xxh128 hash, but "
                        "piece-hash is sha256)",
                        i);
    return mf_fail_at(p, p->line, RF_EINVAL,
                      "bad hex in piece %" PRIu32 " (expected 'p' and 64 hex "
                      "digits)",
                      i);
  }
  if (mf_unhex(v, vn, c.digest, sizeof(c.digest)) == 0) {
    m->pieces[i] = XXH128_hashFromCanonical(&c);
    return 0;
  }
  if (vn == 64 && mf_unhex(v, 32, c.digest, sizeof(c.digest)) == 0 &&
      mf_unhex(v + 32, 32, c.digest, sizeof(c.digest)) == 0)
    return mf_fail_at(p, p->line, RF_EINVAL,
                      "bad hex in piece %" PRIu32 " (expected 'p' and 32 hex "
                      "digits; 64 digits need the line 'piece-hash sha256')",
                      i);
  return mf_fail_at(p, p->line, RF_EINVAL,
                    "bad hex in piece %" PRIu32 " (expected 'p' and 32 hex "
                    "digits)",
                    i);
}

static int mf_missing_end(mf_parser *p)
{
  return mf_fail_at(p, p->line + 1, RF_EINVAL,
                    "missing 'end' line (truncated?)");
}

int rf_manifest_parse(rf_manifest **out, const char *text, size_t len,
                      char *err, size_t errlen)
{
  mf_parser p = { text, len, 0, 0, err, errlen };
  mf_header h;
  rf_manifest *m = NULL;
  const char *s = NULL;
  size_t n = 0, vlen = strlen(MF_MAGIC " ");
  uint32_t i = 0;
  int rc;

  if (err != NULL && errlen > 0)
    err[0] = '\0';
  if (out != NULL)
    *out = NULL;
  if (out == NULL || (text == NULL && len > 0)) {
    rc = mf_fail_at(&p, 0, RF_EINVAL, "invalid argument");
    goto out;
  }
  memset(&h, 0, sizeof(h));
  if (len > RF_MANIFEST_MAX_TEXT) {
    rc = mf_fail_at(&p, 0, RF_ETOOBIG,
                    "text of %zu bytes is over the limit of %u bytes", len,
                    RF_MANIFEST_MAX_TEXT);
    goto out;
  }

  /* Line 1: "rangefetch-manifest 1".  The magic is checked first so that
   * a binary file is "not a rangefetch manifest". */
  if (len > 0 && memcmp(text, MF_MAGIC " ", len < vlen ? len : vlen) != 0) {
    rc = mf_fail_at(
        &p, 1, RF_EINVAL,
        "not a rangefetch manifest (the first line must be '" MF_MAGIC " %d')",
        RF_MANIFEST_FORMAT_VERSION);
    goto out;
  }
  rc = mf_next_line(&p, &s, &n);
  if (rc <= 0) {
    if (rc == 0)
      rc =
          mf_fail_at(&p, 1, RF_EINVAL, "empty text, not a rangefetch manifest");
    goto out;
  }
  if (n <= vlen || memcmp(s, MF_MAGIC " ", vlen) != 0) {
    rc = mf_fail_at(
        &p, p.line, RF_EINVAL,
        "not a rangefetch manifest (the first line must be '" MF_MAGIC " %d')",
        RF_MANIFEST_FORMAT_VERSION);
    goto out;
  }
  if (!mf_is(s + vlen, n - vlen, "1")) {
    rc = mf_fail_at(&p, p.line, RF_EINVAL,
                    "unsupported version '%.*s' (this build reads version "
                    "%d)",
                    (int)(n - vlen > 20 ? 20 : n - vlen), s + vlen,
                    RF_MANIFEST_FORMAT_VERSION);
    goto out;
  }

  /* Header lines, up to the first "p" or "end" line. */
  for (;;) {
    rc = mf_next_line(&p, &s, &n);
    if (rc <= 0) {
      if (rc == 0)
        rc = mf_missing_end(&p);
      goto out;
    }
    if ((n >= 2 && s[0] == 'p' && s[1] == ' ') || mf_is(s, n, "end"))
      break;
    rc = mf_header_line(&p, &h, s, n);
    if (rc != 0)
      goto out;
  }
  rc = mf_header_done(&p, &h, &m);
  if (rc != 0)
    goto out;

  /* Piece lines, then "end". */
  for (;;) {
    if (mf_is(s, n, "end")) {
      if (i != m->npieces) {
        rc = mf_fail_at(&p, p.line, RF_EINVAL,
                        "'end' after %" PRIu32 " piece lines, expected "
                        "%" PRIu32,
                        i, m->npieces);
        goto out;
      }
      break;
    }
    if (n < 2 || s[0] != 'p' || s[1] != ' ') {
      rc = mf_fail_at(&p, p.line, RF_EINVAL,
                      i < m->npieces ? "expected 'p HASH' or 'end'"
                                     : "expected 'end'");
      goto out;
    }
    if (i == m->npieces) {
      rc = mf_fail_at(&p, p.line, RF_EINVAL,
                      "more piece lines than pieces (%" PRIu32 ")", m->npieces);
      goto out;
    }
    rc = mf_piece_value(&p, m, i, s + 2, n - 2);
    if (rc != 0)
      goto out;
    i++;
    rc = mf_next_line(&p, &s, &n);
    if (rc <= 0) {
      if (rc == 0)
        rc = mf_missing_end(&p);
      goto out;
    }
  }
  if (p.pos != p.len) {
    rc = mf_fail_at(&p, p.line + 1, RF_EINVAL, "text after 'end'");
    goto out;
  }
  *out = m;
  m = NULL;
  rc = 0;
out:
  rf_manifest_free(m);
  return rc;
}

int rf_manifest_load(rf_manifest **out, const char *path, char *err,
                     size_t errlen)
{
  mf_parser p = { NULL, 0, 0, 0, err, errlen };
  char *buf = NULL;
  size_t len = 0;
  int rc, e;

  if (err != NULL && errlen > 0)
    err[0] = '\0';
  if (out != NULL)
    *out = NULL;
  if (out == NULL || path == NULL)
    return mf_fail_at(&p, 0, RF_EINVAL, "invalid argument");
  /* Any readable file, pipes included: read to the end, within the limit. */
  e = rf__read_file_max(path, RF_MANIFEST_MAX_TEXT, 0, &buf, &len, NULL);
  if (e == EFBIG)
    return mf_fail_at(&p, 0, RF_ETOOBIG, "'%s' is over the limit of %u bytes",
                      path, RF_MANIFEST_MAX_TEXT);
  if (e == ENOMEM)
    return mf_fail_at(&p, 0, RF_ENOMEM, "out of memory");
  if (e != 0) {
    rc = mf_errno(e);
    mf_fail_at(&p, 0, rc, "cannot read manifest '%s': %s", path, strerror(e));
    return rc;
  }
  rc = rf_manifest_parse(out, buf, len, err, errlen);
  free(buf);
  return rc;
}

/* ------------------------------------------------------------ formatter */

static char *mf_put_hex(char *d, const unsigned char *b, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++) {
    *d++ = mf_hex[b[i] >> 4];
    *d++ = mf_hex[b[i] & 15];
  }
  return d;
}

static char *mf_put_xxh(char *d, XXH128_hash_t h)
{
  XXH128_canonical_t c;

  XXH128_canonicalFromHash(&c, h);
  return mf_put_hex(d, c.digest, sizeof(c.digest));
}

int rf_manifest_format(char **out, const rf_manifest *m)
{
  size_t cap, nlen;
  char *buf, *d;
  uint32_t i;
  int n, sha;

  if (out != NULL)
    *out = NULL;
  if (m == NULL || out == NULL)
    return RF_EINVAL;
  sha = m->kind == RF_MANIFEST_HASH_SHA256;
  nlen = m->name != NULL ? strlen(m->name) : 0;
  /* Header lines are under 80 bytes each but the name; a piece line is
   * "p ", 32 or 64 hex digits and "\n". */
  cap = 512 + nlen + (size_t)m->npieces * (sha ? 67 : 35);
  buf = malloc(cap);
  if (buf == NULL)
    return RF_ENOMEM;
  /* XXH3-128 pieces get no piece-hash line: readers that predate the line
   * read those manifests, and reject the others on it (an unknown key). */
  n = snprintf(buf, cap,
               MF_MAGIC " %d\n%slength %" PRIu64 "\npiece-size %" PRIu64
                        "\npieces %" PRIu32 "\ncontent-xxh128 ",
               RF_MANIFEST_FORMAT_VERSION, sha ? "piece-hash sha256\n" : "",
               m->length, m->piece_size, m->npieces);
  d = mf_put_xxh(buf + n, m->content);
  *d++ = '\n';
  if (m->has_sha256) {
    memcpy(d, "content-sha256 ", 15);
    d = mf_put_hex(d + 15, m->sha256, sizeof(m->sha256));
    *d++ = '\n';
  }
  if (m->name != NULL) {
    memcpy(d, "name ", 5);
    memcpy(d + 5, m->name, nlen);
    d += 5 + nlen;
    *d++ = '\n';
  }
  for (i = 0; i < m->npieces; i++) {
    *d++ = 'p';
    *d++ = ' ';
    if (sha)
      d = mf_put_hex(d, m->piece_sha + (size_t)i * 32, 32);
    else
      d = mf_put_xxh(d, m->pieces[i]);
    *d++ = '\n';
  }
  memcpy(d, "end\n", 5);
  *out = buf;
  return 0;
}

/* Flush the directory holding path, so a rename in it is durable. */
static void mf_sync_dir(const char *path)
{
  const char *slash = strrchr(path, '/');
  char *dir;
  int fd;

  if (slash == NULL) {
    dir = strdup(".");
  } else {
    size_t n = slash == path ? 1 : (size_t)(slash - path);

    dir = malloc(n + 1);
    if (dir != NULL) {
      memcpy(dir, path, n);
      dir[n] = '\0';
    }
  }
  if (dir == NULL)
    return;
  fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)fsync(fd); /* best effort: some file systems refuse */
    close(fd);
  }
  free(dir);
}

int rf_manifest_save(const rf_manifest *m, const char *path)
{
  char *text = NULL, *tmp = NULL;
  size_t len, off = 0, plen;
  ssize_t w;
  int fd = -1, rc;

  if (m == NULL || path == NULL || path[0] == '\0')
    return RF_EINVAL;
  rc = rf_manifest_format(&text, m);
  if (rc != 0)
    goto out;
  len = strlen(text);
  plen = strlen(path);
  tmp = malloc(plen + 5);
  if (tmp == NULL) {
    rc = RF_ENOMEM;
    goto out;
  }
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".tmp", 5);
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) {
    rc = mf_errno(errno);
    goto out;
  }
  while (off < len) {
    w = write(fd, text + off, len - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      goto fail_errno;
    off += (size_t)w;
  }
  if (fsync(fd) != 0)
    goto fail_errno;
  if (close(fd) != 0) {
    fd = -1;
    goto fail_errno;
  }
  fd = -1;
  if (rename(tmp, path) != 0)
    goto fail_errno;
  mf_sync_dir(path);
  rc = 0;
  goto out;

fail_errno:
  rc = mf_errno(errno);
  if (fd >= 0)
    close(fd);
  fd = -1;
  unlink(tmp);
out:
  if (fd >= 0)
    close(fd);
  free(tmp);
  free(text);
  return rc;
}

/* --------------------------------------------------------------- create */

/*
 * Shared state of the hashing threads.  The file is cut into chunks
 * numbered in file order.  A thread claims the next chunk, reads it, hashes
 * the pieces that lie whole in it, then waits for its turn (turn == its
 * chunk) to feed the sequential states.
 */
typedef struct mf_hasher {
  int fd;
  uint64_t length;
  uint64_t piece_size;
  uint64_t chunk;  /* bytes per chunk */
  int sliced;      /* 1: pieces span several chunks (slices) */
  uint64_t slices; /* sliced: chunks per full piece */
  rf_manifest_hash kind;        /* of the piece hashes */
  XXH128_hash_t *pieces;        /* XXH128 kind: the manifest's */
  unsigned char *piece_sha;     /* SHA256 kind: the manifest's, 32 a piece */
  EVP_MD *md;                   /* SHA-256, fetched once for every thread */
  XXH3_state_t *content;        /* fed in turn */
  XXH3_state_t *piece_state;    /* sliced, XXH128: the piece being fed */
  EVP_MD_CTX *piece_sha_state;  /* sliced, SHA256: the piece being fed */
  EVP_MD_CTX *sha;              /* NULL: no SHA-256 of the content */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  uint64_t next; /* next chunk to claim (under mu) */
  uint64_t turn; /* next chunk to feed the sequential states (under mu) */
  int err;       /* first error (under mu); stops every thread */
} mf_hasher;

/* Byte range of chunk k.  Returns 0 past the end of the file. */
static int mf_chunk_range(const mf_hasher *h, uint64_t k, uint64_t *off,
                          uint64_t *len)
{
  uint64_t end;

  if (!h->sliced) {
    if (k >= (h->length + h->chunk - 1) / h->chunk)
      return 0;
    *off = k * h->chunk;
    end = *off + h->chunk;
  } else {
    uint64_t piece = k / h->slices;
    uint64_t pend = (piece + 1) * h->piece_size;

    if (piece >= (h->length + h->piece_size - 1) / h->piece_size)
      return 0;
    *off = piece * h->piece_size + (k % h->slices) * h->chunk;
    if (*off >= h->length)
      return 0;
    end = *off + h->chunk < pend ? *off + h->chunk : pend;
  }
  *len = (end < h->length ? end : h->length) - *off;
  return 1;
}

static void mf_set_error(mf_hasher *h, int err)
{
  pthread_mutex_lock(&h->mu);
  if (h->err == 0)
    h->err = err;
  pthread_cond_broadcast(&h->cv);
  pthread_mutex_unlock(&h->mu);
}

static int mf_read_full(int fd, unsigned char *buf, size_t len, uint64_t off)
{
  size_t got = 0;
  ssize_t r;

  while (got < len) {
    r = pread(fd, buf + got, len - got, (off_t)(off + got));
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return mf_errno(errno);
    if (r == 0)
      return RF_EIO; /* the file shrank */
    got += (size_t)r;
  }
  return 0;
}

/* The SHA-256 of [b, b + n) into out, with ctx.  0 or RF_EINTERNAL. */
static int mf_sha256(EVP_MD_CTX *ctx, const EVP_MD *md,
                     const unsigned char *b, size_t n, unsigned char *out)
{
  unsigned int dlen = 0;

  if (EVP_DigestInit_ex(ctx, md, NULL) != 1 ||
      EVP_DigestUpdate(ctx, b, n) != 1 ||
      EVP_DigestFinal_ex(ctx, out, &dlen) != 1 || dlen != 32)
    return RF_EINTERNAL;
  return 0;
}

/* Slice [off, off + len) of a sliced piece to its streaming state. */
static int mf_feed_slice(mf_hasher *h, uint64_t k, uint64_t off,
                         const unsigned char *buf, size_t len)
{
  uint64_t piece = off / h->piece_size;
  uint64_t pend = (piece + 1) * h->piece_size;
  int first = k % h->slices == 0;
  int last = off + len == pend || off + len == h->length;
  unsigned int dlen = 0;

  if (h->kind == RF_MANIFEST_HASH_SHA256) {
    if (first && EVP_DigestInit_ex(h->piece_sha_state, h->md, NULL) != 1)
      return RF_EINTERNAL;
    if (EVP_DigestUpdate(h->piece_sha_state, buf, len) != 1)
      return RF_EINTERNAL;
    if (last && (EVP_DigestFinal_ex(h->piece_sha_state,
                                    h->piece_sha + piece * 32, &dlen) != 1 ||
                 dlen != 32))
      return RF_EINTERNAL;
    return 0;
  }
  if (first && XXH3_128bits_reset(h->piece_state) != XXH_OK)
    return RF_EINTERNAL;
  if (XXH3_128bits_update(h->piece_state, buf, len) != XXH_OK)
    return RF_EINTERNAL;
  if (last)
    h->pieces[piece] = XXH3_128bits_digest(h->piece_state);
  return 0;
}

/* Feed chunk k, [off, off + len) in buf, to the sequential states. */
static int mf_feed(mf_hasher *h, uint64_t k, uint64_t off,
                   const unsigned char *buf, size_t len)
{
  if (XXH3_128bits_update(h->content, buf, len) != XXH_OK)
    return RF_EINTERNAL;
  if (h->sha != NULL && EVP_DigestUpdate(h->sha, buf, len) != 1)
    return RF_EINTERNAL;
  return h->sliced ? mf_feed_slice(h, k, off, buf, len) : 0;
}

/*
 * Hash the whole pieces of chunk [off, off + len) in buf, each on its own;
 * ctx: this thread's SHA-256 state for SHA256 pieces.
 */
static int mf_hash_pieces(mf_hasher *h, EVP_MD_CTX *ctx, uint64_t off,
                          const unsigned char *buf, uint64_t len)
{
  uint64_t p, n, i;

  for (p = 0; p < len; p += h->piece_size) {
    n = len - p < h->piece_size ? len - p : h->piece_size;
    i = (off + p) / h->piece_size;
    if (h->kind != RF_MANIFEST_HASH_SHA256)
      h->pieces[i] = XXH3_128bits(buf + p, (size_t)n);
    else if (mf_sha256(ctx, h->md, buf + p, (size_t)n,
                       h->piece_sha + i * 32) != 0)
      return RF_EINTERNAL;
  }
  return 0;
}

static void *mf_worker(void *arg)
{
  mf_hasher *h = arg;
  unsigned char *buf = malloc((size_t)h->chunk);
  EVP_MD_CTX *ctx = NULL; /* SHA256 pieces: this thread's state */
  uint64_t k, off, len;
  int rc;

  if (h->kind == RF_MANIFEST_HASH_SHA256 && !h->sliced)
    ctx = EVP_MD_CTX_new();
  if (buf == NULL ||
      (h->kind == RF_MANIFEST_HASH_SHA256 && !h->sliced && ctx == NULL)) {
    mf_set_error(h, RF_ENOMEM);
    goto out;
  }
  for (;;) {
    pthread_mutex_lock(&h->mu);
    k = h->next++;
    rc = h->err;
    pthread_mutex_unlock(&h->mu);
    if (rc != 0 || !mf_chunk_range(h, k, &off, &len))
      break;
    rc = mf_read_full(h->fd, buf, (size_t)len, off);
    if (rc != 0) {
      mf_set_error(h, rc);
      break;
    }
    if (!h->sliced) {
      rc = mf_hash_pieces(h, ctx, off, buf, len);
      if (rc != 0) {
        mf_set_error(h, rc);
        break;
      }
    }
    pthread_mutex_lock(&h->mu);
    while (h->turn != k && h->err == 0)
      pthread_cond_wait(&h->cv, &h->mu);
    rc = h->err;
    pthread_mutex_unlock(&h->mu);
    if (rc != 0)
      break;
    /* Only the thread whose turn it is touches the sequential states; the
     * mutex orders its accesses after those of the previous turn. */
    rc = mf_feed(h, k, off, buf, (size_t)len);
    if (rc != 0) {
      mf_set_error(h, rc);
      break;
    }
    pthread_mutex_lock(&h->mu);
    h->turn++;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
  }
out:
  EVP_MD_CTX_free(ctx);
  free(buf);
  return NULL;
}

/* Run the workers: the caller's thread and up to threads - 1 more. */
static int mf_hash_all(mf_hasher *h, unsigned threads)
{
  pthread_t tids[MF_MAX_THREADS];
  uint64_t chunks;
  unsigned i, started = 0;

  /* An upper bound is enough: extra threads find nothing to claim. */
  chunks = (h->length + h->chunk - 1) / h->chunk + (h->sliced ? 1 : 0);
  if (threads > chunks)
    threads = chunks > 0 ? (unsigned)chunks : 1;
  for (i = 1; i < threads; i++) {
    /* Fewer threads than asked if the system refuses: still correct. */
    if (pthread_create(&tids[started], NULL, mf_worker, h) != 0)
      break;
    started++;
  }
  mf_worker(h);
  for (i = 0; i < started; i++)
    pthread_join(tids[i], NULL);
  return h->err;
}

/* The last component of path, control characters replaced by '?'. */
static char *mf_name_of(const char *path)
{
  const char *base = strrchr(path, '/');
  char *name;
  size_t i, n;

  base = base != NULL ? base + 1 : path;
  n = strlen(base);
  if (n == 0 || n > MF_MAX_NAME)
    return NULL;
  name = malloc(n + 1);
  if (name == NULL)
    return NULL;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)base[i];

    name[i] = c < 0x20 || c == 0x7f ? '?' : base[i];
  }
  name[n] = '\0';
  return name;
}

/* Lock and condition for *h, no file yet.  Returns 0 or RF_ENOMEM. */
static int mf_hasher_init(mf_hasher *h)
{
  memset(h, 0, sizeof(*h));
  h->fd = -1;
  if (pthread_mutex_init(&h->mu, NULL) != 0)
    return RF_ENOMEM;
  if (pthread_cond_init(&h->cv, NULL) != 0) {
    pthread_mutex_destroy(&h->mu);
    return RF_ENOMEM;
  }
  return 0;
}

/* Close the file, free the hash states, drop the lock and the condition. */
static void mf_hasher_destroy(mf_hasher *h)
{
  if (h->fd >= 0)
    close(h->fd);
  XXH3_freeState(h->content);
  XXH3_freeState(h->piece_state);
  EVP_MD_CTX_free(h->piece_sha_state);
  EVP_MD_CTX_free(h->sha);
  EVP_MD_free(h->md);
  pthread_cond_destroy(&h->cv);
  pthread_mutex_destroy(&h->mu);
}

/*
 * Open the regular file at path for h, with its length in *st, and pick
 * the piece size (0: automatic) and count.  Returns 0 or an RF_E* code.
 */
static int mf_hasher_open(mf_hasher *h, const char *path, uint64_t piece_size,
                          struct stat *st, uint64_t *npieces)
{
  h->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (h->fd < 0 || fstat(h->fd, st) != 0)
    return mf_errno(errno);
  if (!S_ISREG(st->st_mode))
    return RF_EINVAL;
  h->length = (uint64_t)st->st_size;
  if (h->length > RF_MANIFEST_MAX_LENGTH)
    return RF_ETOOBIG;
  h->piece_size =
      piece_size != 0 ? piece_size : rf__sched_auto_piece_size(h->length);
  *npieces = h->length == 0 ? 0 : (h->length - 1) / h->piece_size + 1;
  if (*npieces > RF_MANIFEST_MAX_PIECES)
    return RF_ETOOBIG;
  (void)posix_fadvise(h->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return 0;
}

/*
 * Cut h's file into chunks (whole pieces, or slices of one piece) and
 * create the sequential hash states.  Returns 0 or an RF_E* code.
 */
static int mf_hasher_prepare(mf_hasher *h, int with_sha256)
{
  int sha_pieces = h->kind == RF_MANIFEST_HASH_SHA256;

  if (with_sha256 || sha_pieces) {
    /* One explicit fetch: EVP_sha256() would look it up at every init. */
    h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (h->md == NULL)
      return RF_EINTERNAL;
  }
  if (h->piece_size <= MF_CHUNK) {
    h->chunk = MF_CHUNK / h->piece_size * h->piece_size;
  } else if (h->piece_size <= MF_MAX_WHOLE) {
    h->chunk = h->piece_size;
  } else {
    h->sliced = 1;
    h->chunk = MF_CHUNK;
    h->slices = (h->piece_size + MF_CHUNK - 1) / MF_CHUNK;
    if (sha_pieces)
      h->piece_sha_state = EVP_MD_CTX_new();
    else
      h->piece_state = XXH3_createState();
    if (h->piece_state == NULL && h->piece_sha_state == NULL)
      return RF_ENOMEM;
  }
  h->content = XXH3_createState();
  if (h->content == NULL || XXH3_128bits_reset(h->content) != XXH_OK)
    return RF_ENOMEM;
  if (with_sha256) {
    h->sha = EVP_MD_CTX_new();
    if (h->sha == NULL)
      return RF_ENOMEM;
    if (EVP_DigestInit_ex(h->sha, h->md, NULL) != 1)
      return RF_EINTERNAL;
  }
  return 0;
}

/*
 * After mf_hash_all: check that the file did not change since *st, and
 * store the whole-content digests in m.  Returns 0 or an RF_E* code.
 */
static int mf_hasher_finish(mf_hasher *h, const struct stat *st, rf_manifest *m)
{
  struct stat st2;
  unsigned int dlen = 0;

  /* Modified while being read: the hashes may mix old and new bytes. */
  if (fstat(h->fd, &st2) != 0 || st2.st_size != st->st_size ||
      st2.st_mtim.tv_sec != st->st_mtim.tv_sec ||
      st2.st_mtim.tv_nsec != st->st_mtim.tv_nsec)
    return RF_EIO;
  m->content = XXH3_128bits_digest(h->content);
  if (h->sha != NULL) {
    if (EVP_DigestFinal_ex(h->sha, m->sha256, &dlen) != 1 || dlen != 32)
      return RF_EINTERNAL;
    m->has_sha256 = 1;
  }
  return 0;
}

void rf_manifest_create_options_init(rf_manifest_create_options *opts)
{
  rf_manifest_create_options defaults = RF_MANIFEST_CREATE_OPTIONS_INIT;

  if (opts != NULL)
    *opts = defaults;
}

int rf_manifest_create(rf_manifest **out, const char *path, uint64_t piece_size,
                       int with_sha256, unsigned threads)
{
  rf_manifest_create_options o = RF_MANIFEST_CREATE_OPTIONS_INIT;

  o.piece_size = piece_size;
  o.content_sha256 = with_sha256;
  o.threads = threads;
  return rf_manifest_create_ext(out, path, &o);
}

int rf_manifest_create_ext(rf_manifest **out, const char *path,
                           const rf_manifest_create_options *opts)
{
  rf_manifest_create_options o = RF_MANIFEST_CREATE_OPTIONS_INIT;
  mf_hasher h;
  rf_manifest *m = NULL;
  struct stat st;
  uint64_t npieces = 0;
  unsigned threads;
  int rc, sha_pieces;

  if (out != NULL)
    *out = NULL;
  if (opts != NULL) {
    if (opts->version == 0 ||
        opts->version > RF_MANIFEST_CREATE_OPTIONS_VERSION)
      return RF_EINVAL;
    o = *opts; /* version 1 is every field */
  }
  sha_pieces = o.piece_hash == RF_MANIFEST_HASH_SHA256;
  if (out == NULL || path == NULL || o.threads > MF_MAX_THREADS ||
      (o.piece_hash != RF_MANIFEST_HASH_XXH128 && !sha_pieces) ||
      (o.piece_size != 0 && (o.piece_size < RF_MANIFEST_MIN_PIECE_SIZE ||
                             o.piece_size > RF_MANIFEST_MAX_PIECE_SIZE)))
    return RF_EINVAL;
  threads = o.threads != 0 ? o.threads : 2;
  rc = mf_hasher_init(&h);
  if (rc != 0)
    return rc;
  h.kind = o.piece_hash;
  rc = mf_hasher_open(&h, path, o.piece_size, &st, &npieces);
  if (rc == 0)
    rc = mf_alloc(&m, (uint32_t)npieces, o.piece_hash);
  if (rc == 0) {
    m->length = h.length;
    m->piece_size = h.piece_size;
    m->name = mf_name_of(path); /* informational: none if out of memory */
    h.pieces = m->pieces;
    h.piece_sha = m->piece_sha;
    rc = mf_hasher_prepare(&h, o.content_sha256 != 0 || sha_pieces);
  }
  if (rc == 0)
    rc = mf_hash_all(&h, threads);
  if (rc == 0)
    rc = mf_hasher_finish(&h, &st, m);
  if (rc == 0) {
    *out = m;
    m = NULL;
  }
  rf_manifest_free(m);
  mf_hasher_destroy(&h);
  return rc;
}
