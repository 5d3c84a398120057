/*
 * The PAC resolver: gets a PAC script (http(s) URL fetched directly with
 * limits, a file, or a data: URL; or a URL found by WPAD discovery),
 * evaluates it on a libuv worker thread with the sandboxed evaluator of
 * pac.c (so neither the script nor its DNS lookups ever block the loop),
 * and answers the chain with the candidates of its result string.  Answers
 * are cached per scheme+host+port: one evaluation serves every piece.
 */
#ifndef RF_PROXY_PAC_RESOLVER_H
#define RF_PROXY_PAC_RESOLVER_H

#include <uv.h>

#include "log.h"
#include "proxy/pac.h"
#include "rangefetch/proxy.h"

typedef struct rf__pacres rf__pacres;

/*
 * Finds the PAC URL for a WPAD resolver: calls done(pr, err, url, source)
 * exactly once from the loop (url NULL when err != 0; source says how it
 * was found, or what was tried).  May be cancelled with the returned
 * handle through cancel.
 */
typedef struct rf__pacres_discovery {
  int (*start)(void *ud, uv_loop_t *loop, rf__pacres *pr,
               void (*done)(rf__pacres *pr, int err, const char *url,
                            const char *source),
               void **handle);
  void (*cancel)(void *handle);
  void *ud;
} rf__pacres_discovery;

typedef struct rf__pacres_config {
  const char *location;  /* URL, path or data: URL; NULL with discovery */
  const rf__pacres_discovery *discovery; /* WPAD; NULL otherwise */
  const char *label;     /* prefix of answers' details, may be NULL */
  rf_pac_options opts;
  rf__pac_limits limits; /* clock for tests; deadline/memory from opts */
  const rf__pac_dns *dns;/* NULL: the system's (getaddrinfo) */
  /* Given to every proxy the script names (a settings scope's): */
  const char *user, *password; /* NULL: none */
  unsigned auth;               /* RF_PROXY_AUTH_*; 0: the job's */
  const char *ca_file;         /* for HTTPS proxies; NULL: the job's */
} rf__pacres_config;

int rf__pacres_new(rf__pacres **out, uv_loop_t *loop, const rf__logger *log,
                   const rf__pacres_config *cfg);

/* The resolver ops; self is an rf__pacres (destroy releases it once its
 * worker and fetch are done).  The engine adds it under "pac", "wpad",
 * "policy-pac" or "policy-wpad" (rf__engine_add_pac, engine/resolvers.c). */
const rf_resolver_ops *rf__pacres_ops(void);

/* WPAD discovery with the system's settings (wpad.c). */
extern const rf__pacres_discovery rf__wpad_system_discovery;

#endif
