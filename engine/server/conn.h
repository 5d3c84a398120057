/*
 * The range server's insides, shared by server/server.c (listener,
 * connections, public API) and server/respond.c (answering one request).
 * See server/server.c for the shape and the lifetime rules.
 */
#ifndef RF_SERVER_CONN_H
#define RF_SERVER_CONN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "server/hooks.h"
#include "server/http.h"

#define SRV_CHUNK    (256 * 1024) /* body bytes per write */
#define SRV_NBUFS    2            /* body writes queued per connection */
#define SRV_HEAD_MAX (16 * 1024)  /* request head limit: 431 beyond */
#define SRV_OUT_MAX  2048         /* response head (and short body) */

/* One body buffer and the write that sends it. */
typedef struct srv_buf {
  uv_write_t req;
  struct srv_conn *conn;
  char *data;         /* SRV_CHUNK bytes, allocated on first use */
  size_t content_len; /* content bytes in the write in flight */
  int busy;           /* being filled or written */
  char pre[24];       /* chunk-size line for chunked bodies */
} srv_buf;

enum { SRV_K_TEXT, SRV_K_FILE, SRV_K_VIRTUAL };
enum { SRV_PH_RESOLVE, SRV_PH_BODY };

/* The request being answered and the state of its response. */
typedef struct srv_resp {
  rf__srv_request req;
  rf__srv_exchange x; /* what hooks see; also the response's plan */
  int phase;          /* SRV_PH_* */
  int kind;           /* SRV_K_* */
  uv_file fd;         /* SRV_K_FILE: open file, or -1 */
  uint64_t limit;     /* body bytes actually produced (<= x.len) */
  uint64_t produced;  /* body bytes handed to buffers so far */
  uint64_t sent;      /* body bytes whose write completed */
  uint64_t text_len;  /* short body carried in the head write */
  int tail_sent;      /* chunked terminator queued */
  int waiting;        /* wait timer armed (delay or pace) */
  int logged;
  int partial_tried; /* a download in progress was looked for */
  srv_buf *filling; /* buffer whose file read is in flight */
} srv_resp;

/* One accepted connection. */
typedef struct srv_conn {
  rf_server *srv;
  struct srv_conn *prev;
  struct srv_conn *next;
  uv_tcp_t tcp;
  uv_timer_t idle; /* idle timeout, then lingering close */
  uint64_t head_t0; /* loop time of a request head's first byte; 0: none
                       coming in */
  uv_timer_t wait; /* the head's delay, the body's pace */
  /* File bodies go out with sendfile(2) when nothing must see or pace
   * them: on a dup of the socket, polled for writability while the
   * socket is full (respond.c).  sf_fd -1: not opened yet. */
  int sf_fd;
  int sf_open; /* sf_poll initialised (counted in refs) */
  uv_poll_t sf_poll;
  uv_fs_t fs;      /* the one file-system request in flight */
  uv_write_t head_req;
  uv_write_t tail_req;
  uv_shutdown_t shut_req;
  unsigned refs;   /* open handles + fs request in flight */
  unsigned writes; /* uv_write requests in flight */
  int closing;
  int lingering;
  int reading;
  int responding;
  int fs_busy;
  void *hook_data; /* the hooks' per-connection data */
  struct srv_part_job *pj; /* the partial-file job in flight (partial.c) */
  /* Limits: the peer's address, and which count the connection is in. */
  int peer_family; /* AF_INET, AF_INET6, or 0 when unknown */
  unsigned char peer[16];
  int admitted; /* counted in srv->nactive */
  int refused;  /* counted in srv->nrefusing: answered 503 */
  /* Rate limit: waiting in the server's queue for tokens. */
  int rl_queued;
  struct srv_conn *rl_prev;
  struct srv_conn *rl_next;
  srv_resp r;
  srv_buf bufs[SRV_NBUFS];
  size_t in_len;
  char in[SRV_HEAD_MAX];
  char out[SRV_OUT_MAX];
  char crlf[2];
  char tail[5];
} srv_conn;

struct rf_server {
  uv_loop_t *loop;
  uv_tcp_t listener;
  char *root; /* realpath of the served directory */
  size_t root_len;
  void (*log_cb)(const char *line, void *user_data);
  void *user_data;
  const rf__server_hooks *hooks; /* never NULL (an empty table) */
  void *hooks_ctx;
  uint16_t port;
  int closing;
  int listener_open;
  uint64_t idle_ms;
  uint64_t head_ms; /* a request head must be whole this long after its
                       first byte */
  srv_conn *conns;
  size_t nconns;
  unsigned pending; /* asynchronous closes of files in flight */
  /* Connection limits. */
  unsigned max_conns;
  unsigned max_per_client;
  size_t nactive;   /* admitted connections, not yet closing or lingering */
  size_t nrefusing; /* connections being answered 503 */
  int accept_paused; /* a connection waits in the listener, not accepted:
                        too many of ours are still closing */
  /* Rate limit (a token bucket kept as a theoretical arrival time). */
  uint64_t rate;        /* body bytes per second; 0: none */
  uint64_t rl_tat_ns;   /* when the bucket is full again (uv_hrtime) */
  uint64_t rl_burst_ns; /* the bucket: 50 ms of the rate */
  uint64_t rl_quantum;  /* fewest bytes worth a write when short of tokens */
  uv_timer_t rl_timer;
  int rl_timer_open;
  srv_conn *rl_head; /* connections waiting for tokens, oldest first */
  srv_conn *rl_tail;
  srv_conn *rl_current; /* the connection the timer is serving */
  /* Downloads in progress (NULL: options.partial is 0). */
  struct rf__srv_partials *partials;
  _Atomic uint64_t requests;
  _Atomic uint64_t body_bytes; /* body bytes handed to the kernel */
  _Atomic uint64_t connections;
  _Atomic uint64_t peak_open; /* most connections open at once */
};

/* server.c: the connection's life. */
void rf__srv_conn_close(srv_conn *c);
/* Open c's sendfile poll (on a dup of its socket).  Returns 0 or -1. */
int rf__srv_sendfile_open(srv_conn *c);
void rf__srv_log(rf_server *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
uint64_t rf__srv_rate_take(srv_conn *c, uint64_t want);
void rf__srv_conn_unref(srv_conn *c);
void rf__srv_conn_touch(srv_conn *c);
void rf__srv_conn_wait(srv_conn *c, uint64_t ms);
void rf__srv_conn_linger(srv_conn *c);
void rf__srv_conn_process(srv_conn *c);
void rf__srv_resp_reset(srv_conn *c);
void rf__srv_resp_log(srv_conn *c);
void rf__srv_release_file(srv_conn *c);

/* respond.c: answering the request in c->r. */
void rf__srv_req_start(srv_conn *c);
void rf__srv_send_head(srv_conn *c);
void rf__srv_pump(srv_conn *c);
void rf__srv_answer_text(srv_conn *c, int status, const char *extra);
void rf__srv_answer_entity(srv_conn *c);
void rf__srv_resolve_file(srv_conn *c, const char *path);
int rf__srv_path_inside(const char *root, size_t root_len,
                        const char *resolved);

/* partial.c: downloads in progress (see server/partial.h). */
void rf__srv_partial_start(srv_conn *c, char *full);

#endif /* RF_SERVER_CONN_H */
