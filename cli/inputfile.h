/*
 * `rangefetch get -i FILE`: the list of downloads, one URL per line, as
 * aria2's input files write it:
 *
 *   # a comment
 *   https://example.org/a.iso<TAB>https://mirror.example.net/a.iso
 *     out=a-23.04.iso
 *     checksum=sha-256=0123...
 *   https://example.org/b.iso
 *
 * A line that starts with a non-blank is a download: its first word is
 * the URL, the others (tab- or space-separated) are mirrors of it.  The
 * indented "name=value" lines below it are its own options: out (file
 * name), dir (directory), checksum (sha256=HEX, sha-256=HEX, xxh128=HEX),
 * header (repeatable), mirror (repeatable).  Blank lines and lines whose
 * first non-blank is '#' are skipped.
 */
#ifndef RF_CLI_INPUTFILE_H
#define RF_CLI_INPUTFILE_H

#include <stddef.h>

typedef struct cli_input_item {
  char *url;
  char **mirrors;
  size_t nmirrors;
  char **headers;
  size_t nheaders;
  char *out;      /* NULL: the URL's file name */
  char *dir;      /* NULL: --output-dir, else the current directory */
  char *checksum; /* NULL: --checksum (only with one URL), else none */
  unsigned line;  /* where the URL was, for messages */
} cli_input_item;

typedef struct cli_input {
  cli_input_item *items;
  size_t n;
} cli_input;

/*
 * Parse text (NUL-terminated) into *in (appended to what it holds).
 * Returns 0, or -1 with err naming the line and what is wrong ("line 4:
 * unknown option 'outt' (expected out, dir, checksum, header or
 * mirror)"), or -2 without memory.
 */
int cli_input_parse(cli_input *in, const char *text, char *err,
                    size_t errlen);

/* Read the file path ("-": standard input), at most 16 MiB, and parse it.
 * Returns as cli_input_parse; -1 also when it cannot be read. */
int cli_input_read(cli_input *in, const char *path, char *err, size_t errlen);

/* Add one download with just a URL (a command-line operand).  Returns 0,
 * -2 without memory. */
int cli_input_add_url(cli_input *in, const char *url);

void cli_input_free(cli_input *in);

#endif
