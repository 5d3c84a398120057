/*
 * rangefetch — parallel, verified HTTP range downloads on libuv + libcurl.
 *
 * Umbrella header: include this one.
 *
 * Model
 *   An rf_engine owns a libcurl multi handle driven by a libuv loop (yours,
 *   or one it creates).  Jobs are added to it; each job downloads one URL to
 *   one file over several HTTP range requests in parallel, writing every
 *   byte once, at its offset, into "<output>.part", renamed to <output> when
 *   every byte has arrived.
 *
 * Threads
 *   Every function must be called from the thread that runs the loop, and
 *   every callback is called on that thread.  Callbacks are never called
 *   synchronously from the API call that armed them.
 *
 * Ownership
 *   Option structs are read during the call and never retained: strings are
 *   copied.  Pointers handed to callbacks are borrowed and valid only for
 *   the duration of the callback.
 *
 * Argument order
 *   Out-parameters come first (libgit2's rule): rf_engine_new(&engine, ...),
 *   rf_job_add(&job, engine, ...), rf_parse_size(&n, text),
 *   rf_proxy_format(buf, size, proxy).  An optional buffer for an error
 *   message (err, errlen) comes last; user_data always comes last.
 *
 * Versioned options
 *   Every options struct starts with a version field.  Fill it with the
 *   struct's RF_*_INIT macro or its rf_*_init() function: both set the
 *   version this header was written for and every other field to its
 *   default.  The library accepts any version from 1 to the one it was
 *   built with (fields are only ever appended, so an older caller keeps
 *   working with a newer library) and refuses 0 and newer versions with
 *   RF_EINVAL.
 */
#ifndef RF_RANGEFETCH_H
#define RF_RANGEFETCH_H

#include <stddef.h>
#include <stdint.h>

#include "version.h"
#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif

struct uv_loop_s; /* libuv's uv_loop_t, so this header needs no <uv.h> */

typedef struct rf_engine rf_engine;
typedef struct rf_job rf_job;

/* ---------------------------------------------------------------- logging */

typedef enum rf_log_level {
  RF_LOG_ERROR = 0,
  RF_LOG_WARN = 1,
  RF_LOG_INFO = 2,
  RF_LOG_DEBUG = 3
} rf_log_level;

/*
 * Log sink.  module names the part of the engine ("sched", "http", "store",
 * ...); msg is one line without a trailing newline.  Secrets (passwords in
 * proxy URLs, credentials) are never part of msg.
 */
typedef void (*rf_log_cb)(rf_log_level level, const char *module,
                          const char *msg, void *user_data);

/* ----------------------------------------------------------------- engine */

#define RF_ENGINE_OPTIONS_VERSION 2

typedef struct rf_engine_options {
  unsigned version; /* RF_ENGINE_OPTIONS_VERSION */
  /* The loop to run on.  NULL: the engine creates its own, which
   * rf_engine_run() drives. */
  struct uv_loop_s *loop;
  rf_log_cb log_cb;       /* NULL: the library stays silent */
  rf_log_level log_level; /* messages above this level are not formatted */
  void *log_user_data;
  /* ---- version 2 */
  /* TCP connections the engine keeps open at most, in use or idle, over
   * all its jobs (a budget shared by many downloads); requests beyond it
   * wait for a connection to free up.  0: no limit but each job's. */
  unsigned max_connections;
} rf_engine_options;

#define RF_ENGINE_OPTIONS_INIT                                                 \
  {                                                                            \
    RF_ENGINE_OPTIONS_VERSION, NULL, NULL, RF_LOG_WARN, NULL, 0                \
  }

/*
 * rf_engine_options_init - fill opts with the defaults, as
 * RF_ENGINE_OPTIONS_INIT.  NULL is a no-op.
 */
RF_EXTERN void rf_engine_options_init(rf_engine_options *opts);

/*
 * rf_engine_new - create an engine.
 *
 * out:  receives the engine; set to NULL on failure.
 * opts: may be NULL for the defaults; read during the call only.
 *
 * Returns 0, RF_EINVAL (out NULL; options version 0 or newer than
 * RF_ENGINE_OPTIONS_VERSION), RF_ENOMEM, RF_EIO (the loop or libcurl could
 * not be initialised).
 */
RF_EXTERN int rf_engine_new(rf_engine **out, const rf_engine_options *opts);

/*
 * rf_engine_run - run the engine's own loop until no job is left.
 *
 * Only for an engine created without a loop; with a caller's loop, run that
 * loop instead (uv_run).  Returns 0, RF_EINVAL (the engine runs on a caller's
 * loop), RF_EREENTRANT (called from a callback).
 */
RF_EXTERN int rf_engine_run(rf_engine *engine);

/*
 * rf_engine_free - cancel every job and release the engine.  NULL is a no-op.
 *
 * Jobs still running are cancelled and their completion callbacks are NOT
 * called.  With the engine's own loop everything is released before the
 * call returns.  With a caller's loop the engine closes its libuv handles
 * and finishes releasing itself when the caller next runs the loop (as with
 * uv_close); the handle must not be used after this call either way.
 * Must not be called from inside one of the engine's callbacks.
 */
RF_EXTERN void rf_engine_free(rf_engine *engine);

/*
 * rf_engine_loop - the loop the engine runs on (borrowed).
 */
RF_EXTERN struct uv_loop_s *rf_engine_loop(rf_engine *engine);

/* ---------------------------------------------------------------- sources */

/*
 * Where bytes come from.  A job has one origin (rf_job_options.url) and any
 * number of other sources of the same content (docs/sources.md):
 *   MIRROR      another http(s) URL of the same file (trusted like the
 *               origin: same length required, a manifest optional);
 *   CACHE_HOST  a Connected-Cache-style cache host "HOST[:PORT]": asked
 *               http://HOST[:PORT]/PATH?Q&cacheHostOrigin=ORIGINHOST for
 *               origin http://ORIGINHOST/PATH?Q (Delivery Optimization's
 *               form); 3 s connect timeout, bans of 15 minutes;
 *   PEER        another machine's `rangefetch serve` (an http URL of the
 *               file): untrusted, used only with a manifest whose pieces
 *               are SHA-256 hashes and which is itself trusted (fetched
 *               from the origin over HTTPS, pinned, or a local file).
 * The origin's length (and validator) is the reference: a source that
 * disagrees is refused by name and the download goes on from the others.
 */
/* How cache hosts are reached (Delivery Optimization's proxy rule for
 * Connected Cache, docs/sources.md). */
typedef enum rf_cache_host_proxy {
  /* As any URL: the route comes from the proxy chain (Windows 10 2004
   * and later); the default. */
  RF_CACHE_HOST_PROXY_AUTO = 0,
  /* Directly, bypassing every proxy (the older behaviour, which fails
   * where only the proxy reaches them). */
  RF_CACHE_HOST_PROXY_DIRECT = 1
} rf_cache_host_proxy;

/* Where origin credentials may come from a netrc file (rf_job_options). */
typedef enum rf_netrc {
  RF_NETRC_IGNORED = 0,  /* never read one (default) */
  RF_NETRC_OPTIONAL = 1, /* use it when it has the origin's host */
  RF_NETRC_REQUIRED = 2  /* only the netrc: the URL's credentials are ignored */
} rf_netrc;

typedef enum rf_source_kind {
  RF_SOURCE_ORIGIN = 0,
  RF_SOURCE_MIRROR = 1,
  RF_SOURCE_CACHE_HOST = 2,
  RF_SOURCE_PEER = 3
} rf_source_kind;

#define RF_SOURCE_KINDS 4

/* rf_source_kind_name - "origin", "mirror", "cache-host", "peer"
 * (static; "?" for an unknown value). */
RF_EXTERN const char *rf_source_kind_name(rf_source_kind kind);

#define RF_SOURCE_OPTIONS_VERSION 1

typedef struct rf_source_options {
  unsigned version;    /* RF_SOURCE_OPTIONS_VERSION */
  rf_source_kind kind; /* MIRROR, CACHE_HOST or PEER */
  /* MIRROR, PEER: an http:// or https:// URL of the same content.
   * CACHE_HOST: "HOST", "HOST:PORT" or "[V6ADDR]:PORT". */
  const char *url;
  /* Connections to this source at most; 0: the job's per_source. */
  unsigned max_connections;
} rf_source_options;

#define RF_SOURCE_OPTIONS_INIT                                                 \
  {                                                                            \
    RF_SOURCE_OPTIONS_VERSION, RF_SOURCE_MIRROR, NULL, 0                       \
  }

/* rf_source_options_init - the defaults, as RF_SOURCE_OPTIONS_INIT.  NULL
 * is a no-op. */
RF_EXTERN void rf_source_options_init(rf_source_options *opts);

/* Where a source stands. */
typedef enum rf_source_state {
  RF_SOURCE_ACTIVE = 0, /* usable (or in use) */
  RF_SOURCE_ROUTING,    /* its proxy route is being resolved */
  RF_SOURCE_HELD,       /* not used yet: a policy delays it (origin delay,
                           cache host fallback) */
  RF_SOURCE_BACKOFF,    /* failed; tried again after a back-off */
  RF_SOURCE_BANNED,     /* failed too often, sent bad pieces, or (cache
                           hosts) banned for 15 minutes */
  RF_SOURCE_REFUSED,    /* disagrees with the origin or cannot serve
                           pieces: never used again by this job */
  RF_SOURCE_REMOVED     /* rf_job_remove_source */
} rf_source_state;

/* rf_source_state_name - "active", "routing", ... (static). */
RF_EXTERN const char *rf_source_state_name(rf_source_state state);

/* One source's figures, in rf_progress and rf_result (borrowed: valid
 * during the callback, or until the next rf_job_get_progress). */
typedef struct rf_source_stats {
  unsigned id;          /* 0: the origin; then in the order added */
  rf_source_kind kind;
  rf_source_state state;
  const char *name;     /* its URL without credentials; a cache host's
                           "HOST[:PORT]" */
  const char *route;    /* "direct (chosen by ...)" / "via proxy ..." */
  const char *why;      /* why it is backing off, banned or refused; "" */
  uint64_t bytes;       /* content bytes taken from it (each piece that
                           counted, once) */
  double rate;          /* bytes per second, recent */
  unsigned connections; /* requests running now */
  unsigned requests;    /* requests made */
  unsigned errors;      /* requests that failed */
  unsigned bad_pieces;  /* pieces that failed verification */
} rf_source_stats;

/* ------------------------------------------------------------------- jobs */

/* Snapshot of a job's progress, passed to rf_progress_cb. */
typedef struct rf_progress {
  uint64_t total;      /* content length; RF_SIZE_UNKNOWN until known */
  uint64_t received;   /* bytes accepted so far (at their final offsets) */
  uint64_t written;    /* bytes that have reached the .part file (a
                          stream: written to its fd, in order) */
  double rate;         /* bytes per second over the last few seconds */
  double elapsed;      /* seconds since the job started */
  unsigned connections;/* transfers running now */
  unsigned pieces_total;
  unsigned pieces_done;
  unsigned retries;    /* requests retried so far */
  int single_stream;   /* 1: the server cannot do ranges, one stream */
  unsigned pieces_verified; /* pieces whose hash matched the manifest */
  unsigned pieces_failed;   /* pieces that failed and were fetched again */
  uint64_t resumed;         /* bytes found intact on disk from a former run */
  /* Requests waiting out their back-off before the next try, now. */
  unsigned waiting;
  /* The latest retry and its cause, one line ("try 3 of 5 in 2.1 s: the
   * server took the connection but sent no answer for 30 s"); "" when
   * nothing was retried.  Borrowed: valid during the callback only. */
  const char *last_retry;
  /* Seconds since that retry was decided; -1 when there was none. */
  double last_retry_age;
  /* Bytes by source kind (index rf_source_kind): what Delivery
   * Optimization reports as BytesFromHttp (origin + mirrors),
   * BytesFromCacheServer and BytesFromPeers. */
  uint64_t bytes_from[RF_SOURCE_KINDS];
  /* Every source of the job, the origin first (borrowed). */
  const rf_source_stats *sources;
  unsigned nsources;
} rf_progress;

#define RF_SIZE_UNKNOWN UINT64_MAX

/* Outcome of a job, passed to rf_done_cb. */
typedef struct rf_result {
  int error;           /* RF_OK or an RF_E* code */
  const char *message; /* one line naming the cause; "" on success */
  const char *path;    /* final path on success, the .part file otherwise;
                          "" for a discarded download, the output's name
                          for a stream (rf_job_options.stream) */
  long http_status;    /* last HTTP status that mattered (0: none) */
  int curl_code;       /* last libcurl error that mattered (0: none) */
  unsigned tries;      /* tries made for the request that gave up */
  uint64_t bytes;      /* bytes of content written */
  double seconds;      /* wall time of the job */
  unsigned retries;    /* requests retried over the whole job */
  unsigned connections_opened; /* TCP connections libcurl opened */
  unsigned connections_max;    /* most transfers that ran at once */
  unsigned pieces_verified;    /* pieces checked against the manifest */
  unsigned pieces_failed;      /* pieces that failed verification */
  uint64_t resumed;            /* bytes kept from a former run */
  /* The route the job used: "direct (chosen by ...)" or "via proxy
   * http://host:3128 (chosen by pac: ...)"; "" if none was resolved. */
  const char *route;
  /* Seconds from the job's start to the first byte of content (route,
   * connection, TLS and the server's answer included); -1: none came. */
  double first_byte_seconds;
  /* Bytes by source kind and per source, as in rf_progress. */
  uint64_t bytes_from[RF_SOURCE_KINDS];
  const rf_source_stats *sources;
  unsigned nsources;
} rf_result;

/*
 * Progress callback: called every progress_interval_ms while the job runs,
 * and once more just before the completion callback.
 */
typedef void (*rf_progress_cb)(rf_job *job, const rf_progress *progress,
                               void *user_data);

/*
 * Completion callback: called exactly once per job that rf_job_add accepted
 * (unless the engine is freed first).  The job handle is released by the
 * engine when this callback returns.
 */
typedef void (*rf_done_cb)(rf_job *job, const rf_result *result,
                           void *user_data);

#define RF_JOB_OPTIONS_VERSION 3

typedef struct rf_job_options {
  unsigned version;   /* RF_JOB_OPTIONS_VERSION */
  const char *url;    /* http:// or https:// (required) */
  const char *output; /* destination path (required) */

  unsigned connections; /* parallel connections; 0: RF_DEFAULT_CONNECTIONS */
  /* Bytes per piece (the unit of scheduling and of verification); 0: 1 MiB,
   * doubled until the content has at most 65536 pieces. */
  uint64_t piece_size;
  /* Proxy URL for every request of this job ("http://host:3128",
   * "socks5h://user:pass@host:1080", "https://..."), bypassing the
   * engine's resolvers (rangefetch/proxy.h); "": direct, bypassing them
   * too; NULL: the route comes from the engine's resolver chain (DIRECT
   * when it has none).  libcurl never reads proxy variables from the
   * environment: only the env resolver does, when added. */
  const char *proxy;
  unsigned max_tries;       /* tries per request; 0: 5 */
  unsigned retry_base_ms;   /* first back-off; 0: 500 */
  unsigned retry_max_ms;    /* back-off cap; 0: 30000 */
  unsigned stall_timeout_ms;  /* no byte for this long = failed; 0: 30000 */
  unsigned connect_timeout_ms;/* 0: 15000 */
  unsigned progress_interval_ms; /* 0: 250 */
  const char *user_agent;   /* NULL: "rangefetch/<version>" */
  const char *ca_file;      /* extra CA bundle for https origins, or NULL */
  int overwrite;            /* 1: replace an existing output file */

  rf_progress_cb on_progress; /* may be NULL */
  rf_done_cb on_done;         /* may be NULL */
  void *user_data;

  /* 1: do not flush the file to disk before renaming it (like curl, wget
   * and aria2).  Faster when the disk is slower than the network, but a
   * power cut soon after the download may leave a damaged file under the
   * final name.  Default 0: the data is on disk before the rename. */
  int no_sync;

  /* A manifest (rangefetch manifest format, docs/manifest.md): a local
   * path, or an http(s) URL fetched first.  Every piece is checked against
   * it as it arrives (a bad piece is fetched again), and the whole content
   * before the rename.  NULL: pieces are still hashed, for the journal. */
  const char *manifest;
  /* 1: ignore an unfinished download of the same output and start over.
   * Default 0: "<output>.part" and its journal "<output>.part.rfj" are
   * picked up; the server is asked whether the content is unchanged
   * (If-Range), the pieces on disk are hashed again, and only what is
   * missing or bad is fetched. */
  int no_resume;
  /* Credentials "USER[:PASSWORD]" for every proxy of the route that has
   * none of its own (a proxy URL's or a resolver's come first).  NULL:
   * none (Negotiate then uses the Kerberos ticket cache). */
  const char *proxy_user;
  /* Proxy authentication schemes allowed, RF_PROXY_AUTH_* (proxy.h);
   * 0: the safe ones (Digest, NTLM, Negotiate: never Basic). */
  unsigned proxy_auth;
  /* CA bundle to verify HTTPS proxies; NULL: the system's. */
  const char *proxy_ca_file;

  /* Measurement knobs, for benchmarks only (`rangefetch bench`, `get
   * --no-verify`): they switch off what makes a download safe.  Leave
   * them 0 in an application. */
  /* 1: no hashing and no journal (no resume).  For measuring the cost of
   * verification; not with a manifest. */
  int no_verify;
  /* 1: download, but keep nothing: no file is created (output may be
   * NULL), no hashing, no journal.  For measuring a network or a proxy
   * (rangefetch bench); not with a manifest. */
  int discard;

  /* ---- version 2: many sources (docs/sources.md) */
  /* Mirrors, cache hosts and peers besides the origin (read during the
   * call).  More can be added while the job runs (rf_job_add_source). */
  const rf_source_options *sources;
  size_t nsources;
  /* Connections per source at most; 0: `connections` (no cap but the
   * job's budget). */
  unsigned per_source;
  /* Cache hosts first: 0 (default) the origin takes the pieces of a
   * failing cache host at once; N > 0: the cache hosts are tried round
   * robin for N seconds from the job's start before the origin is used;
   * -1: never fall back to the origin (mirrors and peers still serve). */
  int cache_fallback_delay;
  /* How cache hosts are reached (rf_cache_host_proxy). */
  rf_cache_host_proxy cache_host_proxy;
  /* Seconds to prefer cache hosts and peers before the origin and mirrors
   * get any piece (background downloads); 0: none.  The origin still
   * answers the first request, which learns the length (one byte of it,
   * as whenever there are cache hosts). */
  unsigned origin_delay;
  /* 1: ignore mirrors the origin announces in Link: rel=duplicate
   * headers (RFC 6249).  Default 0: use them. */
  int no_mirror_links;
  /* The SHA-256 of the manifest's text, 64 hex digits: the manifest is
   * refused unless it matches (pinning; what makes a manifest fetched
   * over plain HTTP trusted for peers).  NULL: none. */
  const char *manifest_sha256;
  /* The cache hosts' slice size (nginx `slice`, docs/fleet.md): every
   * request to a cache host starts and ends on slice boundaries, so it
   * maps to whole cached slices.  Pieces are made whole multiples of it
   * (a piece_size that is not is rounded up, with a warning); a manifest
   * or a journal whose pieces are not refuses the cache hosts, saying
   * why.  0: RF_DEFAULT_CACHE_SLICE when there are cache hosts. */
  uint64_t cache_slice;
  /* 1: with several cache hosts, each piece goes to the one that
   * rendezvous (highest random weight) hashing of (origin URL, piece
   * index) picks (rf_cache_host_pick), so every machine of a fleet asks
   * the same host for the same piece and each host stores about 1/K of
   * the file; when it fails, to the next host in that piece's order,
   * then to the origin.  Default 0: the first usable cache host in the
   * order given serves (Delivery Optimization's rule). */
  int cache_host_hash;

  /* ---- version 3: request shaping, origin credentials, cookies, limits,
   * TLS, addresses, streaming and a whole-file checksum (docs/cli.md).
   * Strings and arrays are read during rf_job_add only. */
  /* Extra request headers "Name: value", sent on the origin's requests
   * only (never to mirrors, cache hosts or peers; libcurl drops
   * Authorization and Cookie headers on a redirect to another host).
   * "Name:" removes a header libcurl would send; "Name;" sends it empty.
   * Refused (RF_EINVAL, rf_engine_last_error names it): Range, If-Range
   * (the engine owns them), no colon, an empty or invalid name, a CR, LF
   * or NUL anywhere. */
  const char *const *headers;
  size_t nheaders;
  /* The Referer header for every request; NULL: none. */
  const char *referer;
  /* Origin credentials "USER[:PASSWORD]" (HTTP Basic), over those of the
   * URL.  Sent to the origin only, and by libcurl never to another host
   * after a redirect.  NULL: the URL's, if any. */
  const char *user;
  /* An OAuth 2 bearer token for the origin ("Authorization: Bearer"),
   * instead of user.  NULL: none. */
  const char *bearer;
  /* Origin credentials from a netrc file (rf_netrc); netrc_file NULL:
   * ~/.netrc.  user and the URL's credentials come first. */
  rf_netrc netrc;
  const char *netrc_file;
  /* Cookies: "NAME=VALUE[; NAME=VALUE...]" (anything with a '='), sent
   * to the origin only; or the path of a cookie file (Netscape format,
   * as curl and browsers' exports write it), whose cookies go wherever
   * their domain matches.  Cookies the servers set are kept for the
   * job's other requests.  NULL: no cookies sent (cookie_jar still
   * collects those set). */
  const char *cookies;
  /* Write every cookie known at the end of the job to this file (Netscape
   * format), success or not.  NULL: none. */
  const char *cookie_jar;
  /* Bytes per second for the whole job, all connections and sources
   * together (a token bucket; transfers are paused, not slowed by
   * smaller reads); 0: no limit.  Changed at run time with
   * rf_job_set_max_rate. */
  uint64_t max_rate;
  /* The whole download must end within this many milliseconds, or it
   * fails with RF_ETIMEDOUT (the .part is kept for a resume); 0: no
   * limit. */
  unsigned max_time_ms;
  /* 1: do not check TLS certificates or host names (every source).
   * Unsafe: anyone on the path can substitute the content; a manifest
   * or a checksum still catches it. */
  int insecure;
  /* The origin's public key must match: "sha256//BASE64[;sha256//...]"
   * or a PEM/DER file (CURLOPT_PINNEDPUBLICKEY).  NULL: no pinning. */
  const char *pinned_pubkey;
  /* 0: IPv4 or IPv6; 4: IPv4 only; 6: IPv6 only (every source). */
  int ip_version;
  /* Outgoing interface name, address or host (CURLOPT_INTERFACE); NULL:
   * any. */
  const char *interface;
  /* "HOST:PORT:ADDR[,ADDR...]" entries: connect there instead of
   * resolving HOST (CURLOPT_RESOLVE).  The entries go into the engine's
   * DNS cache, so the engine's other jobs see them too. */
  const char *const *resolve;
  size_t nresolve;
  /* 1: write the content, in order, to stream_fd instead of a file
   * (output is then only a name for messages and the result, and may be
   * NULL: "(stdout)" for fd 1, else "(fd N)"): no .part, no lock, no
   * journal, no resume, no rename, no fsync (no_resume, overwrite and
   * no_sync do not apply).  stream_fd stays the caller's: never closed,
   * its flags untouched (a non-blocking one is waited on).
   * Pieces are fetched within a window ahead of what was written
   * (2 x connections + 2 pieces) and each one is held in memory until it
   * is whole and verified against the manifest, if any, so no
   * unverified byte is written; a piece that fails is fetched again
   * before any of it is.  Memory stays bounded: at most 64 MiB of
   * staging blocks, the window and two endgame duplicates.  For that a
   * piece size the engine picks, or piece_size, is at most 4 MiB in this
   * mode; a manifest with pieces over 16 MiB is refused.  A server that
   * ignores ranges is streamed as it comes (with a manifest, cut into its
   * pieces and each verified before it is written).
   * The whole-content checks (the manifest's, the origin's Repr-Digest,
   * checksum) are made over what was written: a mismatch fails the job
   * (RF_EHASH), though the reader already has the bytes.  A stream
   * cannot start over: once bytes were written, a remote file that
   * changed (RF_ECHANGED) or a single stream that broke fails the job.
   * A write error on stream_fd ends the job with RF_EIO ("writing to the
   * output failed: Broken pipe" for a closed pipe: the engine's writer
   * thread blocks SIGPIPE, so none is raised); a reader that stops
   * reading holds the download back.  rf_progress.written counts the
   * bytes written to stream_fd.  Refused by rf_job_add (RF_EINVAL,
   * rf_engine_last_error says why): stream_fd not open for writing,
   * stream with discard. */
  int stream;
  int stream_fd;
  /* The whole content must have this digest, checked before the rename
   * (streamed: at the end, the job then fails): "sha256=HEX" (64 hex
   * digits) or "xxh128=HEX" (32).  NULL: none. */
  const char *checksum;
} rf_job_options;

#define RF_DEFAULT_CACHE_SLICE ((uint64_t)1 << 20)


#define RF_DEFAULT_CONNECTIONS 8
#define RF_MAX_CONNECTIONS 64

/* Every field zero or NULL but the version: the defaults. */
#define RF_JOB_OPTIONS_INIT                                                    \
  {                                                                            \
    RF_JOB_OPTIONS_VERSION, NULL, NULL, 0, 0, NULL, 0, 0, 0, 0, 0, 0, NULL,    \
        NULL, 0, NULL, NULL, NULL, 0, NULL, 0, NULL, 0, NULL, 0, 0, NULL, 0,   \
        0, 0, 0, 0, 0, NULL, 0, 0, NULL, 0, NULL, NULL, NULL,                  \
        RF_NETRC_IGNORED, NULL, NULL, NULL, 0, 0, 0, NULL, 0, NULL, NULL, 0,   \
        0, 0, NULL                                                             \
  }

/*
 * rf_job_options_init - fill opts with the defaults (version set, every
 * other field zero or NULL), as RF_JOB_OPTIONS_INIT.  NULL is a no-op.
 */
RF_EXTERN void rf_job_options_init(rf_job_options *opts);

/*
 * rf_job_add - start downloading opts->url to opts->output.
 *
 * out: receives the job handle (borrowed: owned by the engine, valid until
 *      its completion callback returns); NULL on failure.  May be NULL.
 *
 * The output directory is checked and "<output>.part" is created before the
 * call returns, so a bad path fails here and not after the download (not
 * for a stream: opts->stream).  The
 * job holds an exclusive lock on "<output>.part" (an open-file-description
 * lock: it also keeps out another job of the same process) until it ends,
 * and renames it to the output only if that path still names the file it
 * wrote.
 *
 * May be called from inside a callback, e.g. to queue the next download
 * from a completion callback.
 *
 * Returns 0, RF_EINVAL (engine or opts NULL, options version 0 or newer
 * than RF_JOB_OPTIONS_VERSION, missing url/output, bad option or manifest,
 * engine being freed), RF_EURL (not an http(s) URL), RF_EEXIST (output
 * exists and overwrite is 0; output or "<output>.part" is a directory,
 * whatever overwrite says), RF_ERESUME ("<output>.part" belongs to an
 * unfinished download of another URL: nothing is touched), RF_EBUSY
 * (another job, in this process or another, holds "<output>.part":
 * nothing is touched), RF_EACCES /
 * RF_ENOENT / RF_EIO (the .part file cannot be created), RF_ENOMEM.  On
 * failure no callback is ever called for the job, and
 * rf_engine_last_error() says why.
 */
RF_EXTERN int rf_job_add(rf_job **out, rf_engine *engine,
                         const rf_job_options *opts);

/*
 * rf_engine_last_error - one line explaining why the last rf_job_add on
 * this engine failed ("" if it did not), e.g. naming the manifest line
 * that is malformed.  Borrowed; valid until the next rf_job_add.
 */
RF_EXTERN const char *rf_engine_last_error(const rf_engine *engine);

/*
 * rf_job_cancel - stop a job.  The .part file is kept.  The completion
 * callback follows later (never from inside this call) with RF_ECANCELED.
 * Cancelling a job twice is harmless.  Allowed from inside callbacks.
 */
RF_EXTERN void rf_job_cancel(rf_job *job);

/*
 * rf_job_get_progress - fill *out with the job's current progress.  Its
 * sources array is borrowed: valid until the next call for this job or
 * the job's end.
 */
RF_EXTERN void rf_job_get_progress(rf_progress *out, const rf_job *job);

/*
 * rf_job_add_source - add a mirror, cache host or peer to a running job.
 *
 * id: receives the source's id (for rf_job_remove_source and the stats);
 *     may be NULL.
 * The source is routed, then probed with one connection; once its answer
 * agrees with the origin it takes its share of the job's connections.
 *
 * Returns 0, RF_EINVAL (job or opts NULL, bad version, kind ORIGIN, a peer
 * for a job without a trusted SHA-256 manifest, the job has ended or
 * rf_engine_last_error() names the fault), RF_EURL (not a usable URL or
 * cache host), RF_ENOMEM.
 */
RF_EXTERN int rf_job_add_source(unsigned *id, rf_job *job,
                                const rf_source_options *opts);

/*
 * rf_job_remove_source - stop using source id.  Its requests are cut at
 * once; pieces it had not finished go back to the others (nothing already
 * received is lost: finished pieces stay).  Its figures stay in the stats
 * with state REMOVED.  The origin (id 0) cannot be removed.
 *
 * Returns 0, RF_EINVAL (job NULL, id 0 or unknown, already removed, or
 * the job has every byte already: finishing or ended).
 */
RF_EXTERN int rf_job_remove_source(rf_job *job, unsigned id);

/*
 * rf_job_set_max_rate - change the job's rate limit (rf_job_options
 * max_rate) while it runs: bytes per second for all its connections
 * together, 0 for none.  Takes effect at once.  Allowed from callbacks.
 *
 * Returns 0, RF_EINVAL (job NULL or ended).
 */
RF_EXTERN int rf_job_set_max_rate(rf_job *job, uint64_t bytes_per_second);

/* ---------------------------------------------------------------- helpers */

/*
 * rf_parse_size - parse a byte count: decimal digits with an optional
 * suffix K, M, G or T (powers of 1024; "KiB"/"kB"-style spellings and a
 * trailing "B" accepted, case-insensitive).  Whitespace is not allowed.
 *
 * Returns 0, RF_EINVAL (empty, not a number, unknown suffix, trailing
 * garbage), RF_ETOOBIG (does not fit in 64 bits).  *out untouched on error.
 */
RF_EXTERN int rf_parse_size(uint64_t *out, const char *text);

/*
 * rf_header_check - whether line is a header rf_job_options.headers
 * accepts ("Name: value", "Name:", "Name;"; not Range or If-Range; no CR,
 * LF).  why (may be NULL when why_size is 0) gets one line naming what
 * is wrong.  Returns 0, RF_EINVAL.
 */
RF_EXTERN int rf_header_check(const char *line, char *why, size_t why_size);

/*
 * rf_checksum_check - whether text is a checksum rf_job_options.checksum
 * accepts: "sha256=HEX" (64 hex digits; "sha-256=" too) or "xxh128=HEX"
 * (32).  why gets one line naming what is wrong.  Returns 0, RF_EINVAL.
 */
RF_EXTERN int rf_checksum_check(const char *text, char *why, size_t why_size);

#ifdef __cplusplus
}
#endif
#endif /* RF_RANGEFETCH_H */
