/* sandbox.c: a confined python3 child (see sandbox.h for the layers). The parent prepares everything that needs
 * memory or libraries (the seccomp program, argv, env, fds); the child, made by a raw clone(2) so that it can
 * start in new namespaces, then makes only plain system calls until execve: no malloc, no stdio, no glibc
 * wrapper that talks to other threads (setresuid and friends go through syscall(2) for that reason).
 * A step that fails in the child is written to an error pipe and the child exits 127; the parent turns that
 * into S2_E_UNSUPPORTED. Never prints. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "sandbox.h"
#include "task_impl.h"

/* ---- landlock: the UAPI, declared here because the installed headers predate ABI 4-6 ---- */

struct s2_ll_ruleset_attr {
    uint64_t handled_access_fs, handled_access_net, scoped;
};
struct s2_ll_path_beneath {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));
#define LL_CREATE_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1
#define LL_FS_WRITE_FILE (1ULL << 1)
#define LL_FS_WRITES_V1 0x1ff2ULL     /* WRITE_FILE, REMOVE_DIR/FILE, MAKE_CHAR/DIR/REG/SOCK/FIFO/BLOCK/SYM */
#define LL_FS_REFER (1ULL << 13)      /* ABI 2 */
#define LL_FS_TRUNCATE (1ULL << 14)   /* ABI 3 */
#define LL_FS_IOCTL_DEV (1ULL << 15)  /* ABI 5 */
#define LL_NET_BIND_TCP (1ULL << 0)   /* ABI 4 */
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ULL << 1)

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

#define NOBODY 65534

s2_sandbox_limits s2_sandbox_default_limits(void) {
    s2_sandbox_limits l;
    memset(&l, 0, sizeof l);
    l.wall_s = 5.0;
    l.cpu_s = 0; /* wall_s + 1 */
    l.mem_bytes = (int64_t)1 << 30;
    l.fsize_bytes = (int64_t)16 << 20;
    l.nproc = 64;
    l.nofile = 64;
    l.out_cap = 64 << 10;
    l.out_kill = (int64_t)16 << 20;
    l.disk_bytes = (int64_t)64 << 20;
    return l;
}

void s2_sandbox_result_clear(s2_sandbox_result *r) {
    if (r == NULL) return;
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

/* ---- what is prepared once per process ---- */

static pthread_once_t setup_once = PTHREAD_ONCE_INIT;
static struct sock_filter *bpf_prog;    /* the seccomp program (malloc'd once, never freed) */
static unsigned short bpf_len;
static char setup_error[160];          /* why the seccomp program could not be built, "" when it was */
static int landlock_abi;               /* 0: none */
static atomic_int ns_refused;          /* clone with namespaces failed once: do not try again */

static int add_rule(scmp_filter_ctx c, uint32_t action, const char *name, unsigned n_arg,
                    const struct scmp_arg_cmp *arg) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) return 0; /* not on this architecture */
    return seccomp_rule_add_array(c, action, nr, n_arg, arg);
}

static void build_seccomp(void) {
    scmp_filter_ctx c = seccomp_init(SCMP_ACT_ALLOW);
    if (c == NULL) {
        snprintf(setup_error, sizeof setup_error, "seccomp_init failed");
        return;
    }
    int rc = 0;
    static const char *const denied[] = {"fork", "vfork", "setsid", "setpgid", "tkill", "ptrace", "mount",
                                         "umount2", "pivot_root", "chroot", "unshare", "setns", "bpf",
                                         "perf_event_open", "io_uring_setup", "io_uring_enter",
                                         "io_uring_register", "userfaultfd", "keyctl", "add_key", "request_key",
                                         "process_vm_writev", "process_vm_readv", "kexec_load", "init_module",
                                         "finit_module", "delete_module", "reboot", "swapon", "swapoff", "acct",
                                         "open_by_handle_at", "name_to_handle_at", "fanotify_init"};
    for (size_t i = 0; i < sizeof denied / sizeof denied[0] && rc == 0; i++)
        rc = add_rule(c, SCMP_ACT_ERRNO(EPERM), denied[i], 0, NULL);
    /* clone without CLONE_THREAD makes a process; with it, a thread (allowed) */
    struct scmp_arg_cmp no_thread = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0);
    if (rc == 0) rc = add_rule(c, SCMP_ACT_ERRNO(EPERM), "clone", 1, &no_thread);
    /* clone3 passes its flags in memory, out of seccomp's reach: ENOSYS makes glibc fall back to clone */
    if (rc == 0) rc = add_rule(c, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
    /* no sockets at all (socketpair stays: it reaches nothing outside): an AF_UNIX socket could connect to
     * a daemon's socket file, which landlock does not cover */
    if (rc == 0) rc = add_rule(c, SCMP_ACT_ERRNO(EACCES), "socket", 0, NULL);
    /* kill(0, sig) reaches the program's own process group only; any other target is refused */
    struct scmp_arg_cmp not_own_group = SCMP_A0(SCMP_CMP_NE, 0);
    if (rc == 0) rc = add_rule(c, SCMP_ACT_ERRNO(EPERM), "kill", 1, &not_own_group);
    if (rc != 0) {
        snprintf(setup_error, sizeof setup_error, "seccomp rule: %s", strerror(-rc));
        seccomp_release(c);
        return;
    }
    int fd = memfd_create("s2-seccomp", MFD_CLOEXEC);
    if (fd < 0) {
        snprintf(setup_error, sizeof setup_error, "memfd_create: %s", strerror(errno));
        seccomp_release(c);
        return;
    }
    rc = seccomp_export_bpf(c, fd);
    seccomp_release(c);
    off_t size = lseek(fd, 0, SEEK_END);
    if (rc != 0 || size <= 0 || size % (off_t)sizeof(struct sock_filter) != 0 ||
        size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS) {
        snprintf(setup_error, sizeof setup_error, "seccomp_export_bpf failed");
        close(fd);
        return;
    }
    struct sock_filter *prog = malloc((size_t)size);
    if (prog == NULL || pread(fd, prog, (size_t)size, 0) != size) {
        snprintf(setup_error, sizeof setup_error, "reading the seccomp program failed");
        free(prog);
        close(fd);
        return;
    }
    close(fd);
    bpf_prog = prog;
    bpf_len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
}

static void setup(void) {
    build_seccomp();
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_VERSION);
    landlock_abi = v > 0 ? (int)v : 0;
}

/* ---- the child: plain system calls only ---- */

typedef struct child_args {
    int devnull, out_w, err_w, fail_w, prog;   /* parent's fds (O_CLOEXEC) */
    const char *dir;                      /* the run's directory */
    const char *const *argv, *const *envp;
    struct rlimit cpu, as, fsize, nproc, nofile;
    bool drop_uid;
    bool mount_tmpfs;                     /* in a new mount namespace: a tmpfs of tmpfs_opts on dir */
    const char *tmpfs_opts;
    int ll_abi;
    const struct sock_fprog *seccomp;
} child_args;

static size_t c_strlen(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

/* Writes "what: strerror" to the error pipe and exits; never returns. */
static void child_fail(const child_args *a, const char *what, int e) {
    char msg[160];
    size_t n = 0, wl = c_strlen(what);
    for (size_t i = 0; i < wl && n < sizeof msg - 1; i++) msg[n++] = what[i];
    const char *es = ": error ";
    for (size_t i = 0; es[i] && n < sizeof msg - 1; i++) msg[n++] = es[i];
    char num[12];
    int k = 0;
    unsigned u = (unsigned)(e < 0 ? -e : e);
    do num[k++] = (char)('0' + u % 10); while ((u /= 10) > 0 && k < 11);
    while (k > 0 && n < sizeof msg - 1) msg[n++] = num[--k];
    ssize_t w = write(a->fail_w, msg, n);
    (void)w;
    syscall(SYS_exit_group, 127);
    for (;;) {}
}

static void child_run(const child_args *a) {
    if (setsid() < 0) child_fail(a, "setsid", errno);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* move every fd we keep above 10 first, so that the dup2s below cannot clobber one another */
    int dn = fcntl(a->devnull, F_DUPFD_CLOEXEC, 10), ow = fcntl(a->out_w, F_DUPFD_CLOEXEC, 10);
    int ew = fcntl(a->err_w, F_DUPFD_CLOEXEC, 10), fw = fcntl(a->fail_w, F_DUPFD_CLOEXEC, 10);
    int pg = fcntl(a->prog, F_DUPFD_CLOEXEC, 10);
    if (dn < 0 || ow < 0 || ew < 0 || fw < 0 || pg < 0) child_fail(a, "fcntl", errno);
    child_args b = *a;
    b.fail_w = fw;
    a = &b;
    if (dup2(dn, 0) < 0 || dup2(ow, 1) < 0 || dup2(ew, 2) < 0 || dup3(fw, 3, O_CLOEXEC) < 0 || dup2(pg, 4) < 0)
        child_fail(a, "dup2", errno);
    b.fail_w = 3;
    if (syscall(SYS_close_range, 5U, ~0U, 0U) != 0) child_fail(a, "close_range", errno);
    if (a->mount_tmpfs) {
        /* private first, so that the tmpfs never propagates to the parent's mounts; it goes away with the
         * namespace, when the last process of the run exits */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) child_fail(a, "mount private", errno);
        if (mount("s2-sandbox", a->dir, "tmpfs", MS_NOSUID | MS_NODEV, a->tmpfs_opts) != 0)
            child_fail(a, "mount tmpfs", errno);
    }
    if (chdir(a->dir) != 0) child_fail(a, "chdir", errno);
    if (setrlimit(RLIMIT_CPU, &a->cpu) || setrlimit(RLIMIT_AS, &a->as) || setrlimit(RLIMIT_FSIZE, &a->fsize) ||
        setrlimit(RLIMIT_NOFILE, &a->nofile))
        child_fail(a, "setrlimit", errno);
    /* RLIMIT_NPROC counts every process of the user: only for uid 65534, which runs nothing but sandboxes (an
     * ordinary user's own processes would make execve fail); seccomp refuses new processes anyway */
    if (a->drop_uid && setrlimit(RLIMIT_NPROC, &a->nproc) != 0) child_fail(a, "setrlimit nproc", errno);
    struct rlimit zero = {0, 0};
    if (setrlimit(RLIMIT_CORE, &zero) != 0) child_fail(a, "setrlimit core", errno);
    if (a->drop_uid) {
        if (syscall(SYS_setgroups, 0, NULL) != 0) child_fail(a, "setgroups", errno);
        if (syscall(SYS_setresgid, NOBODY, NOBODY, NOBODY) != 0) child_fail(a, "setresgid", errno);
        if (syscall(SYS_setresuid, NOBODY, NOBODY, NOBODY) != 0) child_fail(a, "setresuid", errno);
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_fail(a, "no_new_privs", errno);
    if (a->ll_abi > 0) {
        uint64_t fs = LL_FS_WRITES_V1;
        if (a->ll_abi >= 2) fs |= LL_FS_REFER;
        if (a->ll_abi >= 3) fs |= LL_FS_TRUNCATE;
        struct s2_ll_ruleset_attr attr = {fs, 0, 0};
        size_t size = 8;
        if (a->ll_abi >= 4) {
            attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
            size = 16;
        }
        if (a->ll_abi >= 6) {
            attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
            size = 24;
        }
        int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0U);
        if (rs < 0) child_fail(a, "landlock_create_ruleset", errno);
        int dfd = open(".", O_PATH | O_CLOEXEC | O_DIRECTORY);
        if (dfd < 0) child_fail(a, "open .", errno);
        struct s2_ll_path_beneath rule = {fs, dfd};
        if (syscall(SYS_landlock_add_rule, rs, LL_RULE_PATH_BENEATH, &rule, 0U) != 0)
            child_fail(a, "landlock_add_rule dir", errno);
        int nfd = open("/dev/null", O_PATH | O_CLOEXEC);
        if (nfd < 0) child_fail(a, "open /dev/null", errno);
        struct s2_ll_path_beneath nrule = {LL_FS_WRITE_FILE | (a->ll_abi >= 3 ? LL_FS_TRUNCATE : 0), nfd};
        if (syscall(SYS_landlock_add_rule, rs, LL_RULE_PATH_BENEATH, &nrule, 0U) != 0)
            child_fail(a, "landlock_add_rule /dev/null", errno);
        if (syscall(SYS_landlock_restrict_self, rs, 0U) != 0) child_fail(a, "landlock_restrict_self", errno);
        close(rs);
        close(dfd);
        close(nfd);
    }
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, a->seccomp, 0, 0) != 0) child_fail(a, "seccomp", errno);
    execve(a->argv[0], (char *const *)a->argv, (char *const *)a->envp);
    child_fail(a, "execve " S2_SANDBOX_PYTHON, errno);
}

/* ---- the parent ---- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Removes everything under the directory dirfd refers to (not dirfd itself). Directories deeper than 16 levels
 * are first moved up to the top (a program may nest them far deeper than we have fds for). */
static void remove_contents(int topfd, int dirfd, int depth, unsigned *moved) {
    int fd = dup(dirfd);
    if (fd < 0) return;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (unlinkat(dirfd, e->d_name, 0) == 0) continue;
        if (errno != EISDIR && errno != EPERM) continue;
        if (depth >= 16) {
            char name[32];
            snprintf(name, sizeof name, ".s2-moved-%u", (*moved)++);
            renameat(dirfd, e->d_name, topfd, name);
            continue;
        }
        int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) continue;
        remove_contents(topfd, sub, depth + 1, moved);
        close(sub);
        unlinkat(dirfd, e->d_name, AT_REMOVEDIR);
    }
    closedir(d);
}

static void remove_tree(const char *dir) {
    int top = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (top >= 0) {
        unsigned moved = 0;
        for (int pass = 0; pass < 1000; pass++) { /* each pass removes 16 levels of whatever was moved up */
            unsigned before = moved;
            remove_contents(top, top, 0, &moved);
            if (moved == before) break;
        }
        close(top);
    }
    rmdir(dir);
}

/* Appends up to what fits in cap to *buf; counts every byte; keeps a tail when tail != NULL. */
static void keep(char *buf, size_t *len, size_t cap, int64_t *total, char *tail, const char *data, size_t n) {
    size_t room = *len < cap ? cap - *len : 0, k = n < room ? n : room;
    memcpy(buf + *len, data, k);
    *len += k;
    buf[*len] = '\0';
    *total += (int64_t)n;
    if (tail != NULL) {
        size_t tl = strlen(tail), tcap = 255;
        if (n >= tcap) {
            memcpy(tail, data + n - tcap, tcap);
            tail[tcap] = '\0';
        } else {
            size_t drop = tl + n > tcap ? tl + n - tcap : 0;
            memmove(tail, tail + drop, tl - drop);
            memcpy(tail + tl - drop, data, n);
            tail[tl - drop + n] = '\0';
        }
    }
}

/* Reads what is available on fd; false at EOF or on an error (the stream is finished). */
static bool drain(int fd, s2_sandbox_result *r, bool is_out, size_t cap) {
    char chunk[1 << 16];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n > 0) {
            if (is_out) keep(r->out, &r->out_len, cap, &r->out_total, r->out_tail, chunk, (size_t)n);
            else keep(r->err, &r->err_len, cap, &r->err_total, NULL, chunk, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
        return false;
    }
}

/* Writes dir/prog.py and opens it for the child (*fd, O_RDONLY): python reads it as /dev/fd/4, so that the run
 * works even when dir's parents are closed to uid 65534. */
static s2_status write_program(const char *dir, const char *program, bool chown_nobody, int *rfd, s2_error *err) {
    char path[600];
    snprintf(path, sizeof path, "%s/prog.py", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return s2_error_set(err, S2_E_IO, "sandbox: %s: %s", path, strerror(errno));
    size_t n = strlen(program), off = 0;
    while (off < n) {
        ssize_t w = write(fd, program + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            return s2_error_set(err, S2_E_IO, "sandbox: %s: %s", path, strerror(e));
        }
        off += (size_t)w;
    }
    if (close(fd) != 0) return s2_error_set(err, S2_E_IO, "sandbox: %s: %s", path, strerror(errno));
    *rfd = open(path, O_RDONLY | O_CLOEXEC);
    if (*rfd < 0) return s2_error_set(err, S2_E_IO, "sandbox: %s: %s", path, strerror(errno));
    /* the program (as nobody) may write in its own directory, and nowhere else */
    if (chown_nobody && chown(dir, NOBODY, NOBODY) != 0)
        return s2_error_set(err, S2_E_IO, "sandbox: chown %s: %s", dir, strerror(errno));
    return S2_OK;
}

static pthread_mutex_t iso_mu = PTHREAD_MUTEX_INITIALIZER;
static char last_isolation[160] = "unknown: no program has run yet";

static void describe(s2_sandbox_result *r, bool ns, int ll_abi, bool drop_uid) {
    snprintf(r->isolation, sizeof r->isolation, "%s%s, seccomp%s, rlimits", ns ? "pidns+netns+ipcns+mntns, tmpfs cwd, " : "",
             ll_abi >= 6 ? "landlock(fs,net,signal)" : ll_abi >= 4 ? "landlock(fs,net)" : ll_abi > 0 ? "landlock(fs)" : "no landlock",
             drop_uid ? ", uid 65534" : "");
    pthread_mutex_lock(&iso_mu);
    memcpy(last_isolation, r->isolation, sizeof last_isolation);
    pthread_mutex_unlock(&iso_mu);
}

void s2_sandbox_isolation(char *buf, size_t cap) {
    pthread_mutex_lock(&iso_mu);
    snprintf(buf, cap, "%s", last_isolation);
    pthread_mutex_unlock(&iso_mu);
}

s2_status s2_sandbox_run_python(const char *program, const s2_sandbox_limits *lim, s2_sandbox_result *out,
                                s2_error *err) {
    memset(out, 0, sizeof *out);
    if (program == NULL) return s2_error_set(err, S2_E_ARG, "sandbox: NULL program");
    s2_sandbox_limits l = lim != NULL ? *lim : s2_sandbox_default_limits();
    if (!(l.wall_s > 0) || l.out_cap == 0) return s2_error_set(err, S2_E_ARG, "sandbox: bad limits");
    pthread_once(&setup_once, setup);
    if (bpf_prog == NULL) return s2_error_set(err, S2_E_UNSUPPORTED, "sandbox: %s", setup_error);

    out->out = malloc(l.out_cap + 1);
    out->err = malloc(l.out_cap + 1);
    if (out->out == NULL || out->err == NULL) return s2_error_set(err, S2_E_NOMEM, "sandbox: out of memory");
    out->out[0] = out->err[0] = '\0';

    const char *tmp = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/s2-sandbox-XXXXXX", tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) return s2_error_set(err, S2_E_IO, "sandbox: mkdtemp %s: %s", dir, strerror(errno));
    bool root = geteuid() == 0;
    int pout[2] = {-1, -1}, perr[2] = {-1, -1}, pfail[2] = {-1, -1}, devnull = -1, pidfd = -1, prog = -1;
    pid_t pid = -1;
    s2_status st = write_program(dir, program, root, &prog, err);
    if (st == S2_OK && (pipe2(pout, O_CLOEXEC) != 0 || pipe2(perr, O_CLOEXEC) != 0 || pipe2(pfail, O_CLOEXEC) != 0))
        st = s2_error_set(err, S2_E_IO, "sandbox: pipe: %s", strerror(errno));
    if (st == S2_OK && (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
        st = s2_error_set(err, S2_E_IO, "sandbox: /dev/null: %s", strerror(errno));
    if (st != S2_OK) goto done;

    char env_home[600], env_tmp[600];
    snprintf(env_home, sizeof env_home, "HOME=%s", dir);
    snprintf(env_tmp, sizeof env_tmp, "TMPDIR=%s", dir);
    /* -I: no user site, no PYTHON* variables; -S: no site module (stdlib only, and half the start-up time);
     * -B: no .pyc files */
    const char *argv[] = {S2_SANDBOX_PYTHON, "-I", "-S", "-B", "/dev/fd/4", NULL};
    const char *envp[] = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "PYTHONHASHSEED=0", "PYTHONIOENCODING=utf-8",
                          env_home, env_tmp, NULL};
    struct sock_fprog fprog = {bpf_len, bpf_prog};
    double cpu = l.cpu_s > 0 ? l.cpu_s : l.wall_s + 1;
    rlim_t cpu_s = (rlim_t)cpu + ((double)(rlim_t)cpu < cpu ? 1 : 0);
    child_args a = {
        .devnull = devnull, .prog = prog, .out_w = pout[1], .err_w = perr[1], .fail_w = pfail[1], .dir = dir,
        .argv = argv, .envp = envp,
        .cpu = {cpu_s, cpu_s + 1}, .as = {(rlim_t)l.mem_bytes, (rlim_t)l.mem_bytes},
        .fsize = {(rlim_t)l.fsize_bytes, (rlim_t)l.fsize_bytes}, .nproc = {(rlim_t)l.nproc, (rlim_t)l.nproc},
        .nofile = {(rlim_t)l.nofile, (rlim_t)l.nofile}, .drop_uid = root, .ll_abi = landlock_abi, .seccomp = &fprog};

    char tmpfs_opts[128];
    snprintf(tmpfs_opts, sizeof tmpfs_opts, "size=%lld,nr_inodes=4096,mode=0700,uid=%d,gid=%d",
             (long long)(l.disk_bytes > 0 ? l.disk_bytes : (int64_t)64 << 20), root ? NOBODY : (int)geteuid(),
             root ? NOBODY : (int)getegid());
    a.tmpfs_opts = tmpfs_opts;

    double t0 = now_s();
    bool ns = false;
    if (!atomic_load(&ns_refused)) {
        a.mount_tmpfs = true;
        pid = (pid_t)syscall(SYS_clone,
                             (unsigned long)(CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWNS | SIGCHLD), 0,
                             0, 0, 0);
        if (pid == 0) child_run(&a); /* never returns */
        if (pid > 0) ns = true;
        else if (errno == EPERM || errno == EINVAL || errno == ENOSPC || errno == EUSERS) atomic_store(&ns_refused, 1);
    }
    if (pid < 0) {
        a.mount_tmpfs = false;
        pid = (pid_t)syscall(SYS_clone, (unsigned long)SIGCHLD, 0, 0, 0, 0);
        if (pid == 0) child_run(&a);
    }
    if (pid < 0) {
        st = s2_error_set(err, S2_E_IO, "sandbox: clone: %s", strerror(errno));
        goto done;
    }
    describe(out, ns, landlock_abi, root);
    close(pout[1]);
    close(perr[1]);
    close(pfail[1]);
    pout[1] = perr[1] = pfail[1] = -1;

    /* the error pipe closes at execve (O_CLOEXEC); a message means the child failed to set itself up */
    char fmsg[161];
    ssize_t fn = -1;
    struct pollfd fp = {pfail[0], POLLIN, 0};
    int fr;
    do fr = poll(&fp, 1, (int)(l.wall_s * 1000) + 1); /* the set-up cannot hang us: it has the run's time */
    while (fr < 0 && errno == EINTR);
    if (fr > 0) {
        do fn = read(pfail[0], fmsg, sizeof fmsg - 1);
        while (fn < 0 && errno == EINTR);
    } else {
        snprintf(fmsg, sizeof fmsg, "the child's set-up did not finish in %g s", l.wall_s);
        fn = (ssize_t)strlen(fmsg);
        kill(pid, SIGKILL);
    }
    if (fn > 0) {
        fmsg[fn] = '\0';
        int wst;
        while (waitpid(pid, &wst, 0) < 0 && errno == EINTR) {}
        pid = -1;
        st = s2_error_set(err, S2_E_UNSUPPORTED, "sandbox: %s", fmsg);
        goto done;
    }

    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    fcntl(pout[0], F_SETFL, O_NONBLOCK);
    fcntl(perr[0], F_SETFL, O_NONBLOCK);
    bool out_open = true, err_open = true, exited = false;
    double deadline = t0 + l.wall_s;
    int wst = 0;
    while (!exited) {
        double left = deadline - now_s();
        if (left <= 0) {
            out->timed_out = true;
            break;
        }
        struct pollfd pf[3];
        int np = 0, i_out = -1, i_err = -1, i_pid = -1;
        if (out_open) { pf[np] = (struct pollfd){pout[0], POLLIN, 0}; i_out = np++; }
        if (err_open) { pf[np] = (struct pollfd){perr[0], POLLIN, 0}; i_err = np++; }
        if (pidfd >= 0) { pf[np] = (struct pollfd){pidfd, POLLIN, 0}; i_pid = np++; }
        int ms = (int)(left * 1000) + 1;
        if (pidfd < 0 && ms > 10) ms = 10; /* no pidfd: look at waitpid every 10 ms */
        int pr = poll(pf, (nfds_t)np, ms);
        if (pr < 0 && errno != EINTR) break;
        if (i_out >= 0 && pf[i_out].revents) out_open = drain(pout[0], out, true, l.out_cap);
        if (i_err >= 0 && pf[i_err].revents) err_open = drain(perr[0], out, false, l.out_cap);
        if (out->out_total + out->err_total > l.out_kill) {
            out->output_killed = true;
            break;
        }
        if ((i_pid >= 0 && pf[i_pid].revents) || pidfd < 0) {
            /* WNOWAIT: the child stays a zombie, so its pid (our kill(-pid) target) cannot be reused yet */
            siginfo_t si;
            memset(&si, 0, sizeof si);
            int wr = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT);
            if (wr == 0 && si.si_pid == pid) exited = true;
            else if (wr < 0 && errno == ECHILD) { /* reaped elsewhere: SIGCHLD ignored by the host program */
                exited = true;
                wst = -1;
            }
        }
    }
    /* whatever is left of the group (or the namespace, through its init) goes now */
    kill(-pid, SIGKILL);
    if (!exited) kill(pid, SIGKILL);
    if (wst != -1)
        while (waitpid(pid, &wst, 0) < 0 && errno == EINTR) {}
    pid = -1;
    if (!out->output_killed) {
        if (out_open) drain(pout[0], out, true, l.out_cap);
        if (err_open) drain(perr[0], out, false, l.out_cap);
    }
    out->wall_s = now_s() - t0;
    if (wst == -1) { /* the status was lost: a failure */
        out->exit_code = -1;
    } else if (WIFEXITED(wst)) {
        out->exit_code = WEXITSTATUS(wst);
    } else {
        out->exit_code = -1;
        out->term_signal = WIFSIGNALED(wst) ? WTERMSIG(wst) : 0;
    }

done:
    if (pid > 0) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        int w;
        while (waitpid(pid, &w, 0) < 0 && errno == EINTR) {}
    }
    int fds[] = {pout[0], pout[1], perr[0], perr[1], pfail[0], pfail[1], devnull, pidfd, prog};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0) close(fds[i]);
    remove_tree(dir);
    return st;
}
