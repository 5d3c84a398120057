/* `rangefetch get -i FILE`: the input file's parser (cli/inputfile.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "inputfile.h"

Test(inputfile, urls_mirrors_and_their_options)
{
  cli_input in = { 0 };
  char err[256];
  const char *text =
      "# downloads\n"
      "\n"
      "https://o.example/a.iso\thttps://m1.example/a.iso https://m2.example/a.iso\n"
      "  out=a-23.iso\n"
      "\tdir=isos\n"
      "  checksum=sha-256=00ff\n"
      "  header=X-Token: abc\n"
      "  header=X-Other: 1\n"
      "  mirror=https://m3.example/a.iso\n"
      "   # an indented comment\n"
      "http://o.example/b.bin\r\n"
      "  out=b.bin  \r\n";

  cr_assert_eq(cli_input_parse(&in, text, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(in.n, 2);
  cr_assert_str_eq(in.items[0].url, "https://o.example/a.iso");
  cr_assert_eq(in.items[0].nmirrors, 3);
  cr_assert_str_eq(in.items[0].mirrors[1], "https://m2.example/a.iso");
  cr_assert_str_eq(in.items[0].mirrors[2], "https://m3.example/a.iso");
  cr_assert_str_eq(in.items[0].out, "a-23.iso");
  cr_assert_str_eq(in.items[0].dir, "isos");
  cr_assert_str_eq(in.items[0].checksum, "sha-256=00ff");
  cr_assert_eq(in.items[0].nheaders, 2);
  cr_assert_str_eq(in.items[0].headers[0], "X-Token: abc");
  cr_assert_eq(in.items[0].line, 3);
  cr_assert_str_eq(in.items[1].url, "http://o.example/b.bin");
  cr_assert_str_eq(in.items[1].out, "b.bin");
  cr_assert_eq(in.items[1].nmirrors, 0);
  cr_assert_eq(in.items[1].line, 11);
  cli_input_free(&in);
}

typedef struct bad_case {
  const char *text;
  const char *says;
} bad_case;

Test(inputfile, mistakes_name_their_line)
{
  static const bad_case cases[] = {
    { "  out=x\n", "line 1: an indented option line must follow a URL" },
    { "http://a/x\n  outt=y\n", "line 2: unknown option 'outt'" },
    { "http://a/x\n  out\n", "line 2: expected name=value" },
    { "http://a/x\n  out=\n", "line 2: 'out' has an empty value" },
    { "http://a/x\n  out=a\n  out=b\n", "line 3: out given twice" },
  };
  size_t k;

  for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
    cli_input in = { 0 };
    char err[256] = "";
    cr_assert_eq(cli_input_parse(&in, cases[k].text, err, sizeof(err)), -1,
                 "%s", cases[k].text);
    cr_assert(strstr(err, cases[k].says) != NULL, "'%s': %s", cases[k].text,
              err);
    cli_input_free(&in);
  }
}

Test(inputfile, command_line_urls_take_no_options)
{
  cli_input in = { 0 };
  char err[256];

  cr_assert_eq(cli_input_add_url(&in, "http://a/x"), 0);
  cr_assert_eq(cli_input_parse(&in, "  out=y\n", err, sizeof(err)), -1);
  cr_assert(strstr(err, "must follow a URL") != NULL, "%s", err);
  cr_assert_eq(cli_input_read(&in, "/nonexistent/list", err, sizeof(err)),
               -1);
  cr_assert(strstr(err, "cannot read the input file") != NULL, "%s", err);
  cli_input_free(&in);
}
