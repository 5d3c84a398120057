/* Engine log lines kept in memory (see logbuf.h). */
#include "support/logbuf.h"

#include <stdio.h>

void logbuf_cb(rf_log_level level, const char *module, const char *msg,
               void *user_data)
{
  logbuf *lb = user_data;
  int n;

  (void)level;
  n = snprintf(lb->text + lb->len, sizeof(lb->text) - lb->len, "[%s] %s\n",
               module, msg);
  if (n > 0 && (size_t)n < sizeof(lb->text) - lb->len)
    lb->len += (size_t)n;
}
