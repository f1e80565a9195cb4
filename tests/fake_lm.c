/* fake_lm.c: a scripted s2_lm and a toy task (see fake_lm.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_lm.h"

/* ---- the fake system 1 ---- */

typedef struct fseq {
    bool live;
    char *text;
} fseq;

typedef struct fake {
    fake_lm_params p;
    fseq *seqs;
    int32_t n_seqs, cap_seqs;
    char **prompts; /* the prefix cache: every seq_new text */
    int32_t n_prompts;
    int64_t script_pos;
    s2_counters c;
} fake;

fake_lm_params fake_lm_default_params(void) {
    fake_lm_params p = {0};
    p.seed = 1;
    p.alphabet = 4;
    p.delim = "\n";
    p.ns_per_row = 100;
    return p;
}

static fake *F(const s2_lm *lm) { return lm->ctx; }

static uint64_t fnv(uint64_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* The log-prob of token c after text: in (-2, -0.01], a hash of (seed, text, c). */
static double lp_of(const fake *f, const char *text, size_t n, char c) {
    uint64_t h = fnv(0xcbf29ce484222325ULL ^ f->p.seed * 0x9e3779b97f4a7c15ULL, text, n);
    h = fnv(h, &c, 1);
    h ^= h >> 29;
    return -0.01 - (double)(h % 1000) / 500.0;
}

static void rows(fake *f, int64_t n) {
    f->c.forward_rows += n;
    f->c.flops += 1000.0 * (double)n;
    f->c.ns += f->p.ns_per_row * n;
}

static fseq *get(fake *f, s2_lm_seq s) { return s >= 0 && s < f->n_seqs && f->seqs[s].live ? &f->seqs[s] : NULL; }

static s2_status slot(fake *f, s2_lm_seq *out, s2_error *err) {
    int32_t s = 0;
    while (s < f->n_seqs && f->seqs[s].live) s++;
    if (s == f->n_seqs) {
        if (f->n_seqs == f->cap_seqs) {
            int32_t cap = f->cap_seqs ? 2 * f->cap_seqs : 16;
            fseq *ns = realloc(f->seqs, (size_t)cap * sizeof *ns);
            if (ns == NULL) return s2_error_set(err, S2_E_NOMEM, "fake: out of memory");
            f->seqs = ns;
            f->cap_seqs = cap;
        }
        f->seqs[f->n_seqs++] = (fseq){0};
    }
    f->seqs[s].live = true;
    *out = s;
    return S2_OK;
}

static char *cat(const char *a, const char *b, size_t nb) {
    size_t na = strlen(a);
    char *s = malloc(na + nb + 1);
    if (s == NULL) return NULL;
    memcpy(s, a, na);
    memcpy(s + na, b, nb);
    s[na + nb] = '\0';
    return s;
}

static s2_status f_seq_new(s2_lm *lm, const char *text, s2_lm_seq *out, s2_error *err) {
    fake *f = F(lm);
    f->c.requests++;
    int64_t n = (int64_t)strlen(text) + 1, best = 0; /* + BOS */
    for (int32_t i = 0; i < f->n_prompts; i++) {
        int64_t k = 0; /* common prefix in tokens: BOS, then bytes */
        const char *a = f->prompts[i];
        while (a[k] && a[k] == text[k]) k++;
        if (k + 1 > best) best = k + 1;
    }
    if (best >= n) best = n - 1; /* the last token is computed for its logits, as the engine does */
    f->c.cached_tokens += best;
    f->c.prompt_tokens += n - best;
    f->c.forward_calls++;
    rows(f, n - best);
    char **np = realloc(f->prompts, (size_t)(f->n_prompts + 1) * sizeof *np);
    if (np == NULL) return s2_error_set(err, S2_E_NOMEM, "fake: out of memory");
    f->prompts = np;
    if ((f->prompts[f->n_prompts] = cat(text, "", 0)) == NULL) return s2_error_set(err, S2_E_NOMEM, "fake: out of memory");
    f->n_prompts++;
    s2_status st = slot(f, out, err);
    if (st != S2_OK) return st;
    f->seqs[*out].text = cat(text, "", 0);
    return S2_OK;
}

static s2_status f_fork(s2_lm *lm, s2_lm_seq src, s2_lm_seq *out, s2_error *err) {
    fake *f = F(lm);
    f->c.requests++;
    if (get(f, src) == NULL) return s2_error_set(err, S2_E_ARG, "fake: sequence %d is not live", src);
    s2_status st = slot(f, out, err);
    if (st != S2_OK) return st;
    f->seqs[*out].text = cat(f->seqs[src].text, "", 0);
    return S2_OK;
}

static s2_status f_append(s2_lm *lm, s2_lm_seq s, const char *text, s2_error *err) {
    fake *f = F(lm);
    f->c.requests++;
    fseq *q = get(f, s);
    if (q == NULL) return s2_error_set(err, S2_E_ARG, "fake: sequence %d is not live", s);
    size_t n = strlen(text);
    char *t = cat(q->text, text, n);
    if (t == NULL) return s2_error_set(err, S2_E_NOMEM, "fake: out of memory");
    free(q->text);
    q->text = t;
    f->c.prompt_tokens += (int64_t)n;
    if (n > 0) {
        f->c.forward_calls++;
        rows(f, (int64_t)n);
    }
    return S2_OK;
}

static void f_seq_free(s2_lm *lm, s2_lm_seq s) {
    fake *f = F(lm);
    fseq *q = get(f, s);
    if (q == NULL) return;
    free(q->text);
    q->text = NULL;
    q->live = false;
}

static double lp_cont(fake *f, const char *text, const char *cont, float *per, int32_t cap) {
    size_t nt = strlen(text), nc = strlen(cont);
    char *all = cat(text, cont, nc);
    double sum = 0;
    for (size_t i = 0; i < nc; i++) {
        double lp = all ? lp_of(f, all, nt + i, cont[i]) : -1;
        if (per && (int32_t)i < cap) per[i] = (float)lp;
        sum += lp;
    }
    free(all);
    return sum;
}

static s2_status f_score(s2_lm *lm, s2_lm_seq s, const char *cont, float *per, int32_t cap, int32_t *n, double *sum,
                         s2_error *err) {
    fake *f = F(lm);
    f->c.requests++;
    fseq *q = get(f, s);
    if (q == NULL) return s2_error_set(err, S2_E_ARG, "fake: sequence %d is not live", s);
    int64_t nc = (int64_t)strlen(cont);
    double v = lp_cont(f, q->text, cont, per, cap);
    f->c.scored_tokens += nc;
    if (nc > 1) {
        f->c.forward_calls++;
        rows(f, nc - 1);
    }
    if (n) *n = (int32_t)nc;
    if (sum) *sum = v;
    return S2_OK;
}

static s2_status f_score_labels(s2_lm *lm, s2_lm_seq s, const char *const *labels, int32_t n, double *out,
                                s2_error *err) {
    fake *f = F(lm);
    f->c.requests++;
    fseq *q = get(f, s);
    if (q == NULL) return s2_error_set(err, S2_E_ARG, "fake: sequence %d is not live", s);
    int64_t r = 0;
    for (int32_t i = 0; i < n; i++) {
        int64_t nc = (int64_t)strlen(labels[i]);
        if (nc == 0) return s2_error_set(err, S2_E_ARG, "fake: label %d is empty", i);
        out[i] = lp_cont(f, q->text, labels[i], NULL, 0);
        f->c.scored_tokens += nc;
        r += nc - 1;
    }
    if (r > 0) {
        f->c.forward_calls++;
        rows(f, r);
    }
    return S2_OK;
}

static int32_t f_top_k(s2_lm *lm, s2_lm_seq s, int32_t k, s2_lm_top *out, s2_error *err) {
    fake *f = F(lm);
    f->c.requests++;
    fseq *q = get(f, s);
    if (q == NULL) return -s2_error_set(err, S2_E_ARG, "fake: sequence %d is not live", s);
    s2_lm_top all[64]; /* the candidates: the alphabet's letters and the delimiter's first byte */
    int32_t na = f->p.alphabet + 1 < 64 ? f->p.alphabet + 1 : 64;
    for (int32_t t = 0; t < na; t++) {
        char c = t < na - 1 ? (char)('a' + t) : f->p.delim[0];
        all[t] = (s2_lm_top){.id = t, .logprob = (float)lp_of(f, q->text, strlen(q->text), c)};
        all[t].piece[0] = c;
    }
    for (int32_t i = 1; i < na; i++) /* insertion sort: best first, lower id on ties */
        for (int32_t j = i; j > 0 && all[j].logprob > all[j - 1].logprob; j--) {
            s2_lm_top x = all[j];
            all[j] = all[j - 1];
            all[j - 1] = x;
        }
    int32_t m = k < na ? k : na;
    for (int32_t i = 0; i < m; i++) out[i] = all[i];
    return m;
}

static s2_status f_sample(s2_lm *lm, const s2_lm_seq *seqs, int32_t n, const s2_lm_sample_params *p, s2_lm_gen *out,
                          s2_error *err) {
    fake *f = F(lm);
    f->c.requests++;
    if (f->p.sleep_us > 0) usleep((useconds_t)f->p.sleep_us);
    if (f->p.fail_sample) return s2_error_set(err, S2_E_NET, "fake: the server is gone (after 4 tries)");
    for (int32_t i = 0; i < n; i++)
        if (get(f, seqs[i]) == NULL) return s2_error_set(err, S2_E_ARG, "fake: sequence %d is not live", seqs[i]);
    bool stop = false;
    for (int32_t k = 0; k < p->n_stops; k++) stop = stop || (p->stops[k] && strcmp(p->stops[k], f->p.delim) == 0);
    int64_t longest = 0;
    for (int32_t i = 0; i < n; i++) {
        char step[256];
        if (f->p.script != NULL) snprintf(step, sizeof step, "%s", f->p.script[f->script_pos++ % f->p.n_script]);
        else snprintf(step, sizeof step, "%c", p->sample.temperature == 0 ? 'a' : 'a' + (i % f->p.alphabet));
        char *full = cat(step, f->p.delim, strlen(f->p.delim));
        if (full == NULL) return s2_error_set(err, S2_E_NOMEM, "fake: out of memory");
        size_t len = strlen(full);
        out[i] = (s2_lm_gen){0};
        out[i].finish = stop ? "stop" : "eos";
        if ((int64_t)len > p->max_tokens) {
            len = (size_t)p->max_tokens;
            full[len] = '\0';
            out[i].finish = "length";
        }
        fseq *q = &f->seqs[seqs[i]];
        out[i].n_tokens = (int32_t)len;
        out[i].tokens = malloc((len + 1) * sizeof(int32_t));
        out[i].logprobs = malloc((len + 1) * sizeof(float));
        if (out[i].tokens == NULL || out[i].logprobs == NULL) {
            free(full);
            return s2_error_set(err, S2_E_NOMEM, "fake: out of memory");
        }
        for (size_t t = 0; t < len; t++) out[i].tokens[t] = (unsigned char)full[t];
        out[i].logprob = lp_cont(f, q->text, full, out[i].logprobs, (int32_t)len);
        char *nt = cat(q->text, full, len);
        free(q->text);
        q->text = nt;
        out[i].text = full;
        f->c.gen_tokens += (int64_t)len;
        rows(f, (int64_t)len); /* every sampled token is fed back, as the engine does after a stop string */
        if ((int64_t)len > longest) longest = (int64_t)len;
    }
    f->c.forward_calls += longest;
    return S2_OK;
}

static void f_counters(const s2_lm *lm, s2_counters *out) { *out = F(lm)->c; }

static void f_free(s2_lm *lm) {
    fake *f = F(lm);
    for (int32_t i = 0; i < f->n_seqs; i++) free(f->seqs[i].text);
    for (int32_t i = 0; i < f->n_prompts; i++) free(f->prompts[i]);
    free(f->prompts);
    free(f->seqs);
    free(f);
}

static const struct s2_lm_i fake_iface = {
    .name = "fake",
    .seq_new = f_seq_new,
    .fork = f_fork,
    .append = f_append,
    .seq_free = f_seq_free,
    .score = f_score,
    .score_labels = f_score_labels,
    .top_k = f_top_k,
    .sample = f_sample,
    .counters = f_counters,
    .free = f_free,
};

s2_status fake_lm_init(const fake_lm_params *p, s2_lm **out, s2_error *err) {
    *out = NULL;
    s2_lm *lm = calloc(1, sizeof *lm);
    fake *f = calloc(1, sizeof *f);
    if (lm == NULL || f == NULL) {
        free(lm);
        free(f);
        return s2_error_set(err, S2_E_NOMEM, "fake: out of memory");
    }
    f->p = p ? *p : fake_lm_default_params();
    if (f->p.delim == NULL) f->p.delim = "\n";
    if (f->p.alphabet < 1) f->p.alphabet = 4;
    lm->iface = &fake_iface;
    lm->ctx = f;
    *out = lm;
    return S2_OK;
}

int32_t fake_lm_live(const s2_lm *lm) {
    const fake *f = F(lm);
    int32_t n = 0;
    for (int32_t i = 0; i < f->n_seqs; i++) n += f->seqs[i].live;
    return n;
}

const char *fake_lm_first_prompt(const s2_lm *lm) {
    const fake *f = F(lm);
    return f->n_prompts > 0 ? f->prompts[0] : NULL;
}

/* ---- the toy task ---- */

typedef struct ftask {
    fake_task_params p;
    char **ids;
} ftask;

static const ftask *T(const s2_task *t) { return t->ctx; }

static int32_t ft_n_items(const s2_task *t) { return T(t)->p.n_items; }
static const char *ft_item_id(const s2_task *t, int32_t i) { return T(t)->ids[i]; }

static char *ft_prompt(const s2_task *t, int32_t i) {
    (void)t;
    char *s = NULL;
    return asprintf(&s, "Q%d:\n", i) < 0 ? NULL : s;
}

static int32_t lines(const char *text) {
    int32_t n = 0;
    for (const char *p = text; *p; p++) n += *p == '\n';
    return n;
}

static const char *answer_line(const char *text) {
    const char *a = NULL;
    for (const char *p = text; p && *p;) {
        if (strncmp(p, "A: ", 3) == 0) a = p + 3;
        p = strchr(p, '\n');
        if (p) p++;
    }
    return a;
}

static bool ft_is_terminal(const s2_task *t, int32_t i, const char *text) {
    (void)i;
    return answer_line(text) != NULL || lines(text) >= T(t)->p.depth;
}

static char *ft_extract(const s2_task *t, int32_t i, const char *text) {
    (void)i;
    const char *a = answer_line(text);
    if (a != NULL) return strndup(a, strcspn(a, "\n"));
    if (lines(text) < T(t)->p.depth) return NULL;
    char *s = malloc(strlen(text) + 1), *w = s;
    if (s == NULL) return NULL;
    for (const char *p = text; *p; p++)
        if (*p != '\n') *w++ = *p;
    *w = '\0';
    return s;
}

static void target_of(const s2_task *t, int32_t i, char *buf, size_t cap) {
    const ftask *f = T(t);
    if (f->p.target) {
        snprintf(buf, cap, "%s", f->p.target);
        return;
    }
    int32_t d = f->p.depth < (int32_t)cap - 1 ? f->p.depth : (int32_t)cap - 1;
    for (int32_t j = 0; j < d; j++) buf[j] = (char)('a' + ((i + j) % 2));
    buf[d] = '\0';
}

static s2_status ft_verify(const s2_task *t, int32_t i, const char *text, s2_verdict *out, s2_error *err) {
    (void)err;
    char target[128];
    target_of(t, i, target, sizeof target);
    out->answer = ft_extract(t, i, text);
    out->correct = out->answer != NULL && strcmp(out->answer, target) == 0;
    out->reward = out->correct;
    snprintf(out->reason, sizeof out->reason, "%s", out->answer == NULL ? "no answer" : out->correct ? "ok" : "wrong");
    return S2_OK;
}

static s2_oracle ft_oracle(const s2_task *t, int32_t i, const char *text) {
    char target[128];
    target_of(t, i, target, sizeof target);
    size_t k = 0;
    for (const char *p = text; *p; p++) {
        if (*p == '\n') continue;
        if (target[k] != *p) return S2_ORACLE_DEAD;
        k++;
    }
    return S2_ORACLE_SOLVABLE;
}

static char *ft_value_prompt(const s2_task *t, int32_t i, const char *text) {
    (void)t;
    char *s = NULL;
    return asprintf(&s, "V%d:%s", i, text) < 0 ? NULL : s;
}

static void ft_free(s2_task *t) {
    ftask *f = t->ctx;
    for (int32_t i = 0; i < f->p.n_items; i++) free(f->ids[i]);
    free(f->ids);
    free(f);
}

static const struct s2_task_i ft_iface = {
    .name = "fake",
    .summary = "toy task for search tests",
    .step_delim = "\n",
    .n_items = ft_n_items,
    .item_id = ft_item_id,
    .prompt = ft_prompt,
    .is_terminal = ft_is_terminal,
    .extract = ft_extract,
    .verify = ft_verify,
    .oracle = ft_oracle,
    .value_prompt = ft_value_prompt,
    .free = ft_free,
};

s2_status fake_task_init(const fake_task_params *p, s2_task **out, s2_error *err) {
    *out = NULL;
    ftask *f = calloc(1, sizeof *f);
    s2_task *t = calloc(1, sizeof *t);
    if (f == NULL || t == NULL) {
        free(f);
        free(t);
        return s2_error_set(err, S2_E_NOMEM, "fake task: out of memory");
    }
    f->p = *p;
    if (f->p.n_items < 1) f->p.n_items = 1;
    if (f->p.depth < 1) f->p.depth = 3;
    f->ids = calloc((size_t)f->p.n_items, sizeof *f->ids);
    for (int32_t i = 0; f->ids && i < f->p.n_items; i++)
        if (asprintf(&f->ids[i], "item-%d", i) < 0) f->ids[i] = NULL;
    t->iface = &ft_iface;
    t->ctx = f;
    *out = t;
    return S2_OK;
}
