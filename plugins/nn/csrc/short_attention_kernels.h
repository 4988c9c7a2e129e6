// Short-sequence multi-head attention kernels (see short_attention_kernels.cpp).
#pragma once
#include <cstdint>

// Longest sequence and widest head the kernels take (their scratch rows live on the stack).
#define PLEXUS_SHORT_ATTENTION_MAX_LEN 64
#define PLEXUS_SHORT_ATTENTION_MAX_HEAD_DIM 128

// Columns of a row of `probs` [B, H, L, Lp]: L rounded up to a multiple of 8.
int64_t plexus_short_attention_padded_len(int64_t len);

// Each call covers the flattened (batch, head) pairs bh in [first, last).
void plexus_short_attention_forward(const float* qkv, float* out, float* probs, int64_t len, int64_t heads, int64_t head_dim,
                                    bool causal, int64_t first, int64_t last);
void plexus_short_attention_backward(const float* qkv, const float* probs, const float* dout, float* dqkv, int64_t len, int64_t heads,
                                     int64_t head_dim, bool causal, int64_t first, int64_t last);
