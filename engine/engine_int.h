/*
 * The engine behind the public façade (engine.c): the loop glue, the
 * logger, the proxy chain, its jobs, and the sockets libcurl opened.
 */
#ifndef RF_ENGINE_INT_H
#define RF_ENGINE_INT_H

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <uv.h>

#include "rangefetch/rangefetch.h"
#include "log.h"
#include "loop.h"
#include "proxy/chain.h"

struct rf_engine {
  uv_loop_t *loop;
  uv_loop_t own_loop;
  int own;
  rf__curlm m;
  rf__logger log;
  rf_job *jobs;           /* linked list, owned here: rf_job_add links a
                             job, rf__engine_forget unlinks it */
  rf__chain *chain;       /* proxy resolvers */
  unsigned closing_parts; /* multi + chain still closing (rf_engine_free) */
  rf_proxy_credentials_cb proxy_creds; /* may be NULL */
  void *proxy_creds_ud;
  int in_callback;
  int freeing;
  /* Every socket libcurl opened for the engine's transfers and has not
   * closed (CURLOPT_OPENSOCKETFUNCTION / CLOSESOCKETFUNCTION): where a
   * connection's socket is looked up (rf__engine_conn_socket). */
  curl_socket_t *socks;
  size_t nsocks, socks_cap;
  char last_error[512];
  /* Cache host bans (engine/source/source.c): they outlive jobs. */
  struct rf__ban *bans;
};

/* sockets.c: open and close easy's sockets through e's socket list. */
void rf__engine_sockets_use(rf_engine *e, CURL *easy);
/* sockets.c: the socket easy's running transfer uses (found by the local
 * and remote ports libcurl reports), or CURL_SOCKET_BAD if unsure. */
curl_socket_t rf__engine_conn_socket(rf_engine *e, CURL *easy);
/* sockets.c: release the list (every socket closed already). */
void rf__engine_sockets_free(rf_engine *e);
struct rf__static_config;
/* Add a static/override resolver (sets the last error on a bad URL). */
int rf__engine_add_static(rf_engine *e, const struct rf__static_config *cfg);
struct rf__pacres_config;
/* Add a PAC resolver (also WPAD: cfg->discovery) under name, a static
 * string ("pac", "wpad", "policy-pac"...). */
int rf__engine_add_pac(rf_engine *e, const struct rf__pacres_config *cfg,
                       const char *name);
/* Detail for the last failed rf_job_add (rf_engine_last_error).  Here,
 * beside the struct, so that the job's files, which set it, depend on the
 * engine's data and not on engine.c. */
static inline void rf__engine_set_error(rf_engine *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline void rf__engine_set_error(rf_engine *e, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(e->last_error, sizeof(e->last_error), fmt, ap);
  va_end(ap);
}

#endif
