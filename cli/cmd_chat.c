/* cmd_chat.c: `sys2 chat-template`: renders a conversation with a model's chat template (or one from a file), as
 * Hugging Face's apply_chat_template(..., tokenize=False) would, and prints exactly that text. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chat.h"
#include "cli.h"

int cmd_chat_template(int argc, char **argv);

static void chat_usage(FILE *f) {
    fprintf(f,
            "usage: sys2 chat-template [-m MODEL] --messages FILE.json [--add-generation-prompt] [--var KEY=VALUE]...\n"
            "                          [--template-file FILE]\n"
            "       sys2 chat-template -m MODEL --print-template\n"
            "\n"
            "Prints the conversation in FILE.json (an array of {\"role\", \"content\"} messages, as the OpenAI API takes\n"
            "them) rendered with the model's tokenizer.chat_template, and nothing else (no newline is added).\n"
            "\n"
            "options:\n"
            "  -m MODEL                 a .gguf file (a vocab-only one is enough): its template, BOS and EOS texts\n"
            "  --messages FILE.json     the conversation ('-' reads standard input)\n"
            "  --add-generation-prompt  end with the header of the assistant's turn\n"
            "  --var KEY=VALUE          a template variable; VALUE that parses as JSON is that JSON value\n"
            "                           (enable_thinking=false is the boolean), else the string; bos_token= and\n"
            "                           eos_token= override the model's\n"
            "  --template-file FILE     render this template instead of the model's (-m is then optional)\n"
            "  --print-template         print the model's tokenizer.chat_template itself (to save it for a server)\n"
            "  -h, --help               this help\n"
            "\n"
            "example:\n"
            "  sys2 chat-template -m qwen2.5-0.5b-instruct-q8_0.gguf --messages chat.json --add-generation-prompt\n");
}

/* Jansson's message quotes the file ("near '...'"): its control bytes are written \xNN, not sent to the terminal. */
static void escape_controls(const char *in, char *out, size_t cap) {
    size_t o = 0;
    for (; *in && o + 5 < cap; in++) {
        unsigned char c = (unsigned char)*in;
        if (c < 0x20 || c == 0x7f) o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else out[o++] = (char)c;
    }
    out[o] = '\0';
}

static char *read_path(const char *path) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) return NULL;
    char *s = cli_read_all(f, 0, NULL);
    if (f != stdin) fclose(f);
    return s;
}

int cmd_chat_template(int argc, char **argv) {
    const char *cmd = "chat-template";
    cli_model_opts o = {0};
    const char *messages_path = NULL, *template_path = NULL;
    bool add_gen = false, bad = false, print_template = false;
    json_t *vars = json_object();
    if (vars == NULL) return cli_usage(cmd, "out of memory");
    int rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *a = argv[i], *val = NULL;
        if (cli_is_help(a)) {
            chat_usage(stdout);
            json_decref(vars);
            return 0;
        }
        int r = cli_model_flag(&o, argc, argv, &i);
        if (r < 0) rc = cli_usage(cmd, "bad value for %s", a);
        else if (r > 0) continue;
        else if (cli_flag(argc, argv, &i, "--messages", NULL, &messages_path, &bad)) continue;
        else if (cli_flag(argc, argv, &i, "--template-file", NULL, &template_path, &bad)) continue;
        else if (strcmp(a, "--add-generation-prompt") == 0) add_gen = true;
        else if (strcmp(a, "--print-template") == 0) print_template = true;
        else if (cli_flag(argc, argv, &i, "--var", NULL, &val, &bad)) {
            const char *eq = strchr(val, '=');
            if (eq == NULL || eq == val) {
                rc = cli_usage(cmd, "--var wants KEY=VALUE, got '%s'", val);
                break;
            }
            char *key = strndup(val, (size_t)(eq - val));
            json_t *jv = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
            if (jv == NULL) jv = json_string(eq + 1);
            if (key == NULL || jv == NULL) rc = cli_usage(cmd, "--var %s: not valid UTF-8", val);
            else json_object_set_new(vars, key, jv), jv = NULL;
            json_decref(jv);
            free(key);
        } else rc = cli_usage(cmd, "unknown option %s", a);
        if (bad) rc = cli_usage(cmd, "%s needs a value", a);
    }
    if (rc == 0 && print_template && o.model == NULL) rc = cli_usage(cmd, "--print-template needs -m MODEL");
    if (rc == 0 && messages_path == NULL && !print_template) rc = cli_usage(cmd, "--messages FILE.json is required");
    if (rc == 0 && o.model == NULL && template_path == NULL) rc = cli_usage(cmd, "-m MODEL or --template-file FILE is required");
    if (rc != 0) {
        json_decref(vars);
        return rc;
    }

    s2_error err = {0};
    s2_model *m = NULL;
    char *tmpl_owned = NULL, *out = NULL;
    json_t *msgs = NULL;
    s2_chat_template *t = NULL;
    s2_status st = S2_OK;
    if (o.model != NULL) {
        s2_model_params mp = s2_model_default_params();
        mp.vocab_only = true;
        st = s2_model_load(o.model, &mp, &m, &err);
    }
    const char *tmpl = NULL;
    if (st == S2_OK && template_path != NULL) {
        tmpl = tmpl_owned = read_path(template_path);
        if (tmpl == NULL) st = s2_error_set(&err, S2_E_IO, "%s: cannot read", template_path);
    } else if (st == S2_OK) {
        tmpl = s2_model_chat_template(m);
        if (tmpl == NULL) st = s2_error_set(&err, S2_E_ARG, "%s has no tokenizer.chat_template (give --template-file)", o.model);
    }
    if (st == S2_OK && print_template) { /* the template as the model holds it, nothing else */
        fputs(tmpl, stdout);
        messages_path = NULL;
    } else if (st == S2_OK) {
        json_error_t je;
        msgs = strcmp(messages_path, "-") == 0 ? json_loadf(stdin, 0, &je) : json_load_file(messages_path, 0, &je);
        char why[200];
        escape_controls(je.text, why, sizeof why);
        if (msgs == NULL) st = s2_error_set(&err, S2_E_FORMAT, "%s: line %d: %s", messages_path, je.line, why);
        else if (!json_is_array(msgs)) st = s2_error_set(&err, S2_E_FORMAT, "%s: expected an array of messages", messages_path);
    }
    if (st == S2_OK && messages_path != NULL) st = s2_chat_template_parse(tmpl, &t, &err);
    if (st == S2_OK && messages_path != NULL) {
        s2_chat_params p = s2_chat_default_params();
        p.add_generation_prompt = add_gen;
        p.bos_token = s2_model_bos_text(m), p.eos_token = s2_model_eos_text(m);
        p.extra = vars; /* bos_token= / eos_token= given here override the model's */
        st = s2_chat_apply(t, msgs, &p, &out, &err);
    }
    if (st == S2_OK && out != NULL) fputs(out, stdout);
    free(out);
    s2_chat_template_free(t);
    json_decref(msgs);
    json_decref(vars);
    free(tmpl_owned);
    s2_model_free(m);
    if (st != S2_OK) return cli_fail(cmd, &err);
    return fflush(stdout) == 0 ? 0 : 1;
}
