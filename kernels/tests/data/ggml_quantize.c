// Reference weight quantization with llama.cpp's own C code (ggml-quants.c), for
// make_expected.py. Reads n f32 from stdin, writes the blocks of `type` to stdout.
//   gcc -O2 -ffp-contract=off -I$LLAMA/ggml/include -I$LLAMA/ggml/src \
//       ggml_quantize.c $LLAMA/ggml/src/ggml-quants.c -lm -o ggml_quantize
//   ./ggml_quantize q4_K 2048 < weights.f32 > weights.q4_K
// -ffp-contract=off keeps C's operation order (no fused multiply-add), as hearth's
// quantizers and gguf-py do.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml-common.h"
#include "ggml-quants.h"

// ggml-quants.c references these; the reference quantizers never call them.
void ggml_abort(const char * file, int line, const char * fmt, ...) { (void) fmt; fprintf(stderr, "abort %s:%d\n", file, line); abort(); }
size_t ggml_row_size(enum ggml_type type, int64_t ne) { (void) type; (void) ne; abort(); }
size_t ggml_type_size(enum ggml_type type) { (void) type; abort(); }
const char * ggml_type_name(enum ggml_type type) { (void) type; abort(); }

int main(int argc, char ** argv) {
    if (argc != 3) return 2;
    const int n = atoi(argv[2]);
    float * x = malloc(n * sizeof(float));
    void * y = malloc(n * 2);
    if (fread(x, sizeof(float), n, stdin) != (size_t) n) return 1;
    const char * t = argv[1];
    size_t size;
#define Q(name, block, qk) else if (!strcmp(t, #name)) { quantize_row_##name##_ref(x, y, n); size = n / (qk) * sizeof(block); }
    if (0) {}
    Q(q4_0, block_q4_0, 32) Q(q4_1, block_q4_1, 32) Q(q5_0, block_q5_0, 32) Q(q5_1, block_q5_1, 32)
    Q(q2_K, block_q2_K, 256) Q(q3_K, block_q3_K, 256) Q(q4_K, block_q4_K, 256) Q(q5_K, block_q5_K, 256)
    Q(q6_K, block_q6_K, 256)
    else return 3;
    fwrite(y, 1, size, stdout);
    return 0;
}
