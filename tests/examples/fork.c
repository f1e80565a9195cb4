/* Fork a prompt into 4 branches, sample a continuation on each (decoded together, sharing the prompt's KV
 * blocks), and print each branch's text and log-probability, then what it cost. */
#include <stdio.h>

#include "sys2.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL.gguf\n", argv[0]);
        return 2;
    }
    s2_error err = {0};
    s2_lm *lm = NULL;
    if (s2_lm_open(argv[1], NULL, &lm, &err) != S2_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    s2_lm_seq root, branch[4];
    s2_lm_gen gen[4];
    s2_lm_sample_params sp = s2_lm_sample_default_params();
    const char *stops[] = {"."};
    sp.max_tokens = 40, sp.stops = stops, sp.n_stops = 1, sp.seed = 7;
    if (s2_lm_seq_new(lm, "Once upon a time", &root, &err) != S2_OK ||
        s2_lm_sample_n(lm, root, 4, &sp, branch, gen, &err) != S2_OK) {
        fprintf(stderr, "%s\n", err.msg);
        s2_lm_free(lm);
        return 1;
    }
    for (int i = 0; i < 4; i++) {
        printf("branch %d: logprob %8.3f  %s\n", i, gen[i].logprob, gen[i].text);
        s2_lm_gen_free(&gen[i]);
        s2_lm_seq_free(lm, branch[i]);
    }
    s2_counters c;
    s2_lm_counters(lm, &c);
    printf("prompt tokens %lld, generated %lld, forward passes %lld, %.3g FLOPs\n", (long long)c.prompt_tokens,
           (long long)c.gen_tokens, (long long)c.forward_calls, c.flops);
    s2_lm_seq_free(lm, root);
    s2_lm_free(lm);
    return 0;
}
