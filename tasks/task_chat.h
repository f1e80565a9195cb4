/* task_chat.h: a task whose prompts go through a chat template (`sys2 run --chat`).
 *
 * The wrapper is the base task in every respect (name, items, step delimiter, terminal test, extraction,
 * verification, oracle...) except its prompt: the base prompt becomes the one user message of a conversation
 * (after an optional system message), rendered with add_generation_prompt, so the model answers in the assistant's
 * turn. */
#ifndef S2_TASK_CHAT_H
#define S2_TASK_CHAT_H

#include "task.h"

typedef struct s2_task_chat_params {
    const char *template_src;          /* required: the chat template's source (copied) */
    const char *system;                /* a system message, or NULL for none (copied) */
    const char *bos_token, *eos_token; /* the model's texts, or NULL: undefined in the template (copied) */
} s2_task_chat_params;

/* Wraps base. own_base: the wrapper frees base with itself; otherwise base must outlive it. The template is
 * parsed here (its errors come back now, naming line and column) and rendered once for item 0, so that a template
 * that refuses a one-user-message conversation fails before any model work. *out: s2_task_free(). */
s2_status s2_task_chat_wrap(s2_task *base, bool own_base, const s2_task_chat_params *p, s2_task **out, s2_error *err);

/* True for tasks whose prompts are questions for an assistant (the task says so: s2_task_i.qa). */
bool s2_task_is_qa(const s2_task *t);

#endif
