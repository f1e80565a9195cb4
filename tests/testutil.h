/* testutil.h: what the Check suites share: finding ../shared, temporary files, tolerances. */
#ifndef S2_TESTUTIL_H
#define S2_TESTUTIL_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>

/* Path of a file under SYS2_SHARED (default ../shared), or NULL when it is absent. Absent, the test prints
 * "SKIP <test>: <reason>" on stderr; under CI (CI set) an absent file fails the test instead: nothing may skip. */
const char *t_shared(const char *rel, const char *test);
/* A fresh temporary directory for this test (removed by t_tmp_cleanup, which the runner calls at exit). */
const char *t_tmpdir(void);
/* Reads a whole file into a malloc'd NUL-terminated buffer; *len gets its size. NULL on error. */
char *t_read_file(const char *path, size_t *len);
/* Writes len bytes to path; true on success. */
bool t_write_file(const char *path, const void *data, size_t len);
/* The sys2 binary the tests run (SYS2_BIN, default build/sys2). */
const char *t_sys2_bin(void);
/* Runs a shell command, capturing stdout in a malloc'd buffer (*out, may be NULL); returns the exit status. */
int t_run(const char *cmd, char **out);

#define T_SUITE_DECL(name) Suite *name##_suite(void);
#include "suites.h"
S2_TEST_SUITES(T_SUITE_DECL) /* every suite's prototype, so each test file sees its own */

#endif
