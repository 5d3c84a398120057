/*
 * Progress reporting for `rangefetch get`: the terminal progress bar on
 * stderr, newline-delimited JSON events on stdout, and the result line.
 */
#ifndef RF_CLI_PROGRESS_H
#define RF_CLI_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#include "rangefetch.h"

typedef enum cli_progress_mode {
  CLI_PROGRESS_NONE = 0, /* no progress output */
  CLI_PROGRESS_BAR = 1,  /* one line redrawn in place on stderr */
  CLI_PROGRESS_JSON = 2  /* {"event":"progress",...} lines on stdout */
} cli_progress_mode;

/* Minimum time between two redraws / progress events. */
#define CLI_PROGRESS_INTERVAL_MS 200

typedef struct cli_progress {
  cli_progress_mode mode;
  int shown;        /* the bar is on screen */
  uint64_t last_ns; /* uv_hrtime() of the last redraw or event */
  char line[512];   /* the bar as last drawn */
} cli_progress;

void cli_progress_init(cli_progress *p, cli_progress_mode mode);

/* Redraw the bar or print a progress event (throttled). */
void cli_progress_update(cli_progress *p, const rf_progress *pr);

/* Erase the bar from the terminal before other output goes to stderr. */
void cli_progress_clear(cli_progress *p);

/* Draw the last bar again after cli_progress_clear. */
void cli_progress_restore(cli_progress *p);

/* Write s to f with control characters replaced by '?' (text that came
 * from the network or the command line never moves the terminal). */
void cli_put_clean(FILE *f, const char *s);

/* An rf_log_cb: "rangefetch: [module] message" on stderr, cleaned. */
void cli_log_stderr(rf_log_level level, const char *module, const char *msg,
                    void *user_data);

/* "512 B", "1.0 KiB", "443.2 MiB", "1.5 GiB", ... into buf. */
const char *cli_human_bytes(char *buf, size_t size, double bytes);

/* Write s as a JSON string literal, quotes included; invalid UTF-8
 * becomes U+FFFD.  NULL is written as null. */
void cli_json_string(FILE *f, const char *s);

/* {"event":"start","url":...,"output":...} */
void cli_json_start(const char *url, const char *output);

/* {"event":"done",...} */
void cli_json_done(const rf_result *r);

/* The success line on f: saved 'FILE' 1.0 GiB in 2.31 s (...). */
void cli_print_saved(FILE *f, const rf_result *r);

#endif
