/*
 * What the job's requests carry besides the range: the caller's headers,
 * the origin's credentials (user, bearer token, netrc), cookies, TLS
 * checks and pinning, and how addresses are chosen (IPv4/IPv6, interface,
 * --resolve entries).  Job options version 3 (rangefetch.h).
 *
 * Decided here, once: what is checked (rf__reqopts_check, a pure function
 * naming the bad option), what every handle gets when it is made
 * (rf__reqopts_apply_conn), and what a request gets for its source
 * (rf__reqopts_apply_source): credentials, the caller's headers, cookie
 * strings and the pinned key go to the origin only, never to mirrors,
 * cache hosts or peers, which are other parties.
 */
#ifndef RF_REQOPTS_H
#define RF_REQOPTS_H

#include <curl/curl.h>
#include <stddef.h>

#include "rangefetch/rangefetch.h"

typedef struct rf__reqopts {
  struct curl_slist *headers; /* the caller's, for the origin; NULL: none */
  char *referer;
  char *user, *password; /* origin credentials (-u); NULL: the URL's */
  char *bearer;
  long netrc; /* CURL_NETRC_* */
  char *netrc_file;
  char *cookie_string; /* "A=B; C=D": origin only */
  char *cookie_file;   /* loaded once into the job's cookie store */
  char *cookie_jar;
  int cookies_on;   /* the cookie engine is on for the job's handles */
  CURLSH *share;    /* the job's cookies, shared by its handles */
  int insecure;
  char *pinned_pubkey;
  long ipresolve; /* CURL_IPRESOLVE_* */
  char *interface;
  struct curl_slist *resolve;
} rf__reqopts;

/*
 * Check the request options of o (version 3 fields; nothing for older
 * versions).  Pure: touches no file but to ask whether a cookie or netrc
 * file can be read.  Returns 0, or RF_EINVAL with why naming the option
 * and what is wrong ("header 'Range' is the engine's: ...").
 */
int rf__reqopts_check(const rf_job_options *o, char *why, size_t why_size);

/*
 * One header line the caller gave, checked: "Name: value", "Name:" or
 * "Name;" with a token name that is not Range or If-Range, and no CR, LF
 * or NUL.  Returns 0 or RF_EINVAL with why.
 */
int rf__reqopts_header_check(const char *line, char *why, size_t why_size);

/* Copy the request options of o (checked).  Returns 0, RF_ENOMEM. */
int rf__reqopts_init(rf__reqopts *r, const rf_job_options *o);

/* Release r (secrets wiped).  The handles that used r's share must be
 * cleaned up first. */
void rf__reqopts_free(rf__reqopts *r);

/*
 * What every handle of the job gets once: referer, TLS checks, address
 * family, interface, resolve entries, the cookie store.  first: the job's
 * first handle, which loads the cookie file and writes the cookie jar
 * when it is cleaned up.  Returns 0, or RF_ENOMEM when libcurl could not
 * copy a string (the handle must not be used).
 */
int rf__reqopts_apply_conn(const rf__reqopts *r, CURL *easy, int first);

/*
 * What one request gets for its source: for the origin the credentials,
 * origin_headers (the caller's headers, plus If-Range when the request
 * needs it), the cookie string and the pinned key; for any other source
 * none of them.  Returns 0, or RF_ENOMEM when libcurl could not copy a
 * string (the request must not be sent as it is).
 */
int rf__reqopts_apply_source(const rf__reqopts *r, CURL *easy, int origin,
                             struct curl_slist *origin_headers);

/*
 * A copy of the caller's headers followed by extra (e.g. "If-Range: ..."),
 * or NULL without memory.  extra may be NULL.
 */
struct curl_slist *rf__reqopts_headers_with(const rf__reqopts *r,
                                            const char *extra);

#endif
