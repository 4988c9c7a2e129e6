// LayerNorm kernels over the last dimension (see layer_norm_kernels.cpp).
#pragma once
#include <cstdint>

// Rows per block of the backward's weight/bias gradient: fixed, so the partial sums (and
// the result's bits) do not depend on the thread count.
#define PLEXUS_LAYER_NORM_BLOCK 128

// Rows [first, last) of x [N, W] → y [N, W], and each row's mean and 1/σ [N].
void plexus_layer_norm_forward(const float* x, const float* gamma, const float* beta, float eps, float* y, float* mean, float* rstd,
                               int64_t width, int64_t first, int64_t last);

// Blocks [first, last) of PLEXUS_LAYER_NORM_BLOCK rows (of `rows` in all): dx [N, W], and
// each block's partial dγ and dβ as rows of partial [blocks, 2W] (dγ then dβ).
void plexus_layer_norm_backward(const float* x, const float* gamma, const float* mean, const float* rstd, const float* dy, float* dx,
                                float* partial, int64_t rows, int64_t width, int64_t first, int64_t last);
