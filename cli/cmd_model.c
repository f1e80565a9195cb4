/* cmd_model.c: commands that write model files: convert (llama2.c checkpoint or GGUF -> GGUF) and init-model
 * (random weights of a given shape, for benchmarks at realistic sizes). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "init_model.h"
#include "quant.h"

int cmd_convert(int argc, char **argv);
int cmd_init_model(int argc, char **argv);

static const char *convert_help =
    "usage: sys2 convert -m MODEL [-z TOKENIZER.bin] -o OUT.gguf [--type f32|f16|bf16|q8_0|q4_0]\n"
    "Writes MODEL (a llama2.c .bin with its tokenizer, or a GGUF) as a GGUF file: metadata, the vocabulary as\n"
    "tokenizer.ggml.* keys, and the weights in --type (default f32, exact).\n" CLI_MODEL_HELP;

int cmd_convert(int argc, char **argv) {
    cli_model_opts mo = {0};
    const char *out = NULL, *v = NULL, *type_s = "f32";
    bool bad = false;
    for (int i = 1; i < argc; i++) {
        int mf = cli_model_flag(&mo, argc, argv, &i);
        if (mf < 0) return 2;
        if (mf > 0) continue;
        if (cli_is_help(argv[i])) {
            fputs(convert_help, stdout);
            return 0;
        } else if (cli_flag(argc, argv, &i, "-o", "--out", &v, &bad)) {
            out = v;
        } else if (cli_flag(argc, argv, &i, "--type", NULL, &v, &bad)) {
            type_s = v;
        } else {
            return cli_usage("convert", "unknown argument '%s'", argv[i]);
        }
        if (bad) return 2;
    }
    int32_t type = s2_type_from_name(type_s);
    if (type < 0 || !s2_type_supported(type)) return cli_usage("convert", "--type '%s': f32, f16, bf16, q8_0 or q4_0", type_s);
    if (out == NULL) return cli_usage("convert", "no output: give -o OUT.gguf");
    if (mo.n_ctx > 0) /* the file keeps the model's own context length: a flag that changed nothing would lie */
        return cli_usage("convert", "--ctx has no effect here: the GGUF keeps the model's context length (give --ctx "
                         "to the commands that run it)");
    s2_model *m = NULL;
    int rc = cli_open_engine("convert", &mo, 0, &m, NULL);
    if (rc != 0) return rc;
    s2_error err = {0};
    if (s2_model_save_gguf(m, out, type, &err) != S2_OK) rc = cli_fail("convert", &err);
    else printf("wrote %s (%s, %lld parameters)\n", out, s2_type_name(type), (long long)s2_model_n_params(m));
    s2_model_free(m);
    return rc;
}

static const char *init_help =
    "usage: sys2 init-model -o OUT.gguf [--arch llama|qwen2] [--dim D] [--layers L] [--heads H] [--kv-heads K]\n"
    "                       [--ff F] [--vocab V] [--ctx T] [--type f32|f16|bf16|q8_0|q4_0] [--untied] [--seed S]\n"
    "                       [--tokenizer-from MODEL.gguf]\n"
    "Writes a random-weight model of that shape (for benchmarks at realistic sizes: the shape of Qwen2.5-0.5B is\n"
    "--arch qwen2 --dim 896 --layers 24 --heads 14 --kv-heads 2 --ff 4864 --tokenizer-from its vocab GGUF).\n"
    "Without --tokenizer-from the vocabulary is sys2's character vocabulary, padded with unused tokens up to --vocab.\n";

int cmd_init_model(int argc, char **argv) {
    s2_init_params p = s2_init_default_params();
    const char *out = NULL, *v = NULL, *type_s = "f32";
    bool bad = false;
    int64_t x;
    for (int i = 1; i < argc; i++) {
        int32_t *field = NULL;
        if (cli_is_help(argv[i])) {
            fputs(init_help, stdout);
            return 0;
        } else if (cli_flag(argc, argv, &i, "-o", "--out", &v, &bad)) {
            out = v;
        } else if (cli_flag(argc, argv, &i, "--arch", NULL, &v, &bad)) {
            p.arch = v;
        } else if (cli_flag(argc, argv, &i, "--type", NULL, &v, &bad)) {
            type_s = v;
        } else if (cli_flag(argc, argv, &i, "--tokenizer-from", NULL, &v, &bad)) {
            p.tokenizer_from = v;
        } else if (strcmp(argv[i], "--untied") == 0) {
            p.tied = false;
        } else if (cli_flag(argc, argv, &i, "--seed", NULL, &v, &bad)) {
            if (!bad && !cli_parse_i64(v, &x)) return cli_usage("init-model", "--seed wants an integer");
            p.seed = (uint64_t)x;
        } else if (cli_flag(argc, argv, &i, "--dim", NULL, &v, &bad)) field = &p.n_embd;
        else if (cli_flag(argc, argv, &i, "--layers", NULL, &v, &bad)) field = &p.n_layer;
        else if (cli_flag(argc, argv, &i, "--heads", NULL, &v, &bad)) field = &p.n_head;
        else if (cli_flag(argc, argv, &i, "--kv-heads", NULL, &v, &bad)) field = &p.n_head_kv;
        else if (cli_flag(argc, argv, &i, "--ff", NULL, &v, &bad)) field = &p.n_ff;
        else if (cli_flag(argc, argv, &i, "--vocab", NULL, &v, &bad)) field = &p.n_vocab;
        else if (cli_flag(argc, argv, &i, "--ctx", NULL, &v, &bad)) field = &p.n_ctx;
        else return cli_usage("init-model", "unknown argument '%s'", argv[i]);
        if (bad) return 2;
        if (field != NULL) {
            if (!cli_parse_i64(v, &x) || x < 1 || x > (1 << 24)) return cli_usage("init-model", "%s wants a positive integer", argv[i - 1]);
            *field = (int32_t)x;
        }
    }
    p.type = s2_type_from_name(type_s);
    if (p.type < 0 || !s2_type_supported(p.type)) return cli_usage("init-model", "--type '%s': f32, f16, bf16, q8_0 or q4_0", type_s);
    if (out == NULL) return cli_usage("init-model", "no output: give -o OUT.gguf");
    s2_error err = {0};
    if (s2_model_init_random(&p, out, &err) != S2_OK) return cli_fail("init-model", &err);
    s2_model *m = NULL;
    if (s2_model_load(out, NULL, &m, &err) != S2_OK) return cli_fail("init-model", &err);
    printf("wrote %s: %s, %lld parameters, %.1f MB\n", out, p.arch, (long long)s2_model_n_params(m),
           (double)s2_model_weight_bytes(m) / 1e6);
    s2_model_free(m);
    return 0;
}
