/*
 * Downloads in progress served from NAME.part and its journal: see
 * server/partial.h for the shape, docs/cli.md (rangefetch serve) for what
 * a client sees.
 */
#include "server/partial.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "disk/fileio.h"
#include "disk/journal.h"
#include "server/conn.h"

#define PART_CACHE_MAX    16          /* downloads whose journals are kept */
#define PART_VERIFY_STEP  (32u << 20) /* bytes hashed per thread-pool job */
#define PART_READ         (256u << 10) /* bytes per pread while hashing */
#define PART_ERR_MAX      160

/* ------------------------------------------------------------ the cache */

/* One download in progress: its journal as last read. */
typedef struct part_entry {
  struct part_entry *prev;
  struct part_entry *next;
  char *part;    /* real path of NAME.part: the key */
  unsigned refs; /* jobs holding it (under the cache's mutex) */
  uv_mutex_t mu; /* guards the rest */
  int loaded;
  uint64_t jdev; /* the journal file st was read from, as it was */
  uint64_t jino;
  uint64_t jsize;
  int64_t jmtime_ns;
  rf__journal_state st;
} part_entry;

struct rf__srv_partials {
  uv_mutex_t mu;   /* guards the list, n and every refs */
  part_entry *head; /* most recently used first */
  size_t n;
};

int rf__srv_partials_new(rf__srv_partials **out)
{
  rf__srv_partials *ps = calloc(1, sizeof(*ps));

  *out = NULL;
  if (ps == NULL)
    return RF_ENOMEM;
  if (uv_mutex_init(&ps->mu) != 0) {
    free(ps);
    return RF_ENOMEM;
  }
  *out = ps;
  return 0;
}

static void entry_free(part_entry *e)
{
  uv_mutex_destroy(&e->mu);
  rf__journal_state_free(&e->st);
  free(e->part);
  free(e);
}

static void list_unlink(rf__srv_partials *ps, part_entry *e)
{
  if (e->prev != NULL)
    e->prev->next = e->next;
  else
    ps->head = e->next;
  if (e->next != NULL)
    e->next->prev = e->prev;
  e->prev = NULL;
  e->next = NULL;
}

static void list_push(rf__srv_partials *ps, part_entry *e)
{
  e->prev = NULL;
  e->next = ps->head;
  if (ps->head != NULL)
    ps->head->prev = e;
  ps->head = e;
}

void rf__srv_partials_free(rf__srv_partials *ps)
{
  part_entry *e;

  if (ps == NULL)
    return;
  while ((e = ps->head) != NULL) {
    list_unlink(ps, e);
    entry_free(e);
  }
  uv_mutex_destroy(&ps->mu);
  free(ps);
}

/*
 * The entry of the download whose .part is part (a real path), made if
 * new, with a reference the caller gives back with cache_put.  Drops the
 * least recently used unreferenced entries beyond PART_CACHE_MAX.  Returns
 * NULL without memory.
 */
static part_entry *cache_get(rf__srv_partials *ps, const char *part)
{
  part_entry *e;
  part_entry *last = NULL;

  uv_mutex_lock(&ps->mu);
  for (e = ps->head; e != NULL; e = e->next) {
    if (strcmp(e->part, part) == 0)
      break;
  }
  if (e != NULL) {
    list_unlink(ps, e);
  } else {
    e = calloc(1, sizeof(*e));
    if (e != NULL && (e->part = strdup(part)) == NULL) {
      free(e);
      e = NULL;
    }
    if (e != NULL && uv_mutex_init(&e->mu) != 0) {
      free(e->part);
      free(e);
      e = NULL;
    }
    if (e != NULL)
      ps->n++;
  }
  if (e != NULL) {
    list_push(ps, e);
    e->refs++;
  }
  for (last = ps->head; last != NULL && last->next != NULL;)
    last = last->next;
  while (ps->n > PART_CACHE_MAX && last != NULL) {
    part_entry *prev = last->prev;
    if (last->refs == 0) {
      list_unlink(ps, last);
      entry_free(last);
      ps->n--;
    }
    last = prev;
  }
  uv_mutex_unlock(&ps->mu);
  return e;
}

static void cache_put(rf__srv_partials *ps, part_entry *e)
{
  uv_mutex_lock(&ps->mu);
  e->refs--;
  uv_mutex_unlock(&ps->mu);
}

/*
 * Bring e's journal state up to date with the journal at jpath, whose
 * status (taken before reading) is jsb: nothing when it did not change,
 * the appended records when it grew, a full read when it is another file
 * or was replaced.  Call with e->mu held.  Returns 0 or an RF_E* code
 * (err says why).
 */
static int entry_refresh(part_entry *e, const char *jpath,
                         const struct stat *jsb, char *err, size_t errlen)
{
  int64_t mtime_ns = (int64_t)jsb->st_mtim.tv_sec * 1000000000 +
                     (int64_t)jsb->st_mtim.tv_nsec;
  int same = e->loaded && e->jdev == (uint64_t)jsb->st_dev &&
             e->jino == (uint64_t)jsb->st_ino;
  int rc;

  if (same && e->jsize == (uint64_t)jsb->st_size &&
      e->jmtime_ns == mtime_ns)
    return 0;
  rc = RF_EPROTO;
  if (same)
    rc = rf__journal_load_more(jpath, &e->st, err, errlen);
  if (rc == RF_EPROTO) { /* another file, or replaced: from the start */
    rf__journal_state_free(&e->st);
    e->loaded = 0;
    rc = rf__journal_load(jpath, &e->st, err, errlen);
    e->loaded = rc == 0;
  }
  if (rc != 0)
    return rc;
  e->jdev = (uint64_t)jsb->st_dev;
  e->jino = (uint64_t)jsb->st_ino;
  e->jsize = (uint64_t)jsb->st_size;
  e->jmtime_ns = mtime_ns;
  return 0;
}

/* ------------------------------------------------------------ deciding */

/* Whether every piece of [first, last] (byte offsets) is written. */
static int span_written(const uint8_t *claimed, uint64_t piece_size,
                        uint64_t first, uint64_t last)
{
  for (uint64_t p = first / piece_size; p <= last / piece_size; p++) {
    if (claimed[p] == 0)
      return 0;
  }
  return 1;
}

int rf__srv_partial_decide(const rf__srv_request *req, int ignore_range,
                           const char *etag, uint64_t length,
                           uint64_t piece_size, const uint8_t *claimed,
                           uint64_t *start, uint64_t *len)
{
  int use_range = req->range_seen && !req->range_bad && !ignore_range;
  int rc = -1;
  uint64_t first = 0;
  uint64_t last = 0;

  *start = 0;
  *len = 0;
  if (use_range && req->if_range_seen &&
      !rf__srv_if_range_matches(req, etag, ""))
    use_range = 0;
  if (use_range)
    rc = rf__srv_range_eval(req->range, length, &first, &last);
  if (rc == 1 && span_written(claimed, piece_size, first, last)) {
    *start = first;
    *len = last - first + 1;
    return 206;
  }
  if (rc == -1 && (length == 0 ||
                   span_written(claimed, piece_size, 0, length - 1))) {
    *len = length;
    return 200;
  }
  return 416;
}

/* --------------------------------------------------------------- a job */

enum { PART_LOOKUP, PART_VERIFY };

/* The answer of a lookup, besides a status (200, 206, 416) or an error. */
#define PART_AS_FILE (-1) /* NAME exists now: serve it as a file */

typedef struct srv_part_job {
  uv_work_t work;
  srv_conn *conn;
  rf__srv_partials *cache;
  const char *root; /* the server's, read-only */
  size_t root_len;
  char *full;          /* root + decoded path: NAME */
  rf__srv_request req; /* Range and If-Range (target NULL) */
  int ignore_range;
  int stage; /* PART_* */

  /* The lookup's result. */
  int answer; /* 200, 206, 416; PART_AS_FILE; or 403, 404, 500 */
  uv_file fd; /* NAME.part, or -1 */
  uint64_t length;
  uint64_t piece_size;
  uint64_t start; /* the body slice (206, 200) */
  uint64_t len;
  char etag[40];
  uint32_t first;      /* pieces to check: first .. first + count - 1 */
  uint32_t count;
  XXH128_hash_t *want; /* their hashes in the journal */

  /* Checking. */
  uint32_t vpiece; /* index into want of the piece being hashed */
  uint64_t voff;   /* its bytes hashed so far */
  XXH3_state_t *xs;
  unsigned char *buf;
  int bad;   /* 1: hash mismatch, 2: read error (errno in err_no) */
  int err_no;
  char err[PART_ERR_MAX]; /* why the journal could not be used, or "" */
} srv_part_job;

static void job_free(srv_part_job *j)
{
  if (j->fd >= 0)
    close(j->fd);
  free(j->full);
  free(j->want);
  free(j->buf);
  if (j->xs != NULL)
    XXH3_freeState(j->xs);
  free(j);
}

/* A malloc'd a + b, or NULL. */
static char *concat(const char *a, const char *b)
{
  size_t la = strlen(a);
  size_t lb = strlen(b);
  char *s = malloc(la + lb + 1);

  if (s != NULL) {
    memcpy(s, a, la);
    memcpy(s + la, b, lb + 1);
  }
  return s;
}

/* Status for a failed realpath, open or stat. */
static int errno_status(int e)
{
  switch (e) {
  case ENOENT:
  case ENOTDIR:
  case ENAMETOOLONG:
    return 404;
  case EACCES:
  case EPERM:
  case ELOOP:
    return 403;
  default:
    return 500;
  }
}

/*
 * Open NAME.part, find and read its journal, decide.  Runs on the thread
 * pool; sets j->answer and what goes with it.
 */
static void job_lookup(srv_part_job *j)
{
  char *tmp = NULL;
  char *part = NULL;
  char *jpath = NULL;
  part_entry *e = NULL;
  struct stat sb;
  struct stat jsb;
  const rf__journal_state *st;
  int rc;

  tmp = concat(j->full, ".part");
  if (tmp == NULL) {
    j->answer = 500;
    goto out;
  }
  part = realpath(tmp, NULL);
  if (part == NULL) {
    int err = errno;
    /* A download that just finished has renamed NAME.part to NAME. */
    j->answer = err == ENOENT && stat(j->full, &sb) == 0 ? PART_AS_FILE
                                                         : errno_status(err);
    goto out;
  }
  if (!rf__srv_path_inside(j->root, j->root_len, part)) {
    j->answer = 403;
    goto out;
  }
  j->fd = open(part, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (j->fd < 0 || fstat(j->fd, &sb) != 0) {
    j->answer = errno_status(errno);
    goto out;
  }
  if (!S_ISREG(sb.st_mode)) {
    j->answer = 403;
    goto out;
  }
  free(tmp);
  tmp = concat(part, RF__JOURNAL_SUFFIX);
  if (tmp == NULL) {
    j->answer = 500;
    goto out;
  }
  /* Without its journal nothing vouches for NAME.part: NAME is not here. */
  jpath = realpath(tmp, NULL);
  if (jpath == NULL) {
    j->answer = errno_status(errno);
    goto out;
  }
  if (!rf__srv_path_inside(j->root, j->root_len, jpath)) {
    j->answer = 403;
    goto out;
  }
  if (stat(jpath, &jsb) != 0 || !S_ISREG(jsb.st_mode)) {
    j->answer = 404;
    goto out;
  }
  e = cache_get(j->cache, part);
  if (e == NULL) {
    j->answer = 500;
    goto out;
  }
  uv_mutex_lock(&e->mu);
  rc = entry_refresh(e, jpath, &jsb, j->err, sizeof(j->err));
  if (rc == RF_ENOENT) { /* gone since the stat: finished, or started over */
    j->err[0] = '\0';
    j->answer = stat(j->full, &sb) == 0 ? PART_AS_FILE : 404;
  } else if (rc != 0) {
    j->answer = rc == RF_ENOMEM || rc == RF_EIO ? 500 : 404;
  } else {
    st = &e->st;
    j->length = st->meta.length;
    j->piece_size = st->meta.piece_size;
    snprintf(j->etag, sizeof(j->etag), "\"rfpart-%016" PRIx64 "\"",
             st->salt);
    j->answer = rf__srv_partial_decide(&j->req, j->ignore_range, j->etag,
                                       j->length, j->piece_size, st->claimed,
                                       &j->start, &j->len);
    if (j->answer != 416 && j->len > 0) {
      j->first = (uint32_t)(j->start / j->piece_size);
      j->count =
          (uint32_t)((j->start + j->len - 1) / j->piece_size) - j->first + 1;
      j->want = malloc((size_t)j->count * sizeof(*j->want));
      if (j->want == NULL)
        j->answer = 500;
      else
        memcpy(j->want, st->hashes + j->first,
               (size_t)j->count * sizeof(*j->want));
    }
  }
  uv_mutex_unlock(&e->mu);
  cache_put(j->cache, e);
out:
  free(tmp);
  free(part);
  free(jpath);
}

/*
 * Hash the next pieces to check, PART_VERIFY_STEP bytes at most.  Runs on
 * the thread pool; sets j->bad, or moves j->vpiece on (to j->count when
 * every piece matched).
 */
static void job_verify(srv_part_job *j)
{
  uint64_t budget = PART_VERIFY_STEP;

  if (j->buf == NULL)
    j->buf = malloc(PART_READ);
  if (j->xs == NULL)
    j->xs = XXH3_createState();
  if (j->buf == NULL || j->xs == NULL) {
    j->bad = 2;
    j->err_no = ENOMEM;
    return;
  }
  while (j->vpiece < j->count && budget > 0) {
    uint64_t p = (uint64_t)j->first + j->vpiece;
    uint64_t pstart = p * j->piece_size;
    uint64_t plen = j->length - pstart < j->piece_size ? j->length - pstart
                                                        : j->piece_size;
    XXH128_hash_t got;

    if (j->voff == 0)
      XXH3_128bits_reset(j->xs);
    while (j->voff < plen && budget > 0) {
      size_t n = plen - j->voff < PART_READ ? (size_t)(plen - j->voff)
                                             : PART_READ;
      size_t nread = 0;
      int e = rf__pread_full(j->fd, j->buf, n, pstart + j->voff, &nread);

      if (e != 0 || nread < n) { /* unreadable, or not that long yet */
        j->bad = e != 0 ? 2 : 1;
        j->err_no = e;
        return;
      }
      XXH3_128bits_update(j->xs, j->buf, n);
      j->voff += n;
      budget = budget > n ? budget - n : 0;
    }
    if (j->voff < plen)
      return; /* the rest of this piece in the next step */
    got = XXH3_128bits_digest(j->xs);
    if (!XXH128_isEqual(got, j->want[j->vpiece])) {
      j->bad = 1;
      return;
    }
    j->vpiece++;
    j->voff = 0;
  }
}

static void on_job_work(uv_work_t *w)
{
  srv_part_job *j = w->data;

  if (j->stage == PART_LOOKUP)
    job_lookup(j);
  else
    job_verify(j);
}

static void on_job_done(uv_work_t *w, int status);

/* Queue j's next stage.  Returns 0, or -1 (nothing queued). */
static int job_queue(srv_part_job *j)
{
  srv_conn *c = j->conn;

  j->work.data = j;
  if (uv_queue_work(c->srv->loop, &j->work, on_job_work, on_job_done) != 0)
    return -1;
  c->refs++;
  return 0;
}

/* The request's target, for log lines. */
static const char *job_target(const srv_part_job *j)
{
  const char *t = j->conn->r.req.target;

  return t != NULL ? t : "-";
}

/* Answer with the entity as j decided: 206, 200 or 416. */
static void job_answer(srv_part_job *j, int status)
{
  srv_conn *c = j->conn;
  srv_resp *r = &c->r;
  rf__srv_exchange *x = &r->x;

  r->kind = SRV_K_FILE;
  r->fd = j->fd;
  j->fd = -1;
  x->size = j->length;
  x->mtime = 0;
  snprintf(x->etag, sizeof(x->etag), "%s", j->etag);
  x->lastmod[0] = '\0';
  x->status = status;
  x->start = status == 416 ? 0 : j->start;
  x->len = status == 416 ? 0 : j->len;
  x->limit = UINT64_MAX;
  rf__srv_answer_entity(c);
}

/* Hand j's file to the connection, which closes it without blocking. */
static void job_release_fd(srv_part_job *j)
{
  srv_conn *c = j->conn;

  if (j->fd < 0)
    return;
  c->r.fd = j->fd; /* -1 until now: no file is open before the job's */
  j->fd = -1;
  rf__srv_release_file(c);
}

/* Log why j's piece j->vpiece is not served. */
static void job_log_bad(const srv_part_job *j)
{
  rf_server *s = j->conn->srv;
  uint64_t p = (uint64_t)j->first + j->vpiece;
  uint64_t a = p * j->piece_size;
  uint64_t b = j->length - a < j->piece_size ? j->length - 1
                                             : a + j->piece_size - 1;

  if (j->bad == 1)
    rf__srv_log(s,
                "%s: piece %" PRIu64 " (bytes %" PRIu64 "-%" PRIu64
                ") of the download in progress does not match its hash in "
                "the journal: not served",
                job_target(j), p, a, b);
  else
    rf__srv_log(s,
                "%s: piece %" PRIu64 " of the download in progress cannot "
                "be read (%s): not served",
                job_target(j), p, strerror(j->err_no));
}

static void on_job_done(uv_work_t *w, int status)
{
  srv_part_job *j = w->data;
  srv_conn *c = j->conn;
  rf_server *s = c->srv;

  (void)status; /* never cancelled */
  if (c->closing) {
    c->pj = NULL;
    job_release_fd(j);
    job_free(j);
    rf__srv_conn_unref(c);
    return;
  }
  c->refs--; /* not the last: the handles are open */
  if (j->stage == PART_LOOKUP) {
    if (j->err[0] != '\0')
      rf__srv_log(s,
                  "%s: the journal of the download in progress cannot be "
                  "used (%s): not served",
                  job_target(j), j->err);
    if (j->answer == PART_AS_FILE || (j->answer != 200 && j->answer != 206 &&
                                      j->answer != 416)) {
      c->pj = NULL;
      job_release_fd(j);
      if (j->answer == PART_AS_FILE)
        rf__srv_resolve_file(c, j->full + s->root_len);
      else
        rf__srv_answer_text(c, j->answer, NULL);
      job_free(j);
      return;
    }
    if (j->answer != 416 && j->count > 0) {
      j->stage = PART_VERIFY;
      if (job_queue(j) == 0)
        return;
      j->bad = 2;
      j->err_no = ENOMEM;
    }
  } else if (j->bad == 0 && j->vpiece < j->count) {
    if (job_queue(j) == 0)
      return; /* the next step */
    j->bad = 2;
    j->err_no = ENOMEM;
  }
  if (j->bad != 0)
    job_log_bad(j);
  c->pj = NULL;
  job_answer(j, j->bad != 0 ? 416 : j->answer);
  job_free(j);
}

void rf__srv_partial_start(srv_conn *c, char *full)
{
  rf_server *s = c->srv;
  srv_part_job *j = calloc(1, sizeof(*j));

  c->r.partial_tried = 1;
  if (j == NULL) {
    free(full);
    rf__srv_answer_text(c, 500, NULL);
    return;
  }
  j->conn = c;
  j->cache = s->partials;
  j->root = s->root;
  j->root_len = s->root_len;
  j->full = full;
  j->req = c->r.req;
  j->req.target = NULL;
  j->req.head = NULL;
  j->ignore_range = c->r.x.ignore_range;
  j->stage = PART_LOOKUP;
  j->fd = -1;
  c->pj = j;
  if (job_queue(j) != 0) {
    c->pj = NULL;
    job_free(j);
    rf__srv_answer_text(c, 500, NULL);
  }
}
