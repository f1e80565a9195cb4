/* The view suite: `sys2 view` on a real --trace run (tot-bfs with the shipped game24 models on one ToT puzzle),
 * opened in headless Chromium (Debian's chromium). The page's own self-test (tree.html#selftest) reports what it
 * rendered; the test holds that against the trace counted here from the result file: as many nodes as the trace,
 * the chosen path marked, a click on the deepest chosen node shows its path, no resource fetched. A screenshot
 * goes to build/view_tree.png. Without chromium the test prints SKIP, and under CI fails. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define CHROMIUM "/usr/bin/chromium"
#define CHROMIUM_FLAGS                                                                                                 \
    "--headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking "                            \
    "--disable-component-update --disable-sync"

START_TEST(test_view_tree_in_chromium) {
    if (access(CHROMIUM, X_OK) != 0) {
        if (getenv("CI") != NULL)
            ck_abort_msg("%s is absent, and CI may not skip (make test installs chromium)", CHROMIUM);
        fprintf(stderr, "SKIP test_view_tree_in_chromium: %s is absent (apt-get install chromium)\n", CHROMIUM);
        return;
    }
    const char *dir = t_tmpdir();
    char res[600], html[600], cmd[4000], *out = NULL;
    snprintf(res, sizeof res, "%s/trace.jsonl", dir);
    snprintf(html, sizeof html, "%s/tree.html", dir);
    snprintf(cmd, sizeof cmd,
             "%s run --task game24 --split tot --limit 1 --search tot-bfs --scorer value -m "
             "models/game24-policy.gguf --value models/game24-value.gguf --seed 1 -q --trace --out %s >/dev/null",
             t_sys2_bin(), res);
    ck_assert_int_eq(t_run(cmd, NULL), 0);
    /* the reference: the trace's nodes and its chosen path, from the file */
    size_t len = 0;
    char *text = t_read_file(res, &len);
    ck_assert_ptr_nonnull(text);
    char *second = strchr(text, '\n');
    ck_assert_ptr_nonnull(second);
    json_t *item = json_loads(second + 1, JSON_DISABLE_EOF_CHECK, NULL);
    ck_assert_ptr_nonnull(item);
    json_t *trace = json_object_get(item, "trace");
    int n_nodes = (int)json_array_size(trace), n_chosen = 0, n_pruned_reason = 0;
    for (int i = 0; i < n_nodes; i++) {
        json_t *x = json_array_get(trace, (size_t)i);
        n_chosen += json_is_true(json_object_get(x, "chosen"));
        n_pruned_reason += json_object_get(x, "prune") != NULL;
    }
    ck_assert_int_gt(n_nodes, 10);
    ck_assert_int_gt(n_chosen, 1);
    ck_assert_int_gt(n_pruned_reason, 0); /* the trace says why nodes were pruned */
    const char *id = json_string_value(json_object_get(item, "id"));
    snprintf(cmd, sizeof cmd, "%s view %s --item %s -o %s 2>/dev/null", t_sys2_bin(), res, id, html);
    ck_assert_int_eq(t_run(cmd, NULL), 0);
    /* self-contained: nothing the page could fetch */
    char *page = t_read_file(html, &len);
    ck_assert_ptr_nonnull(page);
    ck_assert_ptr_null(strstr(page, " src="));
    ck_assert_ptr_null(strstr(page, "<link"));
    ck_assert_ptr_null(strstr(page, "@import"));
    free(page);
    /* in the browser: the page's self-test, the DOM dumped after load */
    snprintf(cmd, sizeof cmd, "%s %s --user-data-dir=%s/profile --dump-dom 'file://%s#selftest' 2>/dev/null", CHROMIUM,
             CHROMIUM_FLAGS, dir, html);
    ck_assert_int_eq(t_run(cmd, &out), 0);
    const char *st = strstr(out, "SELFTEST {");
    ck_assert_msg(st != NULL, "no self-test verdict in the dumped DOM");
    char *endp = strstr(st, "</pre>");
    ck_assert_ptr_nonnull(endp);
    *endp = '\0';
    json_t *r = json_loads(st + 9, 0, NULL);
    ck_assert_msg(r != NULL, "verdict: %s", st);
    ck_assert_int_eq(json_integer_value(json_object_get(r, "trace")), n_nodes);
    ck_assert_int_eq(json_integer_value(json_object_get(r, "rendered")), n_nodes);
    ck_assert_int_eq(json_integer_value(json_object_get(r, "chosen_rendered")), n_chosen);
    ck_assert_msg(json_is_true(json_object_get(r, "path_shown")), "a click did not show the path: %s", st);
    ck_assert_int_eq(json_integer_value(json_object_get(r, "resources")), 0);
    ck_assert(json_is_true(json_object_get(r, "ok")));
    json_decref(r);
    free(out);
    /* a screenshot to look at */
    snprintf(cmd, sizeof cmd,
             "mkdir -p build && %s %s --user-data-dir=%s/profile2 --window-size=1300,1000 "
             "--screenshot=build/view_tree.png 'file://%s' >/dev/null 2>&1",
             CHROMIUM, CHROMIUM_FLAGS, dir, html);
    ck_assert_int_eq(t_run(cmd, NULL), 0);
    char *png = t_read_file("build/view_tree.png", &len);
    ck_assert_msg(png != NULL && len > 10000, "build/view_tree.png missing or blank");
    free(png);
    json_decref(item);
    free(text);
}
END_TEST

START_TEST(test_view_refuses_bad_input) {
    const char *dir = t_tmpdir();
    char p[600], cmd[2000];
    snprintf(p, sizeof p, "%s/notrace.jsonl", dir);
    const char *body = "{\"sys2_run\":{\"task\":\"game24\"}}\n{\"id\":\"7\",\"correct\":true}\n";
    ck_assert(t_write_file(p, body, strlen(body)));
    snprintf(cmd, sizeof cmd, "%s view %s --item 7 -o %s/x.html 2>&1", t_sys2_bin(), p, dir);
    char *out = NULL;
    ck_assert_int_eq(t_run(cmd, &out), 1);
    ck_assert_msg(strstr(out, "has no trace (run with --trace)") != NULL, "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s view %s --item 8 -o %s/x.html 2>&1", t_sys2_bin(), p, dir);
    ck_assert_int_eq(t_run(cmd, &out), 1);
    ck_assert_msg(strstr(out, "no item with id '8'") != NULL, "%s", out);
    free(out);
    /* hostile step text cannot close the data's script element */
    const char *evil = "{\"sys2_run\":{}}\n{\"id\":\"e\",\"trace\":[{\"id\":0,\"parent\":-1,\"depth\":0,\"step\":\"\"},"
                       "{\"id\":1,\"parent\":0,\"depth\":1,\"step\":\"</script><script>alert(1)</script>\"}]}\n";
    snprintf(p, sizeof p, "%s/evil.jsonl", dir);
    ck_assert(t_write_file(p, evil, strlen(evil)));
    snprintf(cmd, sizeof cmd, "%s view %s --item e -o %s/e.html 2>/dev/null", t_sys2_bin(), p, dir);
    ck_assert_int_eq(t_run(cmd, NULL), 0);
    snprintf(p, sizeof p, "%s/e.html", dir);
    size_t len = 0;
    char *page = t_read_file(p, &len);
    ck_assert_ptr_nonnull(page);
    ck_assert_ptr_null(strstr(page, "alert(1)</script>"));
    free(page);
}
END_TEST

Suite *view_suite(void) {
    Suite *s = suite_create("view");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_view_tree_in_chromium);
    tcase_add_test(tc, test_view_refuses_bad_input);
    suite_add_tcase(s, tc);
    return s;
}
