/* sample.c: the seeded RNG (xoshiro256** seeded through splitmix64) and sampling of one token from logits:
 * greedy, temperature, top-k, top-p, min-p. The log-probability returned with a token is always that of the
 * model's own distribution (temperature 1, no truncation): search scores with it, whatever the sampler did. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sys2.h"

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void s2_rng_seed(s2_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t s2_rng_next(s2_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double s2_rng_uniform(s2_rng *r) { return (double)(s2_rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }

s2_sample_params s2_sample_default_params(void) {
    s2_sample_params p = {.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f};
    return p;
}

float s2_logsumexp(const float *logits, int32_t n) {
    float mx = -INFINITY;
    for (int32_t i = 0; i < n; i++)
        if (logits[i] > mx) mx = logits[i];
    if (mx == -INFINITY) return mx;
    double sum = 0;
    for (int32_t i = 0; i < n; i++) sum += exp((double)(logits[i] - mx));
    return mx + (float)log(sum);
}

size_t s2_sample_scratch_bytes(int32_t n) { return (size_t)n * (2 * sizeof(float) + sizeof(int32_t)); }

static int32_t argmax(const float *x, int32_t n) {
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i; /* strict: the lowest id wins ties */
    return best;
}

/* sort candidate ids by logit, descending, ties by id ascending (a total order: reproducible everywhere) */
static int cmp_desc(const void *a, const void *b, void *keys) {
    const float *sort_keys = keys;
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    if (sort_keys[i] != sort_keys[j]) return sort_keys[i] > sort_keys[j] ? -1 : 1;
    return (i > j) - (i < j);
}

/* Keeps the k best of ids[0..n) in ids[0..k), sorted. A partial selection sort would be O(nk); a heap is simpler
 * to get right as a full sort of a pre-filtered set: keep ids whose logit is at least the k-th largest. */
static int32_t keep_top_k(int32_t *ids, int32_t n, int32_t k, const float *logits, float *tmp) {
    if (k >= n) return n;
    for (int32_t i = 0; i < n; i++) tmp[i] = logits[ids[i]];
    /* quickselect the k-th largest value into tmp[k-1] */
    int32_t lo = 0, hi = n - 1, target = k - 1;
    while (lo < hi) {
        float pivot = tmp[(lo + hi) / 2];
        int32_t i = lo, j = hi;
        while (i <= j) {
            while (tmp[i] > pivot) i++;
            while (tmp[j] < pivot) j--;
            if (i <= j) {
                float t = tmp[i];
                tmp[i] = tmp[j];
                tmp[j] = t;
                i++, j--;
            }
        }
        if (target <= j) hi = j;
        else if (target >= i) lo = i;
        else break;
    }
    float kth = tmp[target];
    int32_t m = 0;
    for (int32_t i = 0; i < n; i++)
        if (logits[ids[i]] >= kth) ids[m++] = ids[i];
    qsort_r(ids, (size_t)m, sizeof *ids, cmp_desc, (void *)logits);
    return m < k ? m : k; /* ties at the k-th value: the lowest ids win */
}

int32_t s2_sample(const float *logits, int32_t n, const s2_sample_params *params, s2_rng *rng, void *scratch,
                  float *logprob) {
    s2_sample_params p = params ? *params : s2_sample_default_params();
    int32_t tok;
    if (p.temperature <= 0.0f) {
        tok = argmax(logits, n);
    } else {
        float *prob = scratch, *tmp = prob + n;
        int32_t *ids = (int32_t *)(tmp + n);
        int32_t m = n;
        for (int32_t i = 0; i < n; i++) ids[i] = i;
        bool sorted = false;
        if (p.top_k > 0 && p.top_k < n) {
            m = keep_top_k(ids, n, p.top_k, logits, tmp);
            sorted = true;
        }
        if (p.top_p < 1.0f && !sorted) {
            qsort_r(ids, (size_t)m, sizeof *ids, cmp_desc, (void *)logits);
            sorted = true;
        }
        /* probabilities at temperature T over the candidates */
        float mx = -INFINITY;
        for (int32_t i = 0; i < m; i++)
            if (logits[ids[i]] > mx) mx = logits[ids[i]];
        double sum = 0;
        for (int32_t i = 0; i < m; i++) {
            prob[i] = expf((logits[ids[i]] - mx) / p.temperature);
            sum += prob[i];
        }
        if (p.min_p > 0.0f) { /* the most likely candidate has prob 1 before normalising (its logit is mx) */
            int32_t k = 0;
            double s2 = 0;
            for (int32_t i = 0; i < m; i++)
                if (prob[i] >= p.min_p) {
                    ids[k] = ids[i];
                    prob[k] = prob[i];
                    s2 += prob[k++];
                }
            m = k, sum = s2;
        }
        if (p.top_p < 1.0f) { /* sorted descending: keep the shortest prefix whose mass reaches top_p */
            double cum = 0;
            int32_t k = 0;
            while (k < m) {
                cum += prob[k++] / sum;
                if (cum >= p.top_p) break;
            }
            sum = 0;
            for (int32_t i = 0; i < k; i++) sum += prob[i];
            m = k;
        }
        double u = s2_rng_uniform(rng) * sum, acc = 0;
        tok = ids[m - 1];
        for (int32_t i = 0; i < m; i++) {
            acc += prob[i];
            if (u < acc) {
                tok = ids[i];
                break;
            }
        }
    }
    if (logprob != NULL) *logprob = logits[tok] - s2_logsumexp(logits, n);
    return tok;
}
