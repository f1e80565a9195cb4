/* jinja.h: the Jinja interpreter's insides, shared by its parser (jinja_parse.c) and evaluator (jinja_eval.c);
 * internal, not part of the public API (that is chat.h).
 *
 * Everything a template parse or a render allocates lives in one arena (ja_*), freed in one call, with a cap on
 * its bytes: values are never freed one by one, and a hostile template that builds huge strings hits the cap
 * (S2_E_BUDGET) instead of the machine's memory. */
#ifndef S2_JINJA_H
#define S2_JINJA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "chat.h"
#include "sys2.h"

/* ---- arena ---- */

typedef struct ja_chunk ja_chunk;
typedef struct ja_arena {
    ja_chunk *head;
    size_t used, cap; /* bytes handed out so far, and the most it may hand out (0: no limit) */
    bool capped;      /* an allocation was refused for the cap (not for want of memory) */
} ja_arena;

void *ja_alloc(ja_arena *a, size_t n);        /* zeroed, 16-byte aligned; NULL past the cap or out of memory */
char *ja_strndup(ja_arena *a, const char *s, size_t n); /* NUL-terminated copy */
void ja_free_all(ja_arena *a);

/* ---- values (Python's, as jinja2 sees them) ---- */

typedef enum jv_kind {
    JV_UNDEF, JV_NONE, JV_BOOL, JV_INT, JV_FLOAT, JV_STR, JV_LIST, JV_DICT, JV_FUNC, JV_LOOP
} jv_kind;

typedef struct jv_list jv_list;
typedef struct jv_dict jv_dict;
typedef struct jv_func jv_func;
typedef struct jv_loop jv_loop;

typedef struct jv {
    jv_kind k;
    union {
        bool b;
        int64_t i;
        double f;
        struct { const char *p; size_t n; } s; /* UTF-8, not necessarily NUL-terminated */
        jv_list *l;
        jv_dict *d;
        jv_func *fn;
        jv_loop *loop;
        const char *undef; /* JV_UNDEF: the name that was looked up (for messages), or NULL */
    } u;
} jv;

typedef enum jv_seq { JV_SEQ_LIST, JV_SEQ_TUPLE, JV_SEQ_KEYS, JV_SEQ_VALUES, JV_SEQ_ITEMS } jv_seq;
struct jv_list { jv *v; size_t n; jv_seq kind; };  /* immutable after building; kind: how repr() shows it */
struct jv_dict {                                    /* insertion-ordered, as Python's dict */
    jv *keys, *vals;
    size_t n, cap;
    bool ns;                                        /* a namespace(): attributes may be assigned */
};

/* ---- syntax tree ---- */

typedef enum jn_kind {
    /* statements */
    JN_BODY,   /* kids: the statements in order */
    JN_TEXT,   /* s: the literal text */
    JN_OUTPUT, /* a: the expression of {{ }} */
    JN_IF,     /* a: condition, b: body, c: else part (JN_BODY or a JN_IF for elif) or NULL */
    JN_FOR,    /* names/n_names: targets, a: iterable, b: body, c: else body or NULL, d: filter or NULL */
    JN_SET,    /* names[0] (and names[1] for ns.attr, attr set) or names/n_names to unpack; a: value or NULL,
                * b: body of a block set */
    JN_MACRO,  /* s: name, names/n_names: parameters, kids: defaults (NULL where none), b: body */
    JN_BREAK, JN_CONTINUE,
    /* expressions */
    JN_LIT,     /* lit */
    JN_NAME,    /* s */
    JN_ATTR,    /* a.s */
    JN_ITEM,    /* a[b] */
    JN_SLICE,   /* a[b:c:d], each of b c d may be NULL */
    JN_CALL,    /* a(kids..., names[i]=kids2[i]...) */
    JN_FILTER,  /* a | s(kids..., names=kids2) */
    JN_TEST,    /* a is [not] s(kids...): op = 1 for "is not" */
    JN_NEG, JN_POS, JN_NOT,
    JN_BINOP,   /* a op b, op one of the JOP_ arithmetic codes */
    JN_AND, JN_OR,
    JN_COMPARE, /* a, then kids[i] compared with ops[i]: a chain as in Python */
    JN_COND,    /* b if a else c (c may be NULL: undefined) */
    JN_LIST, JN_TUPLE, /* kids */
    JN_DICT     /* kids: keys, kids2: values */
} jn_kind;

enum {
    JOP_ADD = 1, JOP_SUB, JOP_MUL, JOP_DIV, JOP_FLOORDIV, JOP_MOD, JOP_POW, JOP_CONCAT,
    JOP_EQ, JOP_NE, JOP_LT, JOP_LE, JOP_GT, JOP_GE, JOP_IN, JOP_NOTIN
};

typedef struct jnode {
    jn_kind k;
    int32_t line, col;
    int32_t op;
    const char *s;
    size_t s_len; /* JN_TEXT */
    jv lit;
    struct jnode *a, *b, *c, *d;
    struct jnode **kids, **kids2;
    int32_t n_kids, n_kids2;
    const char **names;
    int32_t n_names;
    int32_t *ops; /* JN_COMPARE: one per kid */
} jnode;

/* The filter and test names the evaluator implements: the parser refuses any other by name and position. */
bool s2_jinja_filter_known(const char *name);
bool s2_jinja_test_known(const char *name);

/* Parses src (NUL-terminated) into a JN_BODY in arena a, lexed as transformers configures jinja2
 * (trim_blocks, lstrip_blocks). Errors name the line and column. */
s2_status s2_jinja_parse(ja_arena *a, const char *src, jnode **out, s2_error *err);

/* Renders root with the variables of the JSON object vars (may be NULL) into *out (malloc'd, NUL-terminated;
 * *len its length, len may be NULL). The globals range, namespace, dict, raise_exception and strftime_now are
 * defined; lim NULL: s2_chat_default_limits(). On failure *out is untouched and err names line and column. */
s2_status s2_jinja_render(const jnode *root, const json_t *vars, const s2_chat_limits *lim, char **out, size_t *len,
                          s2_error *err);

#endif
