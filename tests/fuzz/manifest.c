/*
 * The manifest parser (rf_manifest_parse, engine/manifest/manifest.c): a
 * manifest comes from any server.  What parses must format to a text that
 * parses back to the same manifest (the same text again).
 */
#include "fuzz.h"

#include "rangefetch/rangefetch.h"
#include "rangefetch/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  rf_manifest *m = NULL, *m2 = NULL;
  char *text = fuzz_bytes(data, size);
  char *f1 = NULL, *f2 = NULL;
  char err[256];
  int rc;

  rc = rf_manifest_parse(&m, text, size, err, sizeof(err));
  if ((rc == 0) != (m != NULL))
    fuzz_fail("manifest_parse returned %d with manifest %p", rc, (void *)m);
  if (rc != 0 && rc != RF_ENOMEM && err[0] == '\0')
    fuzz_fail("manifest_parse returned %d without a message", rc);
  if (rc == 0) {
    if (rf_manifest_format(&f1, m) != 0)
      fuzz_fail("cannot format a parsed manifest");
    rc = rf_manifest_parse(&m2, f1, strlen(f1), err, sizeof(err));
    if (rc != 0)
      fuzz_fail("a formatted manifest does not parse: %s", err);
    if (rf_manifest_format(&f2, m2) != 0 || strcmp(f1, f2) != 0)
      fuzz_fail("format(parse(format(m))) differs from format(m)");
  }
  free(f1);
  free(f2);
  rf_manifest_free(m);
  rf_manifest_free(m2);
  free(text);
  return 0;
}
