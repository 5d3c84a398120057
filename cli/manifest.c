/* `rangefetch manifest`: hash a file into a piece manifest. */
#ifndef _DEFAULT_SOURCE
#  define _DEFAULT_SOURCE
#endif

#include "cli.h"
#include "args.h"
#include "progress.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char manifest_help[] =
    "Usage: " CLI_PROGRAM " manifest FILE [OPTIONS]\n"
    "\n"
    "Hash FILE piece by piece (XXH3-128, or SHA-256) and write its piece\n"
    "manifest, which '" CLI_PROGRAM " get --manifest' uses to check every\n"
    "piece of a download as it arrives.\n"
    "\n"
    "Options:\n"
    "  -o, --output OUT       write the manifest to OUT (default: FILE.rfm);\n"
    "                         '-' writes it to standard output\n"
    "      --piece-size SIZE  piece size, 1K-1G, suffixes K M G (default:\n"
    "                         1 MiB, larger for files over 64 GiB, as\n"
    "                         '" CLI_PROGRAM " get' picks)\n"
    "      --hash KIND        hash of each piece: xxh128 (default: fast,\n"
    "                         catches accidents) or sha256 (for pieces from\n"
    "                         untrusted sources such as peers; implies\n"
    "                         --sha256)\n"
    "      --sha256           also record the SHA-256 of the whole file, for\n"
    "                         a check that holds against a malicious source\n"
    "                         (slower: SHA-256 runs at 1-2 GB/s)\n"
    "  -q, --quiet            print nothing on success\n"
    "  -h, --help             show this help and exit\n"
    "\n"
    "OUT is replaced atomically: written to OUT.tmp, flushed, renamed.\n"
    "On success one line goes to stdout:\n"
    "  wrote 'OUT': N pieces of SIZE, xxh128 HASH\n"
    "HASH is what 'xxhsum -H2 FILE' prints; with --hash sha256 it says\n"
    "'N sha256 pieces', and with a SHA-256 of the file it ends in\n"
    "', sha256 HASH' (what 'sha256sum FILE' prints).  The format is\n"
    "described in docs/manifest.md.\n"
    "\n";

enum manifest_opt_id {
  OPT_OUTPUT = 1,
  OPT_PIECE_SIZE,
  OPT_HASH,
  OPT_SHA256,
  OPT_QUIET,
  OPT_HELP
};

static const cli_option manifest_options[] = {
  { "output", 'o', 1, OPT_OUTPUT },
  { "piece-size", 0, 1, OPT_PIECE_SIZE },
  { "hash", 0, 1, OPT_HASH },
  { "sha256", 0, 0, OPT_SHA256 },
  { "quiet", 'q', 0, OPT_QUIET },
  { "help", 'h', 0, OPT_HELP },
  { NULL, 0, 0, 0 },
};

typedef struct manifest_args {
  const char *file;
  const char *output;  /* NULL: FILE.rfm */
  uint64_t piece_size; /* 0: default */
  rf_manifest_hash hash;
  int sha256;
  int quiet;
  int help;
} manifest_args;

/* s on stderr, control characters as '?'. */
static void manifest_put_clean(const char *s)
{
  for (; *s != '\0'; s++) {
    unsigned char c = (unsigned char)*s;

    fputc(c < 0x20 || c == 0x7f ? '?' : c, stderr);
  }
}

static void manifest_error(int err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Print "rangefetch: error: MESSAGE (ENAME)" on stderr. */
static void manifest_error(int err, const char *fmt, ...)
{
  char msg[1024];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  fflush(stdout);
  fputs(CLI_PROGRAM ": error: ", stderr);
  manifest_put_clean(msg);
  fprintf(stderr, " (%s)\n", rf_err_name(err));
}

/* Returns 0 to go on, else the exit status. */
static int manifest_parse_args(manifest_args *a, int argc, char **argv)
{
  cli_parser p;
  const char *v;
  int id, ret = CLI_EXIT_USAGE;

  memset(a, 0, sizeof(*a));
  cli_parser_init(&p, "manifest", argc, argv, manifest_options);
  while ((id = cli_parser_next(&p, &v)) != CLI_ARGS_END) {
    const char *opt = cli_parser_spelled(&p);

    switch (id) {
    case CLI_ARGS_ERROR:
      goto out;
    case CLI_ARGS_OPERAND:
      if (a->file != NULL) {
        cli_usage_error("manifest", "unexpected argument '%s' (one FILE only)",
                        v);
        goto out;
      }
      if (strcmp(v, "-") == 0) {
        cli_usage_error("manifest", "reading standard input is not "
                                    "supported; give a file name");
        goto out;
      }
      if (v[0] == '\0') {
        cli_usage_error("manifest", "empty file name");
        goto out;
      }
      a->file = v;
      break;
    case OPT_OUTPUT:
      if (v[0] == '\0') {
        cli_usage_error("manifest", "%s: empty file name", opt);
        goto out;
      }
      a->output = v;
      break;
    case OPT_PIECE_SIZE:
      if (rf_parse_size(&a->piece_size, v) != 0 ||
          a->piece_size < RF_MANIFEST_MIN_PIECE_SIZE ||
          a->piece_size > RF_MANIFEST_MAX_PIECE_SIZE) {
        cli_usage_error("manifest",
                        "invalid value '%s' for %s: expected a size "
                        "from 1K to 1G (e.g. 512K, 4M)",
                        v, opt);
        goto out;
      }
      break;
    case OPT_HASH:
      if (strcmp(v, "xxh128") == 0) {
        a->hash = RF_MANIFEST_HASH_XXH128;
      } else if (strcmp(v, "sha256") == 0) {
        a->hash = RF_MANIFEST_HASH_SHA256;
      } else {
        cli_usage_error("manifest",
                        "invalid value '%s' for %s: expected xxh128 or "
                        "sha256",
                        v, opt);
        goto out;
      }
      break;
    case OPT_SHA256:
      a->sha256 = 1;
      break;
    case OPT_QUIET:
      a->quiet = 1;
      break;
    case OPT_HELP:
      fputs(manifest_help, stdout);
      fputs(cli_exit_help, stdout);
      a->help = 1;
      ret = CLI_EXIT_OK;
      goto out;
    default:
      cli_usage_error("manifest", "internal error: option %d", id);
      goto out;
    }
  }
  if (a->file == NULL) {
    cli_usage_error("manifest", "missing FILE");
    goto out;
  }
  ret = 0;
out:
  return ret;
}

/* Check FILE and OUT before hashing.  Returns 0 or the exit status. */
static int manifest_check_paths(const manifest_args *a, const char *out)
{
  struct stat fst, ost;
  uint64_t pieces;
  int err;

  if (stat(a->file, &fst) != 0) {
    err = errno == ENOENT || errno == ENOTDIR ? RF_ENOENT
          : errno == EACCES                   ? RF_EACCES
                                              : RF_EIO;
    manifest_error(err, "cannot read '%s': %s", a->file, strerror(errno));
    return cli_exit_code(err);
  }
  if (!S_ISREG(fst.st_mode)) {
    manifest_error(RF_EINVAL, "'%s' is not a regular file", a->file);
    return CLI_EXIT_LOCAL;
  }
  if (a->piece_size != 0) {
    pieces = ((uint64_t)fst.st_size + a->piece_size - 1) / a->piece_size;
    if (pieces > RF_MANIFEST_MAX_PIECES) {
      cli_usage_error("manifest",
                      "--piece-size %llu gives %llu pieces, more than "
                      "the limit of %u; use a larger piece size",
                      (unsigned long long)a->piece_size,
                      (unsigned long long)pieces, RF_MANIFEST_MAX_PIECES);
      return CLI_EXIT_USAGE;
    }
  }
  if (strcmp(out, "-") != 0 && stat(out, &ost) == 0) {
    if (ost.st_dev == fst.st_dev && ost.st_ino == fst.st_ino) {
      cli_usage_error("manifest", "the manifest would overwrite '%s' itself",
                      a->file);
      return CLI_EXIT_USAGE;
    }
    if (S_ISDIR(ost.st_mode)) {
      manifest_error(RF_EEXIST, "cannot write '%s': it is a directory", out);
      return CLI_EXIT_LOCAL;
    }
  }
  return 0;
}

static void manifest_hex(char *buf, const unsigned char *b, size_t n)
{
  static const char digits[] = "0123456789abcdef";
  size_t i;

  for (i = 0; i < n; i++) {
    buf[2 * i] = digits[b[i] >> 4];
    buf[2 * i + 1] = digits[b[i] & 15];
  }
  buf[2 * n] = '\0';
}

int cli_manifest_main(int argc, char **argv)
{
  manifest_args a;
  rf_manifest_create_options co = RF_MANIFEST_CREATE_OPTIONS_INIT;
  rf_manifest *m = NULL;
  char *out = NULL, *text = NULL;
  char size[32], xxh[33], sha[65];
  unsigned char digest[32];
  size_t n;
  int rc, ret;

  ret = manifest_parse_args(&a, argc, argv);
  if (ret != 0 || a.help)
    goto out;
  if (a.output != NULL) {
    out = strdup(a.output);
  } else {
    n = strlen(a.file);
    out = malloc(n + sizeof(RF_MANIFEST_SUFFIX));
    if (out != NULL) {
      memcpy(out, a.file, n);
      memcpy(out + n, RF_MANIFEST_SUFFIX, sizeof(RF_MANIFEST_SUFFIX));
    }
  }
  if (out == NULL) {
    manifest_error(RF_ENOMEM, "out of memory");
    ret = CLI_EXIT_FAILURE;
    goto out;
  }
  ret = manifest_check_paths(&a, out);
  if (ret != 0)
    goto out;

  co.piece_size = a.piece_size;
  co.piece_hash = a.hash;
  co.content_sha256 = a.sha256; /* implied by SHA-256 pieces */
  rc = rf_manifest_create_ext(&m, a.file, &co);
  if (rc != 0) {
    manifest_error(rc, "cannot hash '%s': %s%s", a.file, rf_strerror(rc),
                   rc == RF_EIO ? " (or the file changed while being read)"
                                : "");
    ret = cli_exit_code(rc);
    goto out;
  }
  if (strcmp(out, "-") == 0) {
    rc = rf_manifest_format(&text, m);
    if (rc == 0 && fputs(text, stdout) == EOF)
      rc = RF_EIO;
    if (rc != 0) {
      manifest_error(rc, "cannot write the manifest: %s", rf_strerror(rc));
      ret = cli_exit_code(rc);
    }
    goto out;
  }
  rc = rf_manifest_save(m, out);
  if (rc != 0) {
    manifest_error(rc, "cannot write '%s': %s", out, rf_strerror(rc));
    ret = cli_exit_code(rc);
    goto out;
  }
  if (!a.quiet) {
    rf_manifest_content_xxh128(digest, m);
    manifest_hex(xxh, digest, 16);
    cli_human_bytes(size, sizeof(size), (double)rf_manifest_piece_size(m));
    printf("wrote '%s': %u %spiece%s of %s, xxh128 %s", out,
           (unsigned)rf_manifest_pieces(m),
           rf_manifest_piece_hash_kind(m) == RF_MANIFEST_HASH_SHA256
               ? "sha256 "
               : "",
           rf_manifest_pieces(m) == 1 ? "" : "s", size, xxh);
    if (rf_manifest_has_sha256(m)) {
      rf_manifest_content_sha256(digest, m);
      manifest_hex(sha, digest, 32);
      printf(", sha256 %s", sha);
    }
    putchar('\n');
  }
  ret = CLI_EXIT_OK;
out:
  free(text);
  free(out);
  rf_manifest_free(m);
  return ret;
}
