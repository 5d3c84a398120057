/*
 * rangefetch — proxies: candidates, the pluggable resolver chain, the
 * built-in resolvers and route explanations.
 *
 * Model
 *   Before a job sends its first request, the engine asks its resolver chain
 *   for the route to the job's URL.  Resolvers are consulted in the order
 *   they were added; each answers asynchronously with an ordered list of
 *   candidates (proxies and/or DIRECT), with "no opinion, ask the next", or
 *   with an error.  The first list wins.  When no resolver gives a list the
 *   route is DIRECT.  Every piece request of the job then uses that route;
 *   when a candidate fails at connection level (proxy name, TCP connect, TLS
 *   to an HTTPS proxy, SOCKS handshake) the job moves to the next candidate
 *   and the proxy is marked bad for every job of the engine for a while
 *   (default 5 minutes): later routes list it last.  A proxy that demands
 *   authentication (407), or refuses a tunnel (CONNECT answered 403/502), is
 *   not dead: the job fails with an error that says so.
 *
 *   An explicit job option (rf_job_options.proxy) bypasses the chain.  The
 *   engine always sets libcurl's proxy options itself, so libcurl never
 *   reads proxy variables from the environment; the environment is consulted
 *   only through the env resolver, when added.
 *
 * Threads
 *   As for the rest of the API: everything on the loop thread.
 */
#ifndef RF_PROXY_H
#define RF_PROXY_H

#include <stddef.h>

#include "rangefetch.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------- candidates */

typedef enum rf_proxy_type {
  RF_PROXY_DIRECT = 0, /* no proxy */
  RF_PROXY_HTTP,       /* http://: plain requests, CONNECT for https */
  RF_PROXY_HTTPS,      /* https://: TLS to the proxy itself */
  RF_PROXY_SOCKS4,     /* socks4://: names resolved locally */
  RF_PROXY_SOCKS4A,    /* socks4a://: names resolved by the proxy */
  RF_PROXY_SOCKS5,     /* socks5://: names resolved locally */
  RF_PROXY_SOCKS5H     /* socks5h://: names resolved by the proxy */
} rf_proxy_type;

/* Proxy authentication schemes, a bit mask (HTTP and HTTPS proxies). */
#define RF_PROXY_AUTH_BASIC 0x1u
#define RF_PROXY_AUTH_DIGEST 0x2u
#define RF_PROXY_AUTH_NTLM 0x4u
#define RF_PROXY_AUTH_NEGOTIATE 0x8u /* Kerberos/SPNEGO, the ticket cache */
/* Every scheme that never sends the password in clear: the default. */
#define RF_PROXY_AUTH_SAFE                                                     \
  (RF_PROXY_AUTH_DIGEST | RF_PROXY_AUTH_NTLM | RF_PROXY_AUTH_NEGOTIATE)
#define RF_PROXY_AUTH_ANY (RF_PROXY_AUTH_BASIC | RF_PROXY_AUTH_SAFE)
/* Never send credentials to this proxy, not even the job's or the
 * credentials callback's (the static scope: netsh winhttp does not
 * authenticate).  Alone, not combined with the bits above. */
#define RF_PROXY_AUTH_NONE 0x80000000u

/*
 * One candidate of a route.  Strings are borrowed by whoever receives the
 * struct and copied by the engine.
 * - host: a name or an address (IPv6 without brackets); NULL for DIRECT.
 * - port: 0 for the type's default (HTTP 80, HTTPS 443, SOCKS 1080).
 * - user/password: credentials for this proxy (HTTP auth or SOCKS5
 *   user/password); NULL when none.  Without a user, Negotiate uses the
 *   Kerberos ticket cache of the process (KRB5CCNAME).
 * - auth: RF_PROXY_AUTH_* schemes allowed; 0 takes the job's setting
 *   (rf_job_options.proxy_auth, default RF_PROXY_AUTH_SAFE).
 * - ca_file: CA bundle to verify an HTTPS proxy; NULL: the system's.
 */
typedef struct rf_proxy {
  rf_proxy_type type;
  const char *host;
  unsigned port;
  const char *user;
  const char *password;
  unsigned auth;
  const char *ca_file;
} rf_proxy;

/*
 * rf_proxy_parse - parse "scheme://[user[:password]@]host[:port]" (a value
 * without a scheme is http://; "DIRECT" or "direct" is RF_PROXY_DIRECT) into
 * *out.  The strings of *out point into buf (bufsize bytes, 512 is plenty),
 * percent-decoded.  Returns 0, RF_EINVAL (NULL argument, buffer too small),
 * RF_EURL (unknown scheme, no host, bad port, a path after the port).
 */
RF_EXTERN int rf_proxy_parse(rf_proxy *out, char *buf, size_t bufsize,
                             const char *text);

/*
 * rf_proxy_format - "scheme://host:port" for p, never with credentials,
 * IPv6 hosts bracketed; "DIRECT" for a direct candidate.  Writes at most
 * size bytes (NUL included) and returns what the full length would be.
 */
RF_EXTERN size_t rf_proxy_format(char *out, size_t size, const rf_proxy *p);

/*
 * rf_url_mask - url (a proxy URL, a PAC location...) with the password of
 * its user information replaced by "***", for messages and logs:
 * "http://alice:pw@p:3128" gives "http://alice:***@p:3128".  The user
 * information runs from after "scheme://" (or the start) to the last '@',
 * the password from its first ':', so nothing of a password survives even
 * when it holds '@', ':' or '/'; a user without a password, and a URL
 * without '@', are kept as they are.  NULL url gives "".
 *
 * Writes at most size bytes (NUL included; out may be NULL when size is 0)
 * and returns what the full length would be, as snprintf does.
 */
RF_EXTERN size_t rf_url_mask(char *out, size_t size, const char *url);

/*
 * rf_proxy_auth_names - the names of the schemes of an RF_PROXY_AUTH_*
 * mask, joined by ", " in the order Basic, Digest, NTLM, Negotiate ("Digest,
 * NTLM, Negotiate" for RF_PROXY_AUTH_SAFE), or "none" when it holds none of
 * them (RF_PROXY_AUTH_NONE, 0).  Writes at most size bytes (NUL included;
 * out may be NULL when size is 0) and returns what the full length would
 * be, as snprintf does.
 */
RF_EXTERN size_t rf_proxy_auth_names(char *out, size_t size, unsigned mask);

/* ------------------------------------------------------------- resolvers */

/* Run context, after Windows Delivery Optimization (docs/proxy-config.md):
 * an interactive user, or a service with no user signed in. */
typedef enum rf_context {
  RF_CONTEXT_USER = 0,
  RF_CONTEXT_SERVICE = 1
} rf_context;

typedef enum rf_resolve_status {
  RF_RESOLVE_OK = 0,         /* the list given is the route */
  RF_RESOLVE_PASS = 1,       /* no opinion: ask the next resolver */
  RF_RESOLVE_ERROR = 2,      /* failed; logged, the next resolver is asked */
  RF_RESOLVE_ERROR_MANDATORY = 3 /* failed, and the request must not go on
                                    (never direct): the job fails */
} rf_resolve_status;

/* How a proxy fared, for rf_resolver_ops.feedback. */
typedef enum rf_proxy_outcome {
  RF_PROXY_WORKED = 0,      /* a transfer went through it */
  RF_PROXY_DEAD = 1,        /* connection-level failure: marked bad */
  RF_PROXY_AUTH_FAILED = 2, /* 407 or SOCKS authentication refused */
  RF_PROXY_REFUSED = 3      /* CONNECT answered 403, 502, ... */
} rf_proxy_outcome;

/* What a resolver is asked.  Borrowed for the duration of the call. */
typedef struct rf_resolve_info {
  const char *url;    /* reduced to "scheme://host[:port]/": no user
                         information, path, query or fragment */
  const char *scheme; /* "http" or "https" */
  const char *host;   /* lower case, IPv6 without brackets */
  unsigned port;      /* explicit or the scheme's default */
  rf_context context;
} rf_resolve_info;

typedef struct rf_resolve_req rf_resolve_req;

/*
 * A resolver.  The engine calls these on the loop thread:
 * - resolve (required): start answering req.  The answer is given with
 *   rf_resolve_answer, exactly once, now or later, from the loop thread;
 *   the engine delivers it from the loop, never from inside resolve.
 * - cancel (required): req is no longer wanted (job cancelled, engine
 *   freed).  After cancel returns, rf_resolve_answer must not be called
 *   with req (it is freed).
 * - feedback (optional): how a proxy this resolver chose fared.
 * - destroy (optional): the engine is being freed; every request has been
 *   answered or cancelled.  Work the resolver still has in flight (a worker
 *   thread, a fetch) is its own to finish and release.
 */
typedef struct rf_resolver_ops {
  const char *name; /* short, for logs and explanations ("pac", "corp") */
  void (*resolve)(void *self, rf_resolve_req *req,
                  const rf_resolve_info *info);
  void (*cancel)(void *self, rf_resolve_req *req);
  void (*feedback)(void *self, const rf_proxy *proxy,
                   rf_proxy_outcome outcome, const char *detail);
  void (*destroy)(void *self);
} rf_resolver_ops;

/*
 * rf_resolve_answer - answer req (consumes it).
 *
 * status: RF_RESOLVE_OK with n >= 1 candidates in list (copied), or
 *         another status with list NULL / n 0.
 * detail: one line for explanations and errors: for OK, what chose the
 *         route (e.g. "device-wide scope (/etc/rangefetch/proxy.conf)");
 *         for an error, what went wrong.  NULL allowed.  Never put a
 *         password in it.
 * Returns 0, RF_EINVAL (bad arguments: req is then answered with
 * RF_RESOLVE_ERROR), RF_ENOMEM (same).
 */
RF_EXTERN int rf_resolve_answer(rf_resolve_req *req, rf_resolve_status status,
                                const rf_proxy *list, size_t n,
                                const char *detail);

/*
 * rf_engine_add_resolver - append a resolver to the engine's chain.
 * ops is borrowed and must outlive the engine (usually a static const);
 * self is handed to every callback and released by ops->destroy.
 * Returns 0, RF_EINVAL, RF_ENOMEM.
 */
RF_EXTERN int rf_engine_add_resolver(rf_engine *engine,
                                     const rf_resolver_ops *ops, void *self);

/* ----------------------------------------------------- built-in resolvers */

#define RF_STATIC_RESOLVER_OPTIONS_VERSION 1

/*
 * Options of the static resolver.  Strings are copied; NULL means "none"
 * unless said otherwise.
 */
typedef struct rf_static_resolver_options {
  unsigned version; /* RF_STATIC_RESOLVER_OPTIONS_VERSION */
  /* Proxy URLs ("http://host:3128", "socks5h://user:pass@host", ...; no
   * scheme means http://; "direct" or "none" routes DIRECT): https_proxy
   * for https:// URLs and http_proxy for http:// ones, each falling back
   * to proxy.  NULL or "" gives no opinion for that scheme. */
  const char *proxy;
  const char *http_proxy;
  const char *https_proxy;
  /* curl-style list of hosts to reach directly ("localhost,.corp"). */
  const char *no_proxy;
  /* The resolver's name in logs and explanations (at most 47 bytes);
   * NULL: "static".  The name "override" shows the route as
   * "<label> <proxy>", as the CLI's --proxy does. */
  const char *name;
  /* Where the setting comes from, for explanations ("--proxy", a file
   * name); NULL: none.  Never put a password in it. */
  const char *label;
  /* Credentials for the proxies whose URL has none. */
  const char *user;
  const char *password;
  /* RF_PROXY_AUTH_* schemes for those proxies; 0: the job's setting. */
  unsigned auth;
  /* CA bundle to verify HTTPS proxies; NULL: the job's setting. */
  const char *ca_file;
} rf_static_resolver_options;

#define RF_STATIC_RESOLVER_OPTIONS_INIT                                        \
  {                                                                            \
    RF_STATIC_RESOLVER_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL,    \
        NULL, NULL, 0, NULL                                                    \
  }

/*
 * rf_static_resolver_options_init - fill opts with the defaults (version
 * set, every other field zero or NULL), as RF_STATIC_RESOLVER_OPTIONS_INIT.
 */
RF_EXTERN void
rf_static_resolver_options_init(rf_static_resolver_options *opts);

/*
 * rf_engine_add_static_resolver - append a static resolver: one proxy for
 * every URL, or one per origin scheme, with a no_proxy list
 * (rf_static_resolver_options).  opts is read during the call only.
 *
 * Returns 0, RF_EINVAL (engine or opts NULL, unknown options version,
 * engine being freed), RF_EURL (a proxy value is not a proxy URL;
 * rf_engine_last_error() then names the label, never the URL, which may
 * hold a password), RF_ENOMEM.
 */
RF_EXTERN int
rf_engine_add_static_resolver(rf_engine *engine,
                              const rf_static_resolver_options *opts);

/*
 * rf_engine_add_env_resolver - the proxy environment variables with curl's
 * rules (docs/proxy-env.md): <scheme>_proxy, all_proxy, no_proxy; upper
 * case accepted except HTTP_PROXY.  Read when each URL is resolved.
 */
RF_EXTERN int rf_engine_add_env_resolver(rf_engine *engine);

#define RF_PAC_OPTIONS_VERSION 1

/* Options of the PAC and WPAD resolvers. */
typedef struct rf_pac_options {
  unsigned version;      /* RF_PAC_OPTIONS_VERSION */
  unsigned deadline_ms;  /* CPU time per evaluation; 0: 100 */
  size_t memory_bytes;   /* script heap cap; 0: 16 MiB */
  unsigned fetch_timeout_ms; /* fetching the script; 0: 30000 */
  unsigned refresh_s;    /* refetch after; 0: 43200 (12 h) */
  int mandatory;         /* 1: a failing PAC fails the job (never direct);
                            0: the chain goes on to the next resolver */
} rf_pac_options;

#define RF_PAC_OPTIONS_INIT                                                    \
  {                                                                            \
    RF_PAC_OPTIONS_VERSION, 0, 0, 0, 0, 0                                      \
  }

/*
 * rf_pac_options_init - fill opts with the defaults, as
 * RF_PAC_OPTIONS_INIT.  NULL is a no-op.
 */
RF_EXTERN void rf_pac_options_init(rf_pac_options *opts);

/*
 * rf_engine_add_pac_resolver - a proxy auto-config script (docs/pac.md):
 * location is an http(s) URL (fetched directly, never through a proxy, at
 * most 1 MiB, status 200, no redirect to anything but http(s)), a file
 * path, or a "data:" URL.  The script runs sandboxed on a worker thread;
 * its answers are cached per scheme+host+port, so one evaluation serves
 * every piece.  opts may be NULL for the defaults.  Returns 0, RF_EINVAL
 * (engine or location NULL or "", options version 0 or newer than
 * RF_PAC_OPTIONS_VERSION, engine being freed), RF_EURL (not a PAC
 * location), RF_ENOMEM.
 */
RF_EXTERN int rf_engine_add_pac_resolver(rf_engine *engine,
                                         const char *location,
                                         const rf_pac_options *opts);

/*
 * rf_engine_add_wpad_resolver - WPAD discovery (docs/wpad.md): a PAC URL
 * from DHCP option 252 (dhclient lease files) or DNS wpad.<domain> over the
 * search domains of /etc/resolv.conf, never past the registrable domain;
 * then as the PAC resolver.  Nothing discovered: no opinion.  Opt-in.
 * opts may be NULL for the defaults.  Returns 0, RF_EINVAL (engine NULL,
 * options version 0 or newer than RF_PAC_OPTIONS_VERSION, engine being
 * freed), RF_ENOMEM.
 */
RF_EXTERN int rf_engine_add_wpad_resolver(rf_engine *engine,
                                          const rf_pac_options *opts);

/*
 * rf_engine_add_policy_resolver - the scoped settings files modelled on
 * Windows Delivery Optimization (docs/proxy-config.md): the user scope
 * (user_dir/proxy.conf), the device-wide scope (sys_dir/proxy.conf) and the
 * static scope (sys_dir/static.conf), chosen by context as the DO tables
 * say for the engine's context (rf_engine_set_context).  sys_dir NULL: /etc/rangefetch; user_dir NULL: $XDG_CONFIG_HOME/
 * rangefetch or ~/.config/rangefetch.  The files are read now: a malformed
 * one fails here, naming the file and line (rf_engine_last_error).  A PAC
 * or WPAD setting of the winning scope is honoured.
 * Returns 0, RF_EINVAL (malformed file), RF_EACCES, RF_ENOMEM.
 */
RF_EXTERN int rf_engine_add_policy_resolver(rf_engine *engine,
                                            const char *sys_dir,
                                            const char *user_dir);

/*
 * rf_engine_set_context - the run context resolvers are told about
 * (default RF_CONTEXT_USER).
 */
RF_EXTERN void rf_engine_set_context(rf_engine *engine, rf_context context);

/*
 * rf_engine_set_proxy_bad_time - how long a dead proxy stays marked bad
 * (default 300 s; 0 restores the default).
 */
RF_EXTERN void rf_engine_set_proxy_bad_time(rf_engine *engine,
                                            unsigned seconds);

/*
 * Credentials for proxies a route names without any (neither in the
 * candidate nor rf_job_options.proxy_user): called on the loop thread once
 * per such proxy when a job's route is ready, e.g. to look the proxy host up
 * in ~/.netrc (the CLI does) or a keyring.  Fill user and password
 * (NUL-terminated, at most the sizes given) and return 1, or return 0 for
 * none.  Must not block for long.
 */
typedef int (*rf_proxy_credentials_cb)(char *user, size_t user_size,
                                       char *password, size_t password_size,
                                       const rf_proxy *proxy, void *user_data);

/*
 * rf_engine_set_proxy_credentials - install (or with NULL remove) the
 * credentials callback.
 */
RF_EXTERN void rf_engine_set_proxy_credentials(rf_engine *engine,
                                               rf_proxy_credentials_cb cb,
                                               void *user_data);

/*
 * rf_engine_save_proxy_marks / rf_engine_load_proxy_marks - keep the
 * bad-proxy marks across processes (the CLI uses
 * $XDG_STATE_HOME/rangefetch/proxy-marks), so that a proxy found dead by one
 * run is tried last by the next ones until its mark expires.  The file
 * holds "proxy-url expiry-unix-time" lines, no credentials.  Saving writes
 * a temporary file and renames it (with no live mark and no file yet, it
 * writes nothing); loading ignores expired and malformed
 * lines, and a missing file.  Returns 0, RF_EINVAL, RF_ENOMEM, or the
 * file's error (RF_EACCES, RF_EIO...).
 */
RF_EXTERN int rf_engine_save_proxy_marks(rf_engine *engine, const char *path);
RF_EXTERN int rf_engine_load_proxy_marks(rf_engine *engine, const char *path);

/* ----------------------------------------------------------- explanations */

/* One resolver's answer while a route was resolved. */
typedef struct rf_route_step {
  const char *resolver;    /* its name */
  rf_resolve_status status;
  const char *detail;      /* what it said ("" when nothing) */
  double seconds;          /* how long it took */
} rf_route_step;

/* A resolved route. */
typedef struct rf_route_info {
  const char *url;         /* the reduced URL that was resolved */
  rf_context context;
  int error;               /* 0, or why no route (a mandatory failure) */
  const char *chosen_by;   /* "resolver: detail" of the winner, or
                              "default: no resolver had an opinion" */
  int from_cache;          /* 1: answered from the route cache */
  size_t nsteps;
  const rf_route_step *steps;
  size_t ncandidates;
  const rf_proxy *candidates; /* in the order they will be tried (bad ones
                                 last); passwords are NULL */
  const unsigned *bad_for_s;  /* per candidate: seconds it stays marked
                                 bad, 0 when it is not */
  unsigned auth;              /* auth schemes allowed by default
                                 (RF_PROXY_AUTH_SAFE; a job may allow
                                 others: rf_job_options.proxy_auth) */
} rf_route_info;

typedef void (*rf_explain_cb)(const rf_route_info *info, void *user_data);

/*
 * rf_engine_explain - resolve url as a job would and report the decision.
 * cb is called once, from the loop (never from inside this call), unless
 * the engine is freed first.  Returns 0, RF_EINVAL, RF_EURL, RF_ENOMEM.
 */
RF_EXTERN int rf_engine_explain(rf_engine *engine, const char *url,
                                rf_explain_cb cb, void *user_data);

/* Name of a type ("http", "socks5h", "direct"); static. */
RF_EXTERN const char *rf_proxy_type_name(rf_proxy_type type);
/* "ok", "pass", "error", "mandatory-error"; static. */
RF_EXTERN const char *rf_resolve_status_name(rf_resolve_status status);

#ifdef __cplusplus
}
#endif
#endif /* RF_PROXY_H */
