/* Engine log lines kept in memory (see logbuf.h). */
#include "support/logbuf.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

rf_engine *logbuf_engine(logbuf *lb)
{
  rf_engine_options eo = RF_ENGINE_OPTIONS_INIT;
  rf_engine *e = NULL;

  if (lb != NULL) {
    eo.log_cb = logbuf_cb;
    eo.log_level = RF_LOG_DEBUG;
    eo.log_user_data = lb;
  }
  cr_assert_eq(rf_engine_new(&e, &eo), 0);
  return e;
}

unsigned long long logbuf_most_after(const logbuf *lb, const char *key)
{
  const char *p = lb->text;
  size_t kl = strlen(key);
  unsigned long long most = 0;

  while ((p = strstr(p, key)) != NULL) {
    unsigned long long v = strtoull(p + kl, NULL, 10);
    most = v > most ? v : most;
    p += kl;
  }
  return most;
}
