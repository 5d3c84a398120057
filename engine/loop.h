/*
 * libcurl's multi interface driven by libuv: CURLMOPT_SOCKETFUNCTION and
 * CURLMOPT_TIMERFUNCTION feed uv_poll_t / uv_timer_t handles, and every
 * readiness or timeout calls curl_multi_socket_action.  No polling loop,
 * nothing blocking.  Shaped like curl's docs/examples/multi-uv.c, with the
 * pitfalls of docs/design.md §5.1 handled: a fresh poll handle per REMOVE/add cycle
 * (stopped and closed synchronously on REMOVE), poll errors passed on as
 * CURL_CSELECT_ERR, and curl_multi_info_read drained after every action.
 */
#ifndef RF_LOOP_H
#define RF_LOOP_H

#include <curl/curl.h>
#include <uv.h>

typedef struct rf__curlm rf__curlm;

/* A transfer finished (CURLMSG_DONE).  Called outside any libcurl callback:
 * the callee may remove and add handles. */
typedef void (*rf__curlm_done_cb)(rf__curlm *m, CURL *easy, CURLcode result,
                                  void *user_data);
/* Called after every batch of socket actions, outside libcurl callbacks:
 * the place for work deferred from inside write/header callbacks. */
typedef void (*rf__curlm_after_cb)(rf__curlm *m, void *user_data);
typedef void (*rf__curlm_closed_cb)(rf__curlm *m, void *user_data);
/* libcurl lost track of the multi's transfers: it ran out of memory in
 * its socket bookkeeping, or a socket could not be watched.  Nothing
 * would wake them: the callee ends every transfer of the multi now (as
 * if with CURLE_OUT_OF_MEMORY) and removes their handles.  Called outside
 * libcurl callbacks, before the done callbacks of the same action. */
typedef void (*rf__curlm_lost_cb)(rf__curlm *m, void *user_data);

struct rf__curlm {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t timer;
  rf__curlm_done_cb done_cb;
  rf__curlm_after_cb after_cb;
  rf__curlm_closed_cb closed_cb;
  rf__curlm_lost_cb lost_cb; /* may be NULL */
  void *user_data;
  unsigned open_handles; /* uv handles not yet closed (timer + polls) */
  int closing;
  int in_action;         /* inside curl_multi_socket_action */
  int lost;              /* socket_cb could not watch a socket */
};

/*
 * Initialise m on loop.  Returns 0, RF_ENOMEM, RF_EIO.
 */
int rf__curlm_init(rf__curlm *m, uv_loop_t *loop, rf__curlm_done_cb done_cb,
                   rf__curlm_after_cb after_cb, rf__curlm_lost_cb lost_cb,
                   void *user_data);

/* Add / remove an easy handle.  Not from inside libcurl callbacks. */
/* At most max_connections TCP connections open, in use or idle, over all
 * the multi's transfers (CURLMOPT_MAX_TOTAL_CONNECTIONS, MAXCONNECTS). */
void rf__curlm_limit(rf__curlm *m, unsigned max_connections);

int rf__curlm_add(rf__curlm *m, CURL *easy);
void rf__curlm_remove(rf__curlm *m, CURL *easy);

/*
 * Release the multi handle (every easy handle must have been removed) and
 * close the uv handles; closed_cb runs once the last one is closed.
 */
void rf__curlm_close(rf__curlm *m, rf__curlm_closed_cb closed_cb);

#endif
