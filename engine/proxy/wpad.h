/*
 * WPAD discovery: finds the URL of the PAC file a network offers, the way
 * draft-cooper-webi-wpad-00 describes it, restricted to what is safe on
 * Linux (docs/wpad.md).  Opt-in: nothing here runs unless the resolver asks.
 *
 * Order: DHCP option 252 first (from the system's DHCP lease data, never by
 * sending DHCP packets), then DNS: "wpad.<domain>" for each search domain,
 * devolved label by label down to the registrable domain given by the
 * public suffix list (libpsl), each name resolved with a quick-check
 * timeout; the first name that resolves gives http://wpad.<domain>/wpad.dat.
 * Never a bare "wpad", never "wpad.<public suffix>", no LLMNR, NetBIOS or
 * mDNS.  This module only finds the URL; fetching and evaluating the PAC
 * file is the caller's job.
 *
 * The parsers are pure functions over text.  rf__wpad_discover runs on a
 * libuv loop; its file reading happens on the loop's thread pool.
 * No global mutable state.
 */
#ifndef RF_PROXY_WPAD_H
#define RF_PROXY_WPAD_H

#include <stddef.h>
#include <stdint.h>

#include <libpsl.h>
#include <uv.h>

#define RF__WPAD_DEFAULT_TIMEOUT_MS     1000u
#define RF__WPAD_DEFAULT_MAX_CANDIDATES 16u
/* A host name is at most 253 characters (RFC 1035, without the root dot). */
#define RF__WPAD_NAME_MAX 253u
/* Largest resolv.conf or lease file read. */
#define RF__WPAD_MAX_FILE (4u * 1024u * 1024u)

/* ---------------------------------------------------------- candidates */

typedef struct rf__wpad_candidate {
  char name[RF__WPAD_NAME_MAX + 1]; /* "wpad.example.co.uk" (no final dot) */
  char url[RF__WPAD_NAME_MAX + 20]; /* "http://wpad.example.co.uk/wpad.dat" */
} rf__wpad_candidate;

/*
 * The DNS candidates for a list of domains, in the order to try them.
 *
 * domains is a NULL-terminated list of DNS *domains* (resolv.conf search
 * list or "domain"; the host's own domain is its name without the first
 * label, see rf__wpad_host_domain), not host names: the domain itself is
 * the first suffix.  For each domain, in order:
 * - it is normalised: lower case, one trailing dot dropped.  It is skipped
 *   when invalid: an empty label, a label over 63 characters or with
 *   characters other than a-z, 0-9 and '-' (or '-' first or last), a last
 *   label of digits only (an IP address), "wpad." + domain over 253
 *   characters, or a special-use domain that is not resolved through DNS
 *   (.local (mDNS), .localhost, .invalid, .onion, in-addr.arpa, ip6.arpa);
 * - its registrable domain is looked up in psl (ICANN *and* private
 *   entries count, and the "*" default rule makes unknown TLDs public, so
 *   "corp" or "lan" alone give nothing).  A domain that is itself a public
 *   suffix ("com", "co.uk", "github.io") gives nothing;
 * - the candidates are "wpad." + the domain, then + the domain with its
 *   first label dropped, and so on down to and including the registrable
 *   domain: "dept.branch.example.co.uk" gives wpad.dept.branch.example.co.uk,
 *   wpad.branch.example.co.uk, wpad.example.co.uk, never wpad.co.uk or
 *   wpad.uk.  A suffix without a dot or that psl calls public is never used
 *   (a second guard, whatever psl says about the registrable domain).
 * Names already in the list are not repeated; the list stops at max
 * entries (0: RF__WPAD_DEFAULT_MAX_CANDIDATES).
 *
 * psl: borrowed, e.g. psl_builtin() (deterministic) or psl_latest(NULL).
 * On success *out is a malloc'd array of *n_out candidates (free() it), or
 * NULL when *n_out is 0.  If skipped is not NULL it gets the number of
 * domains that were invalid, public suffixes or gave nothing new.
 * Returns 0, RF_EINVAL (out, n_out or psl NULL), RF_ENOMEM; on failure
 * *out is NULL and *n_out 0.
 */
int rf__wpad_candidates(rf__wpad_candidate **out, size_t *n_out,
                        size_t *skipped, const psl_ctx_t *psl,
                        const char *const *domains, size_t max);

/*
 * The domain of a host name: what follows its first dot ("pc.example.com"
 * gives "example.com"), a pointer into fqdn; NULL when fqdn is NULL or has
 * no dot followed by something.
 */
const char *rf__wpad_host_domain(const char *fqdn);

/* --------------------------------------------------------- resolv.conf */

/*
 * The search domains of a resolv.conf text (len bytes, need not be
 * NUL-terminated), as resolv.conf(5) and glibc read it: a line whose first
 * word is "search" gives its words (spaces and tabs separate them), a line
 * "domain <name>" gives <name> alone; the last such line wins, and one
 * without a word is ignored.  Keywords start the line; lines starting with
 * '#' or ';' are comments, and '#' or ';' ends a line's words.  The words
 * are returned as written (rf__wpad_candidates normalises them).
 * LOCALDOMAIN is not read (the caller may pass it as domains).
 * On success *out is a malloc'd NULL-terminated list (one block: free()
 * *out once), empty (just NULL) when the text sets no domain; *n_out (may
 * be NULL) is its length.
 * Returns 0, RF_EINVAL (out NULL, or text NULL with len > 0), RF_ENOMEM;
 * on failure *out is NULL.
 */
int rf__wpad_parse_resolv(char ***out, size_t *n_out, const char *text,
                          size_t len);

/*
 * rf__wpad_parse_resolv over the file at path (NULL: /etc/resolv.conf).
 * Returns 0, RF_EINVAL, RF_ENOENT, RF_EACCES, RF_EIO, RF_ETOOBIG (over
 * RF__WPAD_MAX_FILE), RF_ENOMEM.
 */
int rf__wpad_read_resolv(char ***out, size_t *n_out, const char *path);

/* ------------------------------------------------- DHCP option 252 (WPAD) */

/*
 * The option 252 value as a PAC URL: leading white space and trailing NUL
 * bytes and white space (servers often send "...wpad.dat\n" or a final
 * NUL) are dropped; the rest must be printable ASCII without spaces and an
 * http:// or https:// URL with a host.  value is len bytes (need not be
 * NUL-terminated).  On success *out is a malloc'd copy (free() it).
 * Returns 0, RF_EINVAL (out NULL, or value NULL with len > 0), RF_EURL
 * (anything else, including empty), RF_ENOMEM; *out is NULL on failure.
 */
int rf__wpad_parse_url(char **out, const char *value, size_t len);

/*
 * The option 252 URL in a dhclient lease file text (len bytes): the last
 * complete "lease { ... }" block counts (dhclient appends; the last one is
 * current).  Its option is read from any of
 *   option wpad "http://...";            (declared "code 252 = text" or
 *   option wpad 68:74:74:70:...;          "= string": hex when not printable)
 *   option wpad-url "...";               (another common declaration name)
 *   option unknown-252 "...";  option unknown-252 68:74:...;  (undeclared)
 * with dhclient's escapes in quoted strings (\ooo octal, \xHH, \n, \t, \r,
 * \ + character) and hex bytes of one or two digits; then as
 * rf__wpad_parse_url.  When now > 0 (seconds since the epoch) and the lease
 * has an "expire" time before now, the lease is not used.  lease6 blocks
 * and other statements are skipped.
 * why (may be NULL) gets a static reason on RF_ENOENT or RF_EURL: "no
 * lease", "no option 252 in the last lease", "last lease expired", "option
 * 252 is not an http(s) URL"; NULL on success.
 * Returns 0 (*out malloc'd), RF_EINVAL, RF_ENOENT, RF_EURL, RF_ENOMEM;
 * *out is NULL on failure.
 */
int rf__wpad_parse_leases(char **out, const char **why, const char *text,
                          size_t len, int64_t now);

/*
 * rf__wpad_parse_leases over the file at path.  Also returns RF_ENOENT,
 * RF_EACCES, RF_EIO, RF_ETOOBIG when the file cannot be read (why NULL).
 */
int rf__wpad_read_leases(char **out, const char **why, const char *path,
                         int64_t now);

/* ------------------------------------------------------ async discovery */

/* Methods (bits of rf__wpad_config.methods). */
#define RF__WPAD_DHCP 1u
#define RF__WPAD_DNS  2u

/*
 * Name lookup, with the shape and contract of uv_getaddrinfo: returns 0
 * and later calls cb exactly once, on the loop thread and never from
 * inside the call, or returns a negative uv error and never calls cb.
 * node is the candidate name with a final dot ("wpad.example.com."), so
 * the system resolver does not append its search list; service is NULL.
 * A name "resolves" when cb gets status 0 (res may then be NULL; it is
 * freed with uv_freeaddrinfo).
 */
typedef int (*rf__wpad_getaddrinfo_fn)(uv_loop_t *loop, uv_getaddrinfo_t *req,
                                       uv_getaddrinfo_cb cb, const char *node,
                                       const char *service,
                                       const struct addrinfo *hints);
/* Cancellation hint for a lookup, shaped like uv_cancel: may fail (then cb
 * still comes with the real answer); cb is called either way. */
typedef int (*rf__wpad_cancel_fn)(uv_req_t *req);

/*
 * Configuration, copied by rf__wpad_discover (only psl is kept, borrowed).
 * Zero-initialise it and set what you need; a zero field takes its default.
 * NULL-terminated lists: NULL means the default, an empty list (just NULL)
 * means none.
 */
typedef struct rf__wpad_config {
  unsigned methods; /* RF__WPAD_DHCP | RF__WPAD_DNS; 0: both */

  /* DHCP, tried in this order; the first http(s) URL wins. */
  const char *dhcp_url;           /* option 252 value known by other means
                                     (e.g. NetworkManager's DHCP4 options) */
  const char *dhcp_url_source;    /* label for dhcp_url (NULL: "given") */
  const char *dhcp_url_file;      /* a file holding the option value alone */
  const char *const *lease_files; /* dhclient lease files, in order; NULL:
                                     /var/lib/dhcp/dhclient*.leases,
                                     /var/lib/dhclient/dhclient*.leases,
                                     /var/lib/NetworkManager/dhclient*.lease,
                                     newest first */
  int64_t now; /* for lease expiry, seconds since the epoch; 0: time() */

  /* DNS */
  const char *const *domains; /* search domains; NULL: read resolv_conf */
  const char *resolv_conf;    /* NULL: /etc/resolv.conf */
  const psl_ctx_t *psl;       /* NULL: psl_latest(NULL), loaded off-loop;
                                 borrowed: keep it valid until cb or
                                 rf__wpad_cancel (used on the loop thread) */
  unsigned max_candidates;    /* 0: RF__WPAD_DEFAULT_MAX_CANDIDATES */
  unsigned timeout_ms;        /* per name; 0: RF__WPAD_DEFAULT_TIMEOUT_MS */
  rf__wpad_getaddrinfo_fn getaddrinfo; /* NULL: uv_getaddrinfo */
  rf__wpad_cancel_fn cancel; /* NULL: uv_cancel when getaddrinfo is NULL,
                                none otherwise */
} rf__wpad_config;

/* The outcome, borrowed: valid only during the callback. */
typedef struct rf__wpad_result {
  int status;         /* 0, RF_ENOENT (nothing found), RF_ENOMEM */
  const char *url;    /* status 0: the PAC URL; else NULL */
  const char *source; /* status 0: "DHCP option 252 (<lease file>)",
                         "DHCP option 252 (<dhcp_url_source>)" or
                         "DNS wpad.<domain>"; else NULL */
  const char *tried;  /* never NULL: what was tried, in order, and how each
                         ended, e.g. "DHCP: /var/lib/dhcp/dhclient.leases
                         (no option 252 in the last lease); DNS:
                         wpad.a.example (not found), wpad.example (timed
                         out after 1000 ms)" */
} rf__wpad_result;

typedef void (*rf__wpad_cb)(const rf__wpad_result *res, void *user_data);

typedef struct rf__wpad_req rf__wpad_req;

/*
 * Starts discovery on loop (call on the loop's thread).  cb is called
 * exactly once, on the loop thread, never from inside rf__wpad_discover,
 * unless rf__wpad_cancel is called first or rf__wpad_discover fails.
 * DHCP sources are read first (on the thread pool); if none gives a URL,
 * the DNS candidates (rf__wpad_candidates over cfg->domains or the
 * resolv.conf search list) are looked up one at a time; a name that has
 * not answered after timeout_ms counts as failed and the next is tried
 * (its lookup is cancelled if it can be, else left to finish and ignored).
 * *req_out is valid until cb returns or rf__wpad_cancel is called.
 * Returns 0, RF_EINVAL (loop, cfg, cb or req_out NULL, unknown method
 * bits), RF_ENOMEM, RF_EINTERNAL (libuv refused); on failure *req_out is
 * NULL and cb is never called.
 */
int rf__wpad_discover(uv_loop_t *loop, const rf__wpad_config *cfg,
                      rf__wpad_cb cb, void *user_data, rf__wpad_req **req_out);

/*
 * Stops a discovery: cb is never called afterwards.  Handles and lookups
 * still in flight are closed or left to finish on the loop, and the memory
 * is freed there: keep running the loop until it has no more work (as for
 * any libuv handle).  NULL is a no-op, and so is a call from inside cb.
 * Do not call it after cb has returned.
 */
void rf__wpad_cancel(rf__wpad_req *req);

#endif
