/* Stream mode's writer: blocks put in order, written once (see stream.h). */
#include "stream.h"
#include "fileio.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "rangefetch/rangefetch.h"

#ifdef RF_HAVE_XXH_DISPATCH
#  include <xxh_x86dispatch.h>
#endif

int rf__stream_init(rf__stream *s, int fd)
{
  memset(s, 0, sizeof(*s));
  s->fd = fd;
  s->xxh = XXH3_createState();
  if (s->xxh == NULL)
    return RF_ENOMEM;
  XXH3_128bits_reset(s->xxh);
  return 0;
}

void rf__stream_free(rf__stream *s, rf__block **rest)
{
  rf__block *b;

  while ((b = s->pending) != NULL) {
    s->pending = b->next;
    b->next = *rest;
    *rest = b;
  }
  s->npending = 0;
  if (s->xxh != NULL)
    XXH3_freeState(s->xxh);
  EVP_MD_CTX_free(s->sha);
  s->xxh = NULL;
  s->sha = NULL;
}

void rf__stream_put(rf__stream *s, rf__block *b, rf__block **done)
{
  rf__block **pp;

  if (b->off + b->len <= s->prefix) { /* all of it was written already */
    b->next = *done;
    *done = b;
    return;
  }
  /* Sorted by offset; a block equal to one kept goes after it. */
  for (pp = &s->pending; *pp != NULL && (*pp)->off <= b->off;
       pp = &(*pp)->next)
    ;
  b->next = *pp;
  *pp = b;
  if (++s->npending > s->npending_max)
    s->npending_max = s->npending;
}

/* write() all n bytes, RF__WRITE_CHUNK at a time (stdout may be a file:
 * fileio.h says why): partial writes continue, EINTR is retried, and a
 * non-blocking fd waits until it takes more.  Returns 0 or errno. */
static int write_all(int fd, const unsigned char *p, size_t n)
{
  while (n > 0) {
    ssize_t w = write(fd, p, n < RF__WRITE_CHUNK ? n : RF__WRITE_CHUNK);
    if (w < 0) {
      struct pollfd pfd;
      if (errno == EINTR)
        continue;
#if EAGAIN != EWOULDBLOCK
      if (errno == EWOULDBLOCK)
        errno = EAGAIN;
#endif
      if (errno != EAGAIN)
        return errno;
      pfd.fd = fd;
      pfd.events = POLLOUT;
      pfd.revents = 0;
      if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
        return errno;
      continue;
    }
    if (w == 0)
      return EIO; /* no progress */
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int rf__stream_write_next(rf__stream *s, int sha256, rf__block **done,
                          int *err)
{
  rf__block *b = s->pending;
  const unsigned char *p;
  size_t skip, n;
  int e;

  while (b != NULL && b->off + b->len <= s->prefix) {
    /* A copy of bytes written since it was kept (a duplicate). */
    s->pending = b->next;
    s->npending--;
    b->next = *done;
    *done = b;
    b = s->pending;
  }
  if (b == NULL || b->off > s->prefix)
    return 0;
  if (sha256 && s->sha == NULL) {
    if (s->prefix == 0) {
      s->sha = EVP_MD_CTX_new();
      if (s->sha == NULL || EVP_DigestInit_ex(s->sha, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(s->sha);
        s->sha = NULL;
        *err = ENOMEM;
        return -1;
      }
    } else {
      s->sha_late = 1;
    }
  }
  skip = (size_t)(s->prefix - b->off);
  p = b->data + skip;
  n = b->len - skip;
  e = write_all(s->fd, p, n);
  if (e != 0) {
    *err = e;
    return -1;
  }
  XXH3_128bits_update(s->xxh, p, n);
  if (s->sha != NULL && EVP_DigestUpdate(s->sha, p, n) != 1) {
    *err = ENOMEM;
    return -1;
  }
  s->prefix += n;
  s->pending = b->next;
  s->npending--;
  b->next = *done;
  *done = b;
  return 1;
}

int rf__stream_finish(rf__stream *s, uint64_t total, int flags,
                      XXH128_hash_t xxh128, const unsigned char *sha256,
                      int sha_wanted)
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned mdlen = 0;

  if (s->prefix != total || s->pending != NULL)
    return RF_EINTERNAL;
  if ((flags & 1) &&
      !XXH128_isEqual(XXH3_128bits_digest(s->xxh), xxh128))
    return RF_EHASH;
  if (!(flags & 2))
    return 0;
  if (s->sha == NULL && s->prefix == 0 && sha_wanted) {
    s->sha = EVP_MD_CTX_new(); /* empty content: nothing was written */
    if (s->sha == NULL || EVP_DigestInit_ex(s->sha, EVP_sha256(), NULL) != 1)
      return RF_ENOMEM;
  }
  if (s->sha == NULL || s->sha_late)
    return RF_EINTERNAL;
  if (EVP_DigestFinal_ex(s->sha, md, &mdlen) != 1)
    return RF_ENOMEM;
  EVP_MD_CTX_free(s->sha);
  s->sha = NULL;
  return mdlen == 32 && sha256 != NULL && memcmp(md, sha256, 32) == 0
             ? 0
             : RF_EHASH;
}
