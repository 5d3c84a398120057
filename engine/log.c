#include "log.h"

#include <stdarg.h>
#include <stdio.h>

void rf__log(const rf__logger *lg, rf_log_level level, const char *module,
             const char *fmt, ...)
{
  char line[1024];
  va_list ap;

  if (lg->cb == NULL || level > lg->level)
    return;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  lg->cb(level, module, line, lg->user_data);
}
