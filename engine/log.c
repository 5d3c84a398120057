#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

char *rf__fmt_clip(char *buf, size_t size, const char *fmt, ...)
{
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  if (n < 0)
    buf[0] = '\0';
  else if ((size_t)n >= size && size > 3)
    memcpy(buf + size - 4, "...", 4);
  return buf;
}
