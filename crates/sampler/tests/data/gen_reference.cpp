// Reference token sequences from llama.cpp's own sampler chain (src/llama-sampler.cpp),
// for tests/it/llama_cpp_parity.rs. Build and run with gen_reference.sh.
//
// Each scenario builds the chain common/sampling.cpp builds (logit_bias, penalties, top_k,
// top_p, min_p, temp_ext, dist), feeds it synthetic logits and records the selected tokens,
// accepting each one. The logits are a function of (scenario salt, step, token id) that the
// Rust test computes bit for bit: see `logit` below.
#include "llama.h"
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

static uint32_t mix(uint32_t x) {
    x ^= x >> 16; x *= 0x7feb352du; x ^= x >> 15; x *= 0x846ca68bu; x ^= x >> 16;
    return x;
}

// Distinct for distinct ids (< 8192): 11 hashed bits above the 13-bit id, scaled by 2^-20
// (exact), in [-8, 8); one token in 64 boosted by 4 (also exact).
static float logit(uint32_t salt, uint32_t step, uint32_t id, bool vary) {
    const uint32_t h = mix(id ^ mix(salt * 0x9e3779b9u + (vary ? step : 0u)));
    float v = (float) (((h >> 21) << 13) | id) * (1.0f / 1048576.0f) - 8.0f;
    if ((h & 63u) == 0) v += 4.0f;
    return v;
}

struct Scenario {
    const char * name;
    int n_vocab;
    bool vary;                // logits change with the step
    float temp; int top_k; float top_p; float min_p;
    int last_n; float repeat; float freq; float present;
    uint32_t seed;
    std::vector<llama_logit_bias> bias;
    int steps;
};

int main() {
    const float NEG_INF = -INFINITY;
    std::vector<Scenario> sc = {
        {"defaults",               1000, true,  0.8f, 40, 0.95f, 0.05f,  64, 1.0f, 0.0f, 0.0f,   42, {}, 64},
        {"hot_wide",               1000, true,  1.7f, 40, 0.95f, 0.05f,  64, 1.0f, 0.0f, 0.0f,    7, {}, 64},
        {"top_p_only_large_vocab", 5000, true,  1.0f,  0, 0.90f, 0.00f,  64, 1.0f, 0.0f, 0.0f,  123, {}, 48},
        {"min_p_only",             3000, true,  1.2f,  0, 1.00f, 0.02f,  64, 1.0f, 0.0f, 0.0f,  999, {}, 48},
        {"pure_dist",               600, true,  1.5f,  0, 1.00f, 0.00f,  64, 1.0f, 0.0f, 0.0f,    1, {}, 48},
        {"top_k_200_top_p",        4000, true,  1.3f, 200, 0.80f, 0.00f, 64, 1.0f, 0.0f, 0.0f, 2024, {}, 48},
        {"top_k_over_vocab",        300, true,  1.1f, 310, 0.97f, 0.00f, 64, 1.0f, 0.0f, 0.0f,   77, {}, 48},
        {"penalties",               500, false, 0.7f, 20, 0.95f, 0.05f,   8, 1.3f, 0.5f, 0.7f,    5, {}, 64},
        {"penalties_unbounded",     500, false, 0.9f, 10, 1.00f, 0.00f, 1000, 1.0f, 0.4f, 0.0f,  11, {}, 64},
        {"greedy_with_penalties",   500, false, 0.0f, 40, 0.95f, 0.05f,  16, 1.5f, 0.0f, 1.0f,    3, {}, 40},
        {"logit_bias",              800, true,  1.0f, 40, 0.95f, 0.00f,  64, 1.0f, 0.0f, 0.0f,   31,
            {{0, 4.0f}, {5, NEG_INF}, {17, 5.5f}, {17, -1.5f}, {400, 3.0f}}, 48},
    };
    printf("{\n \"scenarios\": [\n");
    for (size_t s = 0; s < sc.size(); s++) {
        const Scenario & c = sc[s];
        llama_sampler_chain_params cp{};
        cp.no_perf = true;
        llama_sampler * ch = llama_sampler_chain_init(cp);
        if (!c.bias.empty()) {
            llama_sampler_chain_add(ch, llama_sampler_init_logit_bias(c.n_vocab, (int32_t) c.bias.size(), c.bias.data()));
        }
        llama_sampler_chain_add(ch, llama_sampler_init_penalties(c.n_vocab, c.last_n, c.repeat, c.freq, c.present));
        llama_sampler_chain_add(ch, llama_sampler_init_top_k(c.top_k));
        llama_sampler_chain_add(ch, llama_sampler_init_top_p(c.top_p, 0));
        llama_sampler_chain_add(ch, llama_sampler_init_min_p(c.min_p, 0));
        llama_sampler_chain_add(ch, llama_sampler_init_temp_ext(c.temp, 0.0f, 1.0f));
        llama_sampler_chain_add(ch, llama_sampler_init_dist(c.seed));

        printf("  {\"name\": \"%s\", \"n_vocab\": %d, \"salt\": %zu, \"vary\": %s, \"temperature\": %.9g, "
               "\"top_k\": %d, \"top_p\": %.9g, \"min_p\": %.9g, \"penalty_last_n\": %d, "
               "\"repetition_penalty\": %.9g, \"frequency_penalty\": %.9g, \"presence_penalty\": %.9g, "
               "\"seed\": %u, \"logit_bias\": [",
               c.name, c.n_vocab, s, c.vary ? "true" : "false", c.temp, c.top_k, c.top_p, c.min_p,
               c.last_n, c.repeat, c.freq, c.present, c.seed);
        for (size_t b = 0; b < c.bias.size(); b++) {
            if (std::isinf(c.bias[b].bias)) {
                printf("%s[%d, \"-inf\"]", b ? ", " : "", c.bias[b].token);
            } else {
                printf("%s[%d, %.9g]", b ? ", " : "", c.bias[b].token, c.bias[b].bias);
            }
        }
        printf("],\n   \"tokens\": [");
        for (int step = 0; step < c.steps; step++) {
            std::vector<llama_token_data> d(c.n_vocab);
            for (int i = 0; i < c.n_vocab; i++) {
                d[i] = {i, logit((uint32_t) s, (uint32_t) step, (uint32_t) i, c.vary), 0.0f};
            }
            llama_token_data_array arr{d.data(), d.size(), -1, false};
            llama_sampler_apply(ch, &arr);
            const llama_token tok = arr.data[arr.selected].id;
            llama_sampler_accept(ch, tok);
            printf("%s%d", step ? ", " : "", tok);
        }
        printf("]}%s\n", s + 1 < sc.size() ? "," : "");
        llama_sampler_free(ch);
    }
    printf(" ]\n}\n");
}
