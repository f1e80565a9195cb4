/* chat.h: chat templates, rendered as Hugging Face's apply_chat_template renders them with jinja2.
 *
 * A template is parsed once (s2_chat_template_parse) and rendered any number of times; it is read-only after
 * parsing and may be shared across threads. The interpreter (jinja_parse.c, jinja_eval.c) supports the subset of
 * Jinja that chat templates use (README, "Chat templates"); anything else is refused with its line and column, never
 * rendered wrongly. Values come in as JSON (Jansson): messages as the OpenAI API takes them, extra variables as
 * they are. */
#ifndef S2_CHAT_H
#define S2_CHAT_H

#include <jansson.h>

#include "sys2.h"

typedef struct s2_chat_template s2_chat_template;

/* Bounds for hostile templates: each one reached is S2_E_BUDGET naming it. */
typedef struct s2_chat_limits {
    size_t max_output;  /* bytes of the rendered text (and of any string built on the way) */
    int64_t max_steps;  /* statements and expressions evaluated */
    size_t max_memory;  /* bytes of values built during one render */
} s2_chat_limits;
s2_chat_limits s2_chat_default_limits(void); /* 16 MiB, 10 million steps, 64 MiB */

/* Parses src (NUL-terminated UTF-8). On success *out owns the template (s2_chat_template_free); on failure *out is
 * NULL and err says what and where ("chat template line L col C: ..."): S2_E_FORMAT for a syntax error,
 * S2_E_UNSUPPORTED for a construct the interpreter does not implement. */
s2_status s2_chat_template_parse(const char *src, s2_chat_template **out, s2_error *err);
void s2_chat_template_free(s2_chat_template *t); /* NULL is a no-op */

/* Renders t with the variables of the JSON object vars (borrowed; NULL: none). *out is malloc'd and
 * NUL-terminated (the caller frees it). lim NULL: the defaults. Errors: S2_E_ARG where the template raised an
 * exception or did something Python refuses (with the message), S2_E_BUDGET past a limit, S2_E_UNSUPPORTED. */
s2_status s2_chat_template_render(const s2_chat_template *t, const json_t *vars, const s2_chat_limits *lim, char **out,
                                  s2_error *err);

typedef struct s2_chat_params {
    bool add_generation_prompt;
    const char *bos_token, *eos_token; /* NULL: left undefined, as transformers leaves a token the tokenizer lacks */
    const json_t *extra;               /* an object of more variables (enable_thinking, date_string...); may be NULL */
    const s2_chat_limits *limits;      /* NULL: the defaults */
} s2_chat_params;
s2_chat_params s2_chat_default_params(void);

/* apply_chat_template(messages, tokenize=False): renders with messages (a JSON array of {"role", "content", ...}
 * objects), tools and documents None, add_generation_prompt, bos_token and eos_token, then p->extra's variables
 * (which override any of those). p NULL: defaults. Output as s2_chat_template_render. */
s2_status s2_chat_apply(const s2_chat_template *t, const json_t *messages, const s2_chat_params *p, char **out,
                        s2_error *err);

/* The model's tokenizer.chat_template, borrowed (valid as long as m); NULL when it has none. */
const char *s2_model_chat_template(const s2_model *m);

/* The model's BOS and EOS token texts (borrowed, valid as long as m), or NULL where the vocabulary has none. */
const char *s2_model_bos_text(const s2_model *m);
const char *s2_model_eos_text(const s2_model *m);

/* A prompt as a conversation: an optional system message (system may be NULL) and one user message, rendered
 * with add_generation_prompt and p's tokens and variables (p->add_generation_prompt is ignored; p NULL: defaults).
 * *out as s2_chat_apply. S2_E_ARG for text that is not UTF-8. */
s2_status s2_chat_apply_prompt(const s2_chat_template *t, const char *system, const char *user, const s2_chat_params *p,
                               char **out, s2_error *err);

#endif
