// Reference dumper: llama.cpp's vocabulary behaviour, for hearth-tokenizer's differential
// tests (tests/data/llama.cpp/*.ref). Links against a llama.cpp build:
//
//   cmake -S llama.cpp -B build -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF
//   cmake --build build -j --target llama
//   g++ -O2 -std=c++17 -Illama.cpp/include -Illama.cpp/ggml/include llama_cpp_ref.cpp -o ref \
//       build/src/libllama.a build/ggml/src/libggml.a build/ggml/src/libggml-cpu.a \
//       build/ggml/src/libggml-base.a -lpthread -ldl -lm
//
// usage: ref VOCAB.gguf INPUTS    inputs separated by "\n@@@@\n"; prints the special ids, the
//                                 EOG set, then for each input its ids under the four
//                                 (add_special, parse_special) settings and the detokenized
//                                 text (hex) of the add_special ids with special = 0 and 1
//        ref VOCAB.gguf --pieces  token_to_piece(special = 1 and 0, hex) and attributes per id
#include "llama.h"
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

static std::vector<llama_token> tok(const llama_vocab * v, const std::string & s, bool as, bool ps) {
    std::vector<llama_token> r(s.size() * 2 + 8);
    int n = llama_tokenize(v, s.data(), s.size(), r.data(), r.size(), as, ps);
    if (n < 0) { r.resize(-n); n = llama_tokenize(v, s.data(), s.size(), r.data(), r.size(), as, ps); }
    r.resize(n);
    return r;
}
static std::string detok(const llama_vocab * v, const std::vector<llama_token> & t, bool sp) {
    std::string s(t.size() * 64 + 64, '\0');
    int n = llama_detokenize(v, t.data(), t.size(), s.data(), s.size(), false, sp);
    if (n < 0) { s.resize(-n); n = llama_detokenize(v, t.data(), t.size(), s.data(), s.size(), false, sp); }
    s.resize(n);
    return s;
}
static void hex(const std::string & s) { for (unsigned char c : s) printf("%02x", c); }

int main(int argc, char ** argv) {
    llama_log_set([](ggml_log_level, const char *, void *) {}, nullptr);
    llama_backend_init();
    auto mp = llama_model_default_params();
    mp.vocab_only = true;
    llama_model * m = llama_model_load_from_file(argv[1], mp);
    if (!m) { fprintf(stderr, "load failed\n"); return 1; }
    const llama_vocab * v = llama_model_get_vocab(m);
    int n = llama_vocab_n_tokens(v);
    if (std::string(argv[2]) == "--pieces") {
        char buf[4096];
        for (int i = 0; i < n; i++) {
            int k1 = llama_token_to_piece(v, i, buf, sizeof buf, 0, true);
            printf("%d ", i); hex(std::string(buf, k1 > 0 ? k1 : 0));
            int k2 = llama_token_to_piece(v, i, buf, sizeof buf, 0, false);
            printf(" "); hex(std::string(buf, k2 > 0 ? k2 : 0));
            printf(" %d\n", (int) llama_vocab_get_attr(v, i));
        }
        return 0;
    }
    printf("n_vocab %d\nbos %d\neos %d\neot %d\nsep %d\npad %d\nnl %d\nadd_bos %d\nadd_eos %d\n", n,
        llama_vocab_bos(v), llama_vocab_eos(v), llama_vocab_eot(v), llama_vocab_sep(v), llama_vocab_pad(v),
        llama_vocab_nl(v), (int) llama_vocab_get_add_bos(v), (int) llama_vocab_get_add_eos(v));
    printf("fim %d %d %d %d %d %d\n", llama_vocab_fim_pre(v), llama_vocab_fim_suf(v), llama_vocab_fim_mid(v),
        llama_vocab_fim_pad(v), llama_vocab_fim_rep(v), llama_vocab_fim_sep(v));
    printf("eog");
    for (int i = 0; i < n; i++) if (llama_vocab_is_eog(v, i)) printf(" %d", i);
    printf("\n");
    std::ifstream f(argv[2]);
    std::stringstream ss; ss << f.rdbuf();
    std::string all = ss.str(), sep = "\n@@@@\n";
    std::vector<std::string> inputs;
    size_t pos = 0;
    while (pos <= all.size()) {
        size_t nx = all.find(sep, pos);
        if (nx == std::string::npos) { inputs.push_back(all.substr(pos)); break; }
        inputs.push_back(all.substr(pos, nx - pos));
        pos = nx + sep.size();
    }
    for (size_t i = 0; i < inputs.size(); i++) {
        for (int as = 0; as < 2; as++) for (int ps = 0; ps < 2; ps++) {
            auto t = tok(v, inputs[i], as, ps);
            printf("tok %zu %d %d:", i, as, ps);
            for (auto x : t) printf(" %d", x);
            printf("\n");
            if (as == 1) {
                printf("det %zu %d 0 ", i, ps); hex(detok(v, t, false)); printf("\n");
                printf("det %zu %d 1 ", i, ps); hex(detok(v, t, true)); printf("\n");
            }
        }
    }
    return 0;
}
