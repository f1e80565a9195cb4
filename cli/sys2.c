/* sys2.c: main() and the table of commands. Each command parses its own flags (cli/cmd_*.c). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <cblas.h>
#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pcre2.h>
#include <seccomp.h>
#include <zlib.h>

#include "cli.h"
#include "commands.h"

#define DECLARE(name, fn, summary) int fn(int argc, char **argv);
S2_CLI_COMMANDS(DECLARE)
#undef DECLARE

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} commands[] = {
#define ENTRY(name, fn, summary) {name, fn, summary},
    S2_CLI_COMMANDS(ENTRY)
#undef ENTRY
};

int cli_usage(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "sys2 %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'sys2 %s --help'.\n", cmd);
    va_end(ap);
    return 2;
}

int cli_fail(const char *cmd, const s2_error *err) {
    fprintf(stderr, "sys2 %s: error: %s\n", cmd, err->msg[0] ? err->msg : s2_status_str(err->code));
    return 1;
}

bool cli_is_help(const char *arg) { return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0; }

bool cli_flag(int argc, char **argv, int *i, const char *name, const char *alt, const char **val, bool *bad) {
    const char *a = argv[*i];
    size_t nl = strlen(name);
    if (strncmp(a, name, nl) == 0 && a[nl] == '=') { /* --flag=value */
        *val = a + nl + 1;
        return true;
    }
    if (strcmp(a, name) != 0 && (alt == NULL || strcmp(a, alt) != 0)) return false;
    if (*i + 1 >= argc) {
        fprintf(stderr, "sys2: %s needs a value\n", a);
        *bad = true;
        return true;
    }
    *val = argv[++*i];
    return true;
}

bool cli_parse_i64(const char *s, int64_t *out) {
    char *end;
    if (s == NULL || *s == '\0') return false;
    long long v = strtoll(s, &end, 10);
    if (*end != '\0') return false;
    *out = v;
    return true;
}

bool cli_parse_f64(const char *s, double *out) {
    char *end;
    if (s == NULL || *s == '\0') return false;
    double v = strtod(s, &end);
    if (*end != '\0') return false;
    *out = v;
    return true;
}

int cli_model_flag(cli_model_opts *o, int argc, char **argv, int *i) {
    const char *v = NULL;
    bool bad = false;
    if (cli_flag(argc, argv, i, "-m", "--model", &v, &bad)) {
        struct stat sb;
        if (!bad && stat(v, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            fprintf(stderr, "sys2: -m %s is a directory: give a model file (.gguf, or a llama2.c .bin with -z) or an "
                    "http(s)://HOST:PORT/v1 server\n", v);
            return -1;
        }
        o->model = v;
    } else if (cli_flag(argc, argv, i, "-z", "--tokenizer", &v, &bad)) {
        o->tokenizer = v;
    } else if (cli_flag(argc, argv, i, "--model-name", NULL, &v, &bad)) {
        o->model_name = v;
    } else if (cli_flag(argc, argv, i, "--ctx", NULL, &v, &bad)) {
        if (!bad && (!cli_parse_i64(v, &o->n_ctx) || o->n_ctx < 1)) {
            fprintf(stderr, "sys2: --ctx wants a positive integer, got '%s'\n", v);
            return -1;
        }
    } else if (cli_flag(argc, argv, i, "--threads", "-t", &v, &bad)) {
        if (!bad && (!cli_parse_i64(v, &o->n_threads) || o->n_threads < 1 || o->n_threads > 1024)) {
            fprintf(stderr, "sys2: --threads wants an integer in [1, 1024], got '%s'\n", v);
            return -1;
        }
    } else {
        return 0;
    }
    return bad ? -1 : 1;
}

int cmd_version(int argc, char **argv);
int cmd_version(int argc, char **argv) {
    if (argc > 1 && cli_is_help(argv[1])) {
        printf("usage: sys2 version\nThe version of sys2 and of every library it runs on, as linked.\n");
        return 0;
    }
    printf("sys2 %s\n", S2_VERSION);
    /* what is linked, asked of each library at run time (a header's version can differ from the .so's) */
    char pcre[64] = "?";
    pcre2_config(PCRE2_CONFIG_VERSION, pcre);
    const char *mhd_v = MHD_get_version();
    const struct scmp_version *sv = seccomp_version();
    printf("%s (core %s)\n", openblas_get_config(), openblas_get_corename());
    printf("Jansson %s\n", jansson_version_str());
    printf("%s\n", curl_version());
    printf("libmicrohttpd %s\n", mhd_v ? mhd_v : "?");
    printf("PCRE2 %s\n", pcre);
    printf("zlib %s\n", zlibVersion());
    if (sv) printf("libseccomp %u.%u.%u\n", sv->major, sv->minor, sv->micro);
    return 0;
}

static void usage(FILE *f) {
    fprintf(f, "usage: sys2 COMMAND [options]   (sys2 COMMAND --help for each)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    /* OpenMP threads that spin while waiting starve everything else on a shared 2-core machine (a branch
     * benchmark ran 20x slower with another job beside it, and a search spent 70% of its CPU in libgomp's
     * spin loop); sleeping waiters cost little here. libgomp reads its environment before main() runs, so the
     * setting takes effect through one re-execution of the program. A user's own setting wins. */
    if (getenv("OMP_WAIT_POLICY") == NULL) {
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        execv("/proc/self/exe", argv); /* only returns on failure: then go on with the default policy */
    }
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (cli_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "sys2: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
