/* `rangefetch get`: download one URL to one file. */
#ifndef _DEFAULT_SOURCE
#  define _DEFAULT_SOURCE
#endif

#include "cli.h"
#include "textutil.h"
#include "args.h"
#include "progress.h"
#include "proxyopts.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#define GET_FALLBACK_NAME "download"
#define GET_MIN_PIECE     (16u * 1024u)
#define GET_MAX_PIECE     (1024u * 1024u * 1024u)
#define GET_MAX_TRIES     1000u
#define GET_MAX_SECONDS   86400u

static const char get_help[] =
    "Usage: " CLI_PROGRAM " get URL [OPTIONS]\n"
    "\n"
    "Download URL (http:// or https://; without a scheme, http:// as curl\n"
    "does) over several HTTP range requests in parallel.  Bytes go to\n"
    "FILE.part, renamed to FILE once complete.\n"
    "\n"
    "Options:\n"
    "  -o, --output FILE        save to FILE; an existing directory or a\n"
    "                           name ending in '/' saves into it (default:\n"
    "                           the last segment of the URL path, else\n"
    "                           \"" GET_FALLBACK_NAME "\", in the current "
    "directory);\n"
    "                           '-' writes to standard output, in order\n"
    "  -c, --connections N      parallel connections, 1-64 (default 8)\n"
    "      --piece-size SIZE    piece size, 16K-1G, suffixes K M G (default:\n"
    "                           1 MiB, larger for files over 64 GiB)\n"
    "      --max-tries N        tries per request before giving up, 1-1000\n"
    "                           (default 5)\n"
    "      --timeout-stall SEC  fail a request after SEC seconds without\n"
    "                           data (default 30)\n"
    "      --connect-timeout SEC\n"
    "                           give up connecting after SEC seconds\n"
    "                           (default 15)\n"
    "      --cacert FILE        also trust the CA certificates in FILE\n"
    "  -f, --force              overwrite FILE if it exists\n"
    "      --manifest PATH|URL  check every piece against this manifest\n"
    "                           (rangefetch manifest) and the whole file\n"
    "                           before renaming it\n"
    "      --no-resume          start over even if FILE.part and its\n"
    "                           journal hold an unfinished download\n"
    "      --no-verify          do not hash pieces (no journal, no resume;\n"
    "                           not with --manifest)\n"
    "      --no-sync            do not flush FILE to disk before renaming\n"
    "                           it (faster on slow disks; a power cut just\n"
    "                           after may damage FILE)\n"
    "\n"
    "A progress bar is drawn on stderr when it is a terminal.  On success\n"
    "one line goes to stdout (stderr with -o -): saved 'FILE' SIZE in\n"
    "SECONDS (RATE, ...).\n"
    "Errors go to stderr.  Ctrl-C stops the download and keeps FILE.part.\n"
    "\n";

static const char get_sources_help[] =
    "Sources (docs/sources.md): the URL is the origin; these serve the same\n"
    "content beside it, each held to the origin's length:\n"
    "      --mirror URL         another URL of the same file (repeatable)\n"
    "      --no-mirror-links    ignore mirrors the origin announces in Link:\n"
    "                           rel=duplicate headers (RFC 6249)\n"
    "      --cache-host HOST[:PORT][,...]\n"
    "                           a Connected-Cache-style cache host, asked\n"
    "                           http://HOST/PATH?Q&cacheHostOrigin=ORIGIN;\n"
    "                           tried in the order given (repeatable;\n"
    "                           replaces the settings files' cache_host)\n"
    "      --cache-host-hash    with several cache hosts, each piece to the\n"
    "                           one rendezvous hashing of (URL, piece) picks,\n"
    "                           the same on every machine (a cache tier)\n"
    "      --cache-slice SIZE   the cache hosts' slice (default 1M): pieces\n"
    "                           are whole slices, requests start and end on\n"
    "                           slice boundaries\n"
    "      --cache-host-source static|dhcp|dhcp-force\n"
    "                           also the cache hosts of DHCP option 235\n"
    "                           (after the static list), or instead of it\n"
    "      --cache-fallback-delay SEC\n"
    "                           with cache hosts: 0 (default) the origin\n"
    "                           takes over at the first failure; SEC: the\n"
    "                           cache hosts are tried for SEC seconds first;\n"
    "                           -1: never fall back to the origin\n"
    "      --cache-host-proxy auto|direct\n"
    "                           route to cache hosts: through the proxy\n"
    "                           settings like any URL (auto, default), or\n"
    "                           always direct\n"
    "      --peer URL           another machine's `rangefetch serve` of this\n"
    "                           file (repeatable); needs a manifest with\n"
    "                           SHA-256 pieces from the origin over HTTPS,\n"
    "                           pinned with --manifest-sha256, or local\n"
    "      --manifest-sha256 HEX\n"
    "                           refuse the manifest unless its SHA-256 is HEX\n"
    "      --per-source N       connections per source at most (default:\n"
    "                           all of -c)\n"
    "      --origin-delay SEC   prefer cache hosts and peers for SEC seconds\n"
    "                           before the origin and mirrors get pieces\n"
    "                           (background downloads)\n"
    "\n"
    "Output:\n"
    "      --json               print newline-delimited JSON events on\n"
    "                           stdout instead of the progress bar and the\n"
    "                           result line\n"
    "  -q, --quiet              print nothing unless the download fails\n"
    "  -v, --verbose            log what the engine does (-vv: debug)\n"
    "  -h, --help               show this help and exit\n"
    "\n";

enum get_opt_id {
  OPT_OUTPUT = 1,
  OPT_CONNECTIONS,
  OPT_PIECE_SIZE,
  OPT_MAX_TRIES,
  OPT_TIMEOUT_STALL,
  OPT_CONNECT_TIMEOUT,
  OPT_CACERT,
  OPT_FORCE,
  OPT_NO_SYNC,
  OPT_MANIFEST,
  OPT_NO_RESUME,
  OPT_NO_VERIFY,
  OPT_JSON,
  OPT_QUIET,
  OPT_VERBOSE,
  OPT_HELP,
  OPT_MIRROR,
  OPT_NO_MIRROR_LINKS,
  OPT_CACHE_HOST,
  OPT_CACHE_FALLBACK_DELAY,
  OPT_CACHE_HOST_PROXY,
  OPT_PEER,
  OPT_MANIFEST_SHA256,
  OPT_PER_SOURCE,
  OPT_ORIGIN_DELAY,
  OPT_CACHE_HOST_SOURCE,
  OPT_CACHE_SLICE,
  OPT_CACHE_HOST_HASH
};

static const cli_option get_options[] = {
  { "output", 'o', 1, OPT_OUTPUT },
  { "connections", 'c', 1, OPT_CONNECTIONS },
  { "piece-size", 0, 1, OPT_PIECE_SIZE },
  { "max-tries", 0, 1, OPT_MAX_TRIES },
  { "timeout-stall", 0, 1, OPT_TIMEOUT_STALL },
  { "connect-timeout", 0, 1, OPT_CONNECT_TIMEOUT },
  { "cacert", 0, 1, OPT_CACERT },
  { "force", 'f', 0, OPT_FORCE },
  { "no-sync", 0, 0, OPT_NO_SYNC },
  { "manifest", 0, 1, OPT_MANIFEST },
  { "no-resume", 0, 0, OPT_NO_RESUME },
  { "no-verify", 0, 0, OPT_NO_VERIFY },
  { "json", 0, 0, OPT_JSON },
  { "quiet", 'q', 0, OPT_QUIET },
  { "verbose", 'v', 0, OPT_VERBOSE },
  { "help", 'h', 0, OPT_HELP },
  { "mirror", 0, 1, OPT_MIRROR },
  { "no-mirror-links", 0, 0, OPT_NO_MIRROR_LINKS },
  { "cache-host", 0, 1, OPT_CACHE_HOST },
  { "cache-fallback-delay", 0, 1, OPT_CACHE_FALLBACK_DELAY },
  { "cache-host-proxy", 0, 1, OPT_CACHE_HOST_PROXY },
  { "peer", 0, 1, OPT_PEER },
  { "manifest-sha256", 0, 1, OPT_MANIFEST_SHA256 },
  { "per-source", 0, 1, OPT_PER_SOURCE },
  { "origin-delay", 0, 1, OPT_ORIGIN_DELAY },
  { "cache-host-source", 0, 1, OPT_CACHE_HOST_SOURCE },
  { "cache-slice", 0, 1, OPT_CACHE_SLICE },
  { "cache-host-hash", 0, 0, OPT_CACHE_HOST_HASH },
  CLI_PROXY_OPTION_ENTRIES,
  { NULL, 0, 0, 0 },
};

typedef struct get_args {
  const char *url;
  const char *output;
  int stream; /* -o -: the content to standard output */
  unsigned connections;
  uint64_t piece_size;
  cli_proxy_args px;
  unsigned max_tries;
  unsigned stall_ms;
  unsigned connect_ms;
  const char *cacert;
  int force;
  int no_sync;
  int no_resume;
  int no_verify;
  const char *manifest;
  int json;
  int quiet;
  int verbose;
  int help; /* --help was shown */
  /* Sources besides the origin, in the order given (src_text owns the
   * copies of the comma-split cache hosts). */
  rf_source_options *srcs;
  size_t nsrcs;
  char **src_text;
  size_t nsrc_text;
  int no_mirror_links;
  char *cache_hosts; /* --cache-host values joined by commas */
  rf_cache_host_source cache_source;
  int cache_source_set;
  int cache_fallback_delay;
  int cache_fallback_set;
  rf_cache_host_proxy cache_host_proxy;
  int cache_host_proxy_set;
  const char *manifest_sha256;
  unsigned per_source;
  unsigned origin_delay;
  uint64_t cache_slice;
  int cache_host_hash;
} get_args;

#define GET_MAX_SOURCES 256u

typedef struct get_ctx {
  uv_loop_t loop;
  uv_signal_t sigint;
  uv_signal_t sigterm;
  rf_engine *engine;
  rf_job *job;
  cli_progress progress;
  const get_args *args;
  const char *output;
  int done;  /* the completion callback ran */
  int signo; /* the signal that cancelled the job, 0: none */
  int single; /* the server ignores ranges: a .part cannot be resumed */
  int exit_code;
  int loop_ready;    /* loop was initialised */
  int signals_ready; /* sigint and sigterm were initialised */
} get_ctx;

/* ------------------------------------------------------------- URL bits */

typedef struct url_parts {
  const char *scheme;
  size_t scheme_len;
  const char *userinfo; /* NULL: none */
  size_t userinfo_len;
  const char *host; /* without brackets and port */
  size_t host_len;
  const char *path; /* up to '?' or '#', may be empty */
  size_t path_len;
} url_parts;

/*
 * Split "scheme://[userinfo@]host[:port][/path][?query][#fragment]".
 * With allow_no_scheme, "host:port" (a proxy spelled without scheme) is
 * accepted too.  Returns 0 or -1.
 */
static int url_split(const char *url, int allow_no_scheme, url_parts *u)
{
  size_t slen = cli_url_scheme_len(url);
  const char *auth, *end, *at, *h;

  memset(u, 0, sizeof(*u));
  if (slen == 0) {
    if (!allow_no_scheme)
      return -1;
    auth = url;
  } else {
    u->scheme = url;
    u->scheme_len = slen;
    auth = url + slen + 3;
  }
  end = auth + strcspn(auth, "/?#");
  at = NULL;
  for (h = auth; h < end; h++) {
    if (*h == '@')
      at = h;
  }
  if (at != NULL) {
    u->userinfo = auth;
    u->userinfo_len = (size_t)(at - auth);
    h = at + 1;
  } else {
    h = auth;
  }
  if (*h == '[') {
    const char *close = memchr(h, ']', (size_t)(end - h));
    if (close == NULL)
      return -1;
    u->host = h + 1;
    u->host_len = (size_t)(close - h - 1);
  } else {
    const char *colon = memchr(h, ':', (size_t)(end - h));
    u->host = h;
    u->host_len = (size_t)((colon != NULL ? colon : end) - h);
  }
  u->path = end;
  u->path_len = strcspn(end, "?#");
  return 0;
}

static int url_scheme_is(const url_parts *u, const char *scheme)
{
  return u->scheme != NULL && u->scheme_len == strlen(scheme) &&
         strncasecmp(u->scheme, scheme, u->scheme_len) == 0;
}

/*
 * A copy of url with the password of its userinfo replaced by "***"
 * ("http://user:***@host:3128", rf_url_mask).  Never NULL: without memory
 * it is a static placeholder.  Release with url_mask_free.
 */
static char url_mask_oom[] = "(URL hidden)";

static char *url_mask(const char *url)
{
  size_t size = strlen(url) + 8; /* "***" may be longer than the password */
  char *out = malloc(size);

  if (out == NULL)
    return url_mask_oom;
  rf_url_mask(out, size, url);
  return out;
}

static void url_mask_free(char *masked)
{
  if (masked != url_mask_oom)
    free(masked);
}

/*
 * The file name for url: its last path segment, percent-decoded, or
 * GET_FALLBACK_NAME when that is empty, ".", "..", has a '/', a control
 * character or is too long.  Returns a malloc'd string or NULL (no memory).
 */
static char *url_file_name(const url_parts *u)
{
  const char *seg = u->path, *end = u->path + u->path_len, *c;
  char *name = NULL;
  size_t n = 0;

  for (c = u->path; c < end; c++) {
    if (*c == '/')
      seg = c + 1;
  }
  name = malloc((size_t)(end - seg) + 1);
  if (name == NULL)
    goto out;
  for (c = seg; c < end; c++) {
    int hi, lo;

    if (*c == '%' && end - c >= 3 && (hi = rfx_hexval(c[1])) >= 0 &&
        (lo = rfx_hexval(c[2])) >= 0) {
      name[n++] = (char)(hi * 16 + lo);
      c += 2;
    } else {
      name[n++] = *c;
    }
  }
  name[n] = '\0';
  for (size_t i = 0; i < n; i++) {
    unsigned char b = (unsigned char)name[i];
    if (b < 0x20 || b == 0x7f || b == '/')
      goto fallback;
  }
  if (n == 0 || n > 255 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
    goto fallback;
  goto out;
fallback:
  free(name);
  name = strdup(GET_FALLBACK_NAME);
out:
  return name;
}

/* ------------------------------------------------------------ reporting */

static void get_error(get_ctx *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Print "rangefetch: error: MESSAGE (ENAME)" on stderr. */
static void get_error(get_ctx *c, int err, const char *fmt, ...)
{
  char msg[1024];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  cli_progress_clear(&c->progress);
  fflush(stdout);
  fputs(CLI_PROGRAM ": error: ", stderr);
  cli_put_clean(stderr, msg);
  fprintf(stderr, " (%s)\n", rf_err_name(err));
}

static int part_kept(const char *path, const char *output)
{
  struct stat st;

  if (path == NULL || strcmp(path, output) == 0)
    return 0;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void get_on_log(rf_log_level level, const char *module, const char *msg,
                       void *user_data)
{
  get_ctx *c = user_data;

  cli_progress_clear(&c->progress);
  cli_log_stderr(level, module, msg, NULL);
  cli_progress_restore(&c->progress);
}

/* Without -v: only what a user must hear about the route (a PAC file
 * that failed, a proxy skipped as dead) and why pieces on disk were not
 * kept (module "resume": an unusable journal, no validator, another
 * manifest; module "job" at WARN: the remote file changed, so the
 * download starts over), not the engine's retries.  The engine's errors
 * ("job" at ERROR) are not repeated: the result says them. */
static void get_on_log_route(rf_log_level level, const char *module,
                             const char *msg, void *user_data)
{
  if (level > RF_LOG_WARN || module == NULL)
    return;
  if (strcmp(module, "proxy") != 0 && strcmp(module, "pac") != 0 &&
      strcmp(module, "wpad") != 0 && strcmp(module, "resume") != 0 &&
      !(strcmp(module, "job") == 0 && level == RF_LOG_WARN))
    return;
  get_on_log(level, module, msg, user_data);
}

static void get_on_progress(rf_job *job, const rf_progress *pr, void *user_data)
{
  get_ctx *c = user_data;

  (void)job;
  /* Sticky: the job leaves one-stream mode as it fails (to probe again). */
  if (pr->single_stream)
    c->single = 1;
  else if (pr->pieces_total > 0)
    c->single = 0;
  if (!c->done)
    cli_progress_update(&c->progress, pr);
}

/* "partial download kept in PATH", and whether the next run can use it. */
static void get_say_kept(const get_ctx *c, const char *lead, const char *path)
{
  fputs(CLI_PROGRAM ": ", stderr);
  fputs(lead, stderr);
  fputs("partial download kept in ", stderr);
  cli_put_clean(stderr, path);
  if (c->single)
    fputs(", but the server ignores range requests: the next run starts "
          "over",
          stderr);
  fputc('\n', stderr);
}

static void get_on_done(rf_job *job, const rf_result *r, void *user_data)
{
  get_ctx *c = user_data;
  const get_args *a = c->args;
  const char *msg = r->message != NULL && r->message[0] != '\0'
                        ? r->message
                        : rf_strerror(r->error);
  int kept = r->error != RF_OK && !a->stream && part_kept(r->path, c->output);

  (void)job;
  c->done = 1;
  c->job = NULL;
  cli_progress_clear(&c->progress);
  if (a->json)
    cli_json_done(r);

  if (a->verbose > 0 && r->nsources > 1) {
    unsigned k;
    for (k = 0; k < r->nsources; k++) {
      const rf_source_stats *s = &r->sources[k];
      char line[1200], b[32];
      cli_human_bytes(b, sizeof(b), (double)s->bytes);
      snprintf(line, sizeof(line),
               "%s %s: %s, %u requests, %u errors, %u bad pieces, %s%s%s%s%s",
               rf_source_kind_name(s->kind), s->name, b, s->requests,
               s->errors, s->bad_pieces, rf_source_state_name(s->state),
               s->why[0] != '\0' ? " (" : "", s->why,
               s->why[0] != '\0' ? ")" : "",
               s->route[0] != '\0' ? "" : ", never routed");
      get_on_log(RF_LOG_INFO, "source", line, c);
    }
  }
  if (r->error == RF_OK) {
    c->exit_code = CLI_EXIT_OK;
    if (!a->quiet && !a->json) /* stdout carries the content with -o - */
      cli_print_saved(a->stream ? stderr : stdout, r);
  } else if (r->error == RF_ECANCELED && c->signo != 0) {
    c->exit_code = CLI_EXIT_SIGNAL + c->signo;
    fflush(stdout);
    if (kept) {
      get_say_kept(c, "interrupted; ", r->path);
    } else {
      fputs(CLI_PROGRAM ": interrupted\n", stderr);
    }
  } else {
    c->exit_code = cli_exit_code(r->error);
    get_error(c, r->error, "%s", msg);
    if (r->error == RF_ETIMEDOUT && !a->quiet)
      fputs(CLI_PROGRAM ": --connect-timeout, --timeout-stall and "
                        "--max-tries set how long it waits\n",
            stderr);
    if (kept)
      get_say_kept(c, "", r->path);
  }
  uv_stop(&c->loop);
}

/* A done event for a job that never started (JSON mode only). */
static void get_json_failed(const get_ctx *c, int err, const char *msg)
{
  rf_result r;

  if (!c->args->json)
    return;
  memset(&r, 0, sizeof(r));
  r.error = err;
  r.message = msg;
  r.path = c->output;
  cli_json_done(&r);
}

static void get_on_signal(uv_signal_t *handle, int signum)
{
  get_ctx *c = handle->data;

  /* A second signal gets the default action: it ends the process. */
  uv_signal_stop(&c->sigint);
  uv_signal_stop(&c->sigterm);
  if (c->done || c->job == NULL)
    return;
  c->signo = signum;
  rf_job_cancel(c->job);
}

static void get_count_handle(uv_handle_t *handle, void *arg)
{
  if (!uv_is_closing(handle))
    (*(unsigned *)arg)++;
}

/* ------------------------------------------------------------- commands */

/* Append a source of kind for text (copied).  Returns 0, -1 (no
 * memory, or too many: said). */
static int get_add_source(get_args *a, rf_source_kind kind, const char *text,
                          size_t len)
{
  rf_source_options *s;
  char **t, *copy;

  if (a->nsrcs >= GET_MAX_SOURCES) {
    cli_usage_error("get", "too many sources (at most %u)", GET_MAX_SOURCES);
    return -1;
  }
  s = realloc(a->srcs, (a->nsrcs + 1) * sizeof(*s));
  if (s == NULL)
    return -1;
  a->srcs = s;
  t = realloc(a->src_text, (a->nsrc_text + 1) * sizeof(*t));
  if (t == NULL)
    return -1;
  a->src_text = t;
  copy = strndup(text, len);
  if (copy == NULL)
    return -1;
  a->src_text[a->nsrc_text++] = copy;
  rf_source_options_init(&a->srcs[a->nsrcs]);
  a->srcs[a->nsrcs].kind = kind;
  a->srcs[a->nsrcs].url = copy;
  a->nsrcs++;
  return 0;
}

static void get_args_free(get_args *a)
{
  size_t k;

  free(a->cache_hosts);
  a->cache_hosts = NULL;
  for (k = 0; k < a->nsrc_text; k++)
    free(a->src_text[k]);
  free(a->src_text);
  free(a->srcs);
  a->src_text = NULL;
  a->srcs = NULL;
  a->nsrcs = a->nsrc_text = 0;
}

/* A connection count, 1 to RF_MAX_CONNECTIONS.  Returns 0, -1 (said). */
static int get_parse_count(const char *v, const char *opt, unsigned *out)
{
  if (cli_parse_uint(v, 1, RF_MAX_CONNECTIONS, out) == 0)
    return 0;
  cli_usage_error("get",
                  "invalid value '%s' for %s: expected a whole number from 1 "
                  "to %d",
                  v, opt, RF_MAX_CONNECTIONS);
  return -1;
}

/* Parse the command line into *a.  Returns 0, or an exit status. */
static int get_parse(int argc, char **argv, get_args *a)
{
  cli_parser p;
  const char *v;
  int id, ret = CLI_EXIT_USAGE;

  memset(a, 0, sizeof(*a));
  cli_parser_init(&p, "get", argc, argv, get_options);
  while ((id = cli_parser_next(&p, &v)) != CLI_ARGS_END) {
    const char *opt = cli_parser_spelled(&p);

    switch (id) {
    case CLI_ARGS_ERROR:
      goto out;
    case CLI_ARGS_OPERAND:
      if (a->url != NULL) {
        cli_usage_error("get", "unexpected argument '%s' (one URL only)", v);
        goto out;
      }
      a->url = v;
      break;
    case OPT_OUTPUT:
      a->stream = strcmp(v, "-") == 0;
      if (v[0] == '\0') {
        cli_usage_error("get", "%s: empty file name", opt);
        goto out;
      }
      a->output = v;
      break;
    case OPT_CONNECTIONS:
      if (get_parse_count(v, opt, &a->connections) != 0)
        goto out;
      break;
    case OPT_PIECE_SIZE: {
      int err = rf_parse_size(&a->piece_size, v);

      if (err != 0 || a->piece_size < GET_MIN_PIECE ||
          a->piece_size > GET_MAX_PIECE) {
        cli_usage_error("get",
                        "invalid value '%s' for %s: expected a size "
                        "from 16K to 1G (e.g. 512K, 4M)",
                        v, opt);
        goto out;
      }
      break;
    }
    case OPT_MAX_TRIES:
      if (cli_parse_uint(v, 1, GET_MAX_TRIES, &a->max_tries) != 0) {
        cli_usage_error("get",
                        "invalid value '%s' for %s: expected a whole "
                        "number from 1 to %u",
                        v, opt, GET_MAX_TRIES);
        goto out;
      }
      break;
    case OPT_TIMEOUT_STALL:
    case OPT_CONNECT_TIMEOUT:
      if (cli_parse_seconds(v, GET_MAX_SECONDS,
                            id == OPT_TIMEOUT_STALL ? &a->stall_ms
                                                    : &a->connect_ms) != 0) {
        cli_usage_error("get",
                        "invalid value '%s' for %s: expected seconds "
                        "(e.g. 30 or 2.5), more than 0 and at most %u",
                        v, opt, GET_MAX_SECONDS);
        goto out;
      }
      break;
    case OPT_CACERT:
      a->cacert = v;
      break;
    case OPT_NO_SYNC:
      a->no_sync = 1;
      break;
    case OPT_MANIFEST:
      a->manifest = v;
      break;
    case OPT_NO_RESUME:
      a->no_resume = 1;
      break;
    case OPT_NO_VERIFY:
      a->no_verify = 1;
      break;
    case OPT_FORCE:
      a->force = 1;
      break;
    case OPT_JSON:
      a->json = 1;
      break;
    case OPT_QUIET:
      a->quiet = 1;
      break;
    case OPT_VERBOSE:
      a->verbose++;
      break;
    case OPT_MIRROR:
    case OPT_PEER:
      if (get_add_source(a, id == OPT_MIRROR ? RF_SOURCE_MIRROR : RF_SOURCE_PEER,
                         v, strlen(v)) != 0)
        goto out;
      break;
    case OPT_CACHE_HOST: {
      /* Collected, joined by commas: parsed with the settings (one list,
       * rf_cache_host_list_parse names a bad entry). */
      size_t n = a->cache_hosts != NULL ? strlen(a->cache_hosts) : 0;
      char *grown = realloc(a->cache_hosts, n + strlen(v) + 2);
      if (grown == NULL)
        goto out;
      sprintf(grown + n, "%s%s", n > 0 ? "," : "", v);
      a->cache_hosts = grown;
      break;
    }
    case OPT_CACHE_HOST_SOURCE:
      if (strcmp(v, "static") == 0)
        a->cache_source = RF_CACHE_HOST_SOURCE_STATIC;
      else if (strcmp(v, "dhcp") == 0)
        a->cache_source = RF_CACHE_HOST_SOURCE_DHCP;
      else if (strcmp(v, "dhcp-force") == 0)
        a->cache_source = RF_CACHE_HOST_SOURCE_DHCP_FORCE;
      else {
        cli_usage_error("get",
                        "invalid value '%s' for %s: expected static, dhcp or "
                        "dhcp-force",
                        v, opt);
        goto out;
      }
      a->cache_source_set = 1;
      break;
    case OPT_NO_MIRROR_LINKS:
      a->no_mirror_links = 1;
      break;
    case OPT_CACHE_FALLBACK_DELAY: {
      unsigned n;
      a->cache_fallback_set = 1;
      if (strcmp(v, "-1") == 0 || strcmp(v, "never") == 0) {
        a->cache_fallback_delay = -1;
      } else if (cli_parse_uint(v, 0, GET_MAX_SECONDS * 30u, &n) == 0) {
        a->cache_fallback_delay = (int)n;
      } else {
        cli_usage_error("get",
                        "invalid value '%s' for %s: expected whole seconds "
                        "from 0 to %u, or -1 (never fall back to the origin)",
                        v, opt, GET_MAX_SECONDS * 30u);
        goto out;
      }
      break;
    }
    case OPT_CACHE_HOST_PROXY:
      a->cache_host_proxy_set = 1;
      if (strcmp(v, "auto") == 0) {
        a->cache_host_proxy = RF_CACHE_HOST_PROXY_AUTO;
      } else if (strcmp(v, "direct") == 0) {
        a->cache_host_proxy = RF_CACHE_HOST_PROXY_DIRECT;
      } else {
        cli_usage_error("get",
                        "invalid value '%s' for %s: expected auto or direct",
                        v, opt);
        goto out;
      }
      break;
    case OPT_MANIFEST_SHA256:
      a->manifest_sha256 = v;
      break;
    case OPT_CACHE_SLICE:
      if (rf_parse_size(&a->cache_slice, v) != 0 ||
          a->cache_slice < GET_MIN_PIECE || a->cache_slice > GET_MAX_PIECE) {
        cli_usage_error("get",
                        "invalid value '%s' for %s: expected a size from 16K "
                        "to 1G (the cache hosts' slice, e.g. 1M)",
                        v, opt);
        goto out;
      }
      break;
    case OPT_CACHE_HOST_HASH:
      a->cache_host_hash = 1;
      break;
    case OPT_PER_SOURCE:
      if (get_parse_count(v, opt, &a->per_source) != 0)
        goto out;
      break;
    case OPT_ORIGIN_DELAY:
      if (cli_parse_uint(v, 0, GET_MAX_SECONDS * 30u, &a->origin_delay) != 0) {
        cli_usage_error("get",
                        "invalid value '%s' for %s: expected whole seconds "
                        "from 0 to %u",
                        v, opt, GET_MAX_SECONDS * 30u);
        goto out;
      }
      break;
    case OPT_HELP:
      fputs(get_help, stdout);
      fputs(get_sources_help, stdout);
      fputs(cli_proxy_help, stdout);
      fputs("\n", stdout);
      fputs(cli_exit_help, stdout);
      a->help = 1;
      ret = CLI_EXIT_OK;
      goto out;
    default: {
      int r = cli_proxy_option(&a->px, id, v, opt, "get");
      if (r < 0)
        goto out;
      if (r == 0) {
        cli_usage_error("get", "internal error: option %d", id);
        goto out;
      }
      break;
    }
    }
  }
  if (a->url == NULL) {
    cli_usage_error("get", "missing URL");
    goto out;
  }
  if (a->no_verify && a->manifest != NULL) {
    cli_usage_error("get", "--no-verify and --manifest cannot be used "
                           "together (a manifest is checked piece by piece)");
    goto out;
  }
  if (a->stream && a->json) {
    cli_usage_error("get", "--json and -o - cannot be used together: "
                           "standard output carries the content");
    goto out;
  }
  if (a->manifest_sha256 != NULL && a->manifest == NULL) {
    cli_usage_error("get", "--manifest-sha256 pins a manifest: give the "
                           "manifest with --manifest");
    goto out;
  }
  if (a->cacert != NULL && access(a->cacert, R_OK) != 0) {
    cli_usage_error("get", "cannot read the --cacert file '%s': %s", a->cacert,
                    strerror(errno));
    goto out;
  }
  if (cli_proxy_check(&a->px, "get") != 0)
    goto out;
  ret = 0;
out:
  return ret;
}

/*
 * The output path: -o as given, -o DIR joined with the URL's file name,
 * or the URL's file name.  Returns a malloc'd string or NULL (no memory).
 */
static char *get_output_path(const get_args *a, const url_parts *u)
{
  struct stat st;
  char *name = NULL, *path = NULL;
  size_t len;

  if (a->output != NULL) {
    len = strlen(a->output);
    if (a->output[len - 1] != '/' &&
        !(stat(a->output, &st) == 0 && S_ISDIR(st.st_mode))) {
      path = strdup(a->output);
      goto out;
    }
  }
  name = url_file_name(u);
  if (name == NULL)
    goto out;
  if (a->output == NULL) {
    path = name;
    name = NULL;
    goto out;
  }
  len = strlen(a->output);
  path = malloc(len + 1 + strlen(name) + 1);
  if (path == NULL)
    goto out;
  sprintf(path, "%s%s%s", a->output, a->output[len - 1] == '/' ? "" : "/",
          name);
out:
  free(name);
  return path;
}

/* Message for a job rf_job_add refused. */
static void get_add_failed(get_ctx *c, int err, const char *url)
{
  char msg[1024];
  char *masked;

  switch (err) {
  case RF_EEXIST:
    /* The engine's message when it says more ("... is a directory"). */
    if (strcmp(rf_engine_last_error(c->engine), rf_strerror(err)) != 0 &&
        rf_engine_last_error(c->engine)[0] != '\0')
      snprintf(msg, sizeof(msg), "%s", rf_engine_last_error(c->engine));
    else
      snprintf(msg, sizeof(msg),
               "'%s' already exists (use --force to "
               "overwrite it)",
               c->output);
    break;
  case RF_EACCES:
  case RF_ENOENT:
  case RF_EIO:
  case RF_ENOSPC:
    if (c->args->manifest != NULL &&
        strstr(rf_engine_last_error(c->engine), "manifest") != NULL)
      snprintf(msg, sizeof(msg), "%s", rf_engine_last_error(c->engine));
    else
      snprintf(msg, sizeof(msg), "cannot create '%s.part': %s", c->output,
               rf_strerror(err));
    break;
  case RF_EURL:
    masked = url_mask(url);
    if (rf_engine_last_error(c->engine)[0] != '\0' &&
        strcmp(rf_engine_last_error(c->engine), rf_strerror(err)) != 0)
      snprintf(msg, sizeof(msg), "invalid URL '%s': %s", masked,
               rf_engine_last_error(c->engine));
    else
      snprintf(msg, sizeof(msg), "invalid URL '%s'", masked);
    url_mask_free(masked);
    break;
  case RF_EINVAL:
  case RF_ERESUME:
  case RF_EBUSY: /* another download holds the .part */
  case RF_ETOOBIG:
    snprintf(msg, sizeof(msg), "%s",
             rf_engine_last_error(c->engine)[0] != '\0'
                 ? rf_engine_last_error(c->engine)
                 : "the download engine refused the options");
    break;
  default:
    snprintf(msg, sizeof(msg), "cannot start the download: %s",
             rf_strerror(err));
    break;
  }
  get_json_failed(c, err, msg);
  get_error(c, err, "%s", msg);
  c->exit_code =
      err == RF_EURL || err == RF_EINVAL ? CLI_EXIT_USAGE
      : err == RF_ERESUME || err == RF_EBUSY ? CLI_EXIT_LOCAL
                                         : cli_exit_code(err);
}

/*
 * Check c->args->url and pick the output path.  *masked gets the URL for
 * messages, *output (and c->output) the path; the caller frees both.
 * Returns 0, or -1 with c->exit_code set.
 */
static int get_target(get_ctx *c, char **masked, char **output)
{
  const get_args *a = c->args;
  url_parts u;

  *masked = url_mask(a->url);
  if (url_split(a->url, 0, &u) != 0 ||
      !(url_scheme_is(&u, "http") || url_scheme_is(&u, "https"))) {
    cli_usage_error("get",
                    "invalid URL '%s': expected http://HOST/... or "
                    "https://HOST/...",
                    *masked);
    c->exit_code = CLI_EXIT_USAGE;
    return -1;
  }
  if (u.host_len == 0) {
    cli_usage_error("get", "invalid URL '%s': no host name", *masked);
    c->exit_code = CLI_EXIT_USAGE;
    return -1;
  }
  *output = get_output_path(a, &u);
  if (*output == NULL) {
    fputs(CLI_PROGRAM ": error: out of memory\n", stderr);
    return -1;
  }
  c->output = *output;
  return 0;
}

/* JSON lines with --json, a bar on a terminal unless -q, else nothing. */
static cli_progress_mode get_progress_mode(const get_args *a)
{
  if (a->json)
    return CLI_PROGRESS_JSON;
  if (!a->quiet && isatty(STDERR_FILENO))
    return CLI_PROGRESS_BAR;
  return CLI_PROGRESS_NONE;
}

/*
 * Create the event loop (then c->loop_ready is set) and the engine, logging
 * as -v and -q ask, and set up its proxy chain.  Returns 0, or -1 with
 * c->exit_code set.
 */
static int get_engine_start(get_ctx *c)
{
  const get_args *a = c->args;
  rf_engine_options eo = RF_ENGINE_OPTIONS_INIT;
  char perr[1024];
  int err;

  err = uv_loop_init(&c->loop);
  if (err != 0) {
    fprintf(stderr, CLI_PROGRAM ": error: cannot create an event loop: %s\n",
            uv_strerror(err));
    return -1;
  }
  c->loop_ready = 1;
  eo.loop = &c->loop;
  if (a->verbose > 0) {
    eo.log_cb = get_on_log;
    eo.log_level = a->verbose > 1 ? RF_LOG_DEBUG : RF_LOG_INFO;
    eo.log_user_data = c;
  } else if (!a->quiet) {
    eo.log_cb = get_on_log_route;
    eo.log_level = RF_LOG_WARN;
    eo.log_user_data = c;
  }
  err = rf_engine_new(&c->engine, &eo);
  if (err != 0) {
    get_error(c, err, "cannot start the download engine: %s", rf_strerror(err));
    c->exit_code = cli_exit_code(err);
    return -1;
  }

  err = cli_proxy_setup(c->engine, &a->px, perr, sizeof(perr));
  if (err != 0) {
    get_json_failed(c, err, perr);
    get_error(c, err, "%s", perr);
    c->exit_code = err == RF_ENOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE;
    return -1;
  }
  return 0;
}

/*
 * The cache hosts: the settings files' policy (docs/proxy-config.md), the
 * command line over it, DHCP option 235 as cache_host_source says; each
 * one becomes a source.  Returns 0, or -1 with c->exit_code set.
 */
static int get_cache_hosts(get_ctx *c, get_args *a)
{
  rf_cache_policy pol = RF_CACHE_POLICY_INIT;
  rf_cache_host_list *cli = NULL, *list = NULL;
  rf_cache_dhcp *dhcp = NULL;
  char note[1024], err[1024];
  size_t k;
  int rc;

  rc = rf_cache_policy_load(&pol, note, sizeof(note), a->px.context,
                            getenv("RANGEFETCH_SYSCONFDIR"), NULL, err,
                            sizeof(err));
  if (rc != 0) {
    get_error(c, rc, "%s", err);
    c->exit_code = CLI_EXIT_USAGE;
    return -1;
  }
  if (a->verbose > 0)
    get_on_log(RF_LOG_INFO, "cli", note, c);
  if (a->cache_hosts != NULL) {
    rc = rf_cache_host_list_parse(&cli, a->cache_hosts, err, sizeof(err));
    if (rc != 0) {
      rf_cache_policy_clear(&pol);
      cli_usage_error("get", "invalid value for --cache-host: %s", err);
      c->exit_code = CLI_EXIT_USAGE;
      return -1;
    }
    rf_cache_host_list_free(pol.hosts);
    pol.hosts = cli;
  }
  if (a->cache_source_set)
    pol.source = a->cache_source;
  if (!a->cache_fallback_set)
    a->cache_fallback_delay = pol.fallback_delay_s;
  if (!a->cache_host_proxy_set)
    a->cache_host_proxy = pol.proxy;
  if (pol.source != RF_CACHE_HOST_SOURCE_STATIC &&
      rf_cache_dhcp_read(&dhcp, NULL) != 0) {
    rf_cache_policy_clear(&pol);
    return -1;
  }
  rc = rf_cache_hosts_combine(&list, note, sizeof(note), &pol, dhcp);
  rf_cache_dhcp_free(dhcp);
  rf_cache_policy_clear(&pol);
  if (rc != 0)
    return -1;
  if (a->verbose > 0 || (list->count == 0 && a->cache_source_set))
    get_on_log(RF_LOG_INFO, "cli", note, c);
  for (k = 0; k < list->count; k++) {
    char name[300];
    rf_cache_host_format(name, sizeof(name), &list->hosts[k]);
    if (get_add_source(a, RF_SOURCE_CACHE_HOST, name, strlen(name)) != 0) {
      rf_cache_host_list_free(list);
      return -1;
    }
  }
  rf_cache_host_list_free(list);
  return 0;
}

/* Add the download to the engine.  Returns 0, or -1 with c->exit_code set. */
static int get_job_start(get_ctx *c)
{
  const get_args *a = c->args;
  rf_job_options jo;
  int err;

  rf_job_options_init(&jo);
  jo.url = a->url;
  jo.output = c->output;
  jo.connections = a->connections;
  jo.piece_size = a->piece_size;
  jo.proxy = NULL; /* the resolver chain decides (cli_proxy_setup) */
  jo.proxy_user = a->px.proxy_user;
  jo.proxy_auth = a->px.proxy_auth;
  jo.proxy_ca_file = a->px.proxy_cacert;
  jo.max_tries = a->max_tries;
  jo.stall_timeout_ms = a->stall_ms;
  jo.connect_timeout_ms = a->connect_ms;
  jo.progress_interval_ms = CLI_PROGRESS_INTERVAL_MS;
  jo.ca_file = a->cacert;
  jo.overwrite = a->force;
  jo.no_sync = a->no_sync;
  jo.manifest = a->manifest;
  jo.no_resume = a->no_resume;
  jo.no_verify = a->no_verify;
  jo.sources = a->srcs;
  jo.nsources = a->nsrcs;
  jo.no_mirror_links = a->no_mirror_links;
  jo.cache_fallback_delay = a->cache_fallback_delay;
  jo.cache_host_proxy = a->cache_host_proxy;
  jo.manifest_sha256 = a->manifest_sha256;
  jo.per_source = a->per_source;
  jo.origin_delay = a->origin_delay;
  jo.cache_slice = a->cache_slice;
  jo.cache_host_hash = a->cache_host_hash;
  if (a->stream) { /* -o -: in order to stdout, no file */
    jo.output = NULL;
    jo.stream = 1;
    jo.stream_fd = STDOUT_FILENO;
  }
  jo.on_progress = get_on_progress; /* also without a bar: c.single */
  jo.on_done = get_on_done;
  jo.user_data = c;
  err = rf_job_add(&c->job, c->engine, &jo);
  if (err != 0) {
    get_add_failed(c, err, a->url);
    return -1;
  }
  return 0;
}

/* SIGINT and SIGTERM cancel the job (then c->signals_ready is set).
 * Returns 0 or -1. */
static int get_signals_start(get_ctx *c)
{
  /* Signals must not keep the loop alive: uv_run returns when the engine
   * has nothing left to do, whether or not the job reported. */
  c->sigint.data = c;
  c->sigterm.data = c;
  if (uv_signal_init(&c->loop, &c->sigint) != 0 ||
      uv_signal_init(&c->loop, &c->sigterm) != 0) {
    fputs(CLI_PROGRAM ": error: cannot install signal handlers\n", stderr);
    return -1;
  }
  c->signals_ready = 1;
  uv_signal_start(&c->sigint, get_on_signal, SIGINT);
  uv_signal_start(&c->sigterm, get_on_signal, SIGTERM);
  uv_unref((uv_handle_t *)&c->sigint);
  uv_unref((uv_handle_t *)&c->sigterm);
  return 0;
}

/* Run the loop until the engine has nothing left to do. */
static void get_run(get_ctx *c)
{
  uv_run(&c->loop, UV_RUN_DEFAULT);
  cli_proxy_save_marks(c->engine);
  if (!c->done) {
    get_error(c, RF_EINTERNAL,
              "the engine stopped before the download "
              "finished");
    get_json_failed(c, RF_EINTERNAL,
                    "the engine stopped before the "
                    "download finished");
    c->exit_code = CLI_EXIT_FAILURE;
  }
}

/* Free the engine, close the signal handles and the loop. */
static void get_close(get_ctx *c)
{
  rf_engine_free(c->engine);
  if (c->signals_ready) {
    uv_close((uv_handle_t *)&c->sigint, NULL);
    uv_close((uv_handle_t *)&c->sigterm, NULL);
  }
  if (c->loop_ready) {
    uv_run(&c->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&c->loop) != 0 && c->args->verbose > 0) {
      unsigned open = 0;

      uv_walk(&c->loop, get_count_handle, &open);
      fprintf(stderr,
              CLI_PROGRAM ": [cli] %u libuv handle%s still open at "
                          "exit\n",
              open, open == 1 ? "" : "s");
    }
  }
}

int cli_get_main(int argc, char **argv)
{
  get_args a;
  get_ctx c;
  char *output = NULL, *masked = NULL, *url = NULL;

  memset(&c, 0, sizeof(c));
  c.args = &a;
  c.exit_code = get_parse(argc, argv, &a);
  if (c.exit_code != 0 || a.help)
    goto out;
  c.exit_code = cli_url_prepare("get", a.url, a.verbose, &url);
  if (c.exit_code != 0)
    goto out;
  a.url = url; /* with http:// added when it had no scheme */
  c.exit_code = CLI_EXIT_FAILURE;

  if (get_target(&c, &masked, &output) != 0)
    goto out;
  cli_progress_init(&c.progress, get_progress_mode(&a));
  if (get_engine_start(&c) != 0)
    goto out;
  if (a.verbose > 0) {
    char line[1024];

    snprintf(line, sizeof(line), "%s -> %s", masked, output);
    get_on_log(RF_LOG_INFO, "cli", line, &c);
  }
  if (a.json)
    cli_json_start(masked, output);
  if (get_cache_hosts(&c, &a) != 0 || get_job_start(&c) != 0 ||
      get_signals_start(&c) != 0)
    goto out;
  get_run(&c);

out:
  get_close(&c);
  get_args_free(&a);
  if (masked != NULL)
    url_mask_free(masked);
  free(output);
  free(url);
  if (fflush(stdout) != 0 && c.exit_code == CLI_EXIT_OK)
    c.exit_code = CLI_EXIT_FAILURE;
  return c.exit_code;
}
