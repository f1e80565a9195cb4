/* task_wrap.h: one forwarder for the tasks that wrap another (the chat template's prompts, expert iteration's
 * window of items with a counted oracle). Item i of the wrapper is item (off + i) mod n_base of the base task;
 * every callback the base has is forwarded through that map, the optional ones stay NULL where the base has none,
 * and the wrapper then replaces the slots it changes.
 *
 * The wrapper's ctx must point to a struct whose first member is an s2_task_wrap (the forwarders find the base
 * through it). */
#ifndef S2_TASK_WRAP_H
#define S2_TASK_WRAP_H

#include "task.h"

typedef struct s2_task_wrap {
    const s2_task *base;
    int32_t off; /* the window's first item of base */
    int32_t n;   /* items in the window; < 0: all of base */
} s2_task_wrap;

/* iface := base's name, summary, step delimiter and qa flag, and forwarders for every callback base has (free
 * left NULL: the wrapper owns its ctx). */
void s2_task_wrap_iface(struct s2_task_i *iface, const s2_task *base);

/* The base's item number for the wrapper's item i (for slots the wrapper replaces). */
int32_t s2_task_wrap_item(const s2_task *t, int32_t i);

#endif
