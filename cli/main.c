/* rangefetch command line: entry point and subcommand dispatch. */
#ifndef _DEFAULT_SOURCE
#  define _DEFAULT_SOURCE
#endif

#include "cli.h"
#include "args.h"

#include <curl/curl.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

const char cli_exit_help[] =
    "Exit status:\n"
    "  0    success\n"
    "  1    other failure\n"
    "  2    usage error (bad option or value, invalid URL)\n"
    "  3    network or HTTP failure (DNS, connect, TLS, proxy, HTTP error\n"
    "       status, bad range or length from the server, timeout)\n"
    "  4    local file or disk error (permission, missing directory, disk\n"
    "       full, file exists)\n"
    "  5    the remote file changed during the download\n"
    "  130  interrupted by Ctrl-C (SIGINT); 143 for SIGTERM\n";

static const char main_help[] =
    "Usage: " CLI_PROGRAM " COMMAND [ARGS...]\n"
    "       " CLI_PROGRAM " --help | --version\n"
    "\n"
    "Parallel HTTP range downloader.\n"
    "\n"
    "Commands:\n"
    "  get URL [OPTIONS]     download URL to a file over parallel range\n"
    "                        requests\n"
    "  serve DIR [OPTIONS]   serve the files under DIR over HTTP with range\n"
    "                        support\n"
    "  manifest FILE [OPTIONS]\n"
    "                        hash FILE into a piece manifest (FILE.rfm) that\n"
    "                        'get --manifest' checks a download against\n"
    "  proxy explain URL [OPTIONS]\n"
    "                        show how the proxy for URL is chosen\n"
    "  bench URL [OPTIONS]   measure what the proxy costs: URL directly and\n"
    "                        through the proxy, alternating\n"
    "\n"
    "Options:\n"
    "  -h, --help            show this help and exit\n"
    "  -V, --version         show version information and exit\n"
    "\n"
    "Run '" CLI_PROGRAM " COMMAND --help' for the options of a command.\n"
    "\n";

int cli_exit_code(int err)
{
  switch (err) {
  case RF_OK:
    return CLI_EXIT_OK;
  case RF_ERESOLVE:
  case RF_ECONNECT:
  case RF_EHTTP:
  case RF_ETIMEDOUT:
  case RF_ENETWORK:
  case RF_ETLS:
  case RF_EPROXY:
  case RF_EPROXYAUTH:
  case RF_EPROTO:
  case RF_ERANGE:
  case RF_ELENGTH:
    return CLI_EXIT_NETWORK;
  case RF_EIO:
  case RF_ENOSPC:
  case RF_EACCES:
  case RF_ENOENT:
  case RF_EEXIST:
    return CLI_EXIT_LOCAL;
  case RF_EHASH:
    return CLI_EXIT_NETWORK; /* the server sent bytes that do not match */
  case RF_ERESUME:
    return CLI_EXIT_LOCAL;
  case RF_ECHANGED:
    return CLI_EXIT_CHANGED;
  default:
    return CLI_EXIT_FAILURE;
  }
}

static void main_version(void)
{
  const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);

  printf("%s %s\n", CLI_PROGRAM, rf_version_string());
  printf("libcurl %s", cv->version);
  if (cv->ssl_version != NULL)
    printf(" (%s)", cv->ssl_version);
  printf(", libuv %s\n", uv_version_string());
}

int main(int argc, char **argv)
{
  struct sigaction sa;
  const char *cmd;
  int ret = CLI_EXIT_USAGE;

  /* Write errors on closed pipes and sockets come back as EPIPE. */
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = SIG_IGN;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGPIPE, &sa, NULL);
  /* Character classes from the environment, so that libcurl can turn
   * international host names into punycode (numbers stay "C"). */
  setlocale(LC_CTYPE, "");

  if (argc < 2) {
    cli_usage_error(NULL,
                    "missing command (get, serve, manifest, proxy or bench)");
    goto out;
  }
  cmd = argv[1];
  if (strcmp(cmd, "get") == 0) {
    ret = cli_get_main(argc - 1, argv + 1);
  } else if (strcmp(cmd, "serve") == 0) {
    ret = cli_serve_main(argc - 1, argv + 1);
  } else if (strcmp(cmd, "manifest") == 0) {
    ret = cli_manifest_main(argc - 1, argv + 1);
  } else if (strcmp(cmd, "proxy") == 0) {
    ret = cli_proxy_main(argc - 1, argv + 1);
  } else if (strcmp(cmd, "bench") == 0) {
    ret = cli_bench_main(argc - 1, argv + 1);
  } else if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
    fputs(main_help, stdout);
    fputs(cli_exit_help, stdout);
    ret = CLI_EXIT_OK;
  } else if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
    main_version();
    ret = CLI_EXIT_OK;
  } else if (cmd[0] == '-') {
    cli_usage_error(NULL, "unrecognized option '%s'", cmd);
  } else {
    cli_usage_error(NULL,
                    "unknown command '%s' (expected get, serve, manifest, "
                    "proxy or bench)",
                    cmd);
  }
out:
  if (fflush(stdout) != 0 && ret == CLI_EXIT_OK)
    ret = CLI_EXIT_FAILURE;
  return ret;
}
