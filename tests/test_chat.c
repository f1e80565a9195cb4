/* Chat templates: every case of ../shared/reference/chat/templates.json byte for byte (rendered by transformers with
 * jinja2), the template a GGUF carries (the Qwen2 vocabulary file holds Qwen3's), a table of small templates whose
 * expected text jinja2 itself rendered (tests/chat_jinja_cases.py wrote tests/data/chat_jinja_cases.json),
 * unsupported constructs and syntax errors refused with their line and column, hostile templates stopped by
 * bounds, special tokens of the rendered text encoded as the control tokens they are, and the CLI. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "gguf.h"
#include "model.h"
#include "run.h"
#include "serve.h"
#include "task.h"
#include "task_chat.h"
#include "testutil.h"
#include "tokenizer.h"

/* ---- helpers ---- */

static json_t *load_reference(const char *test) {
    const char *path = t_shared("reference/chat/templates.json", test);
    if (path == NULL) return NULL;
    json_error_t je;
    json_t *d = json_load_file(path, 0, &je);
    ck_assert_msg(d != NULL && json_is_array(d), "%s: %s", path, je.text);
    return d;
}

static const char *jstr(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Renders one templates.json case with tmpl (or the entry's own template) and the entry's special tokens. */
static char *render_case(const char *tmpl, const json_t *entry, const json_t *c, s2_error *err, s2_status *st) {
    s2_chat_template *t = NULL;
    char *out = NULL;
    *st = s2_chat_template_parse(tmpl ? tmpl : jstr(entry, "template"), &t, err);
    if (*st != S2_OK) return NULL;
    s2_chat_params p = s2_chat_default_params();
    p.add_generation_prompt = json_is_true(json_object_get(c, "add_generation_prompt"));
    p.bos_token = jstr(entry, "bos_token"), p.eos_token = jstr(entry, "eos_token");
    p.extra = json_object_get(c, "extra");
    *st = s2_chat_apply(t, json_object_get(c, "messages"), &p, &out, err);
    s2_chat_template_free(t);
    return out;
}

static s2_model *load_vocab_model(const char *rel, const char *test) {
    const char *path = t_shared(rel, test);
    if (path == NULL) return NULL;
    s2_model_params mp = s2_model_default_params();
    mp.vocab_only = true;
    s2_model *m = NULL;
    s2_error err = {0};
    ck_assert_msg(s2_model_load(path, &mp, &m, &err) == S2_OK, "%s: %s", rel, err.msg);
    return m;
}

/* Renders src with vars (a JSON object text) and limits lim (NULL: defaults); returns the status. */
static s2_status render_src(const char *src, const char *vars_json, const s2_chat_limits *lim, char **out, s2_error *err) {
    s2_chat_template *t = NULL;
    *out = NULL;
    s2_status st = s2_chat_template_parse(src, &t, err);
    if (st != S2_OK) return st;
    json_t *vars = vars_json ? json_loads(vars_json, 0, NULL) : NULL;
    ck_assert(vars_json == NULL || vars != NULL);
    st = s2_chat_template_render(t, vars, lim, out, err);
    json_decref(vars);
    s2_chat_template_free(t);
    return st;
}

/* ---- the reference renderings ---- */

START_TEST(test_chat_reference_templates_render_byte_for_byte) {
    json_t *d = load_reference(__func__);
    if (d == NULL) return;
    size_t i, n_cases = 0;
    json_t *entry;
    json_array_foreach(d, i, entry) {
        size_t k;
        json_t *c;
        json_array_foreach(json_object_get(entry, "cases"), k, c) {
            s2_error err = {0};
            s2_status st;
            char *out = render_case(NULL, entry, c, &err, &st);
            ck_assert_msg(st == S2_OK, "%s case %zu: %s", jstr(entry, "family"), k, err.msg);
            const char *want = jstr(c, "expected");
            ck_assert_msg(strcmp(out, want) == 0, "%s case %zu:\n got [%s]\nwant [%s]", jstr(entry, "family"), k, out, want);
            free(out);
            n_cases++;
        }
    }
    ck_assert_uint_eq(n_cases, 24); /* the README's table: 8 + 4 + 4 + 4 + 4 */
    json_decref(d);
}
END_TEST

/* The Qwen2 vocabulary file carries Qwen3's template (the converter copies tokenizer_config.json's): rendering
 * through the model, as `sys2 chat-template -m` does, gives the reference text of every qwen3 case. */
START_TEST(test_chat_model_template_from_gguf) {
    json_t *d = load_reference(__func__);
    if (d == NULL) return;
    s2_model *m = load_vocab_model("vocab/ggml-vocab-qwen2.gguf", __func__);
    ck_assert_ptr_nonnull(m);
    const char *tmpl = s2_model_chat_template(m);
    ck_assert_ptr_nonnull(tmpl);
    size_t i, checked = 0;
    json_t *entry;
    json_array_foreach(d, i, entry) {
        if (strcmp(jstr(entry, "family"), "qwen3") != 0) continue;
        ck_assert_str_eq(tmpl, jstr(entry, "template"));
        size_t k;
        json_t *c;
        json_array_foreach(json_object_get(entry, "cases"), k, c) {
            s2_error err = {0};
            s2_status st;
            char *out = render_case(tmpl, entry, c, &err, &st);
            ck_assert_msg(st == S2_OK, "case %zu: %s", k, err.msg);
            ck_assert_str_eq(out, jstr(c, "expected"));
            free(out);
            checked++;
        }
    }
    ck_assert_uint_eq(checked, 8);
    /* a model without a template says so; llama2.c checkpoints have no metadata at all */
    s2_model *plain = load_vocab_model("models/stories260K.gguf", __func__);
    ck_assert_ptr_null(s2_model_chat_template(plain));
    /* one user message (and a system one) through the model's template, as run --chat puts a task's prompt */
    s2_chat_template *t = NULL;
    s2_error err = {0};
    char *out = NULL;
    ck_assert_int_eq(s2_chat_template_parse(tmpl, &t, &err), S2_OK);
    ck_assert_int_eq(s2_chat_apply_prompt(t, "Be brief.", "Hi", NULL, &out, &err), S2_OK);
    ck_assert_str_eq(out, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    free(out);
    ck_assert_int_eq(s2_chat_apply_prompt(t, NULL, "\xff", NULL, &out, &err), S2_E_ARG);
    ck_assert_ptr_null(out);
    s2_chat_template_free(t);
    /* the BOS and EOS texts come from the vocabulary: Llama 3's are the reference's bos_token / eos_token */
    s2_model *llama = load_vocab_model("vocab/ggml-vocab-llama-bpe.gguf", __func__);
    ck_assert_str_eq(s2_model_bos_text(llama), "<|begin_of_text|>");
    ck_assert_str_eq(s2_model_eos_text(llama), "<|end_of_text|>");
    s2_model_free(llama);
    s2_model_free(plain);
    s2_model_free(m);
    json_decref(d);
}
END_TEST

/* ---- semantics against jinja2 ---- */

START_TEST(test_chat_jinja_semantics_match_jinja2) {
    json_error_t je;
    json_t *cases = json_load_file("tests/data/chat_jinja_cases.json", 0, &je);
    ck_assert_msg(cases != NULL, "tests/data/chat_jinja_cases.json: %s", je.text);
    ck_assert_uint_ge(json_array_size(cases), 60);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        s2_chat_template *t = NULL;
        s2_error err = {0};
        char *out = NULL;
        const char *src = jstr(c, "template");
        ck_assert_msg(s2_chat_template_parse(src, &t, &err) == S2_OK, "case %zu [%s]: %s", i, src, err.msg);
        ck_assert_msg(s2_chat_template_render(t, json_object_get(c, "vars"), NULL, &out, &err) == S2_OK,
                      "case %zu [%s]: %s", i, src, err.msg);
        ck_assert_msg(strcmp(out, jstr(c, "expected")) == 0, "case %zu [%s]:\n got [%s]\nwant [%s]", i, src, out,
                      jstr(c, "expected"));
        free(out);
        s2_chat_template_free(t);
    }
    json_decref(cases);
}
END_TEST

/* ---- refusals ---- */

typedef struct bad_case {
    const char *src;
    s2_status st;
    const char *msg; /* a fragment of err.msg: the line and column, and what */
} bad_case;

static const bad_case unsupported[] = {
    {"{% raw %}x{% endraw %}", S2_E_UNSUPPORTED, "line 1 col 4: unsupported construct '{% raw %}'"},
    {"ok\n{% include 'other.jinja' %}", S2_E_UNSUPPORTED, "line 2 col 4: unsupported construct '{% include %}'"},
    {"{% filter upper %}x{% endfilter %}", S2_E_UNSUPPORTED, "line 1 col 4: unsupported construct '{% filter %}'"},
    {"{% call m() %}x{% endcall %}", S2_E_UNSUPPORTED, "line 1 col 4: unsupported construct '{% call %}'"},
    {"{% extends 'base' %}", S2_E_UNSUPPORTED, "unsupported construct '{% extends %}'"},
    {"{% with a = 1 %}{% endwith %}", S2_E_UNSUPPORTED, "unsupported construct '{% with %}'"},
    {"{% for x in xs recursive %}{% endfor %}", S2_E_UNSUPPORTED, "line 1 col 16: unsupported construct 'recursive'"},
    {"a\n  {{ text | wordwrap(10) }}", S2_E_UNSUPPORTED, "line 2 col 13: unsupported filter 'wordwrap'"},
    {"{{ x is escaped }}", S2_E_UNSUPPORTED, "line 1 col 9: unsupported test 'escaped'"},
    {"{{ 'a %s' % 'b' }}", S2_E_UNSUPPORTED, "line 1 col 11: unsupported construct: '%' string formatting"},
    {"{% for x in [1] %}{{ loop.changed(x) }}{% endfor %}", S2_E_UNSUPPORTED, "unsupported loop attribute 'loop.changed'"},
    {"{{ lipsum(2) }}", S2_E_ARG, "line 1 col 10: 'lipsum' is undefined (called as a function)"},
    {"{{ 'x'.format(1) }}", S2_E_ARG, "line 1 col 14: 'format' is undefined (called as a function)"},
};

static const bad_case syntax[] = {
    {"{% if x %}never closed", S2_E_FORMAT, "line 1 col 23: unexpected end of template, expected '{% endif %}'"},
    {"{% for x in y %}\n{% endif %}", S2_E_FORMAT, "line 2 col 4: unexpected '{% endif %}'"},
    {"{% frobnicate %}", S2_E_FORMAT, "line 1 col 4: unknown tag 'frobnicate'"},
    {"{{ 'unterminated }}", S2_E_FORMAT, "line 1 col 4: unterminated string"},
    {"{{ a @ b }}", S2_E_FORMAT, "line 1 col 6: unexpected character '@'"},
    {"{{ x ", S2_E_FORMAT, "missing '}}'"},
    {"{{ (1 }}", S2_E_FORMAT, "line 1 col 7: unbalanced bracket"},
    {"{# comment", S2_E_FORMAT, "line 1 col 1: unterminated comment"},
    {"{{ }}", S2_E_FORMAT, "line 1 col 4: unexpected '}}' in an expression"},
    {"{% set %}", S2_E_FORMAT, "line 1 col 8: expected a name"},
    {"{{ x[] }}", S2_E_FORMAT, "empty subscript"},
    {"{{ f(a=1, 2) }}", S2_E_FORMAT, "a positional argument after a keyword argument"},
    {"{% break %}", S2_E_FORMAT, "'break' outside a loop"},
};

static const bad_case runtime[] = {
    {"{{ raise_exception('Conversation roles must alternate') }}", S2_E_ARG,
     "line 1 col 19: the template raised an exception: Conversation roles must alternate"},
    {"{{ [1].append(1) }}", S2_E_ARG, "access to attribute 'append' of 'list' object is unsafe"},
    {"{{ {'a': 1}.update({}) }}", S2_E_ARG, "access to attribute 'update' of 'dict' object is unsafe"},
    {"{{ nothing.attr }}", S2_E_ARG, "line 1 col 11: 'nothing' is undefined"},
    {"{{ 1 + 'a' }}", S2_E_ARG, "unsupported operand types for +: 'int' and 'str'"},
    {"{{ 1 // 0 }}", S2_E_ARG, "division or modulo by zero"},
    {"{{ 1 < 'a' }}", S2_E_ARG, "ordering not supported between 'int' and 'str'"},
    {"{% set a, b = [1] %}", S2_E_ARG, "not enough values to unpack (expected 2, got 1)"},
    {"{% set x.y = 1 %}", S2_E_ARG, "cannot assign attribute 'y' on 'x': not a namespace"},
    {"{{ undefined_x | tojson }}", S2_E_ARG, "tojson: 'undefined_x' is undefined"},
    {"{{ 'abc'.startswith(1) }}", S2_E_ARG, "str.startswith: expected a string, got int"},
    {"{{ 'a'.strip(chars=1, x=2) }}", S2_E_ARG, "str.strip got an unexpected keyword argument"},
    {"{{ raise_exception('red \\x1b[31m \xff') }}", S2_E_ARG, "raised an exception: red \\x1b[31m \\xff"},
};

static void check_bad(const bad_case *tab, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char *out = (char *)"untouched";
        s2_error err = {0};
        s2_status st = render_src(tab[i].src, NULL, NULL, &out, &err);
        ck_assert_msg(st == tab[i].st, "[%s]: status %d, want %d (%s)", tab[i].src, st, tab[i].st, err.msg);
        ck_assert_msg(strstr(err.msg, tab[i].msg) != NULL, "[%s]: message [%s] lacks [%s]", tab[i].src, err.msg, tab[i].msg);
        ck_assert_msg(strncmp(err.msg, "chat template", 13) == 0, "[%s]: %s", tab[i].src, err.msg);
        ck_assert_ptr_null(out); /* never a partial string */
    }
}

START_TEST(test_chat_refuses_unsupported_constructs) { check_bad(unsupported, sizeof unsupported / sizeof unsupported[0]); }
END_TEST
START_TEST(test_chat_syntax_errors_name_line_and_column) { check_bad(syntax, sizeof syntax / sizeof syntax[0]); }
END_TEST
START_TEST(test_chat_runtime_errors_name_line_and_column) { check_bad(runtime, sizeof runtime / sizeof runtime[0]); }
END_TEST

/* ---- hostile templates ---- */

START_TEST(test_chat_hostile_templates_are_bounded) {
    s2_chat_limits lim = s2_chat_default_limits();
    lim.max_output = 1 << 20, lim.max_steps = 2000000, lim.max_memory = 32 << 20;
    /* nesting: brackets, blocks, and expressions without brackets */
    char deep[4096];
    size_t k = 0;
    k += (size_t)snprintf(deep + k, sizeof deep - k, "{{ ");
    for (int i = 0; i < 300; i++) deep[k++] = '(';
    deep[k++] = '1';
    for (int i = 0; i < 300; i++) deep[k++] = ')';
    snprintf(deep + k, sizeof deep - k, " }}");
    char blocks[8192];
    k = 0;
    for (int i = 0; i < 300; i++) k += (size_t)snprintf(blocks + k, sizeof blocks - k, "{%% if true %%}");
    char nots[4096];
    k = (size_t)snprintf(nots, sizeof nots, "{{ ");
    for (int i = 0; i < 300; i++) k += (size_t)snprintf(nots + k, sizeof nots - k, "not ");
    snprintf(nots + k, sizeof nots - k, "1 }}");
    char minus[4096];
    k = (size_t)snprintf(minus, sizeof minus, "{{ ");
    for (int i = 0; i < 300; i++) minus[k++] = '-';
    snprintf(minus + k, sizeof minus - k, "1 }}");
    const bad_case tab[] = {
        {deep, S2_E_BUDGET, "brackets nested too deep"},
        {blocks, S2_E_BUDGET, "nesting deeper than 100 levels"},
        {nots, S2_E_BUDGET, "nesting deeper than 100 levels"},
        {minus, S2_E_BUDGET, "nesting deeper than 100 levels"},
        {"{% for i in range(1000000000) %}x{% endfor %}", S2_E_BUDGET, "range of 1000000000 items (the sandbox allows 100000)"},
        {"{% set xs = range(100000) %}{% for i in xs %}{% for j in xs %}{% endfor %}{% endfor %}", S2_E_BUDGET,
         "the template ran over 2000000 steps"},
        {"{% for i in range(100000) %}{{ 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' }}{% endfor %}", S2_E_BUDGET,
         "output longer than 1048576 bytes"},
        {"{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", S2_E_BUDGET,
         "longer than 1048576 bytes"},
        {"{{ 'x' * 100000000000 }}", S2_E_BUDGET, "a repetition longer than 1048576"},
        {"{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", S2_E_BUDGET, "macro calls nested deeper than 50"},
        {"{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", S2_E_BUDGET,
         "more than 33554432 bytes of memory"},
        {"{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", S2_E_BUDGET,
         "more than 33554432 bytes of memory"},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
        char *out = NULL;
        s2_error err = {0};
        s2_status st = render_src(tab[i].src, NULL, &lim, &out, &err);
        ck_assert_msg(st == tab[i].st, "case %zu: status %d, want %d (%s)", i, st, tab[i].st, err.msg);
        ck_assert_msg(strstr(err.msg, tab[i].msg) != NULL, "case %zu: [%s] lacks [%s]", i, err.msg, tab[i].msg);
        ck_assert_ptr_null(out);
    }
    /* 90 levels of blocks are fine */
    k = 0;
    for (int i = 0; i < 90; i++) k += (size_t)snprintf(blocks + k, sizeof blocks - k, "{%% if true %%}");
    k += (size_t)snprintf(blocks + k, sizeof blocks - k, "deep");
    for (int i = 0; i < 90; i++) k += (size_t)snprintf(blocks + k, sizeof blocks - k, "{%% endif %%}");
    char *out = NULL;
    s2_error err = {0};
    ck_assert_msg(render_src(blocks, NULL, &lim, &out, &err) == S2_OK, "%s", err.msg);
    ck_assert_str_eq(out, "deep");
    free(out);
}
END_TEST

/* Random bytes and random splices of a real template never crash: each parse or render ends with S2_OK or an
 * error that names a line and column. */
START_TEST(test_chat_fuzzed_templates_fail_cleanly) {
    json_t *d = load_reference(__func__);
    if (d == NULL) return;
    const char *base = jstr(json_array_get(d, 0), "template");
    size_t n = strlen(base);
    json_t *msgs = json_loads("[{\"role\": \"system\", \"content\": \"s\"}, {\"role\": \"user\", \"content\": \"u\"}]", 0, NULL);
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    char *buf = malloc(n + 64);
    ck_assert_ptr_nonnull(buf);
    s2_chat_limits lim = s2_chat_default_limits();
    lim.max_steps = 200000, lim.max_output = 1 << 16;
    for (int it = 0; it < 400; it++) {
        memcpy(buf, base, n + 1);
        for (int e = 0; e < 1 + it % 4; e++) { /* damage: a random byte, a deletion, or a cut */
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t at = (size_t)(x % n);
            int kind = (int)((x >> 32) % 3);
            if (kind == 0) buf[at] = (char)("{}%#-+()[]'\"|.,:=~ \n\x01\xff"[(x >> 40) % 23]);
            else if (kind == 1) memmove(buf + at, buf + at + 1, strlen(buf + at + 1) + 1);
            else buf[at] = '\0';
        }
        s2_chat_template *t = NULL;
        s2_error err = {0};
        char *out = NULL;
        s2_status st = s2_chat_template_parse(buf, &t, &err);
        if (st == S2_OK) {
            s2_chat_params p = s2_chat_default_params();
            p.limits = &lim;
            st = s2_chat_apply(t, msgs, &p, &out, &err);
        }
        if (st != S2_OK) ck_assert_msg(strncmp(err.msg, "chat template", 13) == 0, "%s", err.msg);
        free(out);
        s2_chat_template_free(t);
    }
    free(buf);
    json_decref(msgs);
    json_decref(d);
}
END_TEST

/* ---- special tokens ---- */

/* The id of the CONTROL token whose text is s, found by scanning the vocabulary (an independent look-up). */
static int32_t control_id(const s2_vocab *v, const char *s) {
    for (int32_t id = 0; id < s2_vocab_n_tokens(v); id++)
        if (s2_vocab_type(v, id) == S2_TOKEN_CONTROL && strcmp(s2_vocab_text(v, id), s) == 0) return id;
    return -1;
}

/* Renders family's case c, tokenizes it with special tokens parsed and no BOS added (apply_chat_template's
 * tokenize=True), and checks it against a tokenization built piece by piece: each special text becomes its
 * control id, and the text between is tokenized plainly. Without parse_special no control id appears. */
static void check_specials(const char *vocab_rel, const char *family, const char *const *specials, int n_specials,
                           const char *test) {
    json_t *d = load_reference(test);
    if (d == NULL) return;
    s2_model *m = load_vocab_model(vocab_rel, test);
    const s2_vocab *v = s2_model_vocab(m);
    size_t i;
    json_t *entry, *fam = NULL;
    json_array_foreach(d, i, entry) if (strcmp(jstr(entry, "family"), family) == 0) fam = entry;
    ck_assert_ptr_nonnull(fam);
    int32_t ids_of[8];
    for (int s = 0; s < n_specials; s++) {
        ids_of[s] = control_id(v, specials[s]);
        ck_assert_msg(ids_of[s] >= 0, "%s has no control token %s", vocab_rel, specials[s]);
    }
    size_t k;
    json_t *c;
    json_array_foreach(json_object_get(fam, "cases"), k, c) {
        s2_error err = {0};
        s2_status st;
        char *text = render_case(NULL, fam, c, &err, &st);
        ck_assert_msg(st == S2_OK, "%s", err.msg);
        int32_t n = 0, n_plain = 0;
        int32_t *ids = s2_tokenize_alloc(v, text, strlen(text), false, true, &n);
        int32_t *plain = s2_tokenize_alloc(v, text, strlen(text), false, false, &n_plain);
        ck_assert(ids != NULL && plain != NULL);
        /* the piece-by-piece twin */
        int32_t want[4096], nw = 0;
        const char *p = text;
        while (*p) {
            const char *best = NULL;
            int bs = -1;
            for (int s = 0; s < n_specials; s++) {
                const char *h = strstr(p, specials[s]);
                if (h != NULL && (best == NULL || h < best)) best = h, bs = s;
            }
            size_t seg = best ? (size_t)(best - p) : strlen(p);
            if (seg > 0) {
                int32_t ns = s2_tokenize(v, p, seg, false, false, want + nw, 4096 - nw);
                ck_assert_int_ge(ns, 0);
                nw += ns;
            }
            if (best == NULL) break;
            want[nw++] = ids_of[bs];
            p = best + strlen(specials[bs]);
        }
        ck_assert_int_eq(n, nw);
        for (int32_t j = 0; j < n; j++) ck_assert_msg(ids[j] == want[j], "%s case %zu: token %d is %d, want %d", family, k, j, ids[j], want[j]);
        for (int32_t j = 0; j < n_plain; j++)
            for (int s = 0; s < n_specials; s++) ck_assert_int_ne(plain[j], ids_of[s]);
        /* and back: the control tokens print as their text */
        char back[8192];
        int32_t bl = s2_detokenize(v, ids, n, true, back, (int32_t)sizeof back);
        ck_assert_int_eq(bl, (int32_t)strlen(text));
        ck_assert(memcmp(back, text, (size_t)bl) == 0);
        free(ids);
        free(plain);
        free(text);
    }
    s2_model_free(m);
    json_decref(d);
}

START_TEST(test_chat_special_tokens_qwen) {
    static const char *const sp[] = {"<|im_start|>", "<|im_end|>"};
    check_specials("vocab/ggml-vocab-qwen2.gguf", "qwen3", sp, 2, __func__);
    check_specials("vocab/ggml-vocab-qwen2.gguf", "qwen2.5", sp, 2, __func__);
}
END_TEST

START_TEST(test_chat_special_tokens_llama3) {
    static const char *const sp[] = {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"};
    check_specials("vocab/ggml-vocab-llama-bpe.gguf", "llama3", sp, 4, __func__);
    check_specials("vocab/ggml-vocab-llama-bpe.gguf", "llama3.2", sp, 4, __func__);
}
END_TEST

/* ---- the CLI ---- */

START_TEST(test_chat_cli) {
    const char *vp = t_shared("vocab/ggml-vocab-qwen2.gguf", __func__);
    char vocab[1024], plain[1024];
    if (vp == NULL) return;
    snprintf(vocab, sizeof vocab, "%s", vp); /* t_shared's buffer is reused by the next call */
    json_t *d = load_reference(__func__);
    if (d == NULL) return;
    const char *dir = t_tmpdir();
    char msgs[600], tmpl[600], cmd[4096];
    snprintf(msgs, sizeof msgs, "%s/messages.json", dir);
    snprintf(tmpl, sizeof tmpl, "%s/llama32.jinja", dir);
    /* qwen3 case 4: system + user with enable_thinking=false (the JSON boolean) */
    json_t *q3 = json_array_get(d, 0), *c = NULL;
    size_t k;
    json_t *x;
    json_array_foreach(json_object_get(q3, "cases"), k, x) {
        json_t *et = json_object_get(json_object_get(x, "extra"), "enable_thinking");
        if (json_is_false(et) && json_array_size(json_object_get(x, "messages")) == 2) c = x;
    }
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(json_dump_file(json_object_get(c, "messages"), msgs, 0), 0);
    snprintf(cmd, sizeof cmd, "%s chat-template -m %s --messages %s --add-generation-prompt --var enable_thinking=false",
             t_sys2_bin(), vocab, msgs);
    char *out = NULL;
    ck_assert_int_eq(t_run(cmd, &out), 0);
    ck_assert_str_eq(out, jstr(c, "expected"));
    free(out);
    /* as a string ("false" quoted is not the boolean): the template then sees a defined, non-false value */
    snprintf(cmd, sizeof cmd, "%s chat-template -m %s --messages %s --add-generation-prompt --var 'enable_thinking=\"false\"'",
             t_sys2_bin(), vocab, msgs);
    ck_assert_int_eq(t_run(cmd, &out), 0);
    ck_assert_ptr_null(strstr(out, "<think>"));
    free(out);
    /* llama3.2 through --template-file: date_string given as a plain string (not JSON), bos_token overridden */
    json_t *l32 = NULL;
    json_array_foreach(d, k, x) if (strcmp(jstr(x, "family"), "llama3.2") == 0) l32 = x;
    ck_assert(t_write_file(tmpl, jstr(l32, "template"), strlen(jstr(l32, "template"))));
    c = json_array_get(json_object_get(l32, "cases"), 1);
    ck_assert_int_eq(json_dump_file(json_object_get(c, "messages"), msgs, 0), 0);
    snprintf(cmd, sizeof cmd, "%s chat-template --template-file %s --messages %s --add-generation-prompt "
             "--var 'date_string=26 Jul 2024' --var 'bos_token=<|begin_of_text|>'", t_sys2_bin(), tmpl, msgs);
    ck_assert_int_eq(t_run(cmd, &out), 0);
    ck_assert_str_eq(out, jstr(c, "expected"));
    free(out);
    /* errors: a model without a template; a bad messages file; a template that raises; usage */
    snprintf(plain, sizeof plain, "%s", t_shared("models/stories260K.gguf", __func__));
    snprintf(cmd, sizeof cmd, "%s chat-template -m %s --messages %s 2>&1", t_sys2_bin(), plain, msgs);
    ck_assert_int_eq(t_run(cmd, &out), 1);
    ck_assert_ptr_nonnull(strstr(out, "has no tokenizer.chat_template (give --template-file)"));
    free(out);
    ck_assert(t_write_file(msgs, "[{\"role\": ", 10));
    snprintf(cmd, sizeof cmd, "%s chat-template -m %s --messages %s 2>&1", t_sys2_bin(), vocab, msgs);
    ck_assert_int_eq(t_run(cmd, &out), 1);
    ck_assert_ptr_nonnull(strstr(out, "messages.json: line 1"));
    free(out);
    ck_assert(t_write_file(msgs, "[{\"role\": \x1b[31m", 15)); /* a hostile file: no escape sequence reaches the terminal */
    ck_assert_int_eq(t_run(cmd, &out), 1);
    ck_assert_ptr_null(strchr(out, '\x1b'));
    ck_assert_ptr_nonnull(strstr(out, "\\x1b"));
    free(out);
    const char *gemma = "{% for m in messages %}{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}"
                        "{{ raise_exception('Conversation roles must alternate') }}{% endif %}{% endfor %}";
    ck_assert(t_write_file(tmpl, gemma, strlen(gemma)));
    ck_assert(t_write_file(msgs, "[{\"role\": \"assistant\", \"content\": \"x\"}]", 39));
    snprintf(cmd, sizeof cmd, "%s chat-template --template-file %s --messages %s 2>&1", t_sys2_bin(), tmpl, msgs);
    ck_assert_int_eq(t_run(cmd, &out), 1);
    ck_assert_ptr_nonnull(strstr(out, "line 1 col 98: the template raised an exception: Conversation roles must alternate"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s chat-template -m %s 2>&1", t_sys2_bin(), vocab);
    ck_assert_int_eq(t_run(cmd, &out), 2);
    ck_assert_ptr_nonnull(strstr(out, "--messages FILE.json is required"));
    free(out);
    json_decref(d);
}
END_TEST


/* ---- a model with a template: serve and run ---- */

/* A simple template in the spirit of the real ones: BOS, one line per message, the assistant's header. */
static const char *const SIMPLE_TMPL =
    "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}"
    "{% if add_generation_prompt %}[assistant]{% endif %}";

/* Copies src (a path) to dst with tokenizer.chat_template = tmpl (every other key and tensor as they were). */
static void copy_with_template(const char *src, const char *tmpl, const char *dst) {
    s2_gguf *g = NULL;
    s2_gguf_writer *w = NULL;
    s2_error err = {0};
    ck_assert_msg(s2_gguf_open(src, &g, &err) == S2_OK, "%s", err.msg);
    ck_assert_msg(s2_gguf_writer_init(&w, &err) == S2_OK, "%s", err.msg);
    for (int64_t i = 0; i < s2_gguf_n_kv(g); i++) ck_assert_int_eq(s2_gguf_set_kv(w, s2_gguf_kv_at(g, i)), S2_OK);
    ck_assert_int_eq(s2_gguf_set_str(w, "tokenizer.chat_template", tmpl), S2_OK);
    for (int64_t i = 0; i < s2_gguf_n_tensors(g); i++) {
        const s2_gguf_tensor *t = s2_gguf_tensor_at(g, i);
        ck_assert_msg(s2_gguf_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, &err) == S2_OK, "%s", err.msg);
    }
    ck_assert_msg(s2_gguf_write(w, dst, &err) == S2_OK, "%s", err.msg);
    s2_gguf_writer_free(w);
    s2_gguf_free(g);
}

/* stories260K.gguf with tokenizer.chat_template = tmpl at dst; false (skipped) without ../shared. */
static bool write_template_model(const char *tmpl, const char *dst, const char *test) {
    const char *src = t_shared("models/stories260K.gguf", test);
    if (src == NULL) return false;
    copy_with_template(src, tmpl, dst);
    return true;
}

/* /v1/chat/completions renders with the model's template: the server's sample equals the local engine's on the
 * text rendered here, tokenized with special tokens parsed and no BOS added (the template writes "<s>"). */
START_TEST(test_chat_serve_uses_the_template) {
    char path[600];
    snprintf(path, sizeof path, "%s/tmpl.gguf", t_tmpdir());
    if (!write_template_model(SIMPLE_TMPL, path, __func__)) return;
    s2_error err = {0};
    s2_model *m = NULL;
    ck_assert_msg(s2_model_load(path, NULL, &m, &err) == S2_OK, "%s", err.msg);
    ck_assert_str_eq(s2_model_chat_template(m), SIMPLE_TMPL);
    s2_server_params sp = s2_server_default_params();
    sp.port = 0;
    s2_server *srv = NULL;
    ck_assert_msg(s2_server_start(m, &sp, &srv, &err) == S2_OK, "%s", err.msg);
    char url[160];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/chat/completions", s2_server_port(srv));
    s2_lm *remote = NULL, *local = NULL;
    ck_assert_msg(s2_lm_open(url, NULL, &remote, &err) == S2_OK, "%s", err.msg);
    s2_ctx_params cp = s2_ctx_default_params();
    cp.kv_max_bytes = 16ll << 20;
    ck_assert_msg(s2_lm_local_init(m, &cp, &local, &err) == S2_OK, "%s", err.msg);
    s2_lm_set_parse_special(local, true);
    s2_lm_seq rs, ls;
    ck_assert_msg(s2_lm_seq_new(remote, "Tell me a story.", &rs, &err) == S2_OK, "%s", err.msg);
    ck_assert_msg(s2_lm_seq_new(local, "<s>[user] Tell me a story.\n[assistant]", &ls, &err) == S2_OK, "%s", err.msg);
    s2_counters c;
    s2_lm_counters(local, &c);
    const s2_vocab *v = s2_model_vocab(m);
    int32_t ids[64];
    int32_t n = s2_tokenize(v, "<s>[user] Tell me a story.\n[assistant]", 38, false, true, ids, 64);
    ck_assert_int_eq(ids[0], s2_vocab_bos(v)); /* "<s>" parsed into BOS, and no second BOS before it */
    ck_assert_int_ne(ids[1], s2_vocab_bos(v));
    ck_assert_int_eq(c.prompt_tokens, n);
    s2_lm_sample_params p = s2_lm_sample_default_params();
    p.max_tokens = 16;
    p.seed = 11;
    s2_lm_gen rg, lg;
    ck_assert_msg(s2_lm_sample(remote, &rs, 1, &p, &rg, &err) == S2_OK, "%s", err.msg);
    ck_assert_msg(s2_lm_sample(local, &ls, 1, &p, &lg, &err) == S2_OK, "%s", err.msg);
    ck_assert_int_eq(rg.n_tokens, lg.n_tokens);
    for (int32_t i = 0; i < lg.n_tokens; i++) ck_assert_int_eq(rg.tokens[i], lg.tokens[i]);
    ck_assert_str_eq(rg.text, lg.text);
    s2_lm_gen_free(&rg);
    s2_lm_gen_free(&lg);
    s2_lm_seq_free(local, ls);
    s2_lm_seq_free(remote, rs);
    s2_lm_free(local);
    s2_lm_free(remote);
    s2_server_free(srv);
    s2_model_free(m);
}
END_TEST

/* The first result line's prompt_tokens, and whether the configuration line records chat. */
static int64_t run_prompt_tokens(const char *out, bool *chat, const char **tmpl_recorded) {
    FILE *f = fopen(out, "r");
    ck_assert_ptr_nonnull(f);
    char *line = NULL;
    size_t cap = 0;
    ck_assert(getline(&line, &cap, f) > 0);
    json_t *cfg = json_loads(line, 0, NULL);
    ck_assert(getline(&line, &cap, f) > 0);
    json_t *item = json_loads(line, 0, NULL);
    ck_assert(cfg != NULL && item != NULL);
    json_t *ch = json_object_get(json_object_get(cfg, "sys2_run"), "chat");
    *chat = ch != NULL;
    static char rec[512];
    snprintf(rec, sizeof rec, "%s", ch ? json_string_value(json_object_get(ch, "template")) : "");
    *tmpl_recorded = rec;
    ck_assert_str_eq(json_string_value(json_object_get(item, "status")), "ok");
    int64_t n = json_integer_value(json_object_get(json_object_get(item, "counters"), "prompt_tokens"));
    json_decref(cfg);
    json_decref(item);
    free(line);
    fclose(f);
    return n;
}

/* run: chat by default for a question-answer task when the model has a template, off with --no-chat, the
 * template from a file with --template-file, a system message with --system; the prompt the model computed is
 * the rendered conversation (its token count, tokenized here with special tokens and no added BOS). */
START_TEST(test_chat_run_wraps_the_prompt) {
    const char *dir = t_tmpdir();
    char model[600], out[600], plain_model[1024];
    snprintf(model, sizeof model, "%s/tmpl.gguf", dir);
    if (!write_template_model(SIMPLE_TMPL, model, __func__)) return;
    snprintf(plain_model, sizeof plain_model, "%s", t_shared("models/stories260K.gguf", __func__));
    s2_task *gsm = NULL;
    s2_error err = {0};
    if (t_shared("data/gsm8k_test.jsonl", __func__) == NULL) return;
    ck_assert_msg(s2_task_create("gsm8k", NULL, &gsm, &err) == S2_OK, "%s", err.msg);
    ck_assert(s2_task_is_qa(gsm));
    char *question = s2_task_prompt(gsm, 0);
    s2_model *m = NULL;
    s2_model_params mp = s2_model_default_params();
    mp.vocab_only = true;
    ck_assert_msg(s2_model_load(model, &mp, &m, &err) == S2_OK, "%s", err.msg);
    const s2_vocab *v = s2_model_vocab(m);
    const char *keys[] = {"max_step_tokens", "max_depth"}, *vals[] = {"2", "1"};
    s2_run_config c = {0};
    c.task = "gsm8k", c.search = "cot", c.model = model, c.n_ctx = 512, c.limit = 1, c.seed = 1, c.threads = 1;
    c.keys = keys, c.vals = vals, c.n_params = 2, c.version = "test";
    struct { int32_t chat; const char *system, *tmpl, *file; const char *want_tmpl; } runs[] = {
        {0, NULL, NULL, NULL, "model"},                                 /* auto: on */
        {-1, NULL, NULL, NULL, NULL},                                   /* --no-chat */
        {1, "Be brief.", "{{ messages[0].content }}|{{ messages[1].content }}|", "t.jinja", "t.jinja"},
    };
    for (int r = 0; r < 3; r++) {
        snprintf(out, sizeof out, "%s/run%d.jsonl", dir, r);
        c.out = out, c.chat = runs[r].chat, c.system = runs[r].system;
        c.chat_template = runs[r].tmpl, c.chat_template_file = runs[r].file;
        s2_run_summary sum;
        ck_assert_msg(s2_run(&c, &sum, &err) == S2_OK, "run %d: %s", r, err.msg);
        char want_text[4096];
        if (r == 0) snprintf(want_text, sizeof want_text, "<s>[user] %s\n[assistant]", question);
        else if (r == 1) snprintf(want_text, sizeof want_text, "%s", question);
        else snprintf(want_text, sizeof want_text, "Be brief.|%s|", question);
        int32_t ids[4096];
        int32_t want = s2_tokenize(v, want_text, strlen(want_text), r == 1, r != 1, ids, 4096);
        bool chat;
        const char *rec;
        int64_t got = run_prompt_tokens(out, &chat, &rec);
        ck_assert_msg(got == want, "run %d: %lld prompt tokens, want %d", r, (long long)got, want);
        ck_assert_int_eq(chat, runs[r].want_tmpl != NULL);
        if (chat) ck_assert_str_eq(rec, runs[r].want_tmpl);
    }
    /* errors: --chat on a model without a template; --system without chat; a template that refuses the prompt */
    snprintf(out, sizeof out, "%s/bad.jsonl", dir);
    c.out = out, c.model = plain_model, c.chat = 1, c.system = NULL, c.chat_template = NULL;
    ck_assert_int_eq(s2_run(&c, &(s2_run_summary){0}, &err), S2_E_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "has no tokenizer.chat_template (give --template-file FILE)"));
    c.chat = -1, c.system = "x";
    ck_assert_int_eq(s2_run(&c, &(s2_run_summary){0}, &err), S2_E_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "--system needs a chat template"));
    c.chat = 1, c.system = NULL, c.chat_template = "{{ raise_exception('no user turns here') }}";
    ck_assert_int_eq(s2_run(&c, &(s2_run_summary){0}, &err), S2_E_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "no user turns here"));
    c.chat_template = "{% if %}";
    ck_assert_int_eq(s2_run(&c, &(s2_run_summary){0}, &err), S2_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "line 1 col 7"));
    free(question);
    s2_model_free(m);
    s2_task_free(gsm);
}
END_TEST

/* The task flag: the four question-answer tasks say so, a puzzle does not; the wrapper keeps everything else. */
START_TEST(test_chat_task_wrapper_forwards) {
    static const char *const qa[] = {"gsm8k", "math500", "humaneval", "mbpp"};
    static const char *const data[] = {"data/gsm8k_test.jsonl", "data/math500_test.jsonl", "data/HumanEval.jsonl.gz",
                                       "data/mbpp.jsonl"};
    for (int i = 0; i < 4; i++) {
        if (t_shared(data[i], __func__) == NULL) return;
        s2_task *t = NULL;
        s2_error err = {0};
        ck_assert_msg(s2_task_create(qa[i], NULL, &t, &err) == S2_OK, "%s: %s", qa[i], err.msg);
        ck_assert_msg(s2_task_is_qa(t), "%s", qa[i]);
        s2_task_free(t);
    }
    s2_task *g24 = NULL, *w = NULL;
    s2_error err = {0};
    if (t_shared("data/game24.csv", __func__) == NULL) return;
    ck_assert_msg(s2_task_create("game24", NULL, &g24, &err) == S2_OK, "%s", err.msg);
    ck_assert(!s2_task_is_qa(g24));
    s2_task_chat_params p = {.template_src = "<{{ messages[0].content }}>", .system = NULL};
    ck_assert_msg(s2_task_chat_wrap(g24, true, &p, &w, &err) == S2_OK, "%s", err.msg);
    ck_assert_str_eq(w->iface->name, "game24");
    ck_assert_int_eq(s2_task_n_items(w), s2_task_n_items(g24));
    ck_assert_str_eq(s2_task_item_id(w, 3), s2_task_item_id(g24, 3));
    char *a = s2_task_prompt(g24, 3), *b = s2_task_prompt(w, 3), want[4096];
    snprintf(want, sizeof want, "<%s>", a);
    ck_assert_str_eq(b, want);
    ck_assert(s2_task_oracle(w, 3, "") == s2_task_oracle(g24, 3, ""));
    ck_assert((w->iface->value_prompt == NULL) == (g24->iface->value_prompt == NULL));
    s2_verdict va = {0}, vb = {0};
    ck_assert_int_eq(s2_task_verify(w, 3, "nonsense", &va, &err), S2_OK);
    ck_assert_int_eq(s2_task_verify(g24, 3, "nonsense", &vb, &err), S2_OK);
    ck_assert_int_eq(va.correct, vb.correct);
    ck_assert_str_eq(va.reason, vb.reason);
    s2_verdict_clear(&va);
    s2_verdict_clear(&vb);
    free(a);
    free(b);
    s2_task_free(w); /* frees game24 too (own_base) */
}
END_TEST

/* ---- the README's walkthrough ---- */

/* Runs the README's walkthrough block as written (with the three substitutions the README states) on the tiny
 * file of the same architecture and type: tiny-qwen2.gguf quantized to q8_0, with Qwen2.5's template added (the
 * tiny models carry none); `huggingface-cli` finds that file, `vllm serve` starts `sys2 serve` on it. */
START_TEST(test_chat_walkthrough) {
    const char *tiny = t_shared("models/arch/tiny-qwen2.gguf", __func__);
    if (tiny == NULL) return;
    char tiny_path[1024];
    snprintf(tiny_path, sizeof tiny_path, "%s", tiny);
    json_t *d = load_reference(__func__);
    if (d == NULL) return;
    const char *tmpl = NULL;
    size_t k;
    json_t *x;
    json_array_foreach(d, k, x) if (strcmp(jstr(x, "family"), "qwen2.5") == 0) tmpl = jstr(x, "template");
    ck_assert_ptr_nonnull(tmpl);
    /* the block, from the README */
    size_t rl = 0;
    char *readme = t_read_file("README.md", &rl);
    ck_assert_msg(readme != NULL, "README.md not found (run from the repository root)");
    const char *mark = strstr(readme, "<!-- walkthrough:");
    ck_assert_ptr_nonnull(mark);
    const char *b = strstr(mark, "```sh\n"), *e = b ? strstr(b + 6, "\n```\n") : NULL;
    ck_assert(b != NULL && e != NULL && strstr(mark, "<!-- walkthrough end -->") > e);
    b += 6;
    const char *dir = t_tmpdir();
    char path[1200], cmd[8192];
    snprintf(path, sizeof path, "%s/block.sh", dir);
    ck_assert(t_write_file(path, b, (size_t)(e - b) + 1));
    /* the file the download would give: same architecture and type, with the template */
    snprintf(cmd, sizeof cmd, "mkdir -p %s/models %s/results %s/build", dir, dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    char q8[1200], model[1200];
    snprintf(q8, sizeof q8, "%s/tiny-q8_0.gguf", dir);
    snprintf(model, sizeof model, "%s/models/qwen2.5-0.5b-instruct-q8_0.gguf", dir);
    s2_error err = {0};
    ck_assert_msg(s2_gguf_quantize(tiny_path, q8, 8 /* Q8_0 */, &err) == S2_OK, "%s", err.msg);
    copy_with_template(q8, tmpl, model);
    /* a free port for the stand-in server */
    int port = 0;
    {
        char *out = NULL;
        ck_assert_int_eq(t_run("python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); "
                               "print(s.getsockname()[1])'", &out), 0);
        port = atoi(out);
        free(out);
        ck_assert_int_gt(port, 0);
    }
    char bin[1024], shared[1024];
    ck_assert_ptr_nonnull(realpath(t_sys2_bin(), bin));
    const char *root = getenv("SYS2_SHARED");
    ck_assert_ptr_nonnull(realpath(root && root[0] ? root : "../shared", shared)); /* the block runs elsewhere */
    snprintf(cmd, sizeof cmd,
             "cd %s && export SYS2_SHARED=%s && ln -sf %s build/sys2 && "
             "sed -E -e 's/--limit 100/--limit 1/g' -e 's/tokens=[0-9]+/tokens=64/g' -e 's/max_step_tokens=[0-9]+/max_step_tokens=16/g' "
             "-e 's/8000/%d/g' block.sh > run.sh && "
             "{ printf 'set -e\\nhuggingface-cli() { test -f models/qwen2.5-0.5b-instruct-q8_0.gguf; }\\n"
             "vllm() { exec build/sys2 serve -m models/qwen2.5-0.5b-instruct-q8_0.gguf --port %d 2>/dev/null; }\\n'; "
             "cat run.sh; } > all.sh && bash all.sh > log.txt 2>&1; echo \"rc=$?\" >> log.txt; cat log.txt",
             dir, shared, bin, port, port);
    char *log = NULL;
    ck_assert_int_eq(t_run(cmd, &log), 0);
    size_t ll = strlen(log);
    const char *tail = ll > 3000 ? log + ll - 3000 : log; /* Check's messages are bounded */
    ck_assert_msg(strstr(log, "rc=0\n") != NULL, "the walkthrough failed:\n%s", tail);
    /* what each command left */
    ck_assert_ptr_nonnull(strstr(log, "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n"));
    const char *files[] = {"results/gsm8k-qwen2.5-0.5b-cot.jsonl", "results/gsm8k-qwen2.5-1.5b-vllm-sc16.jsonl",
                           "results/gsm8k-qwen2.5-0.5b/cot__none__tokens_64.jsonl",
                           "results/gsm8k-qwen2.5-0.5b/sc_n_8__logprob__tokens_64.jsonl",
                           "results/gsm8k-qwen2.5-0.5b/bon_n_8__logprob__tokens_64.jsonl"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        char *txt = t_read_file(path, NULL);
        ck_assert_msg(txt != NULL, "%s missing; log:\n%s", files[i], tail);
        int lines = 0;
        for (const char *p = txt; *p; p++) lines += *p == '\n';
        ck_assert_msg(lines == 2, "%s: %d lines", files[i], lines); /* the configuration and one item */
        ck_assert_ptr_nonnull(strstr(txt, "\"chat\":{\"template\":"));
        ck_assert_ptr_nonnull(strstr(txt, "\"system\":\"Please reason step by step"));
        free(txt);
    }
    snprintf(path, sizeof path, "%s/qwen2.5.jinja", dir);
    char *saved = t_read_file(path, NULL);
    ck_assert_str_eq(saved, tmpl);
    free(saved);
    free(log);
    free(readme);
    json_decref(d);
}
END_TEST

T_SUITE_DECL(chat)
Suite *chat_suite(void) {
    Suite *s = suite_create("chat");
    TCase *tc = tcase_create("templates");
    tcase_set_timeout(tc, 120); /* the 151k vocabulary, under ASan */
    tcase_add_test(tc, test_chat_reference_templates_render_byte_for_byte);
    tcase_add_test(tc, test_chat_model_template_from_gguf);
    tcase_add_test(tc, test_chat_jinja_semantics_match_jinja2);
    tcase_add_test(tc, test_chat_refuses_unsupported_constructs);
    tcase_add_test(tc, test_chat_syntax_errors_name_line_and_column);
    tcase_add_test(tc, test_chat_runtime_errors_name_line_and_column);
    tcase_add_test(tc, test_chat_hostile_templates_are_bounded);
    tcase_add_test(tc, test_chat_fuzzed_templates_fail_cleanly);
    tcase_add_test(tc, test_chat_special_tokens_qwen);
    tcase_add_test(tc, test_chat_special_tokens_llama3);
    tcase_add_test(tc, test_chat_cli);
    tcase_add_test(tc, test_chat_serve_uses_the_template);
    tcase_add_test(tc, test_chat_run_wraps_the_prompt);
    tcase_add_test(tc, test_chat_task_wrapper_forwards);
    suite_add_tcase(s, tc);
    TCase *tw = tcase_create("walkthrough");
    tcase_set_timeout(tw, 600); /* a dozen commands on a tiny model; slow under ASan on a loaded machine */
    tcase_add_test(tw, test_chat_walkthrough);
    suite_add_tcase(s, tw);
    return s;
}
