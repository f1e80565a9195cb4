/* Every Check suite, one line each: X(name) declares Suite *name##_suite(void) in tests/test_<name>.c.
 * CK_RUN_SUITE=<name> runs one of them. */
#define S2_TEST_SUITES(X) \
    X(status) \
    X(engine) \
    X(lm) \
    X(lm_examples) \
    X(forward_naive) \
    X(arch) \
    X(gguf) \
    X(quant) \
    X(pool) \
    X(sandbox) \
    X(gsm8k) \
    X(math500) \
    X(code) \
    X(game24) \
    X(tasks) \
    X(train) \
    X(tokenizer) \
    X(chat) \
    X(search) \
    X(search_rules) \
    X(search_real) \
    X(http) \
    X(http_servers) \
    X(run) \
    X(scorers) \
    X(models) \
    X(improve) \
    X(report) \
    X(view) \
    X(integrate) \
    X(bench)
