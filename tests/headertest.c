/* Compiles the public headers alone under -Wpedantic -Werror. */
#include <rangefetch.h>

int main(void)
{
  rf_job_options o = { 0 };
  rf_engine_options e = RF_ENGINE_OPTIONS_INIT;
  rf_server_options s = RF_SERVER_OPTIONS_INIT;

  o.version = RF_JOB_OPTIONS_VERSION;
  return (int)(o.version + e.version + s.version) - 3;
}
