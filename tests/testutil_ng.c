/* testutil_ng.c: see testutil_ng.h. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "testutil_ng.h"

void t_ng_input(const char *prompt, bool pos_int, s2_ng_rules *r, s2_ng_state *s) {
    const char *p = NULL;
    for (const char *q = prompt; (q = strstr(q, "Input:")) != NULL; q += 6) p = q;
    ck_assert_ptr_nonnull(p);
    p += 6;
    int64_t v[S2_NG_MAX];
    int n = 0;
    long long target = 24;
    for (;;) {
        char *e;
        while (*p == ' ') p++;
        if (strncmp(p, "Target:", 7) == 0) {
            target = strtoll(p + 7, &e, 10);
            break;
        }
        long long x = strtoll(p, &e, 10);
        if (e == p) break;
        ck_assert_int_lt(n, S2_NG_MAX);
        v[n++] = x;
        p = e;
    }
    ck_assert_int_ge(n, 2);
    s2_ng_state_ints(s, v, n);
    r->target = s2_rat_int(target);
    r->pos_int = pos_int;
}
