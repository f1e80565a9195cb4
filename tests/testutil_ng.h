/* testutil_ng.h: the number games' start state from a prompt, for the suites that judge generated steps. */
#ifndef S2_TESTUTIL_NG_H
#define S2_TESTUTIL_NG_H

#include "numgame.h"

/* The numbers and target of the last "Input: a b c d[ Target: T]" line of prompt (target 24 when absent), with
 * pos_int as the rules (countdown). Fails the test on an unreadable prompt. */
void t_ng_input(const char *prompt, bool pos_int, s2_ng_rules *r, s2_ng_state *s);

#endif
