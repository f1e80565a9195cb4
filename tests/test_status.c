/* Status strings and the error helpers. */
#include <string.h>

#include "sys2.h"
#include "testutil.h"

START_TEST(test_status_error_set_formats_and_returns_code)
{
    s2_error err = {0};
    ck_assert_int_eq(s2_error_set(&err, S2_E_FORMAT, "%s: bad magic %d", "x.gguf", 7), S2_E_FORMAT);
    ck_assert_int_eq(err.code, S2_E_FORMAT);
    ck_assert_str_eq(err.msg, "x.gguf: bad magic 7");
    ck_assert_int_eq(s2_error_prefix(&err, "load"), S2_E_FORMAT);
    ck_assert_str_eq(err.msg, "load: x.gguf: bad magic 7");
    ck_assert_int_eq(s2_error_set(NULL, S2_E_IO, "ignored"), S2_E_IO);
}
END_TEST

START_TEST(test_status_strings_are_distinct)
{
    s2_status all[] = {S2_OK, S2_E_IO, S2_E_FORMAT, S2_E_NOMEM, S2_E_ARG, S2_E_UNSUPPORTED, S2_E_BUDGET,
                       S2_E_NET, S2_E_INTERRUPTED};
    size_t n = sizeof all / sizeof all[0];
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) ck_assert_str_ne(s2_status_str(all[i]), s2_status_str(all[j]));
    ck_assert_str_eq(s2_status_str((s2_status)42), "unknown status");
}
END_TEST

/* s2_escape: valid UTF-8 kept, control bytes, DEL, invalid UTF-8 (overlong, surrogate, stray continuation,
 * cut sequence) and backslashes escaped; a cut keeps whole escapes and ends in "...". */
START_TEST(test_status_escape)
{
    char b[64];
    const char *in = "a\x1b[2J\\b\xc3\xa9\x7f\n\xc0\xaf\xed\xa0\x80\x80z\xe2\x82";
    ck_assert_str_eq(s2_escape(b, sizeof b, in, strlen(in)),
                     "a\\x1b[2J\\\\b\xc3\xa9\\x7f\\x0a\\xc0\\xaf\\xed\\xa0\\x80\\x80z\\xe2\\x82");
    ck_assert_str_eq(s2_escape(b, sizeof b, "\xf0\x9f\x98\x80 ok", 7), "\xf0\x9f\x98\x80 ok");
    ck_assert_str_eq(s2_escape(b, sizeof b, "x\0y", 3), "x\\x00y");
    ck_assert_str_eq(s2_escape(b, 10, "\x01\x02\x03\x04", 4), "\\x01...");
    ck_assert_str_eq(s2_escape(b, 1, "abc", 3), "");
    ck_assert_str_eq(s2_escape(b, sizeof b, "plain name.weight", 17), "plain name.weight");
}
END_TEST

Suite *status_suite(void) {
    Suite *s = suite_create("status");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_status_error_set_formats_and_returns_code);
    tcase_add_test(tc, test_status_strings_are_distinct);
    tcase_add_test(tc, test_status_escape);
    suite_add_tcase(s, tc);
    return s;
}
