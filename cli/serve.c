/* `rangefetch serve`: serve a directory over HTTP with range support. */
#ifndef _DEFAULT_SOURCE
#  define _DEFAULT_SOURCE
#endif

#include "cli.h"
#include "args.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#define SERVE_DEFAULT_HOST "127.0.0.1"
#define SERVE_DEFAULT_PORT 8080u

#define SERVE_MAX_CONNS 1000000u /* upper bound of --max-connections */

static const char serve_help[] =
    "Usage: " CLI_PROGRAM " serve DIR [OPTIONS]\n"
    "\n"
    "Serve the files under DIR over HTTP/1.1 with single-range support\n"
    "(206/416), HEAD, keep-alive, ETag and Last-Modified.  Paths leaving\n"
    "DIR are refused.  A download still in progress there (NAME.part and\n"
    "its journal NAME.part.rfj, no NAME yet) is served as NAME: ranges\n"
    "inside the pieces already written and verified get 206, others 416.\n"
    "Stops on Ctrl-C or SIGTERM.\n"
    "\n"
    "Options:\n"
    "  -l, --listen HOST:PORT   address to listen on "
    "(default " SERVE_DEFAULT_HOST ":8080);\n"
    "                           a numeric IPv4 address, [IPv6] in brackets\n"
    "                           or localhost; port 0 picks a free port\n"
    "      --max-connections N  connections open at once (default 256);\n"
    "                           more are answered 503 with Retry-After\n"
    "      --max-per-client N   connections open at once from one IP\n"
    "                           address (default 16)\n"
    "      --limit-rate RATE    send at most RATE bytes per second over all\n"
    "                           connections, suffixes K M G (e.g. 10M);\n"
    "                           0: no limit (the default)\n"
    "      --no-partial         do not serve downloads in progress\n"
    "      --idle-timeout SEC   close a connection without progress for SEC\n"
    "                           seconds (default 60)\n"
    "      --head-timeout SEC   a client must send its whole request head\n"
    "                           within SEC seconds (default 10)\n"
    "  -q, --quiet              no access log\n"
    "  -h, --help               show this help and exit\n"
    "\n"
    "Prints \"serving DIR on http://HOST:PORT/\" on stdout once listening,\n"
    "then one access log line per request on stderr.\n"
    "\n"
    "Exit status:\n"
    "  0    stopped by SIGINT or SIGTERM\n"
    "  1    the server could not start (address in use, ...)\n"
    "  2    usage error (bad option, DIR is not a directory)\n";

enum serve_opt_id {
  OPT_LISTEN = 1,
  OPT_QUIET,
  OPT_HELP,
  OPT_MAX_CONNS,
  OPT_MAX_PER_CLIENT,
  OPT_LIMIT_RATE,
  OPT_NO_PARTIAL,
  OPT_IDLE_TIMEOUT,
  OPT_HEAD_TIMEOUT
};

static const cli_option serve_options[] = {
  { "listen", 'l', 1, OPT_LISTEN },
  { "max-connections", 0, 1, OPT_MAX_CONNS },
  { "max-per-client", 0, 1, OPT_MAX_PER_CLIENT },
  { "limit-rate", 0, 1, OPT_LIMIT_RATE },
  { "no-partial", 0, 0, OPT_NO_PARTIAL },
  { "idle-timeout", 0, 1, OPT_IDLE_TIMEOUT },
  { "head-timeout", 0, 1, OPT_HEAD_TIMEOUT },
  { "quiet", 'q', 0, OPT_QUIET },
  { "help", 'h', 0, OPT_HELP },
  { NULL, 0, 0, 0 },
};

typedef struct serve_ctx {
  uv_loop_t loop;
  uv_signal_t sigint;
  uv_signal_t sigterm;
  rf_server *server;
  int stopping;
  int loop_ready;    /* loop was initialised */
  int signals_ready; /* sigint and sigterm were initialised */
} serve_ctx;

typedef struct serve_args {
  const char *dir;
  char host[INET6_ADDRSTRLEN + 1];
  uint16_t port;
  int quiet;
  int is_v6; /* host is an IPv6 address: print it in brackets */
  unsigned max_conns;      /* 0: the library's default */
  unsigned max_per_client; /* 0: the library's default */
  uint64_t rate;           /* bytes per second; 0: no limit */
  int no_partial;
  unsigned idle_ms; /* 0: the library's default */
  unsigned head_ms; /* 0: the library's default */
} serve_args;

/*
 * Split "HOST:PORT" or "[IPv6]:PORT" into host (brackets removed) and
 * port.  "localhost" becomes 127.0.0.1.  *is_v6 tells how to print it.
 * Returns 0 or -1.
 */
static int serve_parse_listen(const char *text, char *host, size_t host_size,
                              uint16_t *port, int *is_v6)
{
  unsigned char addr[16];
  const char *colon;
  size_t len;
  unsigned p;

  if (text[0] == '[') {
    const char *close = strchr(text, ']');

    if (close == NULL || close[1] != ':')
      return -1;
    len = (size_t)(close - text - 1);
    colon = close + 1;
    if (len == 0 || len >= host_size)
      return -1;
    memcpy(host, text + 1, len);
    host[len] = '\0';
    if (inet_pton(AF_INET6, host, addr) != 1)
      return -1;
    *is_v6 = 1;
  } else {
    colon = strchr(text, ':');
    if (colon == NULL || strchr(colon + 1, ':') != NULL)
      return -1;
    len = (size_t)(colon - text);
    if (len == 0 || len >= host_size)
      return -1;
    memcpy(host, text, len);
    host[len] = '\0';
    if (strcmp(host, "localhost") == 0)
      snprintf(host, host_size, "127.0.0.1");
    if (inet_pton(AF_INET, host, addr) != 1)
      return -1;
    *is_v6 = 0;
  }
  if (cli_parse_uint(colon + 1, 0, 65535, &p) != 0)
    return -1;
  *port = (uint16_t)p;
  return 0;
}

/* Why rf_server_new failed, in the words of someone starting a server. */
static const char *serve_strerror(int err)
{
  switch (err) {
  case RF_EBUSY:
    return "address already in use";
  case RF_EINVAL:
    return "invalid address or address not available here";
  case RF_EACCES:
    return "permission denied (unreadable directory, or a port below "
           "1024 without privileges)";
  default:
    return rf_strerror(err);
  }
}

static void serve_on_log(const char *line, void *user_data)
{
  const char *c;

  (void)user_data;
  for (c = line; *c != '\0'; c++) {
    unsigned char b = (unsigned char)*c;
    fputc(b < 0x20 || b == 0x7f ? '?' : b, stderr);
  }
  fputc('\n', stderr);
}

static void serve_on_signal(uv_signal_t *handle, int signum)
{
  serve_ctx *c = handle->data;

  (void)signum;
  if (c->stopping)
    return;
  c->stopping = 1;
  rf_server_free(c->server);
  c->server = NULL;
  /* Closing the handles restores the default action: a second signal
   * ends the process at once. */
  uv_close((uv_handle_t *)&c->sigint, NULL);
  uv_close((uv_handle_t *)&c->sigterm, NULL);
}

/*
 * Parse the command line into *a.  Returns 0 to serve, or -1 with
 * *exit_code set (0 after --help).
 */
static int serve_parse(int argc, char **argv, serve_args *a, int *exit_code)
{
  cli_parser p;
  const char *v;
  struct stat st;
  int id;

  *exit_code = CLI_EXIT_USAGE;
  cli_parser_init(&p, "serve", argc, argv, serve_options);
  while ((id = cli_parser_next(&p, &v)) != CLI_ARGS_END) {
    switch (id) {
    case CLI_ARGS_ERROR:
      return -1;
    case CLI_ARGS_OPERAND:
      if (a->dir != NULL) {
        cli_usage_error("serve", "unexpected argument '%s' (one DIR only)", v);
        return -1;
      }
      a->dir = v;
      break;
    case OPT_LISTEN:
      if (serve_parse_listen(v, a->host, sizeof(a->host), &a->port,
                             &a->is_v6) != 0) {
        cli_usage_error("serve",
                        "invalid value '%s' for %s: expected "
                        "HOST:PORT, e.g. 127.0.0.1:8080 or "
                        "[::1]:8080",
                        v, cli_parser_spelled(&p));
        return -1;
      }
      break;
    case OPT_MAX_CONNS:
    case OPT_MAX_PER_CLIENT:
      if (cli_parse_uint(v, 1, SERVE_MAX_CONNS,
                         id == OPT_MAX_CONNS ? &a->max_conns
                                             : &a->max_per_client) != 0) {
        cli_usage_error("serve",
                        "invalid value '%s' for %s: expected a whole "
                        "number from 1 to %u",
                        v, cli_parser_spelled(&p), SERVE_MAX_CONNS);
        return -1;
      }
      break;
    case OPT_LIMIT_RATE:
      if (rf_parse_size(&a->rate, v) != 0) {
        cli_usage_error("serve",
                        "invalid value '%s' for %s: expected bytes per "
                        "second with an optional suffix K, M or G "
                        "(e.g. 500K, 10M), or 0 for no limit",
                        v, cli_parser_spelled(&p));
        return -1;
      }
      break;
    case OPT_NO_PARTIAL:
      a->no_partial = 1;
      break;
    case OPT_IDLE_TIMEOUT:
    case OPT_HEAD_TIMEOUT:
      if (cli_parse_seconds(v, 86400,
                            id == OPT_IDLE_TIMEOUT ? &a->idle_ms
                                                   : &a->head_ms) != 0) {
        cli_usage_error("serve",
                        "invalid value '%s' for %s: expected seconds (e.g. "
                        "10 or 2.5), more than 0 and at most 86400",
                        v, cli_parser_spelled(&p));
        return -1;
      }
      break;
    case OPT_QUIET:
      a->quiet = 1;
      break;
    case OPT_HELP:
      fputs(serve_help, stdout);
      *exit_code = CLI_EXIT_OK;
      return -1;
    default:
      cli_usage_error("serve", "internal error: option %d", id);
      return -1;
    }
  }
  if (a->dir == NULL) {
    cli_usage_error("serve", "missing DIR");
    return -1;
  }
  if (stat(a->dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    cli_usage_error("serve", "'%s' is not a directory", a->dir);
    return -1;
  }
  return 0;
}

/*
 * Create the event loop (then c->loop_ready is set) and the server on it.
 * Returns 0 or -1.
 */
static int serve_start(serve_ctx *c, const serve_args *a)
{
  rf_server_options so = RF_SERVER_OPTIONS_INIT;
  int err;

  err = uv_loop_init(&c->loop);
  if (err != 0) {
    fprintf(stderr, CLI_PROGRAM ": error: cannot create an event loop: %s\n",
            uv_strerror(err));
    return -1;
  }
  c->loop_ready = 1;

  so.loop = &c->loop;
  so.root = a->dir;
  so.host = a->host;
  so.port = a->port;
  so.log_cb = a->quiet ? NULL : serve_on_log;
  so.user_data = c;
  so.max_connections = a->max_conns;
  so.max_per_client = a->max_per_client;
  so.rate_limit = a->rate;
  so.idle_timeout_ms = a->idle_ms;
  so.head_timeout_ms = a->head_ms;
  so.partial = !a->no_partial;
  err = rf_server_new(&c->server, &so);
  if (err != 0) {
    fprintf(stderr,
            CLI_PROGRAM ": error: cannot serve '%s' on %s%s%s:%u: "
                        "%s (%s)\n",
            a->dir, a->is_v6 ? "[" : "", a->host, a->is_v6 ? "]" : "",
            (unsigned)a->port, serve_strerror(err), rf_err_name(err));
    return -1;
  }
  return 0;
}

/* SIGINT and SIGTERM stop the server (then c->signals_ready is set).
 * Returns 0 or -1. */
static int serve_signals_start(serve_ctx *c)
{
  c->sigint.data = c;
  c->sigterm.data = c;
  if (uv_signal_init(&c->loop, &c->sigint) != 0 ||
      uv_signal_init(&c->loop, &c->sigterm) != 0) {
    fputs(CLI_PROGRAM ": error: cannot install signal handlers\n", stderr);
    return -1;
  }
  c->signals_ready = 1;
  uv_signal_start(&c->sigint, serve_on_signal, SIGINT);
  uv_signal_start(&c->sigterm, serve_on_signal, SIGTERM);
  return 0;
}

/* Free the server, close the signal handles and the loop. */
static void serve_close(serve_ctx *c)
{
  rf_server_free(c->server);
  if (c->signals_ready && !c->stopping) {
    uv_close((uv_handle_t *)&c->sigint, NULL);
    uv_close((uv_handle_t *)&c->sigterm, NULL);
  }
  if (c->loop_ready) {
    uv_run(&c->loop, UV_RUN_DEFAULT);
    uv_loop_close(&c->loop);
  }
}

int cli_serve_main(int argc, char **argv)
{
  serve_ctx c;
  serve_args a = { .host = SERVE_DEFAULT_HOST, .port = SERVE_DEFAULT_PORT };
  int ret;

  memset(&c, 0, sizeof(c));
  if (serve_parse(argc, argv, &a, &ret) != 0)
    return ret;

  ret = CLI_EXIT_FAILURE;
  if (serve_start(&c, &a) == 0 && serve_signals_start(&c) == 0) {
    printf("serving %s on http://%s%s%s:%u/\n", a.dir, a.is_v6 ? "[" : "",
           a.host, a.is_v6 ? "]" : "", (unsigned)rf_server_port(c.server));
    fflush(stdout);

    uv_run(&c.loop, UV_RUN_DEFAULT);
    ret = CLI_EXIT_OK;
  }
  serve_close(&c);
  return ret;
}
