/* numgame.h: the engine the number games share (game24, countdown): a state is a multiset of exact rationals;
 * a step combines two of them with + - * /; the game is won when one number is left and it equals the target.
 * It parses and checks step lines and the final "Answer:" expression, solves states exhaustively, enumerates
 * solution paths and writes them as a model would. Internal to tasks/ (and the tests).
 *
 * Text format (the step delimiter is "\n"):
 *     13 - 9 = 4 (left: 4 4 10)              a step: operand op operand = result (left: the numbers left,
 *                                            ascending); operands and results may be "-2" or "8/3"
 *     Answer: (13 - 9) * (10 - 4) = 24       the final line: an expression over the input numbers
 * Rules: every input number is used exactly once; division by zero is invalid; with pos_int (countdown, as in
 * Stream of Search) every intermediate result must be a positive integer, else any rational is allowed. */
#ifndef S2_NUMGAME_H
#define S2_NUMGAME_H

#include <stdbool.h>
#include <stdint.h>

#include "rational.h"
#include "task_impl.h"

#define S2_NG_MAX 8       /* most numbers in a state */
#define S2_NG_EXPR 192    /* longest reconstructed expression */

typedef struct s2_ng_rules {
    s2_rat target;
    bool pos_int;         /* every result must be a positive integer (countdown) */
} s2_ng_rules;

typedef struct s2_ng_state {
    int n;
    s2_rat v[S2_NG_MAX];
} s2_ng_state;

typedef struct s2_ng_step {
    s2_rat a, b, c;       /* a op b = c, written in this order */
    char op;
} s2_ng_step;

typedef struct s2_ng_path {
    int n;
    s2_ng_step s[S2_NG_MAX];
} s2_ng_path;

/* What the steps of a text say. */
typedef struct s2_ng_parsed {
    s2_ng_state state;           /* the numbers left after the valid steps */
    int n_steps;                 /* step lines seen before the answer (valid or not) */
    bool bad;                    /* a step line is invalid; reason says which and why */
    char reason[200];
    bool has_answer;             /* an "Answer:" line was found (the first one counts) */
    char answer[256];            /* its content after "Answer:", trimmed (truncated when longer) */
    char expr[S2_NG_MAX][S2_NG_EXPR]; /* each number left as an expression over the inputs */
    int prec[S2_NG_MAX];         /* that expression's precedence: 1 (+ -), 2 (* /), 3 (a number) */
} s2_ng_parsed;

/* The state with n integers (sorted ascending). */
void s2_ng_state_ints(s2_ng_state *s, const int64_t *v, int n);
void s2_ng_state_sort(s2_ng_state *s);
/* Appends the numbers of s, ascending, separated by spaces. */
void s2_ng_write_numbers(s2_buf *b, const s2_ng_state *s);

/* True when every step line of text is valid (numbers available, arithmetic and "left" list right). */
bool s2_ng_legal(const s2_ng_rules *r, const s2_ng_state *start, const char *text);
/* Parses the steps of text from start (see the format above) into *out. */
void s2_ng_parse(const s2_ng_rules *r, const s2_ng_state *start, const char *text, s2_ng_parsed *out);
/* Evaluates an answer expression "EXPR" or "EXPR = RHS" (len bytes of s). On success *value is EXPR's value,
 * leaves[0..*n_leaves) the numbers it uses, *rhs / *has_rhs the right side. false with reason otherwise
 * ("bad syntax: ...", "division by zero", "number too large", "2 - 5 = -3 is not a positive integer"). */
bool s2_ng_eval(const char *s, size_t len, bool pos_int, s2_rat *value, s2_rat *leaves, int *n_leaves, int cap,
                s2_rat *rhs, bool *has_rhs, char *reason, size_t rcap);
/* The verdict for text: steps valid and either an Answer line that uses each input once and equals the target,
 * or (no Answer line) steps that end in the target alone. out->answer gets the answer text (malloc'd). */
void s2_ng_verify(const s2_ng_rules *r, const s2_ng_state *start, const char *text, s2_verdict *out);
/* DEAD when a step is invalid, the answer is wrong, or the numbers left cannot reach the target. */
s2_oracle s2_ng_oracle(const s2_ng_rules *r, const s2_ng_state *start, const char *text);

/* Exhaustive exact search: can s reach the target under r? */
bool s2_ng_solvable(const s2_ng_rules *r, const s2_ng_state *s);
/* A uniformly random solution path (over distinct step sequences); false when there is none. */
bool s2_ng_random_path(const s2_ng_rules *r, const s2_ng_state *start, uint64_t *rng, s2_ng_path *out);
/* A deterministic solution, preferring one whose intermediate results are all non-negative integers. */
bool s2_ng_first_path(const s2_ng_rules *r, const s2_ng_state *start, s2_ng_path *out);
/* A random solution by descent: at each step a uniformly random move among those that stay solvable (not
 * uniform over paths, but cheap for many numbers); false when start is unsolvable. */
bool s2_ng_random_descent(const s2_ng_rules *r, const s2_ng_state *start, uint64_t *rng, s2_ng_path *out);
/* k random valid steps from start (fewer when the state runs out of numbers). */
void s2_ng_random_steps(const s2_ng_rules *r, const s2_ng_state *start, int k, uint64_t *rng, s2_ng_path *out);
/* A policy training example from start (for gen_example): with probability 1/2, j random valid steps (1 to n - 2)
 * are appended to prompt; then completion gets a uniformly random solution path from the state reached, with its
 * Answer line, when that state can still reach the target, else random valid steps to the end (no Answer line). So
 * the policy learns correct bookkeeping from dead states too, not only the steps of solutions. */
void s2_ng_policy_example(const s2_ng_rules *r, const s2_ng_state *start, uint64_t *rng, s2_buf *prompt,
                          s2_buf *completion);
/* A rules-only policy example from start (for gen_example with S2_ROLE_LEGAL): completion gets random valid steps
 * until one number is left, drawn without regard to reaching the target (the solver is not used), and the Answer
 * line only when the last number happens to be the target. The policy learns the moves, not how to win. */
void s2_ng_legal_example(const s2_ng_rules *r, const s2_ng_state *start, uint64_t *rng, s2_buf *completion);
/* Appends the path's step lines (each "a op b = c (left: ...)\n"); with answer and a complete path, then
 * "Answer: EXPR = TARGET\n". *end (may be NULL) gets the state after the path. */
void s2_ng_write_path(s2_buf *b, const s2_ng_rules *r, const s2_ng_state *start, const s2_ng_path *p, bool answer,
                      s2_ng_state *end);
/* The expression of a complete path over the inputs ("(13 - 9) * (10 - 4)") into buf. */
void s2_ng_path_expr(const s2_ng_state *start, const s2_ng_path *p, char *buf, size_t cap);

/* Terminal: an Answer line, or n - 1 step lines (nothing is left to combine). */
bool s2_ng_is_terminal(const s2_ng_rules *r, const s2_ng_state *start, const char *text);
/* The Answer line's content, or (no Answer line) the expression the valid steps built when they end with one
 * number ("(13 - 9) * (10 - 4) = 24"); NULL otherwise. malloc'd. */
char *s2_ng_extract(const s2_ng_rules *r, const s2_ng_state *start, const char *text);
/* "Value: 4 4 10" + suffix + "\n": the numbers left after the valid steps; after an invalid step, the numbers
 * the last step claims are left (as the model wrote them), so that the value model judges what the policy
 * believes. malloc'd. */
char *s2_ng_value_prompt(const s2_ng_rules *r, const s2_ng_state *start, const char *text, const char *suffix);
/* Wrong answer texts for check-task (each malloc'd, at most cap): a number used twice, one missing, a number
 * not given (target - 0.001), a claim that is not the target, an operator changed, a division by zero, bad
 * syntax, a wrong step result, a wrong "left" list, a step and no answer. Returns the count. */
int32_t s2_ng_wrong_answers(const s2_ng_rules *r, const s2_ng_state *start, char **out, int32_t cap);

#endif
