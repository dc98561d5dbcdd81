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

#define QUANTA_TARGET __attribute__((target("avx2,fma,f16c")))

QUANTA_TARGET static inline float horizontal_sum(__m256 v) {
    __m128 low = _mm256_castps256_ps128(v);
    __m128 high = _mm256_extractf128_ps(v, 1);
    low = _mm_add_ps(low, high);
    low = _mm_add_ps(low, _mm_movehl_ps(low, low));
    low = _mm_add_ss(low, _mm_movehdup_ps(low));
    return _mm_cvtss_f32(low);
}

/// One weight block of 32 codes made ready for `_mm256_maddubs_epi16`: `magnitude` holds
/// unsigned bytes (4-bit: the codes, even columns then odd; 8-bit: |code − 128|) and
/// `sign` the signed weights whose signs move onto the activations (8-bit only).
typedef struct {
    __m256i magnitude;
    __m256i sign;
} weight_block;

QUANTA_TARGET static inline weight_block load_block(int bits, const uint8_t *row, int b) {
    weight_block block;
    if (bits == 4) {
        const __m128i low_mask = _mm_set1_epi8(0x0F);
        const __m128i packed = _mm_loadu_si128((const __m128i *)(row + (size_t)b * 16));
        block.magnitude = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(packed, 4), low_mask), _mm_and_si128(packed, low_mask));
        block.sign = block.magnitude;
    } else {
        block.sign = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(row + (size_t)b * 32)), _mm256_set1_epi8((char)0x80));
        block.magnitude = _mm256_sign_epi8(block.sign, block.sign);
    }
    return block;
}

/// `accumulator + float(Σ_{i<32} w_i · x_i) · scale` for one weight block and one activation block.
QUANTA_TARGET static inline __m256 block_dot(int bits, weight_block block, const int8_t *x, float scale, __m256 accumulator) {
    __m256i activation = _mm256_loadu_si256((const __m256i *)x);
    if (bits != 4) activation = _mm256_sign_epi8(activation, block.sign);
    const __m256i sums = _mm256_madd_epi16(_mm256_maddubs_epi16(block.magnitude, activation), _mm256_set1_epi16(1));
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_set1_ps(scale), accumulator);
}

/// The zero point of group `g` as the kernels use it (8-bit: recentred by 128).
QUANTA_TARGET static inline int zero_point(int bits, const uint8_t *row_zeros, int g) {
    return bits == 4 ? (row_zeros[g >> 1] >> ((g & 1) * 4)) & 0x0F : (int)row_zeros[g] - 128;
}

/// The GEMV for `bits` (inlined into the two entry points with `bits` constant).
QUANTA_TARGET static inline void gemv_q8(
    int bits, const uint8_t *codes, size_t row_bytes, const uint16_t *scales, const uint8_t *zeros, size_t zero_bytes,
    int input_count, int group_size, const int8_t *xq, const float *xscale, const float *group_correction,
    float *y, int row_begin, int row_end) {
    const int groups = (input_count + group_size - 1) / group_size;
    const int blocks_per_group = group_size / 32;
    const int blocks = input_count / 32;
    for (int r = row_begin; r < row_end; r++) {
        const uint8_t *row = codes + (size_t)r * row_bytes;
        __m256 total = _mm256_setzero_ps();
        float correction = 0.0f;
        for (int g = 0; g < groups; g++) {
            const int first = g * blocks_per_group;
            const int last = first + blocks_per_group < blocks ? first + blocks_per_group : blocks;
            __m256 accumulator = _mm256_setzero_ps();
            for (int b = first; b < last; b++) {
                accumulator = block_dot(bits, load_block(bits, row, b), xq + (size_t)b * 32, xscale[b], accumulator);
            }
            const float scale = _cvtsh_ss(scales[(size_t)r * (size_t)groups + (size_t)g]);
            total = _mm256_fmadd_ps(accumulator, _mm256_set1_ps(scale), total);
            correction += scale * (float)zero_point(bits, zeros + (size_t)r * zero_bytes, g) * group_correction[g];
        }
        y[r] = horizontal_sum(total) - correction;
    }
}

QUANTA_TARGET void quanta_gemv_int4_q8(
    const uint8_t *codes, size_t row_bytes, const uint16_t *scales, const uint8_t *zeros, size_t zero_bytes,
    int input_count, int group_size, const int8_t *xq, const float *xscale, const float *group_correction,
    float *y, int row_begin, int row_end) {
    gemv_q8(4, codes, row_bytes, scales, zeros, zero_bytes, input_count, group_size, xq, xscale, group_correction, y,
            row_begin, row_end);
}

// int8 weights × int8 activations: ggml's Q8_0 × Q8_0 dot product (`ggml_vec_dot_q8_0_q8_0`,
// AVX2: `_mm256_sign_epi8` moves the weight's sign onto the activation so that
// `_mm256_maddubs_epi16` sees |w| unsigned), on codes recentred by 128.
QUANTA_TARGET void quanta_gemv_int8_q8(
    const uint8_t *codes, size_t row_bytes, const uint16_t *scales, const uint8_t *zeros, size_t zero_bytes,
    int input_count, int group_size, const int8_t *xq, const float *xscale, const float *group_correction,
    float *y, int row_begin, int row_end) {
    gemv_q8(8, codes, row_bytes, scales, zeros, zero_bytes, input_count, group_size, xq, xscale, group_correction, y,
            row_begin, row_end);
}

// Multi-row version: each weight block is prepared once and multiplied with four input
// rows' activation blocks; tiles of 64 weight rows (at most 64 × 576 bytes for 8-bit:
// L2-resident) go against every input row.
QUANTA_TARGET static inline void gemm_q8(
    int bits, const uint8_t *codes, size_t row_bytes, const uint16_t *scales, const uint8_t *zeros, size_t zero_bytes,
    int input_count, int group_size, const int8_t *xq, const float *xscale, const float *group_correction,
    int input_rows, float *y, int output_count, int row_begin, int row_end) {
    const int groups = (input_count + group_size - 1) / group_size;
    const int blocks_per_group = group_size / 32;
    const int blocks = input_count / 32;
    for (int tile = row_begin; tile < row_end; tile += 64) {
        const int tile_end = tile + 64 < row_end ? tile + 64 : row_end;
        int i = 0;
        for (; i + 4 <= input_rows; i += 4) {
            const int8_t *x[4];
            const float *xs[4];
            const float *c[4];
            for (int k = 0; k < 4; k++) {
                x[k] = xq + (size_t)(i + k) * input_count;
                xs[k] = xscale + (size_t)(i + k) * blocks;
                c[k] = group_correction + (size_t)(i + k) * groups;
            }
            for (int r = tile; r < tile_end; r++) {
                const uint8_t *row = codes + (size_t)r * row_bytes;
                __m256 t0 = _mm256_setzero_ps(), t1 = _mm256_setzero_ps(), t2 = _mm256_setzero_ps(), t3 = _mm256_setzero_ps();
                float k0 = 0, k1 = 0, k2 = 0, k3 = 0;
                for (int g = 0; g < groups; g++) {
                    const int first = g * blocks_per_group;
                    const int last = first + blocks_per_group < blocks ? first + blocks_per_group : blocks;
                    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
                    for (int b = first; b < last; b++) {
                        const weight_block block = load_block(bits, row, b);
                        const size_t offset = (size_t)b * 32;
                        a0 = block_dot(bits, block, x[0] + offset, xs[0][b], a0);
                        a1 = block_dot(bits, block, x[1] + offset, xs[1][b], a1);
                        a2 = block_dot(bits, block, x[2] + offset, xs[2][b], a2);
                        a3 = block_dot(bits, block, x[3] + offset, xs[3][b], a3);
                    }
                    const float scale = _cvtsh_ss(scales[(size_t)r * (size_t)groups + (size_t)g]);
                    const __m256 scales_vector = _mm256_set1_ps(scale);
                    const float zero = scale * (float)zero_point(bits, zeros + (size_t)r * zero_bytes, g);
                    t0 = _mm256_fmadd_ps(a0, scales_vector, t0);
                    t1 = _mm256_fmadd_ps(a1, scales_vector, t1);
                    t2 = _mm256_fmadd_ps(a2, scales_vector, t2);
                    t3 = _mm256_fmadd_ps(a3, scales_vector, t3);
                    k0 += zero * c[0][g];
                    k1 += zero * c[1][g];
                    k2 += zero * c[2][g];
                    k3 += zero * c[3][g];
                }
                float *target = y + (size_t)i * output_count + r;
                target[0] = horizontal_sum(t0) - k0;
                target[output_count] = horizontal_sum(t1) - k1;
                target[2 * (size_t)output_count] = horizontal_sum(t2) - k2;
                target[3 * (size_t)output_count] = horizontal_sum(t3) - k3;
            }
        }
        for (; i < input_rows; i++) {
            gemv_q8(bits, codes, row_bytes, scales, zeros, zero_bytes, input_count, group_size, xq + (size_t)i * input_count,
                    xscale + (size_t)i * blocks, group_correction + (size_t)i * groups, y + (size_t)i * output_count,
                    tile, tile_end);
        }
    }
}

QUANTA_TARGET void quanta_gemm_q8(
    int bits, const uint8_t *codes, size_t row_bytes, const uint16_t *scales, const uint8_t *zeros, size_t zero_bytes,
    int input_count, int group_size, const int8_t *xq, const float *xscale, const float *group_correction,
    int input_rows, float *y, int output_count, int row_begin, int row_end) {
    if (bits == 4) {
        gemm_q8(4, codes, row_bytes, scales, zeros, zero_bytes, input_count, group_size, xq, xscale, group_correction,
                input_rows, y, output_count, row_begin, row_end);
    } else {
        gemm_q8(8, codes, row_bytes, scales, zeros, zero_bytes, input_count, group_size, xq, xscale, group_correction,
                input_rows, y, output_count, row_begin, row_end);
    }
}

// MARK: - W8A8 with AVX-512 VNNI

#define QUANTA_VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni")))

int quanta_has_avx512_vnni(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vnni");
}

QUANTA_VNNI_TARGET void quanta_dot4_s8_vnni(
    const int8_t *w, const int8_t *x0, const int8_t *x1, const int8_t *x2, const int8_t *x3, int count,
    int32_t sums[4]) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    const __m512i ones = _mm512_set1_epi8(1);
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, weight_sum = a0;
    int i = 0;
    for (; i + 64 <= count; i += 64) {
        const __m512i weights = _mm512_loadu_si512((const void *)(w + i));
        weight_sum = _mm512_dpbusd_epi32(weight_sum, ones, weights);
        a0 = _mm512_dpbusd_epi32(a0, _mm512_xor_si512(_mm512_loadu_si512((const void *)(x0 + i)), flip), weights);
        a1 = _mm512_dpbusd_epi32(a1, _mm512_xor_si512(_mm512_loadu_si512((const void *)(x1 + i)), flip), weights);
        a2 = _mm512_dpbusd_epi32(a2, _mm512_xor_si512(_mm512_loadu_si512((const void *)(x2 + i)), flip), weights);
        a3 = _mm512_dpbusd_epi32(a3, _mm512_xor_si512(_mm512_loadu_si512((const void *)(x3 + i)), flip), weights);
    }
    const int32_t correction = 128 * _mm512_reduce_add_epi32(weight_sum);
    int32_t s0 = _mm512_reduce_add_epi32(a0) - correction, s1 = _mm512_reduce_add_epi32(a1) - correction;
    int32_t s2 = _mm512_reduce_add_epi32(a2) - correction, s3 = _mm512_reduce_add_epi32(a3) - correction;
    for (; i < count; i++) {
        const int32_t weight = w[i];
        s0 += weight * x0[i];
        s1 += weight * x1[i];
        s2 += weight * x2[i];
        s3 += weight * x3[i];
    }
    sums[0] = s0;
    sums[1] = s1;
    sums[2] = s2;
    sums[3] = s3;
}

QUANTA_VNNI_TARGET int32_t quanta_dot_s8_vnni(const int8_t *w, const int8_t *x, int count) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    const __m512i ones = _mm512_set1_epi8(1);
    __m512i accumulator = _mm512_setzero_si512(), weight_sum = accumulator;
    int i = 0;
    for (; i + 64 <= count; i += 64) {
        const __m512i weights = _mm512_loadu_si512((const void *)(w + i));
        weight_sum = _mm512_dpbusd_epi32(weight_sum, ones, weights);
        accumulator = _mm512_dpbusd_epi32(accumulator, _mm512_xor_si512(_mm512_loadu_si512((const void *)(x + i)), flip), weights);
    }
    int32_t sum = _mm512_reduce_add_epi32(accumulator) - 128 * _mm512_reduce_add_epi32(weight_sum);
    for (; i < count; i++) sum += (int32_t)w[i] * x[i];
    return sum;
}
