/* chat.c: apply_chat_template on top of the Jinja interpreter, and the model's template and special texts.
 *
 * The rendering environment is transformers' render_jinja_template: messages, tools=None, documents=None,
 * add_generation_prompt, then the tokenizer's special tokens and the caller's extra variables. */
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "jinja.h"
#include "model.h"

struct s2_chat_template {
    ja_arena arena; /* the syntax tree and its strings */
    jnode *root;
};

s2_chat_limits s2_chat_default_limits(void) {
    return (s2_chat_limits){.max_output = (size_t)16 << 20, .max_steps = 10000000, .max_memory = (size_t)64 << 20};
}

s2_chat_params s2_chat_default_params(void) { return (s2_chat_params){.add_generation_prompt = false}; }

s2_status s2_chat_template_parse(const char *src, s2_chat_template **out, s2_error *err) {
    *out = NULL;
    if (src == NULL) return s2_error_set(err, S2_E_ARG, "chat template: no source");
    s2_chat_template *t = calloc(1, sizeof *t);
    if (t == NULL) return s2_error_set(err, S2_E_NOMEM, "chat template: out of memory");
    t->arena.cap = (size_t)256 << 20;
    s2_status st = s2_jinja_parse(&t->arena, src, &t->root, err);
    if (st != S2_OK) {
        s2_chat_template_free(t);
        return st;
    }
    *out = t;
    return S2_OK;
}

void s2_chat_template_free(s2_chat_template *t) {
    if (t == NULL) return;
    ja_free_all(&t->arena);
    free(t);
}

s2_status s2_chat_template_render(const s2_chat_template *t, const json_t *vars, const s2_chat_limits *lim, char **out,
                                  s2_error *err) {
    if (vars != NULL && !json_is_object(vars)) return s2_error_set(err, S2_E_ARG, "chat template: variables must be a JSON object");
    return s2_jinja_render(t->root, vars, lim, out, NULL, err);
}

s2_status s2_chat_apply(const s2_chat_template *t, const json_t *messages, const s2_chat_params *params, char **out,
                        s2_error *err) {
    s2_chat_params p = params ? *params : s2_chat_default_params();
    if (!json_is_array(messages)) return s2_error_set(err, S2_E_ARG, "chat template: messages must be a JSON array");
    if (p.extra != NULL && !json_is_object(p.extra))
        return s2_error_set(err, S2_E_ARG, "chat template: extra variables must be a JSON object");
    json_t *vars = json_object();
    int bad = vars == NULL;
    bad |= json_object_set(vars, "messages", (json_t *)messages);
    bad |= json_object_set_new(vars, "tools", json_null());
    bad |= json_object_set_new(vars, "documents", json_null());
    bad |= json_object_set_new(vars, "add_generation_prompt", json_boolean(p.add_generation_prompt));
    if (p.bos_token != NULL) bad |= json_object_set_new(vars, "bos_token", json_string(p.bos_token));
    if (p.eos_token != NULL) bad |= json_object_set_new(vars, "eos_token", json_string(p.eos_token));
    if (!bad && p.extra != NULL) bad |= json_object_update(vars, (json_t *)p.extra);
    if (bad) {
        json_decref(vars);
        return s2_error_set(err, S2_E_NOMEM, "chat template: out of memory (or a token text that is not UTF-8)");
    }
    s2_status st = s2_jinja_render(t->root, vars, p.limits, out, NULL, err);
    json_decref(vars);
    return st;
}

const char *s2_model_chat_template(const s2_model *m) {
    const char *s = NULL;
    if (m == NULL || m->gguf == NULL || s2_gguf_get_str(m->gguf, "tokenizer.chat_template", &s, NULL) != S2_OK) return NULL;
    return s;
}

static const char *token_text(const s2_model *m, int32_t id) {
    const s2_vocab *v = s2_model_vocab(m);
    return v != NULL && id >= 0 ? s2_vocab_text(v, id) : NULL;
}
const char *s2_model_bos_text(const s2_model *m) { return m ? token_text(m, s2_vocab_bos(s2_model_vocab(m))) : NULL; }
const char *s2_model_eos_text(const s2_model *m) { return m ? token_text(m, s2_vocab_eos(s2_model_vocab(m))) : NULL; }

s2_status s2_chat_apply_prompt(const s2_chat_template *t, const char *system, const char *user, const s2_chat_params *params,
                               char **out, s2_error *err) {
    *out = NULL;
    json_t *msgs = json_array();
    int bad = msgs == NULL || user == NULL;
    if (!bad && system != NULL) bad |= json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "system", "content", system));
    if (!bad) bad |= json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "user", "content", user));
    s2_chat_params p = params ? *params : s2_chat_default_params();
    p.add_generation_prompt = true;
    s2_status st = bad ? s2_error_set(err, S2_E_ARG, "chat: a prompt that is not valid UTF-8") : s2_chat_apply(t, msgs, &p, out, err);
    json_decref(msgs);
    return st;
}
