/* Compiles the public headers alone under -Wpedantic -Werror. */
#include <rangefetch.h>

int main(void)
{
  rf_job_options o = RF_JOB_OPTIONS_INIT;
  rf_engine_options e = RF_ENGINE_OPTIONS_INIT;
  rf_server_options s = RF_SERVER_OPTIONS_INIT;
  rf_pac_options p = RF_PAC_OPTIONS_INIT;
  rf_static_resolver_options r = RF_STATIC_RESOLVER_OPTIONS_INIT;
  rf_manifest_create_options m = RF_MANIFEST_CREATE_OPTIONS_INIT;

  return (int)(o.version + e.version + s.version + p.version + r.version +
               m.version) -
         6;
}
