/* task_chat.c: the chat-template wrapper of task_chat.h. Every callback but prompt() forwards to the base task
 * (task_wrap.c), and the optional ones stay NULL where the base has none, so the wrapper is indistinguishable from
 * it elsewhere. */
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "task_chat.h"
#include "task_impl.h"
#include "task_wrap.h"

typedef struct chat_task {
    s2_task_wrap w; /* first: the forwarders of task_wrap.c find the base here */
    struct s2_task_i iface; /* the base's, with prompt replaced and every other slot forwarding */
    s2_task *base;          /* = w.base, owned when own_base */
    bool own_base;
    s2_chat_template *tmpl;
    char *system, *bos, *eos;
} chat_task;

static const chat_task *C(const s2_task *t) { return t->ctx; }

/* The base prompt as the user's message; NULL when out of memory or when the template refuses it. */
static char *render(const chat_task *c, const char *user, s2_error *err) {
    s2_chat_params p = s2_chat_default_params();
    p.bos_token = c->bos, p.eos_token = c->eos;
    char *out = NULL;
    s2_chat_apply_prompt(c->tmpl, c->system, user, &p, &out, err);
    return out;
}

static char *ct_prompt(const s2_task *t, int32_t i) {
    char *user = s2_task_prompt(C(t)->base, i);
    if (user == NULL) return NULL;
    s2_error err = {0};
    char *out = render(C(t), user, &err); /* checked for item 0 when wrapping; the interface has no error slot */
    free(user);
    return out;
}

static void ct_free(s2_task *t) {
    chat_task *c = t->ctx;
    if (c == NULL) return;
    if (c->own_base) s2_task_free(c->base);
    s2_chat_template_free(c->tmpl);
    free(c->system);
    free(c->bos);
    free(c->eos);
    free(c);
}

static char *dup_or_null(const char *s, bool *bad) {
    if (s == NULL) return NULL;
    char *d = strdup(s);
    if (d == NULL) *bad = true;
    return d;
}

s2_status s2_task_chat_wrap(s2_task *base, bool own_base, const s2_task_chat_params *p, s2_task **out, s2_error *err) {
    *out = NULL;
    if (base == NULL || p == NULL || p->template_src == NULL) return s2_error_set(err, S2_E_ARG, "chat: no task or template");
    chat_task *c = calloc(1, sizeof *c);
    if (c == NULL) return s2_error_set(err, S2_E_NOMEM, "chat: out of memory");
    c->w = (s2_task_wrap){.base = base, .off = 0, .n = -1};
    s2_task_wrap_iface(&c->iface, base);
    c->iface.prompt = ct_prompt;
    c->iface.free = ct_free;
    c->base = base;
    bool bad = false;
    c->system = dup_or_null(p->system, &bad), c->bos = dup_or_null(p->bos_token, &bad);
    c->eos = dup_or_null(p->eos_token, &bad);
    s2_status st = bad ? s2_error_set(err, S2_E_NOMEM, "chat: out of memory") : s2_chat_template_parse(p->template_src, &c->tmpl, err);
    if (st == S2_OK && s2_task_n_items(base) > 0) { /* a template that refuses a one-question conversation fails now */
        char *user = s2_task_prompt(base, 0), *r = user ? render(c, user, err) : NULL;
        if (user == NULL) st = s2_error_set(err, S2_E_NOMEM, "chat: out of memory");
        else if (r == NULL) st = err && err->code != S2_OK ? err->code : S2_E_NOMEM;
        free(user);
        free(r);
    }
    if (st != S2_OK) {
        ct_free(&(s2_task){.ctx = c}); /* the base stays the caller's on failure */
        return st;
    }
    c->own_base = own_base;
    st = s2_task_new(&c->iface, c, out, err);
    if (st != S2_OK) {
        c->own_base = false;
        ct_free(&(s2_task){.ctx = c});
    }
    return st;
}

bool s2_task_is_qa(const s2_task *t) { return t != NULL && t->iface->qa; }
