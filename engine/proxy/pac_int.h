/*
 * What the PAC evaluator's files share (pac.c, pac_helpers.c,
 * pac_dns_default.c): the evaluator's state.  Not for use outside
 * engine/proxy/pac*.c.
 */
#ifndef RF_PROXY_PAC_INT_H
#define RF_PROXY_PAC_INT_H

#include <setjmp.h>
#include <stddef.h>
#include <time.h>

#include "duktape.h"
#include "pac.h"

/* Allocation header: a circular list of all blocks of one heap. */
typedef union pac_blk {
  struct {
    union pac_blk *prev, *next;
    size_t size;
  } h;
  max_align_t align;
} pac_blk;

typedef struct pac_dns_entry {
  char *name;
  int v6;
  int ok;
  char **addrs;
  size_t n;
} pac_dns_entry;

#define PAC_ALERT_MAX 2048

struct rf__pac {
  duk_context *ctx; /* NULL when the heap must be (re)built */
  char *script;
  size_t script_len;
  rf__pac_limits lim;
  rf__pac_dns dns;
  /* allocator */
  pac_blk blocks; /* list head */
  size_t used;
  int alloc_failed;
  int no_limit; /* while duk_create_heap runs */
  /* deadline */
  int armed, timed_out;
  struct timespec deadline;
  unsigned polls; /* rf__pac_exec_poll calls, to read the clock 1 in 16 */
  /* fatal error escape */
  jmp_buf jb;
  int jb_armed;
  char fatal_msg[160];
  /* per evaluation */
  pac_dns_entry cache[RF__PAC_MAX_DNS_NAMES];
  size_t ncache;
  int my_done, my_ok;
  char **my_addrs;
  size_t my_n;
  char alerts[PAC_ALERT_MAX];
  size_t alerts_len;
};

/* The evaluator whose heap ctx is (pac.c). */
rf__pac *rf__pac_of(duk_context *ctx);

/* Frees n malloc'd strings and the array (pac_helpers.c). */
void rf__pac_strv_free(char **v, size_t n);

/* Forgets what the last evaluation resolved and its alert() text
 * (pac_helpers.c). */
void rf__pac_cache_clear(rf__pac *p);

/* The helper functions, put in the script's global object (pac_helpers.c). */
extern const duk_function_list_entry rf__pac_funcs[];

#endif
