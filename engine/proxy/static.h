/*
 * The static resolver (one proxy for all, or per scheme, plus no_proxy),
 * reused for an explicit --proxy ("override") and the policy scopes.
 */
#ifndef RF_PROXY_STATIC_H
#define RF_PROXY_STATIC_H

#include "rangefetch/proxy.h"

typedef struct rf__static rf__static;

typedef struct rf__static_config {
  const char *name;  /* resolver name: "static" (default) or "override" */
  const char *label; /* where it comes from: "--proxy", a file name... */
  const char *proxy, *http_proxy, *https_proxy; /* NULL: none */
  const char *no_proxy;
  const char *user, *password; /* for proxies without their own */
  unsigned auth;
  const char *ca_file;
} rf__static_config;

/* Returns 0, RF_EURL (a proxy value does not parse), RF_ENOMEM. */
int rf__static_new(rf__static **out, const rf__static_config *cfg);
void rf__static_free(rf__static *st);
const char *rf__static_name(const rf__static *st);

/* The decision for info: 1 and *out (borrowing st's strings) with a
 * detail line, or 0 (no opinion for this scheme). */
int rf__static_decide(const rf__static *st, const rf_resolve_info *info,
                      rf_proxy *out, char *detail, size_t size);

/* Resolver ops answering with rf__static_decide; self is an rf__static
 * (destroy frees it).  Added to the chain under rf__static_name. */
const rf_resolver_ops *rf__static_ops(void);

#endif
