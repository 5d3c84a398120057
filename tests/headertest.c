/* Compiles the public headers alone under -Wpedantic -Werror; every
 * _INIT macro sets its struct's current version. */
#include <rangefetch.h>

int main(void)
{
  rf_job_options o = RF_JOB_OPTIONS_INIT;
  rf_engine_options e = RF_ENGINE_OPTIONS_INIT;
  rf_server_options s = RF_SERVER_OPTIONS_INIT;
  rf_pac_options p = RF_PAC_OPTIONS_INIT;
  rf_static_resolver_options r = RF_STATIC_RESOLVER_OPTIONS_INIT;
  rf_source_options so = RF_SOURCE_OPTIONS_INIT;
  rf_manifest_create_options m = RF_MANIFEST_CREATE_OPTIONS_INIT;
  rf_cache_policy cp = RF_CACHE_POLICY_INIT;
  rf_cache_dhcp_options cd = RF_CACHE_DHCP_OPTIONS_INIT;

  return !(o.version == RF_JOB_OPTIONS_VERSION &&
           e.version == RF_ENGINE_OPTIONS_VERSION &&
           s.version == RF_SERVER_OPTIONS_VERSION &&
           p.version == RF_PAC_OPTIONS_VERSION &&
           r.version == RF_STATIC_RESOLVER_OPTIONS_VERSION &&
           so.version == RF_SOURCE_OPTIONS_VERSION &&
           m.version == RF_MANIFEST_CREATE_OPTIONS_VERSION &&
           cp.version == RF_CACHE_POLICY_VERSION &&
           cd.version == RF_CACHE_DHCP_OPTIONS_VERSION && o.sources == NULL &&
           o.manifest_sha256 == NULL);
}
