/* rangefetch command line: declarations shared by the cli/ files. */
#ifndef RF_CLI_H
#define RF_CLI_H

#include <stddef.h>

#include "rangefetch.h"

#define CLI_PROGRAM "rangefetch"

/* Exit statuses (documented in `rangefetch --help` and docs/cli.md). */
enum cli_exit {
  CLI_EXIT_OK = 0,
  CLI_EXIT_FAILURE = 1, /* anything not listed below */
  CLI_EXIT_USAGE = 2,   /* bad command line */
  CLI_EXIT_NETWORK = 3, /* network, TLS, proxy or HTTP failure */
  CLI_EXIT_LOCAL = 4,   /* local file or disk error */
  CLI_EXIT_CHANGED = 5, /* remote content changed during the download */
  CLI_EXIT_SIGNAL = 128 /* + signal number: 130 SIGINT, 143 SIGTERM */
};

/* The exit status for an engine error code (RF_OK gives 0). */
int cli_exit_code(int err);

/* Subcommands: argv[0] is the subcommand name.  Return the exit status. */
int cli_get_main(int argc, char **argv);
int cli_serve_main(int argc, char **argv);
int cli_manifest_main(int argc, char **argv);
int cli_proxy_main(int argc, char **argv);
int cli_bench_main(int argc, char **argv);

/* Length of the "scheme" in "scheme://...", 0 if url has none. */
size_t cli_url_scheme_len(const char *url);

/*
 * cli_url_prepare - check the URL operand of cmd ("get", "bench", ...) and
 * set *out to the URL to use (malloc'd, the caller frees it): url itself,
 * or "http://" + url when url has no scheme, as curl does (said in the log
 * when verbose > 0).  Returns 0, or the exit status after printing the
 * error: CLI_EXIT_USAGE (a message naming what is wrong: the scheme, the
 * host, the port), CLI_EXIT_FAILURE (no memory).
 */
int cli_url_prepare(const char *cmd, const char *url, int verbose, char **out);

/* The exit-status table shared by every --help text. */
extern const char cli_exit_help[];

#endif
