/*
 * Proxy candidates: parsing and formatting (public rf_proxy_parse /
 * rf_proxy_format), deep copies of candidate lists, the libcurl options a
 * candidate means, and how a failed transfer through a proxy is classified
 * (dead proxy, authentication, refused tunnel, or not the proxy's fault).
 */
#ifndef RF_PROXY_CANDIDATE_H
#define RF_PROXY_CANDIDATE_H

#include <curl/curl.h>

#include "rangefetch/proxy.h"

/* Deep copy of n candidates (strings included) into one allocation;
 * free() the result.  Passwords are dropped when keep_secrets is 0.
 * Returns 0, RF_EINVAL (a proxy without host, unknown type), RF_ENOMEM. */
int rf__proxy_list_copy(const rf_proxy *src, size_t n, int keep_secrets,
                        rf_proxy **out);

/* The port a candidate uses (its own, or its type's default). */
unsigned rf__proxy_port(const rf_proxy *p);

/* Names of the schemes in an RF_PROXY_AUTH_* mask: "Basic, Digest". */
void rf__proxy_auth_names(unsigned mask, char *out, size_t size);

/* RF_PROXY_AUTH_* from libcurl's CURLAUTH_* bits. */
unsigned rf__proxy_auth_from_curl(long curlauth);

/*
 * Set every proxy option of easy for p (NULL or DIRECT: no proxy, and
 * libcurl told not to look at the environment).  user/password: the
 * credentials to use when p has none of its own (may be NULL); auth: the
 * schemes allowed when p->auth is 0.  Returns 0, or RF_ENOMEM when libcurl
 * could not copy a string (the handle's proxy options are then unknown:
 * it must not be used as it is).
 */
int rf__proxy_apply(CURL *easy, const rf_proxy *p, const char *user,
                     const char *password, unsigned auth);

typedef enum rf__proxy_fault {
  RF__PROXY_FAULT_NONE = 0, /* not the proxy's doing */
  RF__PROXY_FAULT_DEAD,     /* connection-level: fail over */
  RF__PROXY_FAULT_AUTH,     /* 407, or SOCKS authentication refused */
  RF__PROXY_FAULT_REFUSED   /* CONNECT answered with an error */
} rf__proxy_fault;

/*
 * Why a transfer through p ended with res (CURLE_OK included: a final 407
 * comes back as an HTTP answer when there is no tunnel; status is the
 * final HTTP status the transfer saw).  Writes a one-line reason to why
 * (no credentials); for AUTH, *offered receives the schemes the proxy
 * offered (RF_PROXY_AUTH_* mask, 0 when unknown).
 */
rf__proxy_fault rf__proxy_classify(CURL *easy, CURLcode res, long status,
                                   const rf_proxy *p, unsigned *offered,
                                   char *why, size_t size);

/*
 * The message for a proxy that refused authentication (a 407, or a SOCKS
 * handshake that failed on credentials): why (the classification's text)
 * plus what to do, from what the proxy offered (RF_PROXY_AUTH_* bits) and
 * what was allowed and given: p's own auth and user, else the job's
 * (job_auth 0: the safe schemes; job_user NULL: none).  Never the
 * password.
 */
void rf__proxy_auth_message(const rf_proxy *p, unsigned job_auth,
                            const char *job_user, unsigned offered,
                            const char *why, char *msg, size_t size);

#endif
