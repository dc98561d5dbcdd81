#ifndef QUANTA_KERNELS_H
#define QUANTA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/// Integer dot-product GEMV of packed int4 weights (docs/packed-weights.md) with int8
/// activations (docs/packed-weights.md, "Int8 activations"), AVX2: for each weight row r in
/// [row_begin, row_end)
///
///   y[r] = Σ_g scale[r,g] · (Σ_{b∈g} xscale[b] · Σ_{i∈b} code[r,i]·xq[i]  −  zero[r,g] · group_correction[g])
///
/// with blocks b of 32 columns. `xq` holds each block deinterleaved: bytes 0…15 are the
/// block's even columns and 16…31 its odd ones, matching the packed nibbles (column 2k in the
/// low nibble of byte k). Requires input_count % 32 == 0 and group_size % 32 == 0.
/// `scales` are f16 bit patterns `[rows, groups]`; `zeros` are packed 4-bit `[rows, zero_bytes]`.
void quanta_gemv_int4_q8(
    const uint8_t *codes, size_t row_bytes, const uint16_t *scales, const uint8_t *zeros, size_t zero_bytes,
    int input_count, int group_size, const int8_t *xq, const float *xscale, const float *group_correction,
    float *y, int row_begin, int row_end);

/// The same for packed int8 weights (one byte per code, any zero point 0…255), with `xq` in
/// natural column order: codes are recentred to `code − 128` (signed) so the byte products
/// cannot saturate, and the zero point enters the correction as `zero − 128`.
void quanta_gemv_int8_q8(
    const uint8_t *codes, size_t row_bytes, const uint16_t *scales, const uint8_t *zeros, size_t zero_bytes,
    int input_count, int group_size, const int8_t *xq, const float *xscale, const float *group_correction,
    float *y, int row_begin, int row_end);

/// Several input rows at once (prefill): `y[i · output_count + r]` for input rows
/// i < input_rows and weight rows r in [row_begin, row_end); input row i's activations at
/// `xq + i · input_count`, `xscale + i · (input_count / 32)`, `group_correction + i · groups`.
/// Each weight block is unpacked once per four input rows. `bits` is 4 or 8.
void quanta_gemm_q8(
    int bits, const uint8_t *codes, size_t row_bytes, const uint16_t *scales, const uint8_t *zeros, size_t zero_bytes,
    int input_count, int group_size, const int8_t *xq, const float *xscale, const float *group_correction,
    int input_rows, float *y, int output_count, int row_begin, int row_end);

/// 1 when the CPU has AVX-512 VNNI (and AVX-512 F/BW), else 0; checked once at run time so the
/// binary still runs on AVX2-only machines.
int quanta_has_avx512_vnni(void);

/// W8A8 (AVX-512 VNNI; call only when `quanta_has_avx512_vnni()`): the four dot products
/// `sums[j] = Σ_i w[i] · x_j[i]` of one signed int8 weight row with four signed int8
/// activation rows, exact in int32. `vpdpbusd` multiplies unsigned by signed bytes, so the
/// activations enter as `x + 128` (a sign-bit flip) and `128 · Σ w` is subtracted. Pass the
/// same pointer several times for fewer than four rows.
void quanta_dot4_s8_vnni(
    const int8_t *w, const int8_t *x0, const int8_t *x1, const int8_t *x2, const int8_t *x3, int count,
    int32_t sums[4]);

/// One such dot product (decoding): `Σ_i w[i] · x[i]`, exact in int32.
int32_t quanta_dot_s8_vnni(const int8_t *w, const int8_t *x, int count);

#endif
