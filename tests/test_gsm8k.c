/* GSM8K: number normalisation and answer extraction on the published formats ("#### 1,234", "$1,234.00",
 * "50%"), the task on the shared test set (every reference accepted, every answer changed by one rejected),
 * and the JSONL reader's errors (FILE:LINE, plain and gzip'd). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "datasets.h"
#include "jsonl.h"
#include "task.h"
#include "testutil.h"

Suite *gsm8k_suite(void);

static void num_is(const char *in, const char *want) {
    char out[64];
    ck_assert_msg(s2_gsm8k_number(in, NULL, out, sizeof out), "no number in \"%s\"", in);
    ck_assert_msg(strcmp(out, want) == 0, "\"%s\" -> \"%s\", want \"%s\"", in, out, want);
}

START_TEST(test_gsm8k_number_normalises)
{
    num_is("1,234", "1234");
    num_is("$1,234.00", "1234");
    num_is("50%", "50");
    num_is("5.0", "5");
    num_is("0.50", "0.5");
    num_is(".5", "0.5");
    num_is("007", "7");
    num_is("-3", "-3");
    num_is("\xe2\x88\x92" "3", "-3"); /* U+2212 minus */
    num_is("-0.0", "0");
    num_is("$-5", "-5");
    num_is("-$5", "-5");
    num_is("\xe2\x82\xac" "3", "3"); /* euro */
    num_is("\xc2\xa3" "12.50", "12.5"); /* pound */
    num_is("\\$18", "18");
    num_is("1,450,000", "1450000");
    num_is("123456789012345678901234567890", "123456789012345678901234567890"); /* no overflow: a string */
    /* where the number ends */
    const char *end;
    char out[64];
    ck_assert(s2_gsm8k_number("7. Then", &end, out, sizeof out));
    ck_assert_str_eq(out, "7");
    ck_assert_str_eq(end, ". Then");
    ck_assert(s2_gsm8k_number("1,23 apples", &end, out, sizeof out)); /* not a thousands group */
    ck_assert_str_eq(out, "1");
    ck_assert_str_eq(end, ",23 apples");
    ck_assert(s2_gsm8k_number("12,345,6", &end, out, sizeof out));
    ck_assert_str_eq(out, "12345");
    ck_assert(!s2_gsm8k_number("abc", NULL, out, sizeof out));
    ck_assert(!s2_gsm8k_number("$", NULL, out, sizeof out));
    ck_assert(!s2_gsm8k_number("-", NULL, out, sizeof out));
    ck_assert(!s2_gsm8k_number("12345", NULL, out, 3)); /* does not fit */
}
END_TEST

static void extract_is(const char *text, const char *want) {
    char *got = s2_gsm8k_extract(text);
    if (want == NULL) {
        ck_assert_msg(got == NULL, "\"%s\" -> \"%s\", want none", text, got);
        return;
    }
    ck_assert_msg(got != NULL && strcmp(got, want) == 0, "\"%s\" -> \"%s\", want \"%s\"", text,
                  got ? got : "(none)", want);
    free(got);
}

START_TEST(test_gsm8k_extract_in_order)
{
    extract_is("She sells 9 eggs.\nShe makes 9 * 2 = $18 every day.\n#### 18", "18");
    extract_is("#### 1,234", "1234");
    extract_is("#### $1,234.00", "1234");
    extract_is("so 40 + 10 = 50.\n#### 50%", "50");
    extract_is("#### -10", "-10");
    extract_is("#### 5.0\nThen 7 more", "5"); /* #### wins over the last number */
    extract_is("The answer is 42. Check: 7 + 1 = 8", "42");
    extract_is("the answer is: $18.00.", "18");
    extract_is("So THE ANSWER IS 3,000 dollars, not 5", "3000");
    extract_is("We get \\boxed{1,000} after 3 steps", "1000");
    extract_is("I have 3 apples and 4 pears", "4");
    extract_is("5-3 = 2", "2");                      /* "-3" is an operator there */
    extract_is("It is -7 degrees", "-7");
    extract_is("first 12.5 then 0.75.", "0.75");
    extract_is("no numbers here", NULL);
    extract_is("", NULL);
    /* the last marker counts */
    extract_is("#### 3\nno wait\n#### 4", "4");
    /* a marker without a number falls through to the next rule */
    extract_is("#### none. The answer is 6", "6");
}
END_TEST

START_TEST(test_gsm8k_task_on_test_set)
{
    if (t_shared("data/gsm8k_test.jsonl", "test_gsm8k_task_on_test_set") == NULL) return;
    s2_task *t = NULL;
    s2_error err = {0};
    ck_assert_msg(s2_task_create("gsm8k", NULL, &t, &err) == S2_OK, "%s", err.msg);
    int32_t n = s2_task_n_items(t);
    ck_assert_int_eq(n, 1319);
    ck_assert_str_eq(s2_task_item_id(t, 0), "gsm8k/0");
    ck_assert_int_eq(s2_task_find(t, "gsm8k/1318"), 1318);
    char *prompt = s2_task_prompt(t, 0);
    ck_assert(strncmp(prompt, "Question: Janet", 15) == 0);
    ck_assert(strcmp(prompt + strlen(prompt) - 8, "\nAnswer:") == 0);
    free(prompt);
    ck_assert_str_eq(t->iface->step_delim, "\n\n"); /* paragraphs (issue 15) */
    /* item 0 by hand: Janet's ducks make $18 */
    s2_verdict v;
    ck_assert_int_eq(s2_task_verify(t, 0, " 16 - 3 - 4 = 9 eggs, 9 * 2 = 18.\n#### 18", &v, &err), S2_OK);
    ck_assert(v.correct);
    ck_assert_str_eq(v.answer, "18");
    s2_verdict_clear(&v);
    ck_assert_int_eq(s2_task_verify(t, 0, "The answer is $18.00.", &v, &err), S2_OK);
    ck_assert(v.correct);
    s2_verdict_clear(&v);
    ck_assert_int_eq(s2_task_verify(t, 0, "She makes 9 * 2 = 19 dollars", &v, &err), S2_OK);
    ck_assert(!v.correct);
    ck_assert_str_eq(v.reason, "answer 19, expected 18");
    s2_verdict_clear(&v);
    ck_assert_int_eq(s2_task_verify(t, 0, "I do not know", &v, &err), S2_OK);
    ck_assert(!v.correct);
    ck_assert_ptr_null(v.answer);
    s2_verdict_clear(&v);
    ck_assert(!s2_task_is_terminal(t, 0, "She sells 9 eggs."));
    ck_assert(s2_task_is_terminal(t, 0, "She sells 9 eggs.\n#### 18"));
    /* every reference is accepted, and every answer changed by one is rejected */
    int wrong_total = 0;
    for (int32_t i = 0; i < n; i++) {
        char *ref = t->iface->reference(t, i);
        ck_assert_ptr_nonnull(ref);
        ck_assert_ptr_null(strstr(ref, "<<"));
        ck_assert_int_eq(s2_task_verify(t, i, ref, &v, &err), S2_OK);
        ck_assert_msg(v.correct, "%s: reference rejected: %s", s2_task_item_id(t, i), v.reason);
        s2_verdict_clear(&v);
        free(ref);
        char *wrong[4];
        int32_t nw = t->iface->wrong_answers(t, i, wrong, 4);
        ck_assert_int_eq(nw, 2);
        for (int32_t k = 0; k < nw; k++) {
            ck_assert_int_eq(s2_task_verify(t, i, wrong[k], &v, &err), S2_OK);
            ck_assert_msg(!v.correct, "%s: wrong answer accepted: %s", s2_task_item_id(t, i), wrong[k]);
            s2_verdict_clear(&v);
            free(wrong[k]);
            wrong_total++;
        }
    }
    ck_assert_int_eq(wrong_total, 2 * 1319);
    s2_task_free(t);
}
END_TEST

START_TEST(test_gsm8k_few_shot_excludes_examples)
{
    if (t_shared("data/gsm8k_test.jsonl", "test_gsm8k_few_shot_excludes_examples") == NULL) return;
    s2_task_params p = s2_task_default_params();
    p.n_shot = 2;
    s2_task *t = NULL;
    s2_error err = {0};
    ck_assert_msg(s2_task_create("gsm8k", &p, &t, &err) == S2_OK, "%s", err.msg);
    ck_assert_int_eq(s2_task_n_items(t), 1317);
    ck_assert_str_eq(s2_task_item_id(t, 0), "gsm8k/2");
    ck_assert_int_eq(s2_task_find(t, "gsm8k/0"), -1);
    char *prompt = s2_task_prompt(t, 0);
    int q = 0;
    for (const char *s = prompt; (s = strstr(s, "Question: ")) != NULL; s++) q++;
    ck_assert_int_eq(q, 3);
    ck_assert_ptr_nonnull(strstr(prompt, "Question: Janet"));
    ck_assert_ptr_nonnull(strstr(prompt, "#### 18\n\nQuestion: "));
    free(prompt);
    s2_task_free(t);
    p.n_shot = 9;
    ck_assert_int_eq(s2_task_create("gsm8k", &p, &t, &err), S2_E_ARG);
    p.n_shot = -1;
    p.split = "train";
    ck_assert_int_eq(s2_task_create("gsm8k", &p, &t, &err), S2_E_ARG);
    ck_assert_str_eq(err.msg, "gsm8k: unknown split 'train' (test, all)");
}
END_TEST

/* ---- the JSONL reader ---- */

START_TEST(test_gsm8k_jsonl_errors_name_file_and_line)
{
    const char *dir = t_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/bad.jsonl", dir);
    const char *bad = "{\"question\": \"q\", \"answer\": \"#### 1\"}\n\n{\"question\": \"q2\", \"answer\": \n";
    ck_assert(t_write_file(path, bad, strlen(bad)));
    s2_task_params p = s2_task_default_params();
    p.data = path;
    s2_task *t = NULL;
    s2_error err = {0};
    ck_assert_int_eq(s2_task_create("gsm8k", &p, &t, &err), S2_E_FORMAT);
    ck_assert_ptr_null(t);
    char want[700];
    snprintf(want, sizeof want, "%s:3: ", path);
    ck_assert_msg(strncmp(err.msg, want, strlen(want)) == 0, "%s", err.msg);
    /* not an object */
    ck_assert(t_write_file(path, "[1, 2]\n", 7));
    ck_assert_int_eq(s2_task_create("gsm8k", &p, &t, &err), S2_E_FORMAT);
    snprintf(want, sizeof want, "%s:1: not a JSON object", path);
    ck_assert_str_eq(err.msg, want);
    /* a missing field */
    const char *nofield = "{\"question\": \"q\", \"answer\": \"#### 1\"}\n{\"question\": \"q\"}";
    ck_assert(t_write_file(path, nofield, strlen(nofield)));
    ck_assert_int_eq(s2_task_create("gsm8k", &p, &t, &err), S2_E_FORMAT);
    snprintf(want, sizeof want, "%s:2: no string field \"answer\"", path);
    ck_assert_str_eq(err.msg, want);
    /* an answer without "#### N" */
    const char *nomark = "{\"question\": \"q\", \"answer\": \"it is 4\"}\n";
    ck_assert(t_write_file(path, nomark, strlen(nomark)));
    ck_assert_int_eq(s2_task_create("gsm8k", &p, &t, &err), S2_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, ":1: the answer does not end with"));
    /* a good two-line file, the last line without a newline */
    const char *good = "{\"question\": \"q\", \"answer\": \"x\\n#### 1,000\"}\r\n{\"question\": \"r\", \"answer\": \"#### -2\"}";
    ck_assert(t_write_file(path, good, strlen(good)));
    ck_assert_msg(s2_task_create("gsm8k", &p, &t, &err) == S2_OK, "%s", err.msg);
    ck_assert_int_eq(s2_task_n_items(t), 2);
    s2_verdict v;
    ck_assert_int_eq(s2_task_verify(t, 1, "#### -2", &v, &err), S2_OK);
    ck_assert(v.correct);
    s2_verdict_clear(&v);
    s2_task_free(t);
    /* a missing file */
    p.data = "/nonexistent/gsm8k.jsonl";
    ck_assert_int_eq(s2_task_create("gsm8k", &p, &t, &err), S2_E_IO);
    ck_assert_str_eq(err.msg, "/nonexistent/gsm8k.jsonl: No such file or directory");
}
END_TEST

START_TEST(test_gsm8k_jsonl_reads_gzip)
{
    const char *dir = t_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/x.jsonl.gz", dir);
    gzFile f = gzopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    /* a long line (past the reader's 16 KiB chunks) and then a broken third line */
    gzputs(f, "{\"a\": 1}\n{\"long\": \"");
    for (int i = 0; i < 5000; i++) gzputs(f, "0123456789");
    gzputs(f, "\"}\n{\"a\": }\n");
    ck_assert_int_eq(gzclose(f), Z_OK);
    s2_jsonl j;
    s2_error err = {0};
    ck_assert_int_eq(s2_jsonl_read(path, &j, &err), S2_E_FORMAT);
    char want[700];
    snprintf(want, sizeof want, "%s:3: ", path);
    ck_assert_msg(strncmp(err.msg, want, strlen(want)) == 0, "%s", err.msg);
    ck_assert_int_eq(j.n, 2);
    const char *s;
    ck_assert_int_eq(s2_jsonl_str(&j, 1, "long", &s, &err), S2_OK);
    ck_assert_int_eq((int)strlen(s), 50000);
    ck_assert_int_eq(j.line[1], 2);
    s2_jsonl_free(&j);
    /* a gzip stream cut short at a line boundary (no partial JSON to notice it by) */
    f = gzopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 2000; i++) gzprintf(f, "{\"i\": %d, \"pad\": \"%d%d%d\"}\n", i, i * 7, i * 13, i * 31);
    ck_assert_int_eq(gzclose(f), Z_OK);
    size_t len = 0;
    char *gz = t_read_file(path, &len);
    ck_assert_ptr_nonnull(gz);
    ck_assert(t_write_file(path, gz, len - 8)); /* the CRC and length trailer gone */
    free(gz);
    ck_assert_int_eq(s2_jsonl_read(path, &j, &err), S2_E_FORMAT);
    ck_assert_msg(strstr(err.msg, "gzip") != NULL, "%s", err.msg);
    s2_jsonl_free(&j);
    /* a corrupt gzip stream */
    unsigned char junk[64] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0x13, 0x37};
    ck_assert(t_write_file(path, junk, sizeof junk));
    ck_assert_int_eq(s2_jsonl_read(path, &j, &err), S2_E_FORMAT);
    s2_jsonl_free(&j);
}
END_TEST

Suite *gsm8k_suite(void) {
    Suite *s = suite_create("gsm8k");
    TCase *tc = tcase_create("gsm8k");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_gsm8k_number_normalises);
    tcase_add_test(tc, test_gsm8k_extract_in_order);
    tcase_add_test(tc, test_gsm8k_task_on_test_set);
    tcase_add_test(tc, test_gsm8k_few_shot_excludes_examples);
    tcase_add_test(tc, test_gsm8k_jsonl_errors_name_file_and_line);
    tcase_add_test(tc, test_gsm8k_jsonl_reads_gzip);
    suite_add_tcase(s, tc);
    return s;
}
