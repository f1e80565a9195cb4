/* check_main.c: the one Check runner. Adds every suite of tests/suites.h, or only CK_RUN_SUITE's, and exits
 * nonzero when any test failed. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "suites.h"
#include "testutil.h"

const char *t_shared(const char *rel, const char *test) {
    static char path[4096];
    const char *root = getenv("SYS2_SHARED");
    if (root == NULL || root[0] == '\0') root = "../shared";
    snprintf(path, sizeof path, "%s/%s", root, rel);
    if (access(path, R_OK) == 0) return path;
    if (getenv("CI") != NULL) ck_abort_msg("%s: %s is absent (SYS2_SHARED=%s), and CI may not skip", test, rel, root);
    fprintf(stderr, "SKIP %s: %s is absent (set SYS2_SHARED)\n", test, path);
    return NULL;
}

static char tmp_root[256];

const char *t_tmpdir(void) {
    static char dir[512];
    static int counter;
    if (tmp_root[0] == '\0') {
        snprintf(tmp_root, sizeof tmp_root, "/tmp/sys2-test-XXXXXX");
        if (mkdtemp(tmp_root) == NULL) ck_abort_msg("mkdtemp: %s", strerror(errno));
    }
    snprintf(dir, sizeof dir, "%s/%d-%d", tmp_root, (int)getpid(), counter++);
    if (mkdir(dir, 0700) != 0) ck_abort_msg("mkdir %s: %s", dir, strerror(errno));
    return dir;
}

static void t_tmp_cleanup(void) {
    if (tmp_root[0] == '\0') return;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmp_root);
}

char *t_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, 2 * cap + 1);
            if (nb == NULL) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf == NULL) return NULL;
    buf[n] = '\0';
    if (len != NULL) *len = n;
    return buf;
}

bool t_write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (f == NULL) return false;
    bool ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

const char *t_sys2_bin(void) {
    const char *b = getenv("SYS2_BIN");
    return (b != NULL && b[0] != '\0') ? b : "build/sys2";
}

int t_run(const char *cmd, char **out) {
    FILE *p = popen(cmd, "r");
    if (p == NULL) return -1;
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap + 1);
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, p)) > 0) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, 2 * cap + 1);
            if (nb == NULL) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
    }
    int st = pclose(p);
    if (buf != NULL) buf[n] = '\0';
    if (out != NULL) *out = buf; else free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(void) {
    /* the root of every test's temporary directory is made here, in the runner, so that the tests (forked
     * children, which never reach the runner's cleanup) write below it and the runner removes it all at the end */
    snprintf(tmp_root, sizeof tmp_root, "/tmp/sys2-test-XXXXXX");
    if (mkdtemp(tmp_root) == NULL) {
        fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
        return 2;
    }
    const char *only = getenv("CK_RUN_SUITE");
    SRunner *sr = NULL;
#define ADD_SUITE(name)                                                  \
    if (only == NULL || strcmp(only, #name) == 0) {                      \
        if (sr == NULL) sr = srunner_create(name##_suite());             \
        else srunner_add_suite(sr, name##_suite());                      \
    }
    S2_TEST_SUITES(ADD_SUITE)
#undef ADD_SUITE
    if (sr == NULL) {
        fprintf(stderr, "no suite named %s\n", only);
        return 2;
    }
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    t_tmp_cleanup();
    return failed == 0 ? 0 : 1;
}
