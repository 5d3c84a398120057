/* A scripted HTTP server for the hostile-server tests (liar.h). */
#ifndef _DEFAULT_SOURCE
#  define _DEFAULT_SOURCE
#endif

#include "liar.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "faults.h"

typedef struct liar_conn {
  liar *l;
  int fd;
  pthread_t th;
  int used;         /* a thread was started (accept thread only) */
  atomic_int done;  /* that thread has ended: join it, reuse the slot */
} liar_conn;

struct liar {
  int lfd;
  uint16_t port;
  liar_fn fn;
  void *ud;
  atomic_int stop;
  atomic_uint requests;
  pthread_t th;
  pthread_mutex_t mu;
  liar_conn conns[LIAR_MAX_CONNS];
};

void liar_printf(liar_answer *a, const char *fmt, ...)
{
  va_list ap;
  int n;
  char *grown;

  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  grown = realloc(a->data, a->len + (size_t)n + 1);
  if (grown == NULL)
    return;
  a->data = grown;
  va_start(ap, fmt);
  vsnprintf(a->data + a->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  a->len += (size_t)n;
}

void liar_gen(liar_answer *a, uint64_t off, size_t len, uint64_t seed)
{
  char *grown = realloc(a->data, a->len + len + 1);

  if (grown == NULL)
    return;
  a->data = grown;
  faults_gen_fill(a->data + a->len, off, len, seed);
  a->len += len;
}

/* Wait up to ms for fd to be readable (or writable); 1 ready, 0 not, -1
 * stop asked. */
static int wait_fd(liar *l, int fd, short ev, int ms)
{
  struct pollfd p = { fd, ev, 0 };
  int waited = 0;

  while (waited < ms) {
    if (atomic_load(&l->stop))
      return -1;
    if (poll(&p, 1, 50) > 0)
      return 1;
    waited += 50;
  }
  return 0;
}

static int send_all(liar *l, int fd, const char *p, size_t n, unsigned trickle)
{
  while (n > 0) {
    size_t chunk = trickle > 0 ? 1 : n;
    ssize_t w;
    if (wait_fd(l, fd, POLLOUT, 10000) != 1)
      return -1;
    w = send(fd, p, chunk, MSG_NOSIGNAL);
    if (w <= 0)
      return -1;
    p += w;
    n -= (size_t)w;
    if (trickle > 0) {
      unsigned slept = 0;
      while (slept < trickle && !atomic_load(&l->stop)) {
        usleep(10000);
        slept += 10;
      }
      if (atomic_load(&l->stop))
        return -1;
    }
  }
  return 0;
}

/* Parse what the tests need of a request head. */
static void parse_head(const char *h, liar_req *rq)
{
  const char *sp = strchr(h, ' '), *sp2, *line;

  if (sp != NULL && (sp2 = strchr(sp + 1, ' ')) != NULL)
    snprintf(rq->target, sizeof(rq->target), "%.*s", (int)(sp2 - sp - 1),
             sp + 1);
  for (line = strstr(h, "\r\n"); line != NULL && line[2] != '\0';
       line = strstr(line + 2, "\r\n")) {
    const char *l = line + 2;
    if (strncasecmp(l, "Range: bytes=", 13) == 0) {
      char *end;
      rq->first = strtoull(l + 13, &end, 10);
      rq->last = *end == '-' && end[1] >= '0' && end[1] <= '9'
                     ? strtoull(end + 1, NULL, 10)
                     : UINT64_MAX;
      rq->has_range = 1;
    } else if (strncasecmp(l, "If-Range: ", 10) == 0) {
      snprintf(rq->if_range, sizeof(rq->if_range), "%.*s",
               (int)strcspn(l + 10, "\r\n"), l + 10);
    }
  }
}

static void *conn_main(void *arg)
{
  liar_conn *c = arg;
  liar *l = c->l;
  char buf[16384];
  size_t have = 0;

  for (;;) {
    char *end;
    liar_req rq;
    liar_answer a;
    ssize_t r;
    size_t used;

    buf[have] = '\0';
    end = strstr(buf, "\r\n\r\n");
    if (end == NULL) {
      if (have + 1 >= sizeof(buf) || wait_fd(l, c->fd, POLLIN, 10000) != 1)
        break;
      r = recv(c->fd, buf + have, sizeof(buf) - 1 - have, 0);
      if (r <= 0)
        break;
      have += (size_t)r;
      continue;
    }
    memset(&rq, 0, sizeof(rq));
    end[2] = '\0';
    parse_head(buf, &rq);
    used = (size_t)(end + 4 - buf);
    memmove(buf, buf + used, have - used);
    have -= used;
    rq.n = atomic_fetch_add(&l->requests, 1) + 1;
    memset(&a, 0, sizeof(a));
    l->fn(&rq, &a, l->ud);
    r = send_all(l, c->fd, a.data != NULL ? a.data : "", a.len, a.trickle_ms);
    free(a.data);
    if (r != 0 || a.close_after)
      break;
  }
  shutdown(c->fd, SHUT_RDWR);
  close(c->fd);
  atomic_store(&c->done, 1);
  return NULL;
}

static void *accept_main(void *arg)
{
  liar *l = arg;

  while (!atomic_load(&l->stop)) {
    int fd, k;
    if (wait_fd(l, l->lfd, POLLIN, 100) != 1)
      continue;
    fd = accept(l->lfd, NULL, NULL);
    if (fd < 0)
      continue;
    pthread_mutex_lock(&l->mu);
    for (k = 0; k < LIAR_MAX_CONNS; k++) {
      if (l->conns[k].used && atomic_load(&l->conns[k].done)) {
        pthread_join(l->conns[k].th, NULL);
        l->conns[k].used = 0;
      }
      if (!l->conns[k].used)
        break;
    }
    if (k == LIAR_MAX_CONNS) {
      pthread_mutex_unlock(&l->mu);
      close(fd);
      continue;
    }
    l->conns[k].used = 1;
    atomic_store(&l->conns[k].done, 0);
    l->conns[k].fd = fd;
    l->conns[k].l = l;
    if (pthread_create(&l->conns[k].th, NULL, conn_main, &l->conns[k]) != 0) {
      l->conns[k].used = 0;
      close(fd);
    }
    pthread_mutex_unlock(&l->mu);
  }
  return NULL;
}

liar *liar_start(liar_fn fn, void *user_data)
{
  liar *l = calloc(1, sizeof(*l));
  struct sockaddr_in sa;
  socklen_t sl = sizeof(sa);
  int one = 1;

  if (l == NULL)
    return NULL;
  l->fn = fn;
  l->ud = user_data;
  pthread_mutex_init(&l->mu, NULL);
  l->lfd = socket(AF_INET, SOCK_STREAM, 0);
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  setsockopt(l->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (l->lfd < 0 || bind(l->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
      listen(l->lfd, 128) != 0 ||
      getsockname(l->lfd, (struct sockaddr *)&sa, &sl) != 0 ||
      pthread_create(&l->th, NULL, accept_main, l) != 0) {
    fprintf(stderr, "liar: cannot start: %s\n", strerror(errno));
    if (l->lfd >= 0)
      close(l->lfd);
    free(l);
    return NULL;
  }
  l->port = ntohs(sa.sin_port);
  return l;
}

uint16_t liar_port(const liar *l)
{
  return l->port;
}

unsigned liar_requests(const liar *l)
{
  return atomic_load(&((liar *)(uintptr_t)l)->requests);
}

void liar_stop(liar *l)
{
  int k;

  if (l == NULL)
    return;
  atomic_store(&l->stop, 1);
  pthread_join(l->th, NULL);
  for (k = 0; k < LIAR_MAX_CONNS; k++)
    if (l->conns[k].used)
      pthread_join(l->conns[k].th, NULL);
  close(l->lfd);
  pthread_mutex_destroy(&l->mu);
  free(l);
}
