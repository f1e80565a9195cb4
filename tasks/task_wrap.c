/* task_wrap.c: the forwarders of task_wrap.h. */
#include "task_wrap.h"

static const s2_task_wrap *WR(const s2_task *t) { return t->ctx; }
static const s2_task *BASE(const s2_task *t) { return WR(t)->base; }

int32_t s2_task_wrap_item(const s2_task *t, int32_t i) {
    const s2_task_wrap *w = WR(t);
    if (w->n < 0 && w->off == 0) return i;
    return (int32_t)(((int64_t)w->off + i) % s2_task_n_items(w->base));
}

#define M(t, i) s2_task_wrap_item(t, i)

static int32_t f_n_items(const s2_task *t) { return WR(t)->n < 0 ? s2_task_n_items(BASE(t)) : WR(t)->n; }
static const char *f_item_id(const s2_task *t, int32_t i) { return s2_task_item_id(BASE(t), M(t, i)); }
static char *f_prompt(const s2_task *t, int32_t i) { return s2_task_prompt(BASE(t), M(t, i)); }
static bool f_is_terminal(const s2_task *t, int32_t i, const char *text) {
    return s2_task_is_terminal(BASE(t), M(t, i), text);
}
static char *f_extract(const s2_task *t, int32_t i, const char *text) {
    return BASE(t)->iface->extract(BASE(t), M(t, i), text);
}
static s2_status f_verify(const s2_task *t, int32_t i, const char *text, s2_verdict *out, s2_error *err) {
    return BASE(t)->iface->verify(BASE(t), M(t, i), text, out, err);
}
static s2_oracle f_oracle(const s2_task *t, int32_t i, const char *text) {
    return BASE(t)->iface->oracle(BASE(t), M(t, i), text);
}
static bool f_legal(const s2_task *t, int32_t i, const char *text) { return BASE(t)->iface->legal(BASE(t), M(t, i), text); }
static char *f_value_prompt(const s2_task *t, int32_t i, const char *text) {
    return BASE(t)->iface->value_prompt(BASE(t), M(t, i), text);
}
static s2_status f_gen_example(const s2_task *t, s2_role role, uint64_t seed, s2_example *out, s2_error *err) {
    return BASE(t)->iface->gen_example(BASE(t), role, seed, out, err);
}
static char *f_reference(const s2_task *t, int32_t i) { return BASE(t)->iface->reference(BASE(t), M(t, i)); }
static int32_t f_wrong_answers(const s2_task *t, int32_t i, char **out, int32_t cap) {
    return BASE(t)->iface->wrong_answers(BASE(t), M(t, i), out, cap);
}

void s2_task_wrap_iface(struct s2_task_i *iface, const s2_task *base) {
    const struct s2_task_i *b = base->iface;
    *iface = (struct s2_task_i){.name = b->name, .summary = b->summary, .step_delim = b->step_delim, .qa = b->qa,
                                .n_items = f_n_items, .item_id = f_item_id, .prompt = f_prompt,
                                .is_terminal = f_is_terminal, .extract = f_extract, .verify = f_verify,
                                .oracle = b->oracle ? f_oracle : NULL, .legal = b->legal ? f_legal : NULL,
                                .value_prompt = b->value_prompt ? f_value_prompt : NULL,
                                .gen_example = b->gen_example ? f_gen_example : NULL,
                                .reference = b->reference ? f_reference : NULL,
                                .wrong_answers = b->wrong_answers ? f_wrong_answers : NULL};
}
