/* registry.c: the name -> constructor table of every task, built from S2_TASK_LIST in task_impl.h (add a task
 * there, not here). Creating a task with an unknown name is S2_E_ARG naming the known ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task_impl.h"

typedef s2_status (*task_init_fn)(const s2_task_params *p, s2_task **out, s2_error *err);

static const struct {
    const char *name;
    const char *summary;
    task_init_fn init;
} registry[] = {
#define S2_TASK_ENTRY(name, summary) {#name, summary, s2_task_##name##_init},
    S2_TASK_LIST(S2_TASK_ENTRY)
#undef S2_TASK_ENTRY
    {NULL, NULL, NULL} /* a terminator, so that an empty list still compiles */
};

#define N_TASKS ((int32_t)(sizeof registry / sizeof registry[0]) - 1)

int32_t s2_task_count(void) { return N_TASKS; }

const char *s2_task_name_at(int32_t i) { return i >= 0 && i < N_TASKS ? registry[i].name : NULL; }

const char *s2_task_summary_at(int32_t i) { return i >= 0 && i < N_TASKS ? registry[i].summary : NULL; }

s2_status s2_task_create(const char *name, const s2_task_params *params, s2_task **out, s2_error *err) {
    if (out == NULL) return s2_error_set(err, S2_E_ARG, "task: NULL out");
    *out = NULL;
    if (name == NULL) return s2_error_set(err, S2_E_ARG, "task: NULL name");
    s2_task_params p = params != NULL ? *params : s2_task_default_params();
    for (int32_t i = 0; i < N_TASKS; i++)
        if (strcmp(registry[i].name, name) == 0) return registry[i].init(&p, out, err);
    char known[200] = "";
    size_t len = 0;
    for (int32_t i = 0; i < N_TASKS && len < sizeof known; i++)
        len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "", registry[i].name);
    return s2_error_set(err, S2_E_ARG, "unknown task '%s' (known: %s)", name, known);
}

/* iface->free releases ctx (and what it owns); the task struct itself is freed here. */
void s2_task_free(s2_task *t) {
    if (t == NULL) return;
    if (t->iface->free != NULL) t->iface->free(t);
    else free(t->ctx);
    free(t);
}
