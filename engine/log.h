/* Internal logging: the library never prints, it hands lines to a sink. */
#ifndef RF_LOG_H
#define RF_LOG_H

#include <stddef.h>

#include "rangefetch/rangefetch.h"

typedef struct rf__logger {
  rf_log_cb cb;
  rf_log_level level;
  void *user_data;
} rf__logger;

/* Formats and delivers one line if lg has a sink and level is enabled. */
void rf__log(const rf__logger *lg, rf_log_level level, const char *module,
             const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* snprintf for messages: formats into buf (size > 3) and, when the text does
 * not fit, ends it with "..." so a cut message reads as cut.  Returns buf. */
char *rf__fmt_clip(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define RF_LOG(lg, lvl, module, ...)                                           \
  do {                                                                         \
    if ((lg)->cb != NULL && (lvl) <= (lg)->level)                              \
      rf__log((lg), (lvl), (module), __VA_ARGS__);                             \
  } while (0)

#endif
