/* The code sandbox against hostile programs: each must end as a failure with a reason, in bounded time, leaving
 * the test process, the other runs and the machine as they were (no directory, no process left behind). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox.h"
#include "testutil.h"

Suite *sandbox_suite(void);

/* A fresh TMPDIR for the sandbox's directories, so that leftovers can be counted. */
static const char *fresh_tmpdir(void) {
    const char *d = t_tmpdir();
    ck_assert_int_eq(setenv("TMPDIR", d, 1), 0);
    return d;
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

/* Processes whose environment holds TMPDIR=tmp/... (the sandbox gives each run TMPDIR=its directory, under the
 * TMPDIR it was started with): none may outlive a run. Other test runs on the machine use other directories. */
static int count_procs_under(const char *tmp) {
    DIR *d = opendir("/proc");
    ck_assert_ptr_nonnull(d);
    char want[600];
    snprintf(want, sizeof want, "TMPDIR=%s/", tmp);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/%s/environ", e->d_name);
        size_t len = 0;
        char *env = t_read_file(path, &len);
        if (env == NULL) continue;
        for (size_t i = 0; i < len; i += strlen(env + i) + 1)
            if (strncmp(env + i, want, strlen(want)) == 0) {
                n++;
                break;
            }
        free(env);
    }
    closedir(d);
    return n;
}

static s2_sandbox_limits short_limits(void) {
    s2_sandbox_limits l = s2_sandbox_default_limits();
    l.wall_s = 2.0;
    return l;
}

/* Runs program under l, expects S2_OK, and checks that nothing was left behind. */
static void run_limited(const char *program, s2_sandbox_limits l, s2_sandbox_result *r) {
    const char *tmp = fresh_tmpdir();
    s2_error err = {0};
    ck_assert_msg(s2_sandbox_run_python(program, &l, r, &err) == S2_OK, "sandbox: %s", err.msg);
    ck_assert_msg(r->wall_s < l.wall_s + 1.0, "took %.2f s", r->wall_s);
    ck_assert_int_eq(count_entries(tmp), 0);
    ck_assert_int_eq(count_procs_under(tmp), 0);
}

/* The same under 2-second limits. */
static void run_hostile(const char *program, s2_sandbox_result *r) { run_limited(program, short_limits(), r); }

static bool failed(const s2_sandbox_result *r) { return r->exit_code != 0 || r->timed_out || r->output_killed; }

START_TEST(test_sandbox_runs_plain_program)
{
    s2_sandbox_result r;
    run_hostile("import sys\nprint('hello', 6 * 7)\nprint('oops', file=sys.stderr)\n"
                "open('mine.txt', 'w').write('inside is fine')\nprint(open('mine.txt').read())\n", &r);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_int_eq(r.term_signal, 0);
    ck_assert(!r.timed_out);
    ck_assert_str_eq(r.out, "hello 42\ninside is fine\n");
    ck_assert_str_eq(r.err, "oops\n");
    ck_assert_str_eq(r.out_tail, "hello 42\ninside is fine\n");
    ck_assert(strstr(r.isolation, "seccomp") != NULL);
    fprintf(stderr, "sandbox isolation: %s\n", r.isolation);
    s2_sandbox_result_clear(&r);
}
END_TEST

START_TEST(test_sandbox_infinite_loop_times_out)
{
    s2_sandbox_result r;
    run_hostile("while True:\n    pass\n", &r);
    ck_assert(r.timed_out);
    ck_assert_int_eq(r.term_signal, SIGKILL);
    ck_assert(r.wall_s >= 1.9);
    s2_sandbox_result_clear(&r);
}
END_TEST

START_TEST(test_sandbox_sleep_forever_times_out)
{
    s2_sandbox_result r;
    run_hostile("import sys, time\nsys.stdin.read()\ntime.sleep(1000)\n", &r);
    ck_assert(r.timed_out);
    s2_sandbox_result_clear(&r);
}
END_TEST

START_TEST(test_sandbox_fork_bomb_fails)
{
    s2_sandbox_result r;
    run_hostile("import os\nwhile True:\n    os.fork()\n", &r);
    ck_assert(failed(&r));
    ck_assert(!r.timed_out); /* refused at the first fork */
    ck_assert_ptr_nonnull(strstr(r.err, "PermissionError"));
    s2_sandbox_result_clear(&r);
    /* subprocess (fork + exec through clone) is refused too */
    run_hostile("import subprocess\nsubprocess.run(['/bin/sleep', '100'])\n", &r);
    ck_assert(failed(&r));
    ck_assert(!r.timed_out);
    s2_sandbox_result_clear(&r);
}
END_TEST

START_TEST(test_sandbox_memory_bomb_fails)
{
    s2_sandbox_result r;
    s2_sandbox_limits l = short_limits();
    l.mem_bytes = 256 << 20; /* filling 1 GiB (the default) takes about a second on this machine */
    l.wall_s = 10.0; /* the memory limit must stop it, well before the clock: 2 s timed out once on a host with 40% steal */
    run_limited("x = []\nwhile True:\n    x.append(bytearray(50 << 20))\n", l, &r);
    ck_assert(failed(&r));
    ck_assert(!r.timed_out);
    ck_assert_ptr_nonnull(strstr(r.err, "MemoryError"));
    s2_sandbox_result_clear(&r);
}
END_TEST

START_TEST(test_sandbox_cannot_write_outside)
{
    const char *victim = "/tmp/sys2_escape_test";
    unlink(victim);
    s2_sandbox_result r;
    run_hostile("open('/tmp/sys2_escape_test', 'w').write('escaped')\n", &r);
    ck_assert(failed(&r));
    ck_assert_ptr_nonnull(strstr(r.err, "PermissionError"));
    ck_assert_int_eq(access(victim, F_OK), -1);
    s2_sandbox_result_clear(&r);
    /* nor through its home, a rename out of its directory, or a symlink planted inside it */
    run_hostile("import os\nos.symlink('/tmp/sys2_escape_test', 'link')\nopen('link', 'w').write('escaped')\n", &r);
    ck_assert(failed(&r));
    ck_assert_int_eq(access(victim, F_OK), -1);
    s2_sandbox_result_clear(&r);
    run_hostile("open('f', 'w').write('x')\nimport os\nos.rename('f', '/tmp/sys2_escape_test')\n", &r);
    ck_assert(failed(&r));
    ck_assert_int_eq(access(victim, F_OK), -1);
    s2_sandbox_result_clear(&r);
}
END_TEST

START_TEST(test_sandbox_cannot_fill_the_disk)
{
    s2_sandbox_result r;
    run_hostile("i = 0\nwhile True:\n    open('f%d' % i, 'wb').write(b'x' * (1 << 20))\n    i += 1\n", &r);
    ck_assert(failed(&r));
    if (strstr(r.isolation, "tmpfs") != NULL) { /* the tmpfs fills up at 64 MiB, long before the time limit */
        ck_assert(!r.timed_out);
        ck_assert_msg(strstr(r.err, "No space left on device") != NULL, "%s", r.err);
    }
    s2_sandbox_result_clear(&r);
}
END_TEST

START_TEST(test_sandbox_no_network)
{
    /* a listener on 127.0.0.1 that the program tries to reach */
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ck_assert_int_ge(ls, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(ls, 4), 0);
    socklen_t sl = sizeof sa;
    ck_assert_int_eq(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
    char prog[256];
    snprintf(prog, sizeof prog,
             "import socket\ns = socket.create_connection(('127.0.0.1', %d), timeout=1)\ns.sendall(b'hi')\n",
             (int)ntohs(sa.sin_port));
    s2_sandbox_result r;
    run_hostile(prog, &r);
    ck_assert(failed(&r));
    ck_assert_int_eq(accept(ls, NULL, NULL), -1); /* nobody connected */
    ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
    close(ls);
    s2_sandbox_result_clear(&r);
}
END_TEST

START_TEST(test_sandbox_huge_output_is_capped)
{
    s2_sandbox_result r;
    run_hostile("import sys\nblock = 'x' * 65536\nfor i in range(1 << 14):\n    sys.stdout.write(block)\n", &r);
    ck_assert(failed(&r));
    ck_assert(r.output_killed || r.timed_out);
    ck_assert_uint_eq(r.out_len, 64 << 10);
    ck_assert_int_eq((int)strlen(r.out), 64 << 10);
    ck_assert_int_lt(r.out_total, (int64_t)1 << 30);
    s2_sandbox_result_clear(&r);
}
END_TEST

START_TEST(test_sandbox_cannot_kill_parent)
{
    pid_t me = getpid();
    s2_sandbox_result r;
    run_hostile("import os, time\ntry:\n    os.kill(os.getppid(), 9)\nexcept OSError:\n    pass\n"
                "try:\n    os.kill(-1, 9)\nexcept OSError:\n    pass\ntime.sleep(100)\n", &r);
    ck_assert_int_eq(getpid(), me); /* still here */
    ck_assert(failed(&r));
    ck_assert(r.timed_out);
    s2_sandbox_result_clear(&r);
}
END_TEST

/* ---- concurrent runs do not disturb one another ---- */

typedef struct par_arg {
    const char *program;
    s2_sandbox_result r;
    s2_status st;
} par_arg;

static void *par_run(void *p) {
    par_arg *a = p;
    s2_sandbox_limits l = short_limits();
    s2_error err = {0};
    a->st = s2_sandbox_run_python(a->program, &l, &a->r, &err);
    return NULL;
}

START_TEST(test_sandbox_parallel_runs_are_independent)
{
    const char *tmp = fresh_tmpdir();
    par_arg a[6] = {
        {.program = "print(sum(range(1000)))\n"},
        {.program = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"},
        {.program = "print('second')\n"},
        {.program = "x = []\nwhile True:\n    x.append(' ' * (100 << 20))\n"},
        {.program = "import os\ntry:\n    os.kill(-1, 9)\nexcept OSError:\n    pass\nprint('third')\n"},
        {.program = "import time\ntime.sleep(0.5)\nprint('fourth')\n"},
    };
    pthread_t th[6];
    for (int i = 0; i < 6; i++) ck_assert_int_eq(pthread_create(&th[i], NULL, par_run, &a[i]), 0);
    for (int i = 0; i < 6; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 6; i++) ck_assert_int_eq(a[i].st, S2_OK);
    ck_assert_str_eq(a[0].r.out, "499500\n");
    ck_assert_int_eq(a[0].r.exit_code, 0);
    ck_assert(a[1].r.timed_out);
    ck_assert_str_eq(a[2].r.out, "second\n");
    ck_assert_int_ne(a[3].r.exit_code, 0);
    ck_assert_str_eq(a[4].r.out, "third\n");
    ck_assert_str_eq(a[5].r.out, "fourth\n");
    for (int i = 0; i < 6; i++) s2_sandbox_result_clear(&a[i].r);
    ck_assert_int_eq(count_entries(tmp), 0);
    ck_assert_int_eq(count_procs_under(tmp), 0);
}
END_TEST

/* Without root (here: a child that became uid 65534) there are no namespaces: landlock, seccomp and rlimits
 * must hold by themselves. The child reports through its exit status. */
START_TEST(test_sandbox_unprivileged_fallback)
{
    if (geteuid() != 0) return; /* already unprivileged: the other tests cover it */
    unlink("/tmp/sys2_escape_test");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)
            _exit(10);
        setenv("TMPDIR", "/tmp", 1);
        s2_sandbox_limits l = short_limits();
        s2_sandbox_result r;
        s2_error err = {0};
        if (s2_sandbox_run_python("print('hi')\n", &l, &r, &err) != S2_OK) _exit(11);
        if (r.exit_code != 0 || strcmp(r.out, "hi\n") != 0) _exit(12);
        if (strstr(r.isolation, "pidns") != NULL || strstr(r.isolation, "seccomp") == NULL) _exit(13);
        bool landlock = strstr(r.isolation, "landlock(") != NULL;
        s2_sandbox_result_clear(&r);
        if (s2_sandbox_run_python("open('/tmp/sys2_escape_test', 'w').write('x')\n", &l, &r, &err) != S2_OK) _exit(14);
        if (landlock && (r.exit_code == 0 || access("/tmp/sys2_escape_test", F_OK) == 0)) _exit(15);
        s2_sandbox_result_clear(&r);
        if (s2_sandbox_run_python("import os\nos.fork()\n", &l, &r, &err) != S2_OK || r.exit_code == 0) _exit(16);
        s2_sandbox_result_clear(&r);
        if (s2_sandbox_run_python("import os, time\ntry:\n    os.kill(os.getppid(), 9)\nexcept OSError:\n    pass\n"
                                  "time.sleep(100)\n", &l, &r, &err) != S2_OK || !r.timed_out) _exit(17);
        s2_sandbox_result_clear(&r);
        _exit(0);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the unprivileged child failed at step %d",
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    ck_assert_int_eq(access("/tmp/sys2_escape_test", F_OK), -1);
}
END_TEST

START_TEST(test_sandbox_rejects_bad_limits)
{
    s2_sandbox_limits l = s2_sandbox_default_limits();
    l.wall_s = 0;
    s2_sandbox_result r;
    s2_error err = {0};
    ck_assert_int_eq(s2_sandbox_run_python("print(1)", &l, &r, &err), S2_E_ARG);
    ck_assert_str_eq(err.msg, "sandbox: bad limits");
    s2_sandbox_result_clear(&r);
}
END_TEST

Suite *sandbox_suite(void) {
    Suite *s = suite_create("sandbox");
    TCase *tc = tcase_create("hostile");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_sandbox_runs_plain_program);
    tcase_add_test(tc, test_sandbox_infinite_loop_times_out);
    tcase_add_test(tc, test_sandbox_sleep_forever_times_out);
    tcase_add_test(tc, test_sandbox_fork_bomb_fails);
    tcase_add_test(tc, test_sandbox_memory_bomb_fails);
    tcase_add_test(tc, test_sandbox_cannot_write_outside);
    tcase_add_test(tc, test_sandbox_cannot_fill_the_disk);
    tcase_add_test(tc, test_sandbox_no_network);
    tcase_add_test(tc, test_sandbox_huge_output_is_capped);
    tcase_add_test(tc, test_sandbox_cannot_kill_parent);
    tcase_add_test(tc, test_sandbox_parallel_runs_are_independent);
    tcase_add_test(tc, test_sandbox_unprivileged_fallback);
    tcase_add_test(tc, test_sandbox_rejects_bad_limits);
    suite_add_tcase(s, tc);
    return s;
}
