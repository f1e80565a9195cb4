/* sandbox.h: runs an untrusted Python program (a model's code plus its tests) in a confined child process and
 * reports how it ended. Internal to tasks/ (and the tests).
 *
 * Each run gets a fresh temporary directory (its cwd, removed afterwards), stdin from /dev/null, stdout and
 * stderr through pipes (the first out_cap bytes of each kept, the rest drained and thrown away), and a wall-clock
 * limit after which its whole process group, and its PID namespace where there is one, is killed. The layers,
 * each used where the kernel and our privileges allow it (s2_sandbox_result.isolation says which held):
 *   - rlimits: CPU seconds, address space, file size, open files, processes, no core files;   (always)
 *   - seccomp (libseccomp): no fork/vfork/clone of processes (threads are allowed), no socket() at all,
 *     no setsid/setpgid (the process group stays killable), no kill() but of its own group, no ptrace,
 *     mount, unshare, setns, bpf, io_uring, perf_event_open;                                      (always)
 *   - landlock: writes, creations, removals only inside the run's directory (and /dev/null); no TCP bind or
 *     connect; no signals to processes outside the sandbox;                                       (kernel >= 5.13)
 *   - namespaces: a fresh PID namespace (the program is its init: when it dies, all its processes die), a fresh
 *     network namespace (no interfaces up, not even loopback), a fresh IPC namespace, and a mount namespace
 *     whose cwd is a private tmpfs of disk_bytes (so a program cannot fill the disk; it vanishes with the run);
 *                                                                                               (root, or allowed)
 *   - uid/gid 65534 (nobody) when started as root, so RLIMIT_NPROC and file permissions apply.  (root)
 * Thread-safe: several threads may run sandboxes at once (fds are O_CLOEXEC, the child closes every other fd).
 * The program using it must not ignore SIGCHLD (the exit status would be lost: the run then counts as failed). */
#ifndef S2_SANDBOX_H
#define S2_SANDBOX_H

#include <stddef.h>

#include "sys2.h"

typedef struct s2_sandbox_limits {
    double wall_s;        /* wall-clock limit (default 5) */
    double cpu_s;         /* RLIMIT_CPU, whole seconds rounded up (default: wall_s + 1) */
    int64_t mem_bytes;    /* RLIMIT_AS (default 1 GiB) */
    int64_t fsize_bytes;  /* RLIMIT_FSIZE (default 16 MiB) */
    int32_t nproc;        /* RLIMIT_NPROC of uid 65534, when started as root (default 64) */
    int32_t nofile;       /* RLIMIT_NOFILE (default 64) */
    size_t out_cap;       /* bytes of stdout and of stderr kept (default 64 KiB each) */
    int64_t out_kill;     /* total bytes of output after which the program is killed (default 16 MiB) */
    int64_t disk_bytes;   /* with a mount namespace: the size of the tmpfs that is its cwd (default 64 MiB) */
} s2_sandbox_limits;
s2_sandbox_limits s2_sandbox_default_limits(void);

typedef struct s2_sandbox_result {
    int32_t exit_code;     /* the exit status, or -1 when a signal ended it */
    int32_t term_signal;   /* the signal that ended it, 0 when it exited */
    bool timed_out;        /* killed at the wall-clock limit */
    bool output_killed;    /* killed for writing more than out_kill bytes */
    double wall_s;         /* seconds from start to end */
    char *out, *err;       /* captured stdout and stderr (malloc'd, NUL-terminated, at most out_cap bytes) */
    size_t out_len, err_len;
    int64_t out_total, err_total; /* bytes written in all, kept or not */
    char out_tail[256];    /* the last bytes of stdout (NUL-terminated), for an end marker past out_cap */
    char isolation[160];   /* the layers in effect, e.g. "pidns+netns+ipcns+mntns, tmpfs cwd, landlock(fs,net,signal), ..." */
} s2_sandbox_result;
void s2_sandbox_result_clear(s2_sandbox_result *r); /* frees out and err, zeroes the rest */

/* Runs `/usr/bin/python3 -I -S -B prog.py` (prog.py in the run's directory holds program; python reads it through
 * /dev/fd/4) under lim (NULL = defaults), and fills *out (zeroed first; clear it after). -S: no site module, so
 * the standard library only (no site-packages, no exit()/quit() builtins), at half the start-up time.
 * S2_OK whenever the program ran, however it ended; an error status only when the sandbox could not be set up
 * (S2_E_IO for the directory or pipes, S2_E_UNSUPPORTED for a layer that the kernel refused, naming it). */
s2_status s2_sandbox_run_python(const char *program, const s2_sandbox_limits *lim, s2_sandbox_result *out,
                                s2_error *err);

/* The layers in effect for the latest run in this process (as in s2_sandbox_result.isolation), written into buf
 * (cap bytes); "unknown: ..." before the first run. */
void s2_sandbox_isolation(char *buf, size_t cap);

/* The interpreter the sandbox runs (/usr/bin/python3). */
#define S2_SANDBOX_PYTHON "/usr/bin/python3"

#endif
