/* `rangefetch get`: download one URL to one file. */
#ifndef _DEFAULT_SOURCE
#  define _DEFAULT_SOURCE
#endif

#include "cli.h"
#include "textutil.h"
#include "args.h"
#include "progress.h"
#include "proxyopts.h"
#include "inputfile.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>
#include <uv.h>

#define GET_FALLBACK_NAME "download"
#define GET_MIN_PIECE     (16u * 1024u)
#define GET_MAX_PIECE     (1024u * 1024u * 1024u)
#define GET_MAX_TRIES     1000u
#define GET_MAX_SECONDS   86400u

static const char get_help[] =
    "Usage: " CLI_PROGRAM " get URL... [OPTIONS]\n"
    "       " CLI_PROGRAM " get -i FILE [OPTIONS]\n"
    "\n"
    "Download URL (http:// or https://; without a scheme, http:// as curl\n"
    "does) over several HTTP range requests in parallel.  Bytes go to\n"
    "FILE.part, renamed to FILE once complete.  With several URLs (or -i)\n"
    "the downloads share the -c connections, a summary ends the run.\n"
    "\n"
    "Options:\n"
    "  -o, --output FILE        save to FILE; an existing directory or a\n"
    "                           name ending in '/' saves into it (default:\n"
    "                           the last segment of the URL path, else\n"
    "                           \"" GET_FALLBACK_NAME "\", in the current "
    "directory); '-' writes to standard output, in order\n"
    "  -O, --remote-name        name the file after the URL (the default;\n"
    "                           for curl's habit)\n"
    "      --output-dir DIR     save into DIR (with -o NAME: DIR/NAME)\n"
    "  -c, --connections N      parallel connections, 1-64 (default 8); with\n"
    "                           several downloads, all of them together.\n"
    "                           (-c is not curl's --cookie-jar: see below)\n"
    "      --piece-size SIZE    piece size, 16K-1G, suffixes K M G (default:\n"
    "                           1 MiB, larger for files over 64 GiB)\n"
    "      --max-tries N        tries per request before giving up, 1-1000\n"
    "                           (default 5)\n"
    "      --timeout-stall SEC  fail a request after SEC seconds without\n"
    "                           data (default 30)\n"
    "      --connect-timeout SEC\n"
    "                           give up connecting after SEC seconds\n"
    "                           (default 15)\n"
    "      --max-time SEC       fail if the whole download takes longer\n"
    "                           (the partial download is kept)\n"
    "      --limit-rate RATE    at most RATE bytes per second in all, over\n"
    "                           every connection (suffixes K M G: 500K, 2M)\n"
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
    "      --checksum ALGO=HEX  the whole file must have this digest before\n"
    "                           it is renamed: sha256=HEX or xxh128=HEX\n"
    "\n";

static const char get_request_help[] =
    "Requests:\n"
    "  -H, --header LINE        send the header LINE, 'NAME: VALUE', to the\n"
    "                           origin (repeatable; 'NAME:' drops one; not\n"
    "                           Range or If-Range).  Headers, credentials\n"
    "                           and cookies go to the origin only, never\n"
    "                           to mirrors, cache hosts or peers\n"
    "  -A, --user-agent TEXT    the User-Agent (every source)\n"
    "  -e, --referer URL        the Referer (every source)\n"
    "  -u, --user USER[:PASS]   HTTP Basic credentials; without :PASS the\n"
    "                           password is asked on the terminal\n"
    "      --oauth2-bearer TOKEN\n"
    "                           Authorization: Bearer TOKEN\n"
    "  -n, --netrc              credentials from ~/.netrc (only from it)\n"
    "      --netrc-optional     from ~/.netrc when it has the host\n"
    "      --netrc-file FILE    that file instead of ~/.netrc (implies\n"
    "                           --netrc unless --netrc-optional)\n"
    "  -b, --cookie DATA|FILE   send cookies: 'NAME=VALUE; ...', or read a\n"
    "                           cookie file (Netscape format)\n"
    "      --cookie-jar FILE    write the cookies to FILE at the end\n"
    "\n"
    "Connections:\n"
    "  -k, --insecure           do not check TLS certificates (warned on\n"
    "                           every run; --checksum or --manifest still\n"
    "                           catch substituted content)\n"
    "      --cacert FILE        also trust the CA certificates in FILE\n"
    "                           (default: $SSL_CERT_FILE, $CURL_CA_BUNDLE)\n"
    "      --pinnedpubkey KEY   the origin's public key: sha256//BASE64[;...]\n"
    "                           or a PEM/DER file\n"
    "  -4, --ipv4               IPv4 addresses only\n"
    "  -6, --ipv6               IPv6 addresses only\n"
    "      --interface NAME     send from this interface, address or host\n"
    "      --resolve HOST:PORT:ADDR[,ADDR]\n"
    "                           connect to ADDR for HOST:PORT (repeatable)\n"
    "\n"
    "Many downloads:\n"
    "  -i, --input-file FILE    the URLs of FILE ('-': standard input), one\n"
    "                           per line, mirrors after it on the line, and\n"
    "                           indented out=, dir=, checksum=, header=,\n"
    "                           mirror= lines (aria2's format)\n"
    "  -j, --max-concurrent N   downloads at once, 1-64 (default: 4, at\n"
    "                           most one per connection of -c)\n"
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
  OPT_CACHE_HOST_HASH,
  OPT_HEADER,
  OPT_USER_AGENT,
  OPT_REFERER,
  OPT_USER,
  OPT_BEARER,
  OPT_NETRC,
  OPT_NETRC_OPTIONAL,
  OPT_NETRC_FILE,
  OPT_COOKIE,
  OPT_COOKIE_JAR,
  OPT_LIMIT_RATE,
  OPT_MAX_TIME,
  OPT_INSECURE,
  OPT_PINNEDPUBKEY,
  OPT_IPV4,
  OPT_IPV6,
  OPT_INTERFACE,
  OPT_RESOLVE,
  OPT_CHECKSUM,
  OPT_INPUT_FILE,
  OPT_REMOTE_NAME,
  OPT_OUTPUT_DIR,
  OPT_MAX_CONCURRENT
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
  { "header", 'H', 1, OPT_HEADER },
  { "user-agent", 'A', 1, OPT_USER_AGENT },
  { "referer", 'e', 1, OPT_REFERER },
  { "user", 'u', 1, OPT_USER },
  { "oauth2-bearer", 0, 1, OPT_BEARER },
  { "netrc", 'n', 0, OPT_NETRC },
  { "netrc-optional", 0, 0, OPT_NETRC_OPTIONAL },
  { "netrc-file", 0, 1, OPT_NETRC_FILE },
  { "cookie", 'b', 1, OPT_COOKIE },
  { "cookie-jar", 0, 1, OPT_COOKIE_JAR },
  { "limit-rate", 0, 1, OPT_LIMIT_RATE },
  { "max-time", 'm', 1, OPT_MAX_TIME },
  { "insecure", 'k', 0, OPT_INSECURE },
  { "pinnedpubkey", 0, 1, OPT_PINNEDPUBKEY },
  { "ipv4", '4', 0, OPT_IPV4 },
  { "ipv6", '6', 0, OPT_IPV6 },
  { "interface", 0, 1, OPT_INTERFACE },
  { "resolve", 0, 1, OPT_RESOLVE },
  { "checksum", 0, 1, OPT_CHECKSUM },
  { "input-file", 'i', 1, OPT_INPUT_FILE },
  { "remote-name", 'O', 0, OPT_REMOTE_NAME },
  { "output-dir", 0, 1, OPT_OUTPUT_DIR },
  { "max-concurrent", 'j', 1, OPT_MAX_CONCURRENT },
  CLI_PROXY_OPTION_ENTRIES,
  { NULL, 0, 0, 0 },
};

typedef struct get_args {
  cli_input in; /* the downloads: URL operands, then -i's */
  const char *url; /* the one being set up (get_item_args) */
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
  /* Requests, connections, many downloads. */
  const char **headers; /* pointers into argv */
  size_t nheaders;
  const char *user_agent;
  const char *referer;
  const char *user;
  char *user_prompted; /* USER:PASSWORD after asking; wiped */
  const char *bearer;
  rf_netrc netrc;
  const char *netrc_file;
  const char *cookies;
  const char *cookie_jar;
  uint64_t max_rate;
  unsigned max_time_ms;
  int insecure;
  const char *pinned_pubkey;
  int ip_version;
  const char *interface;
  const char **resolve;
  size_t nresolve;
  const char *checksum;
  const char *input_file;
  const char *output_dir;
  unsigned max_concurrent;
} get_args;

#define GET_MAX_SOURCES 256u

typedef struct get_ctx get_ctx;

/* One download of the run. */
typedef struct get_item {
  get_ctx *ctx;
  const cli_input_item *in;
  char *url;    /* with http:// added when it had no scheme */
  char *masked; /* url without its password, for messages */
  char *output;
  rf_job *job;
  int started;
  int done;   /* the completion callback ran */
  int single; /* the server ignores ranges: a .part cannot be resumed */
  int exit_code;
  unsigned connections; /* of the budget, while it runs */
  uint64_t bytes;
} get_item;

struct get_ctx {
  uv_loop_t loop;
  uv_signal_t sigint;
  uv_signal_t sigterm;
  rf_engine *engine;
  cli_progress progress;
  get_args *args;
  get_item *items;
  size_t nitems;
  size_t next;     /* the next item to start */
  unsigned budget; /* connections for all the downloads together */
  unsigned free;   /* of the budget, not given to a running download */
  unsigned share;  /* connections of each download */
  unsigned running;
  unsigned saved, failed;
  uint64_t t0_ns;
  int signo; /* the signal that cancelled the run, 0: none */
  int exit_code;
  int loop_ready;    /* loop was initialised */
  int signals_ready; /* sigint and sigterm were initialised */
};

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
  get_item *it = user_data;

  (void)job;
  /* Sticky: the job leaves one-stream mode as it fails (to probe again). */
  if (pr->single_stream)
    it->single = 1;
  else if (pr->pieces_total > 0)
    it->single = 0;
  if (!it->done && it->ctx->nitems == 1)
    cli_progress_update(&it->ctx->progress, pr);
}

/* "partial download kept in PATH", and whether the next run can use it. */
static void get_say_kept(const get_item *it, const char *lead,
                         const char *path)
{
  fputs(CLI_PROGRAM ": ", stderr);
  fputs(lead, stderr);
  fputs("partial download kept in ", stderr);
  cli_put_clean(stderr, path);
  if (it->single)
    fputs(", but the server ignores range requests: the next run starts "
          "over",
          stderr);
  fputc('\n', stderr);
}

static void get_start_next(get_ctx *c);

static void get_on_done(rf_job *job, const rf_result *r, void *user_data)
{
  get_item *it = user_data;
  get_ctx *c = it->ctx;
  const get_args *a = c->args;
  const char *msg = r->message != NULL && r->message[0] != '\0'
                        ? r->message
                        : rf_strerror(r->error);
  int kept = r->error != RF_OK && !a->stream && part_kept(r->path, it->output);

  (void)job;
  it->done = 1;
  it->job = NULL;
  c->running--;
  c->free += it->connections;
  it->bytes = r->error == RF_OK ? r->bytes : 0;
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
    it->exit_code = CLI_EXIT_OK;
    c->saved++;
    if (!a->quiet && !a->json) /* stdout carries the content with -o - */
      cli_print_saved(a->stream ? stderr : stdout, r);
  } else if (r->error == RF_ECANCELED && c->signo != 0) {
    it->exit_code = CLI_EXIT_SIGNAL + c->signo;
    c->failed++;
    fflush(stdout);
    if (kept) {
      get_say_kept(it, "interrupted; ", r->path);
    } else {
      fputs(CLI_PROGRAM ": interrupted\n", stderr);
    }
  } else {
    it->exit_code = cli_exit_code(r->error);
    c->failed++;
    get_error(c, r->error, "%s", msg);
    if (r->error == RF_ETIMEDOUT && !a->quiet)
      fputs(CLI_PROGRAM ": --connect-timeout, --timeout-stall, --max-tries "
                        "and --max-time set how long it waits\n",
            stderr);
    if (kept)
      get_say_kept(it, "", r->path);
  }
  /* The first failure decides the exit status of a run of many. */
  if (c->exit_code == CLI_EXIT_OK || c->exit_code == -1)
    c->exit_code = it->exit_code;
  if (c->signo == 0)
    get_start_next(c);
  if (c->running == 0 && (c->next >= c->nitems || c->signo != 0))
    uv_stop(&c->loop);
}

/* A done event for a job that never started (JSON mode only). */
static void get_json_failed(const get_item *it, int err, const char *msg)
{
  rf_result r;

  if (!it->ctx->args->json)
    return;
  memset(&r, 0, sizeof(r));
  r.error = err;
  r.message = msg;
  r.path = it->output;
  cli_json_done(&r);
}

static void get_on_signal(uv_signal_t *handle, int signum)
{
  get_ctx *c = handle->data;
  size_t k;

  /* A second signal gets the default action: it ends the process. */
  uv_signal_stop(&c->sigint);
  uv_signal_stop(&c->sigterm);
  c->signo = signum;
  for (k = 0; k < c->nitems; k++)
    if (c->items[k].job != NULL && !c->items[k].done)
      rf_job_cancel(c->items[k].job);
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
  free((void *)a->headers);
  free((void *)a->resolve);
  a->headers = a->resolve = NULL;
  if (a->user_prompted != NULL)
    memset(a->user_prompted, 0, strlen(a->user_prompted));
  free(a->user_prompted);
  a->user_prompted = NULL;
  cli_input_free(&a->in);
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
      if (cli_input_add_url(&a->in, v) != 0)
        goto out;
      break;
    case OPT_HEADER:
    case OPT_RESOLVE: {
      const char ***list = id == OPT_HEADER ? &a->headers : &a->resolve;
      size_t *n = id == OPT_HEADER ? &a->nheaders : &a->nresolve;
      const char **grown = realloc((void *)*list, (*n + 1) * sizeof(**list));
      char why[300];
      if (grown == NULL)
        goto out;
      *list = grown;
      grown[(*n)++] = v;
      if (id == OPT_HEADER && rf_header_check(v, why, sizeof(why)) != 0) {
        cli_usage_error("get", "invalid value for %s: %s", opt, why);
        goto out;
      }
      break;
    }
    case OPT_USER_AGENT:
      a->user_agent = v;
      break;
    case OPT_REFERER:
      a->referer = v;
      break;
    case OPT_USER:
      a->user = v;
      break;
    case OPT_BEARER:
      a->bearer = v;
      break;
    case OPT_NETRC:
      a->netrc = RF_NETRC_REQUIRED;
      break;
    case OPT_NETRC_OPTIONAL:
      a->netrc = RF_NETRC_OPTIONAL;
      break;
    case OPT_NETRC_FILE:
      a->netrc_file = v;
      break;
    case OPT_COOKIE:
      a->cookies = v;
      break;
    case OPT_COOKIE_JAR:
      a->cookie_jar = v;
      break;
    case OPT_LIMIT_RATE:
      if (rf_parse_size(&a->max_rate, v) != 0 || a->max_rate == 0) {
        cli_usage_error("get",
                        "invalid value '%s' for %s: expected bytes per "
                        "second, more than 0, suffixes K M G (e.g. 500K, 2M)",
                        v, opt);
        goto out;
      }
      break;
    case OPT_MAX_TIME:
      if (cli_parse_seconds(v, GET_MAX_SECONDS * 30u, &a->max_time_ms) != 0) {
        cli_usage_error("get",
                        "invalid value '%s' for %s: expected seconds (e.g. "
                        "600 or 2.5), more than 0 and at most %u",
                        v, opt, GET_MAX_SECONDS * 30u);
        goto out;
      }
      break;
    case OPT_INSECURE:
      a->insecure = 1;
      break;
    case OPT_PINNEDPUBKEY:
      a->pinned_pubkey = v;
      break;
    case OPT_IPV4:
    case OPT_IPV6:
      a->ip_version = id == OPT_IPV4 ? 4 : 6;
      break;
    case OPT_INTERFACE:
      a->interface = v;
      break;
    case OPT_CHECKSUM:
      a->checksum = v;
      break;
    case OPT_INPUT_FILE:
      a->input_file = v;
      break;
    case OPT_REMOTE_NAME:
      break; /* the default: the URL's file name */
    case OPT_OUTPUT_DIR:
      if (v[0] == '\0') {
        cli_usage_error("get", "%s: empty directory name", opt);
        goto out;
      }
      a->output_dir = v;
      break;
    case OPT_MAX_CONCURRENT:
      if (cli_parse_uint(v, 1, RF_MAX_CONNECTIONS, &a->max_concurrent) != 0) {
        cli_usage_error("get",
                        "invalid value '%s' for %s: expected a whole number "
                        "from 1 to %d",
                        v, opt, RF_MAX_CONNECTIONS);
        goto out;
      }
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
      fputs(get_request_help, stdout);
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
  if (a->input_file != NULL) {
    char err[600];
    int rc = cli_input_read(&a->in, a->input_file, err, sizeof(err));
    if (rc == -2)
      goto out;
    if (rc != 0) {
      cli_usage_error("get", "%s", err);
      goto out;
    }
  }
  if (a->in.n == 0) {
    cli_usage_error("get", a->input_file != NULL
                               ? "the input file lists no URL"
                               : "missing URL");
    goto out;
  }
  a->url = a->in.items[0].url;
  if (a->in.n > 1 && a->output != NULL) {
    cli_usage_error("get", "-o names one file: with several downloads use "
                           "--output-dir, or out= lines in an input file");
    goto out;
  }
  if (a->in.n > 1 && a->checksum != NULL) {
    cli_usage_error("get", "--checksum is one file's: with several "
                           "downloads give checksum= lines in an input file");
    goto out;
  }
  if (a->user != NULL && a->bearer != NULL) {
    cli_usage_error("get", "--user and --oauth2-bearer: give one kind of "
                           "credentials");
    goto out;
  }
  if (a->netrc_file != NULL && a->netrc == RF_NETRC_IGNORED)
    a->netrc = RF_NETRC_REQUIRED; /* as curl's --netrc-file */
  if (a->checksum != NULL) {
    char why[300];
    if (rf_checksum_check(a->checksum, why, sizeof(why)) != 0) {
      cli_usage_error("get", "invalid value for --checksum: %s", why);
      goto out;
    }
  }
  if (a->cookies != NULL && strchr(a->cookies, '=') == NULL &&
      access(a->cookies, R_OK) != 0) {
    cli_usage_error("get",
                    "cannot read the cookie file '%s': %s (cookies as text "
                    "are written NAME=VALUE)",
                    a->cookies, strerror(errno));
    goto out;
  }
  if (a->netrc_file != NULL && access(a->netrc_file, R_OK) != 0) {
    cli_usage_error("get", "cannot read the --netrc-file '%s': %s",
                    a->netrc_file, strerror(errno));
    goto out;
  }
  if (a->cacert == NULL) {
    /* As curl: the environment names the CA bundle when -cacert does not. */
    const char *env = getenv("SSL_CERT_FILE");
    if (env == NULL || env[0] == '\0')
      env = getenv("CURL_CA_BUNDLE");
    if (env != NULL && env[0] != '\0')
      a->cacert = env;
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
 * The output path: the name (-o, or out= of the input file) as given, a
 * name that is a directory joined with the URL's file name, or the URL's
 * file name; under the directory (dir= of the input file, --output-dir)
 * unless the name is absolute.  Returns a malloc'd string or NULL (no
 * memory).
 */
static char *get_output_path(const get_args *a, const get_item *it,
                             const url_parts *u)
{
  struct stat st;
  const char *opt = it->in->out != NULL ? it->in->out : a->output;
  const char *dir = it->in->dir != NULL ? it->in->dir : a->output_dir;
  char *name = NULL, *path = NULL, *joined;
  size_t len;

  if (opt != NULL) {
    len = strlen(opt);
    if (opt[len - 1] != '/' && !(stat(opt, &st) == 0 && S_ISDIR(st.st_mode))) {
      path = strdup(opt);
      goto in_dir;
    }
  }
  name = url_file_name(u);
  if (name == NULL)
    goto out;
  if (opt == NULL) {
    path = name;
    name = NULL;
    goto in_dir;
  }
  len = strlen(opt);
  path = malloc(len + 1 + strlen(name) + 1);
  if (path == NULL)
    goto out;
  sprintf(path, "%s%s%s", opt, opt[len - 1] == '/' ? "" : "/", name);
in_dir:
  if (path == NULL || dir == NULL || path[0] == '/')
    goto out;
  len = strlen(dir);
  joined = malloc(len + 1 + strlen(path) + 1);
  if (joined != NULL)
    sprintf(joined, "%s%s%s", dir, dir[len - 1] == '/' ? "" : "/", path);
  free(path);
  path = joined;
out:
  free(name);
  return path;
}

/* Message for a job rf_job_add refused. */
static void get_add_failed(get_item *it, int err, const char *url)
{
  get_ctx *c = it->ctx;
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
               it->output);
    break;
  case RF_EACCES:
  case RF_ENOENT:
  case RF_EIO:
  case RF_ENOSPC:
    if (c->args->manifest != NULL &&
        strstr(rf_engine_last_error(c->engine), "manifest") != NULL)
      snprintf(msg, sizeof(msg), "%s", rf_engine_last_error(c->engine));
    else
      snprintf(msg, sizeof(msg), "cannot create '%s.part': %s", it->output,
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
  get_json_failed(it, err, msg);
  get_error(c, err, "%s", msg);
  it->exit_code =
      err == RF_EURL || err == RF_EINVAL ? CLI_EXIT_USAGE
      : err == RF_ERESUME || err == RF_EBUSY ? CLI_EXIT_LOCAL
                                         : cli_exit_code(err);
}

/*
 * Check the item's URL (scheme added) and pick its output path: it->url,
 * it->masked and it->output set.  Returns 0, or -1 with it->exit_code set
 * (said).
 */
static int get_target(get_item *it)
{
  const get_args *a = it->ctx->args;
  url_parts u;

  it->exit_code = cli_url_prepare("get", it->in->url, a->verbose, &it->url);
  if (it->exit_code != 0)
    return -1;
  it->exit_code = CLI_EXIT_USAGE;
  it->masked = url_mask(it->url);
  if (url_split(it->url, 0, &u) != 0 ||
      !(url_scheme_is(&u, "http") || url_scheme_is(&u, "https"))) {
    cli_usage_error("get",
                    "invalid URL '%s': expected http://HOST/... or "
                    "https://HOST/...",
                    it->masked);
    return -1;
  }
  if (u.host_len == 0) {
    cli_usage_error("get", "invalid URL '%s': no host name", it->masked);
    return -1;
  }
  it->output = get_output_path(a, it, &u);
  if (it->output == NULL) {
    fputs(CLI_PROGRAM ": error: out of memory\n", stderr);
    it->exit_code = CLI_EXIT_FAILURE;
    return -1;
  }
  it->exit_code = 0;
  return 0;
}

/* JSON lines with --json, a bar on a terminal unless -q, else nothing. */
static cli_progress_mode get_progress_mode(const get_args *a)
{
  if (a->json)
    return a->in.n == 1 ? CLI_PROGRESS_JSON : CLI_PROGRESS_NONE;
  if (!a->quiet && a->in.n == 1 && isatty(STDERR_FILENO))
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
  if (c->nitems > 1)
    eo.max_connections = c->budget; /* idle ones included */
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
    if (a->json) {
      rf_result r;
      memset(&r, 0, sizeof(r));
      r.error = err;
      r.message = perr;
      cli_json_done(&r);
    }
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

/* The item's sources: the command line's (and the cache hosts), then the
 * mirrors of its input-file line.  Returns a malloc'd array (*n set) or
 * NULL (no memory; also when there are none, with *n 0). */
static rf_source_options *get_item_sources(const get_item *it, size_t *n)
{
  const get_args *a = it->ctx->args;
  size_t k, total = a->nsrcs + it->in->nmirrors;
  rf_source_options *s;

  *n = 0;
  if (total == 0)
    return NULL;
  s = calloc(total, sizeof(*s));
  if (s == NULL)
    return NULL;
  for (k = 0; k < a->nsrcs; k++)
    s[k] = a->srcs[k];
  for (k = 0; k < it->in->nmirrors; k++) {
    rf_source_options_init(&s[a->nsrcs + k]);
    s[a->nsrcs + k].kind = RF_SOURCE_MIRROR;
    s[a->nsrcs + k].url = it->in->mirrors[k];
  }
  *n = total;
  return s;
}

/* The command line's headers, then the item's.  *n set; NULL: none or no
 * memory (*n 0 then too). */
static const char **get_item_headers(const get_item *it, size_t *n)
{
  const get_args *a = it->ctx->args;
  size_t k, total = a->nheaders + it->in->nheaders;
  const char **h;

  *n = 0;
  if (total == 0)
    return NULL;
  h = calloc(total, sizeof(*h));
  if (h == NULL)
    return NULL;
  for (k = 0; k < a->nheaders; k++)
    h[k] = a->headers[k];
  for (k = 0; k < it->in->nheaders; k++)
    h[a->nheaders + k] = it->in->headers[k];
  *n = total;
  return h;
}

/* Add the item's download to the engine with conns connections.
 * Returns 0, or -1 with it->exit_code set (said). */
static int get_job_start(get_item *it, unsigned conns)
{
  get_ctx *c = it->ctx;
  const get_args *a = c->args;
  rf_job_options jo;
  rf_source_options *srcs;
  const char **headers;
  size_t nsrcs, nheaders;
  int err;

  rf_job_options_init(&jo);
  jo.url = it->url;
  jo.output = it->output;
  jo.connections = conns;
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
  srcs = get_item_sources(it, &nsrcs);
  headers = get_item_headers(it, &nheaders);
  if ((srcs == NULL && a->nsrcs + it->in->nmirrors > 0) ||
      (headers == NULL && a->nheaders + it->in->nheaders > 0)) {
    free(srcs);
    free((void *)headers);
    fputs(CLI_PROGRAM ": error: out of memory\n", stderr);
    it->exit_code = CLI_EXIT_FAILURE;
    return -1;
  }
  jo.sources = srcs;
  jo.nsources = nsrcs;
  jo.no_mirror_links = a->no_mirror_links;
  jo.cache_fallback_delay = a->cache_fallback_delay;
  jo.cache_host_proxy = a->cache_host_proxy;
  jo.manifest_sha256 = a->manifest_sha256;
  jo.per_source = a->per_source;
  jo.origin_delay = a->origin_delay;
  jo.cache_slice = a->cache_slice;
  jo.cache_host_hash = a->cache_host_hash;
  jo.headers = headers;
  jo.nheaders = nheaders;
  jo.user_agent = a->user_agent;
  jo.referer = a->referer;
  jo.user = a->user_prompted != NULL ? a->user_prompted : a->user;
  jo.bearer = a->bearer;
  jo.netrc = a->netrc;
  jo.netrc_file = a->netrc_file;
  jo.cookies = a->cookies;
  jo.cookie_jar = a->cookie_jar;
  /* The rate is the run's: each of the downloads at once gets its part. */
  jo.max_rate = a->max_rate / (c->share > 0 ? c->budget / c->share : 1);
  if (a->max_rate > 0 && jo.max_rate == 0)
    jo.max_rate = 1;
  jo.max_time_ms = a->max_time_ms;
  jo.insecure = a->insecure;
  jo.pinned_pubkey = a->pinned_pubkey;
  jo.ip_version = a->ip_version;
  jo.interface = a->interface;
  jo.resolve = a->resolve;
  jo.nresolve = a->nresolve;
  jo.checksum = it->in->checksum != NULL ? it->in->checksum : a->checksum;
  if (a->stream) { /* -o -: in order to stdout, no file */
    jo.output = NULL;
    jo.stream = 1;
    jo.stream_fd = STDOUT_FILENO;
  }
  jo.on_progress = get_on_progress; /* also without a bar: it->single */
  jo.on_done = get_on_done;
  jo.user_data = it;
  err = rf_job_add(&it->job, c->engine, &jo);
  free(srcs);
  free((void *)headers);
  if (err != 0) {
    get_add_failed(it, err, it->url);
    return -1;
  }
  it->started = 1;
  it->connections = conns;
  c->running++;
  c->free -= conns;
  return 0;
}

/* Start downloads while the budget allows: each gets c->share
 * connections.  One that cannot start is counted as failed. */
static void get_start_next(get_ctx *c)
{
  while (c->next < c->nitems && c->free >= c->share && c->signo == 0) {
    get_item *it = &c->items[c->next++];

    if (get_target(it) != 0 || get_job_start(it, c->share) != 0) {
      it->done = 1;
      c->failed++;
      if (c->exit_code == CLI_EXIT_OK || c->exit_code == -1)
        c->exit_code = it->exit_code != 0 ? it->exit_code : CLI_EXIT_FAILURE;
      continue;
    }
    if (c->args->verbose > 0) {
      char line[1024];
      snprintf(line, sizeof(line), "%s -> %s", it->masked, it->output);
      get_on_log(RF_LOG_INFO, "cli", line, c);
    }
    if (c->args->json)
      cli_json_start(it->masked, it->output);
  }
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
  size_t k;

  c->t0_ns = uv_hrtime();
  get_start_next(c);
  if (c->running > 0)
    uv_run(&c->loop, UV_RUN_DEFAULT);
  cli_proxy_save_marks(c->engine);
  for (k = 0; k < c->nitems; k++) {
    get_item *it = &c->items[k];
    if (!it->started || it->done)
      continue;
    get_error(c, RF_EINTERNAL, "the engine stopped before the download "
                               "finished");
    get_json_failed(it, RF_EINTERNAL, "the engine stopped before the "
                                      "download finished");
    c->exit_code = CLI_EXIT_FAILURE;
  }
  if (c->nitems > 1 && !c->args->quiet && !c->args->json) {
    uint64_t bytes = 0;
    double secs = (double)(uv_hrtime() - c->t0_ns) / 1e9;
    char b[32];
    size_t left = c->nitems - c->saved - c->failed;

    for (k = 0; k < c->nitems; k++)
      bytes += c->items[k].bytes;
    cli_human_bytes(b, sizeof(b), (double)bytes);
    printf("%zu downloads: %u saved (%s in %.2f s), %u failed", c->nitems,
           c->saved, b, secs, c->failed);
    if (left > 0)
      printf(", %zu not started", left);
    printf("\n");
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

/* -u USER without a password: ask on the terminal (echo off), as curl
 * does.  Returns 0, or -1 (said). */
static int get_ask_password(get_args *a)
{
  struct termios old, quiet;
  char pass[1024];
  size_t n, ul;
  FILE *tty;
  int ok;

  if (a->user == NULL || strchr(a->user, ':') != NULL)
    return 0;
  if (!isatty(STDIN_FILENO)) {
    cli_usage_error("get",
                    "--user '%s' has no password and standard input is not "
                    "a terminal to ask for it: write USER:PASSWORD",
                    a->user);
    return -1;
  }
  tty = fopen("/dev/tty", "r+");
  if (tty == NULL)
    tty = stdin;
  fprintf(stderr, "Enter the password for user '%s': ", a->user);
  fflush(stderr);
  ok = tcgetattr(fileno(tty), &old) == 0;
  quiet = old;
  quiet.c_lflag &= ~(tcflag_t)ECHO;
  if (ok)
    tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
  if (fgets(pass, sizeof(pass), tty) == NULL)
    pass[0] = '\0';
  if (ok)
    tcsetattr(fileno(tty), TCSAFLUSH, &old);
  fputc('\n', stderr);
  if (tty != stdin)
    fclose(tty);
  n = strcspn(pass, "\r\n");
  pass[n] = '\0';
  ul = strlen(a->user);
  a->user_prompted = malloc(ul + 1 + n + 1);
  if (a->user_prompted != NULL)
    sprintf(a->user_prompted, "%s:%s", a->user, pass);
  memset(pass, 0, sizeof(pass));
  return a->user_prompted != NULL ? 0 : -1;
}

/* The downloads and the connection budget.  Returns 0, -1 (no memory). */
static int get_plan(get_ctx *c)
{
  const get_args *a = c->args;
  unsigned j;
  size_t k;

  c->nitems = a->in.n;
  c->items = calloc(c->nitems, sizeof(*c->items));
  if (c->items == NULL)
    return -1;
  for (k = 0; k < c->nitems; k++) {
    c->items[k].ctx = c;
    c->items[k].in = &a->in.items[k];
  }
  c->budget = a->connections != 0 ? a->connections : RF_DEFAULT_CONNECTIONS;
  /* Downloads at once: -j, else up to 4; never more than the budget (a
   * connection each at least) or the downloads. */
  j = a->max_concurrent != 0 ? a->max_concurrent : 4;
  if (j > c->budget)
    j = c->budget;
  if (j > c->nitems)
    j = (unsigned)c->nitems;
  c->share = c->budget / j;
  c->free = c->budget;
  return 0;
}

static void get_items_free(get_ctx *c)
{
  size_t k;

  for (k = 0; k < c->nitems; k++) {
    get_item *it = &c->items[k];
    if (it->masked != NULL)
      url_mask_free(it->masked);
    free(it->output);
    free(it->url);
  }
  free(c->items);
}

int cli_get_main(int argc, char **argv)
{
  get_args a;
  get_ctx c;

  memset(&c, 0, sizeof(c));
  c.args = &a;
  c.exit_code = get_parse(argc, argv, &a);
  if (c.exit_code != 0 || a.help)
    goto out;
  c.exit_code = CLI_EXIT_FAILURE;
  if (a.in.n > 1 && (a.manifest != NULL || a.nsrcs > 0)) {
    cli_usage_error("get", "--manifest, --mirror and --peer are one file's: "
                           "with several downloads give mirrors on the "
                           "input file's lines");
    c.exit_code = CLI_EXIT_USAGE;
    goto out;
  }
  if (get_ask_password(&a) != 0) {
    c.exit_code = CLI_EXIT_USAGE;
    goto out;
  }
  if (a.insecure && !a.quiet)
    fputs(CLI_PROGRAM ": warning: --insecure: TLS certificates are not "
                      "checked; anyone on the path can change what is "
                      "downloaded\n",
          stderr);
  if (get_plan(&c) != 0)
    goto out;
  cli_progress_init(&c.progress, get_progress_mode(&a));
  if (get_engine_start(&c) != 0)
    goto out;
  c.exit_code = -1; /* set by the first download that ends */
  if (get_cache_hosts(&c, &a) != 0 || get_signals_start(&c) != 0) {
    c.exit_code = c.exit_code == -1 ? CLI_EXIT_FAILURE : c.exit_code;
    goto out;
  }
  get_run(&c);
  if (c.exit_code == -1)
    c.exit_code = CLI_EXIT_FAILURE;

out:
  get_close(&c);
  get_items_free(&c);
  get_args_free(&a);
  if (fflush(stdout) != 0 && c.exit_code == CLI_EXIT_OK)
    c.exit_code = CLI_EXIT_FAILURE;
  return c.exit_code;
}
