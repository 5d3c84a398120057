/*
 * A small command-line option parser.
 *
 * Accepts "--name", "--name=value", "--name value", "-x", "-xvalue",
 * "-x value" and grouped short flags ("-qv", "-vv").  Options and operands
 * may be mixed; "--" ends the options; a lone "-" is an operand.  Long
 * names must be spelled out in full (no abbreviations).
 */
#ifndef RF_CLI_ARGS_H
#define RF_CLI_ARGS_H

#include <stdint.h>

typedef struct cli_option {
  const char *name; /* long name without "--"; NULL ends a table */
  char short_name;  /* 0: none */
  int has_value;    /* 1: takes a value */
  int id;           /* returned by cli_parser_next, must be > 0 */
} cli_option;

/* cli_parser_next results other than an option id. */
enum {
  CLI_ARGS_END = 0,      /* no argument left */
  CLI_ARGS_OPERAND = -1, /* *value is an operand */
  CLI_ARGS_ERROR = -2    /* a usage error was printed */
};

typedef struct cli_parser {
  const char *cmd; /* "get", "serve" or NULL, for messages */
  int argc;
  char **argv;
  int next;           /* next argv index */
  const char *shorts; /* rest of a group of short options, or NULL */
  int operands_only;  /* seen "--" */
  const cli_option *options;
  char spelled[64]; /* the current option as typed: "--output" */
} cli_parser;

/* Start parsing argv[1..argc-1] (argv[0] is the command name). */
void cli_parser_init(cli_parser *p, const char *cmd, int argc, char **argv,
                     const cli_option *options);

/*
 * The next option id (with *value set for options that take one, else
 * NULL), CLI_ARGS_OPERAND, CLI_ARGS_END or CLI_ARGS_ERROR.
 */
int cli_parser_next(cli_parser *p, const char **value);

/* The option last returned, as the user spelled it ("-o", "--output"). */
const char *cli_parser_spelled(const cli_parser *p);

/*
 * Print "rangefetch CMD: message" and the --help hint to stderr.
 * cmd may be NULL for the top-level command.
 */
void cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parse a whole decimal number in [min, max].  Returns 0 or -1. */
int cli_parse_uint(const char *text, unsigned min, unsigned max, unsigned *out);

/*
 * Parse a duration in seconds ("30", "2.5") into milliseconds, rounded up,
 * 0 < seconds <= max_seconds.  Returns 0 or -1.
 */
int cli_parse_seconds(const char *text, unsigned max_seconds, unsigned *out_ms);

#endif
