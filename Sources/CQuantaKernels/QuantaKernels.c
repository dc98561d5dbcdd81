// Integer dot-product kernels for the packed weight layout (docs/packed-weights.md).
//
// Provenance: the int4 × int8 block dot product follows ggml-quants (llama.cpp,
// `ggml_vec_dot_q4_0_q8_0`, AVX2 path): nibbles widened to bytes with a mask and a shift,
// `_mm256_maddubs_epi16` (unsigned codes × signed activations → pairs of int16),
// `_mm256_madd_epi16` with ones (→ int32), then one float multiply-add per block of 32 by
// the activation block's scale. Differences: our codes are unsigned with an integer zero
// point per group of `group_size` (handled by the precomputed `group_correction`), and
// the activation blocks are deinterleaved to match our nibble order.
//
// Written in C because Swift SIMD cannot express it at speed: its widening conversions of
// 16- and 32-lane integer vectors compile to outlined calls and LLVM does not form
// `vpmaddubsw`/`vpmaddwd` from Swift's lane-wise multiply and add (checked with
// `swiftc -O -target-cpu haswell -emit-assembly`, Swift 6.3).

#include "QuantaKernels.h"

#include <immintrin.h>

__attribute__((target("avx2,fma,f16c")))
static inline float horizontal_sum(__m256 v) {
    __m128 low = _mm256_castps256_ps128(v);
    __m128 high = _mm256_extractf128_ps(v, 1);
    low = _mm_add_ps(low, high);
    low = _mm_add_ps(low, _mm_movehl_ps(low, low));
    low = _mm_add_ss(low, _mm_movehdup_ps(low));
    return _mm_cvtss_f32(low);
}

__attribute__((target("avx2,fma,f16c")))
void quanta_gemv_int4_q8(
    const uint8_t *codes, size_t row_bytes, const uint16_t *scales, const uint8_t *zeros, size_t zero_bytes,
    int input_count, int group_size, const int8_t *xq, const float *xscale, const float *group_correction,
    float *y, int row_begin, int row_end) {
    const int groups = (input_count + group_size - 1) / group_size;
    const int blocks_per_group = group_size / 32;
    const int blocks = input_count / 32;
    const __m128i low_mask = _mm_set1_epi8(0x0F);
    const __m256i ones = _mm256_set1_epi16(1);
    for (int r = row_begin; r < row_end; r++) {
        const uint8_t *row = codes + (size_t)r * row_bytes;
        const uint16_t *row_scales = scales + (size_t)r * (size_t)groups;
        const uint8_t *row_zeros = zeros + (size_t)r * zero_bytes;
        __m256 total = _mm256_setzero_ps();
        float correction = 0.0f;
        for (int g = 0; g < groups; g++) {
            const int first = g * blocks_per_group;
            const int last = first + blocks_per_group < blocks ? first + blocks_per_group : blocks;
            __m256 accumulator = _mm256_setzero_ps();
            for (int b = first; b < last; b++) {
                const __m128i packed = _mm_loadu_si128((const __m128i *)(row + (size_t)b * 16));
                const __m128i even = _mm_and_si128(packed, low_mask);
                const __m128i odd = _mm_and_si128(_mm_srli_epi16(packed, 4), low_mask);
                const __m256i code = _mm256_set_m128i(odd, even);
                const __m256i activation = _mm256_loadu_si256((const __m256i *)(xq + (size_t)b * 32));
                const __m256i pairs = _mm256_maddubs_epi16(code, activation);
                const __m256i sums = _mm256_madd_epi16(pairs, ones);
                accumulator = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_set1_ps(xscale[b]), accumulator);
            }
            const float scale = _cvtsh_ss(row_scales[g]);
            const int zero = (row_zeros[g >> 1] >> ((g & 1) * 4)) & 0x0F;
            total = _mm256_fmadd_ps(accumulator, _mm256_set1_ps(scale), total);
            correction += scale * (float)zero * group_correction[g];
        }
        y[r] = horizontal_sum(total) - correction;
    }
}

// int8 weights × int8 activations: ggml's Q8_0 × Q8_0 dot product (`ggml_vec_dot_q8_0_q8_0`,
// AVX2: `_mm256_sign_epi8` moves the weight's sign onto the activation so that
// `_mm256_maddubs_epi16` sees |w| unsigned), on codes recentred by 128.
__attribute__((target("avx2,fma,f16c")))
void quanta_gemv_int8_q8(
    const uint8_t *codes, size_t row_bytes, const uint16_t *scales, const uint8_t *zeros, size_t zero_bytes,
    int input_count, int group_size, const int8_t *xq, const float *xscale, const float *group_correction,
    float *y, int row_begin, int row_end) {
    const int groups = (input_count + group_size - 1) / group_size;
    const int blocks_per_group = group_size / 32;
    const int blocks = input_count / 32;
    const __m256i bias = _mm256_set1_epi8((char)0x80);
    const __m256i ones = _mm256_set1_epi16(1);
    for (int r = row_begin; r < row_end; r++) {
        const uint8_t *row = codes + (size_t)r * row_bytes;
        const uint16_t *row_scales = scales + (size_t)r * (size_t)groups;
        const uint8_t *row_zeros = zeros + (size_t)r * zero_bytes;
        __m256 total = _mm256_setzero_ps();
        float correction = 0.0f;
        for (int g = 0; g < groups; g++) {
            const int first = g * blocks_per_group;
            const int last = first + blocks_per_group < blocks ? first + blocks_per_group : blocks;
            __m256 accumulator = _mm256_setzero_ps();
            for (int b = first; b < last; b++) {
                const __m256i weight = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(row + (size_t)b * 32)), bias);
                const __m256i activation = _mm256_loadu_si256((const __m256i *)(xq + (size_t)b * 32));
                const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(weight, weight), _mm256_sign_epi8(activation, weight));
                const __m256i sums = _mm256_madd_epi16(pairs, ones);
                accumulator = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_set1_ps(xscale[b]), accumulator);
            }
            const float scale = _cvtsh_ss(row_scales[g]);
            total = _mm256_fmadd_ps(accumulator, _mm256_set1_ps(scale), total);
            correction += scale * (float)((int)row_zeros[g] - 128) * group_correction[g];
        }
        y[r] = horizontal_sum(total) - correction;
    }
}

// Multi-row version: the weight block is prepared once (nibbles widened, or int8 recentred
// with its magnitude) and multiplied with four input rows' activation blocks.
__attribute__((target("avx2,fma,f16c")))
static inline int zero_point(int bits, const uint8_t *row_zeros, int g) {
    return bits == 4 ? (row_zeros[g >> 1] >> ((g & 1) * 4)) & 0x0F : (int)row_zeros[g] - 128;
}

__attribute__((target("avx2,fma,f16c")))
void quanta_gemm_q8(
    int bits, const uint8_t *codes, size_t row_bytes, const uint16_t *scales, const uint8_t *zeros, size_t zero_bytes,
    int input_count, int group_size, const int8_t *xq, const float *xscale, const float *group_correction,
    int input_rows, float *y, int output_count, int row_begin, int row_end) {
    const int groups = (input_count + group_size - 1) / group_size;
    const int blocks_per_group = group_size / 32;
    const int blocks = input_count / 32;
    const __m128i low_mask = _mm_set1_epi8(0x0F);
    const __m256i bias = _mm256_set1_epi8((char)0x80);
    const __m256i ones = _mm256_set1_epi16(1);
    // Tiles of 64 weight rows (at most 64 × 576 bytes for 8-bit: L2-resident) against every input row.
    for (int tile = row_begin; tile < row_end; tile += 64) {
    const int tile_end = tile + 64 < row_end ? tile + 64 : row_end;
    int i = 0;
    for (; i + 4 <= input_rows; i += 4) {
        const int8_t *x0 = xq + (size_t)i * input_count;
        const int8_t *x1 = x0 + input_count, *x2 = x1 + input_count, *x3 = x2 + input_count;
        const float *s0 = xscale + (size_t)i * blocks;
        const float *s1 = s0 + blocks, *s2 = s1 + blocks, *s3 = s2 + blocks;
        const float *c0 = group_correction + (size_t)i * groups;
        const float *c1 = c0 + groups, *c2 = c1 + groups, *c3 = c2 + groups;
        for (int r = tile; r < tile_end; r++) {
            const uint8_t *row = codes + (size_t)r * row_bytes;
            const uint16_t *row_scales = scales + (size_t)r * (size_t)groups;
            const uint8_t *row_zeros = zeros + (size_t)r * zero_bytes;
            __m256 t0 = _mm256_setzero_ps(), t1 = _mm256_setzero_ps(), t2 = _mm256_setzero_ps(), t3 = _mm256_setzero_ps();
            float k0 = 0, k1 = 0, k2 = 0, k3 = 0;
            for (int g = 0; g < groups; g++) {
                const int first = g * blocks_per_group;
                const int last = first + blocks_per_group < blocks ? first + blocks_per_group : blocks;
                __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
                for (int b = first; b < last; b++) {
                    __m256i magnitude, sign_source;
                    if (bits == 4) {
                        const __m128i packed = _mm_loadu_si128((const __m128i *)(row + (size_t)b * 16));
                        magnitude = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(packed, 4), low_mask),
                                                     _mm_and_si128(packed, low_mask));
                        sign_source = ones;  // unused: 4-bit codes are non-negative
                    } else {
                        sign_source = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(row + (size_t)b * 32)), bias);
                        magnitude = _mm256_sign_epi8(sign_source, sign_source);
                    }
#define QUANTA_DOT(X, S, A) { \
                        __m256i activation = _mm256_loadu_si256((const __m256i *)((X) + (size_t)b * 32)); \
                        if (bits != 4) activation = _mm256_sign_epi8(activation, sign_source); \
                        const __m256i sums = _mm256_madd_epi16(_mm256_maddubs_epi16(magnitude, activation), ones); \
                        A = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_set1_ps((S)[b]), A); }
                    QUANTA_DOT(x0, s0, a0)
                    QUANTA_DOT(x1, s1, a1)
                    QUANTA_DOT(x2, s2, a2)
                    QUANTA_DOT(x3, s3, a3)
#undef QUANTA_DOT
                }
                const float scale = _cvtsh_ss(row_scales[g]);
                const __m256 scales_vector = _mm256_set1_ps(scale);
                const float zero = scale * (float)zero_point(bits, row_zeros, g);
                t0 = _mm256_fmadd_ps(a0, scales_vector, t0);
                t1 = _mm256_fmadd_ps(a1, scales_vector, t1);
                t2 = _mm256_fmadd_ps(a2, scales_vector, t2);
                t3 = _mm256_fmadd_ps(a3, scales_vector, t3);
                k0 += zero * c0[g];
                k1 += zero * c1[g];
                k2 += zero * c2[g];
                k3 += zero * c3[g];
            }
            float *target = y + (size_t)i * output_count + r;
            target[0] = horizontal_sum(t0) - k0;
            target[output_count] = horizontal_sum(t1) - k1;
            target[2 * (size_t)output_count] = horizontal_sum(t2) - k2;
            target[3 * (size_t)output_count] = horizontal_sum(t3) - k3;
        }
    }
    for (; i < input_rows; i++) {
        (bits == 4 ? quanta_gemv_int4_q8 : quanta_gemv_int8_q8)(
            codes, row_bytes, scales, zeros, zero_bytes, input_count, group_size, xq + (size_t)i * input_count,
            xscale + (size_t)i * blocks, group_correction + (size_t)i * groups, y + (size_t)i * output_count,
            tile, tile_end);
    }
    }
}
