/* cmd_serve.c: `sys2 serve`: the local engine behind an OpenAI-compatible HTTP API (core/net/serve.c) until SIGINT or
 * SIGTERM. Prints one line with the address once it listens (so that scripts and tests can wait for it). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "serve.h"

int cmd_serve(int argc, char **argv);

static void serve_usage(FILE *f) {
    fprintf(f,
            "usage: sys2 serve -m MODEL [--host 127.0.0.1] [--port P] [--parallel N] [--max-queue Q]\n"
            "                  [--max-body BYTES] [--model-name NAME]\n"
            "\n"
            "Serves the model over an OpenAI-compatible API: POST /v1/completions (prompt string or token ids, n,\n"
            "temperature, top_p, top_k, min_p, max_tokens (default 16), stop, seed, logprobs, echo, stream),\n"
            "POST /v1/chat/completions (content as a string, text parts or null; messages rendered as\n"
            "\"role: content\\n\" lines then \"assistant:\"; max_tokens default: what the context holds; stream),\n"
            "GET /v1/models, GET /health. stream: true answers with server-sent events as OpenAI sends them.\n"
            "Requests are decoded together (N sequences at most) over the paged KV cache and its prefix cache.\n"
            "The same request with the same seed gives the same output. Loopback only unless --host says otherwise.\n"
            "\n"
            "options:\n"
            "  -m MODEL          a .gguf file, or a llama2.c .bin checkpoint (with -z)\n"
            "  -z TOKENIZER      llama2.c tokenizer (tok*.bin) for a .bin model\n"
            "  --ctx N           context length (default: the model's)\n"
            "  --threads N       threads (default: all cores)\n"
            "  --host ADDR       IPv4 address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)\n"
            "  --port P          TCP port (default 8080; 0 = any free port)\n"
            "  --parallel N      sequences decoded together at most (default 16)\n"
            "  --max-queue Q     requests waiting at most; more are refused with 503 (default 64)\n"
            "  --max-body BYTES  request body size limit; larger ones get 413 (default 1048576)\n"
            "  --model-name NAME the model id of /v1/models and responses (default: the file name)\n"
            "  -h, --help        this help\n"
            "\n"
            "example:\n"
            "  sys2 serve -m stories260K.gguf --port 8080 &\n"
            "  curl -s localhost:8080/v1/completions -d '{\"prompt\":\"Once upon a time\",\"max_tokens\":16,\"seed\":1}'\n");
}

static volatile sig_atomic_t got_signal;
static void on_signal(int sig) { got_signal = sig; }

int cmd_serve(int argc, char **argv) {
    cli_model_opts mo = {0};
    s2_server_params sp = s2_server_default_params();
    sp.port = 8080;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        bool bad = false;
        int64_t x = 0;
        if (cli_is_help(argv[i])) {
            serve_usage(stdout);
            return 0;
        }
        int r = cli_model_flag(&mo, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (cli_flag(argc, argv, &i, "--host", NULL, &v, &bad)) {
            if (!bad) sp.host = v;
        } else if (cli_flag(argc, argv, &i, "--port", "-p", &v, &bad)) {
            if (!bad && (!cli_parse_i64(v, &x) || x < 0 || x > 65535)) return cli_usage("serve", "--port wants 0..65535, got '%s'", v);
            sp.port = (int32_t)x;
        } else if (cli_flag(argc, argv, &i, "--parallel", NULL, &v, &bad)) {
            if (!bad && (!cli_parse_i64(v, &x) || x < 1 || x > 4096)) return cli_usage("serve", "--parallel wants 1..4096, got '%s'", v);
            sp.parallel = (int32_t)x;
        } else if (cli_flag(argc, argv, &i, "--max-queue", NULL, &v, &bad)) {
            if (!bad && (!cli_parse_i64(v, &x) || x < 0 || x > 1000000)) return cli_usage("serve", "--max-queue wants 0..1000000, got '%s'", v);
            sp.max_queue = (int32_t)x;
        } else if (cli_flag(argc, argv, &i, "--max-body", NULL, &v, &bad)) {
            if (!bad && (!cli_parse_i64(v, &x) || x < 1)) return cli_usage("serve", "--max-body wants a positive size, got '%s'", v);
            sp.max_body = x;
        } else {
            return cli_usage("serve", "unknown argument '%s'", argv[i]);
        }
        if (bad) return cli_usage("serve", "%s needs a value", argv[i]);
    }
    if (mo.model == NULL) return cli_usage("serve", "no model: give -m MODEL");
    if (mo.server != NULL || mo.http_timeout_s > 0 || mo.http_retries_set)
        return cli_usage("serve", "--server, --http-timeout and --http-retries are for -m URL, not for serve");
    const char *name = mo.model_name; /* --model-name (read with the model flags) */
    if (name == NULL) {
        const char *slash = strrchr(mo.model, '/');
        name = slash ? slash + 1 : mo.model;
    }
    sp.model_name = name;
    s2_model *m = NULL;
    int rc = cli_open_engine("serve", &mo, 0, &m, NULL);
    if (rc != 0) return rc;
    sp.ctx.n_ctx = (int32_t)mo.n_ctx;
    sp.ctx.n_threads = (int32_t)mo.n_threads;
    if (mo.kv_type_set) sp.ctx.kv_type = mo.kv_type;
    s2_server *srv = NULL;
    s2_error err = {0};
    if (s2_server_start(m, &sp, &srv, &err) != S2_OK) {
        s2_model_free(m);
        return cli_fail("serve", &err);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    printf("sys2 serve: listening on http://%s:%d/v1 (model %s, parallel %d, queue %d)\n", sp.host,
           s2_server_port(srv), name, sp.parallel, sp.max_queue);
    fflush(stdout);
    while (!got_signal) pause();
    s2_server_stats st;
    s2_server_stats_get(srv, &st);
    fprintf(stderr, "sys2 serve: stopping after %lld requests (%lld busy, %lld too large); mean batch %.2f rows\n",
            (long long)st.requests, (long long)st.rejected_busy, (long long)st.rejected_large,
            st.batches ? (double)st.batch_rows / (double)st.batches : 0.0);
    s2_server_free(srv);
    s2_model_free(m);
    return 0;
}
