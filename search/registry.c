/* registry.c: strategy name -> constructor, from key=value parameters. Every default is documented here with
 * the paper it comes from; `sys2 strategies` prints this table. */
#include <stddef.h>
#include <string.h>

#include "search.h"

#define INT(st, f, d, lo, hi, doc) {#f, S2_PARAM_INT, offsetof(st, f), d, lo, hi, NULL, doc}
#define FLT(st, f, d, lo, hi, doc) {#f, S2_PARAM_FLOAT, offsetof(st, f), d, lo, hi, NULL, doc}
#define ENUM(st, f, d, ch, doc) {#f, S2_PARAM_ENUM, offsetof(st, f), d, 0, 0, ch, doc}

static const s2_param_def cot_defs[] = {
    FLT(s2_cot_params, temperature, 0.7, 0, 10, "sampling temperature (ToT's CoT baseline: 0.7)"),
};
static const s2_param_def sc_defs[] = {
    INT(s2_sc_params, n, 100, 1, 100000, "chains sampled (ToT's CoT-SC on Game of 24: k = 100)"),
    ENUM(s2_sc_params, vote, 0, "majority|weighted", "majority (Wang et al. 2022) or weighted by the scorer"),
    ENUM(s2_sc_params, tie, 0, S2_TIE_CHOICES, "tie-break: the answer sampled first, or the lowest string"),
    FLT(s2_sc_params, temperature, 0.7, 0, 10, "sampling temperature (ToT: 0.7)"),
};
static const s2_param_def bon_defs[] = {
    INT(s2_bon_params, n, 100, 1, 100000, "candidates (Cobbe et al. 2021 rerank 100 samples)"),
    ENUM(s2_bon_params, select, 0, "best|weighted", "the best single score, or the answer whose candidates' scores "
         "sum highest (weighted best-of-N, Hugging Face search-and-learn, Beeching et al. 2024)"),
    FLT(s2_bon_params, temperature, 0.7, 0, 10, "sampling temperature"),
};
static const s2_param_def beam_defs[] = {
    INT(s2_beam_params, width, 4, 1, 4096, "beams kept (Snell et al. 2024 beam search: M = 4)"),
    INT(s2_beam_params, expand, 4, 1, 4096, "children per beam: sampled steps, or top tokens in token mode"),
    ENUM(s2_beam_params, mode, 0, "step|token", "step-level beam on the scorer, or token-level beam on log-probs"),
    INT(s2_beam_params, max_tokens, 256, 1, 1000000, "token mode: tokens per answer at most"),
    FLT(s2_beam_params, alpha, 0.6, 0, 10, "token mode: length penalty ((5 + len) / 6)^alpha (Wu et al. 2016: 0.6)"),
};
static const s2_param_def tot_bfs_defs[] = {
    INT(s2_tot_bfs_params, b, 5, 1, 4096, "states kept per level (ToT Game of 24: b = 5; b = 1 is its ablation)"),
    INT(s2_tot_bfs_params, k, 16, 1, 4096, "thoughts sampled per state (ToT's propose prompt lists about 8 distinct "
        "steps; our samples repeat, and on game24's dev split 16 solved 75% to 8's 68%: results/game24_dev)"),
    INT(s2_tot_bfs_params, steps, 0, 0, 10000, "levels (ToT Game of 24: 4 = 3 operations + the answer); 0 = to the end"),
    INT(s2_tot_bfs_params, retries, 0, 0, 16, "rounds of sampling again for a state left with fewer than k "
        "distinct legal thoughts (ToT's propose prompt lists distinct steps); 0 = k samples, duplicates merged"),
};
static const s2_param_def tot_dfs_defs[] = {
    INT(s2_tot_dfs_params, k, 5, 1, 4096, "thoughts sampled per state (ToT crosswords: 5 candidates)"),
    INT(s2_tot_dfs_params, max_visits, 100, 1, 1000000, "states expanded at most (ToT crosswords: 100 steps)"),
    FLT(s2_tot_dfs_params, threshold, 0.5, -1e9, 1e9, "prune states scored below this; accept a final state at or above it"),
};
static const s2_param_def mcts_defs[] = {
    INT(s2_mcts_params, iters, 32, 1, 1000000, "iterations (rStar, Qi et al. 2024: 32 rollouts)"),
    INT(s2_mcts_params, expand, 4, 1, 4096, "children made at a node's first expansion"),
    ENUM(s2_mcts_params, eval, 0, "scorer|rollout", "leaf value: the scorer, or the scorer on a sampled rollout's end"),
    ENUM(s2_mcts_params, answer, 0, "visits|value|vote", "most visited path, best mean value, or a visit-weighted vote"),
    FLT(s2_mcts_params, c_puct, 1.25, 0, 1e6, "PUCT exploration constant (MuZero, Schrittwieser et al. 2020: 1.25)"),
    FLT(s2_mcts_params, pw_c, 1.0, 0, 1e6, "progressive widening: children allowed ceil(pw_c * N^pw_alpha); 0 = off"),
    FLT(s2_mcts_params, pw_alpha, 0.5, 0, 1, "progressive widening exponent (Couetoux et al. 2011: 0.5)"),
    FLT(s2_mcts_params, prior_temp, 1.0, 1e-6, 1e6, "priors: softmax of per-token log-prob / prior_temp"),
    ENUM(s2_mcts_params, root, 0, "puct|gumbel", "root selection: PUCT, or Gumbel-top-k + sequential halving "
         "(Danihelka et al. 2022)"),
    INT(s2_mcts_params, m, 16, 1, 4096, "root=gumbel: actions considered at the root (Danihelka et al. 2022, Go: 16)"),
    FLT(s2_mcts_params, c_visit, 50, 0, 1e9, "root=gumbel: sigma's c_visit (Danihelka et al. 2022: 50)"),
    FLT(s2_mcts_params, c_scale, 1.0, 0, 1e9, "root=gumbel: sigma's c_scale (Danihelka et al. 2022: 1.0)"),
};
static const s2_param_def dvts_defs[] = {
    INT(s2_dvts_params, n, 16, 1, 100000, "beams in all (search-and-learn's n; subtrees = n / width)"),
    INT(s2_dvts_params, width, 4, 1, 4096, "beams per subtree (search-and-learn: beam_width M = 4)"),
    INT(s2_dvts_params, expand, 4, 1, 4096, "steps sampled per beam (search-and-learn: M = 4)"),
};
static const s2_param_def particle_defs[] = {
    INT(s2_particle_params, n, 16, 1, 100000, "particles (ours: 16)"),
    ENUM(s2_particle_params, resample, 0, "multinomial|systematic", "resampling scheme (Puri et al.: multinomial)"),
    FLT(s2_particle_params, temp, 1.0, 1e-6, 1e6, "softmax temperature of the step rewards (ours: 1)"),
    FLT(s2_particle_params, ess, 1.0, 0, 1, "resample when ESS < ess * n (1: every step, as Puri et al.; 0.5: "
        "the usual SMC rule, Doucet & Johansen 2009)"),
};
static const s2_param_def rebase_defs[] = {
    INT(s2_rebase_params, n, 16, 1, 100000, "width budget: expansions per level, less finished solutions (Wu et al. "
        "2024 sweep 8..256)"),
    FLT(s2_rebase_params, temp, 0.2, 1e-6, 1e6, "balance temperature of the reward softmax (ours: 0.2; REBASE's "
        "T_b)"),
};
static const s2_param_def best_first_defs[] = {
    INT(s2_best_first_params, k, 4, 1, 4096, "children per expansion"),
    INT(s2_best_first_params, max_expansions, 64, 1, 1000000, "states expanded at most"),
};

typedef struct entry {
    const char *name, *summary, *source;
    const s2_param_def *defs;
    int32_t n_defs;
} entry;

#define DEFS(a) a, (int32_t)(sizeof a / sizeof a[0])
static const entry entries[] = {
    {"io", "one greedy answer", "ToT (Yao et al. 2023) IO baseline", NULL, 0},
    {"cot", "one sampled chain of thought", "Wei et al. 2022; ToT's CoT baseline", DEFS(cot_defs)},
    {"sc", "self-consistency: n chains, majority or weighted vote", "Wang et al. 2022 (ToT's CoT-SC, k = 100)",
     DEFS(sc_defs)},
    {"bon", "best-of-N by the scorer (tournament with pairwise), best or weighted", "Cobbe et al. 2021; weighted: "
     "Hugging Face search-and-learn (Beeching et al. 2024)", DEFS(bon_defs)},
    {"beam", "beam search over steps (scorer) or tokens (length penalty)", "Xie et al. 2023; Snell et al. 2024; Wu et al. 2016",
     DEFS(beam_defs)},
    {"tot-bfs", "Tree of Thoughts breadth first: k thoughts per state, keep the best b", "Yao et al. 2023 (Game of 24)",
     DEFS(tot_bfs_defs)},
    {"tot-dfs", "Tree of Thoughts depth first: value threshold, backtracking", "Yao et al. 2023 (crosswords)",
     DEFS(tot_dfs_defs)},
    {"mcts", "MCTS: PUCT, log-prob priors, progressive widening", "Silver et al. 2017; Schrittwieser et al. 2020",
     DEFS(mcts_defs)},
    {"best-first", "best-first search: a priority queue on the scorer", "greedy best-first (Koh et al. 2024)",
     DEFS(best_first_defs)},
    {"dvts", "diverse verifier tree search: n / width independent beam searches", "Beeching et al. 2024 "
     "(Hugging Face search-and-learn)", DEFS(dvts_defs)},
    {"particle", "particle filtering over steps: softmax weights, resampling by ESS, weighted vote",
     "Puri et al. 2025; Doucet & Johansen 2009", DEFS(particle_defs)},
    {"rebase", "reward-balanced search: expansions per state by softmax of rewards over the frontier",
     "Wu et al. 2024 (REBASE)", DEFS(rebase_defs)},
};
#define N_ENTRIES ((int32_t)(sizeof entries / sizeof entries[0]))

/* The index of name in entries, or -1. */
static int32_t find(const char *name) {
    for (int32_t i = 0; i < N_ENTRIES; i++)
        if (strcmp(entries[i].name, name) == 0) return i;
    return -1;
}

int32_t s2_strategy_count(void) { return N_ENTRIES; }
const char *s2_strategy_name_at(int32_t i) { return i >= 0 && i < N_ENTRIES ? entries[i].name : NULL; }
const char *s2_strategy_summary_at(int32_t i) { return i >= 0 && i < N_ENTRIES ? entries[i].summary : NULL; }
const char *s2_strategy_source_at(int32_t i) { return i >= 0 && i < N_ENTRIES ? entries[i].source : NULL; }
const s2_param_def *s2_strategy_params_at(int32_t i, int32_t *n) {
    *n = i >= 0 && i < N_ENTRIES ? entries[i].n_defs : 0;
    return i >= 0 && i < N_ENTRIES ? entries[i].defs : NULL;
}

const void *s2_strategy_params(const s2_strategy *s, const s2_param_def **defs, int32_t *n) {
    *defs = s2_strategy_params_at(find(s->iface->name), n);
    return s->ctx;
}

s2_status s2_strategy_create(const char *name, const char *const *keys, const char *const *vals, int32_t n,
                             bool *used, s2_strategy **out, s2_error *err) {
    *out = NULL;
    int32_t e = find(name);
    if (e < 0) return s2_error_set(err, S2_E_ARG, "unknown strategy '%s' (see sys2 strategies)", name);
    union {
        s2_io_params io;
        s2_cot_params cot;
        s2_sc_params sc;
        s2_bon_params bon;
        s2_beam_params beam;
        s2_tot_bfs_params bfs;
        s2_tot_dfs_params dfs;
        s2_mcts_params mcts;
        s2_best_first_params bf;
        s2_dvts_params dvts;
        s2_particle_params pf;
        s2_rebase_params rb;
    } p;
    s2_status st = s2_params_parse(entries[e].defs, entries[e].n_defs, &p, sizeof p, "strategy", name, keys, vals, n,
                                   used, err);
    if (st != S2_OK) return st;
    switch (e) {
    case 0: return s2_strategy_io_init(&p.io, out, err);
    case 1: return s2_strategy_cot_init(&p.cot, out, err);
    case 2: return s2_strategy_sc_init(&p.sc, out, err);
    case 3: return s2_strategy_bon_init(&p.bon, out, err);
    case 4: return s2_strategy_beam_init(&p.beam, out, err);
    case 5: return s2_strategy_tot_bfs_init(&p.bfs, out, err);
    case 6: return s2_strategy_tot_dfs_init(&p.dfs, out, err);
    case 7: return s2_strategy_mcts_init(&p.mcts, out, err);
    case 8: return s2_strategy_best_first_init(&p.bf, out, err);
    case 9: return s2_strategy_dvts_init(&p.dvts, out, err);
    case 10: return s2_strategy_particle_init(&p.pf, out, err);
    default: return s2_strategy_rebase_init(&p.rb, out, err);
    }
}
