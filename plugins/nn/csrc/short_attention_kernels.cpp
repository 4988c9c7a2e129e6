// Multi-head attention kernels for short sequences on the CPU, f32 (limits in the header).
//
// Why: libtorch's CPU flash attention works in (batch, head) blocks sized for long
// sequences; at L = 16..17 and head width 32 its tiny inner GEMMs ran at ~8 GFLOP/s, and
// splitting the packed projection into q, k, v (and the `cat` of their gradients) copied
// strided data on every layer. These kernels read q, k, v straight out of the packed
// in-projection output and write the gradient back into one packed buffer; each (batch,
// head) pair's L×L products run as small register-friendly loops over a padded row.
//
// Layouts (row-major, contiguous):
//   qkv   [B, L, 3, H, D]   the in-projection output [B, L, 3W], W = H·D
//   out   [B, L, H, D]      heads side by side, what the out-projection reads ([B, L, W])
//   probs [B, H, L, Lp]     softmax(q·kᵀ/√D) rows padded to Lp = L rounded up to 8 columns,
//                           zero past the row's last key (and above the diagonal when causal)
//   dout  [B, L, H, D], dqkv [B, L, 3, H, D]
//
// Compiled for AVX2 + FMA; the caller checks the CPU has them (plexus_kernels_cpu_supported).
#pragma GCC target("avx2,fma")
#include "short_attention_kernels.h"

#include <cmath>
#include <cstring>

#include "avx2_math.h"

namespace {

using plexus_avx2::exp_nonpositive;
using plexus_avx2::horizontal_max;
using plexus_avx2::horizontal_sum;

constexpr int64_t kMaxLen = PLEXUS_SHORT_ATTENTION_MAX_LEN;
constexpr int64_t kMaxDim = PLEXUS_SHORT_ATTENTION_MAX_HEAD_DIM;

// Rows padded to a multiple of 8 floats (one AVX register); padding stays zero.
inline int64_t padded(int64_t n) { return (n + 7) / 8 * 8; }

// Lanes j < n of the vector starting at column `first` are all ones.
inline __m256 lanes_below(int64_t n, int64_t first) {
  const __m256i j = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(static_cast<int32_t>(first)));
  return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(n)), j));
}

// p[0..ld) = softmax(scale · s[0..n)), zero from n on; s is the padded score row.
inline void softmax_row(float* p, const float* s, float scale, int64_t n, int64_t ld) {
  __m256 max = _mm256_set1_ps(-INFINITY);
  for (int64_t j = 0; j < ld; j += 8) max = _mm256_max_ps(max, _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), _mm256_load_ps(s + j), lanes_below(n, j)));
  const __m256 m = _mm256_set1_ps(horizontal_max(max)), k = _mm256_set1_ps(scale);
  __m256 sum = _mm256_setzero_ps();
  for (int64_t j = 0; j < ld; j += 8) {
    const __m256 e = _mm256_and_ps(exp_nonpositive(_mm256_mul_ps(k, _mm256_sub_ps(_mm256_load_ps(s + j), m))), lanes_below(n, j));
    _mm256_storeu_ps(p + j, e);
    sum = _mm256_add_ps(sum, e);
  }
  const __m256 inv = _mm256_set1_ps(1.0f / horizontal_sum(sum));
  for (int64_t j = 0; j < ld; j += 8) _mm256_storeu_ps(p + j, _mm256_mul_ps(_mm256_loadu_ps(p + j), inv));
}

// Transposes the 8×8 block of floats at src (row stride `from`) into dst (row stride `to`).
inline void transpose_8x8(float* dst, int64_t to, const float* src, int64_t from) {
  __m256 r[8], t[8];
  for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(src + k * from);
  for (int k = 0; k < 8; k += 2) {
    t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
    t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
  }
  for (int k = 0; k < 8; k += 4) {
    r[k] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int k = 0; k < 4; ++k) {
    _mm256_storeu_ps(dst + k * to, _mm256_permute2f128_ps(r[k], r[k + 4], 0x20));
    _mm256_storeu_ps(dst + (k + 4) * to, _mm256_permute2f128_ps(r[k], r[k + 4], 0x31));
  }
}

// to[c·ld + j] = rows[j·stride + c]: a [len, dim] slice of the packed buffer transposed
// into [dim, ld] (dim a multiple of 8, padding columns zero) so products with it run along
// the padded row.
inline void transpose_into(float* to, const float* rows, int64_t stride, int64_t len, int64_t dim, int64_t ld) {
  const int64_t full = len / 8 * 8;
  for (int64_t j = 0; j < full; j += 8)
    for (int64_t c = 0; c < dim; c += 8) transpose_8x8(to + c * ld + j, ld, rows + j * stride + c, stride);
  for (int64_t c = 0; c < dim; ++c) {
    for (int64_t j = full; j < len; ++j) to[c * ld + j] = rows[j * stride + c];
    for (int64_t j = len; j < ld; ++j) to[c * ld + j] = 0;
  }
}

// row[0..8V) = Σ_c x[c] · t[c·8V ..]: one row of x · tᵀ over the padded key axis, held in
// registers; even and odd c go to separate accumulators so the FMA chains overlap.
template <int V>
inline void row_times_fixed(float* row, const float* x, const float* t, int64_t dim) {
  __m256 even[V], odd[V];
  for (int v = 0; v < V; ++v) even[v] = odd[v] = _mm256_setzero_ps();
  for (int64_t c = 0; c < dim; c += 2) {  // dim is a multiple of 8
    const __m256 x0 = _mm256_broadcast_ss(x + c), x1 = _mm256_broadcast_ss(x + c + 1);
    for (int v = 0; v < V; ++v) {
      even[v] = _mm256_fmadd_ps(x0, _mm256_load_ps(t + c * 8 * V + 8 * v), even[v]);
      odd[v] = _mm256_fmadd_ps(x1, _mm256_load_ps(t + (c + 1) * 8 * V + 8 * v), odd[v]);
    }
  }
  for (int v = 0; v < V; ++v) _mm256_store_ps(row + 8 * v, _mm256_add_ps(even[v], odd[v]));
}

inline void row_times(float* row, const float* x, const float* t, int64_t dim, int64_t ld) {
  switch (ld / 8) {
    case 1: return row_times_fixed<1>(row, x, t, dim);
    case 2: return row_times_fixed<2>(row, x, t, dim);
    case 3: return row_times_fixed<3>(row, x, t, dim);
    case 4: return row_times_fixed<4>(row, x, t, dim);
    case 5: return row_times_fixed<5>(row, x, t, dim);
    case 6: return row_times_fixed<6>(row, x, t, dim);
    case 7: return row_times_fixed<7>(row, x, t, dim);
    default: return row_times_fixed<8>(row, x, t, dim);
  }
}

// out[c0..c0+8V) = Σ_j w[j·w_stride] · rows[j·stride + c0 ..] for j < n, in registers;
// even and odd j go to separate accumulators so the FMA chains overlap.
template <int V>
inline void weighted_rows_fixed(float* out, const float* w, int64_t w_stride, const float* rows, int64_t stride, int64_t n) {
  __m256 even[V], odd[V];
  for (int v = 0; v < V; ++v) even[v] = odd[v] = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 2 <= n; j += 2) {
    const __m256 w0 = _mm256_broadcast_ss(w + j * w_stride), w1 = _mm256_broadcast_ss(w + (j + 1) * w_stride);
    for (int v = 0; v < V; ++v) {
      even[v] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(rows + j * stride + 8 * v), even[v]);
      odd[v] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(rows + (j + 1) * stride + 8 * v), odd[v]);
    }
  }
  if (j < n) {
    const __m256 w0 = _mm256_broadcast_ss(w + j * w_stride);
    for (int v = 0; v < V; ++v) even[v] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(rows + j * stride + 8 * v), even[v]);
  }
  for (int v = 0; v < V; ++v) _mm256_storeu_ps(out + 8 * v, _mm256_add_ps(even[v], odd[v]));
}

// out[0..dim) = Σ_j w[j·w_stride] · rows[j·stride ..] for j < n (dim a multiple of 8).
inline void weighted_rows(float* out, const float* w, int64_t w_stride, const float* rows, int64_t stride, int64_t n, int64_t dim) {
  int64_t c = 0;
  for (; c + 32 <= dim; c += 32) weighted_rows_fixed<4>(out + c, w, w_stride, rows + c, stride, n);
  for (; c < dim; c += 8) weighted_rows_fixed<1>(out + c, w, w_stride, rows + c, stride, n);
}

// Where one (batch, head) pair's pieces live in the packed layouts.
struct Shape {
  int64_t len, heads, head_dim, width, stride, ld;
  Shape(int64_t len, int64_t heads, int64_t head_dim)
      : len(len), heads(heads), head_dim(head_dim), width(heads * head_dim), stride(3 * heads * head_dim), ld(padded(len)) {}
  // Offset of pair bh's first q row in qkv [B, L, 3W] (k and v follow at +W and +2W).
  int64_t packed(int64_t bh) const { return bh / heads * len * stride + bh % heads * head_dim; }
  // Offset of pair bh's first row in a [B, L, W] tensor (out, dout).
  int64_t merged(int64_t bh) const { return bh / heads * len * width + bh % heads * head_dim; }
};

}  // namespace

int64_t plexus_short_attention_padded_len(int64_t len) { return padded(len); }

void plexus_short_attention_forward(const float* qkv, float* out, float* probs, int64_t len, int64_t heads, int64_t head_dim,
                                    bool causal, int64_t first, int64_t last) {
  const Shape at(len, heads, head_dim);
  const int64_t stride = at.stride, ld = at.ld;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  alignas(32) float keys_t[kMaxDim * kMaxLen];
  alignas(32) float s[kMaxLen];
  for (int64_t bh = first; bh < last; ++bh) {
    const float* q = qkv + at.packed(bh);
    const float* v = q + 2 * at.width;
    transpose_into(keys_t, q + at.width, stride, len, head_dim, ld);
    for (int64_t i = 0; i < len; ++i) {
      const int64_t n = causal ? i + 1 : len;
      float* p = probs + (bh * len + i) * ld;
      row_times(s, q + i * stride, keys_t, head_dim, ld);  // S_ij = q_i · k_j
      softmax_row(p, s, scale, n, ld);
      weighted_rows(out + at.merged(bh) + i * at.width, p, 1, v, stride, n, head_dim);  // o_i = Σ_j P_ij v_j
    }
  }
}

void plexus_short_attention_backward(const float* qkv, const float* probs, const float* dout, float* dqkv, int64_t len, int64_t heads,
                                     int64_t head_dim, bool causal, int64_t first, int64_t last) {
  const Shape at(len, heads, head_dim);
  const int64_t width = at.width, stride = at.stride, ld = at.ld;
  const __m256 scale = _mm256_set1_ps(1.0f / std::sqrt(static_cast<float>(head_dim)));
  alignas(32) float values_t[kMaxDim * kMaxLen];
  alignas(32) float ds[kMaxLen * kMaxLen];  // [L, ld]: scale · dS, zero where masked
  alignas(32) float dp[kMaxLen];
  for (int64_t bh = first; bh < last; ++bh) {
    const float* q = qkv + at.packed(bh);
    const float* k = q + width;
    const float* v = q + 2 * width;
    const float* d_o = dout + at.merged(bh);  // rows i at d_o + i·width
    const float* p = probs + bh * len * ld;
    float* dq = dqkv + at.packed(bh);
    float* dk = dq + width;
    float* dv = dq + 2 * width;
    transpose_into(values_t, v, stride, len, head_dim, ld);
    for (int64_t i = 0; i < len; ++i) {
      const int64_t n = causal ? i + 1 : len;
      const float* p_i = p + i * ld;
      row_times(dp, d_o + i * width, values_t, head_dim, ld);  // dP_ij = dO_i · v_j
      __m256 acc = _mm256_setzero_ps();  // P is zero past n, so the padded lanes add nothing
      for (int64_t j = 0; j < ld; j += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(p_i + j), _mm256_load_ps(dp + j), acc);
      const __m256 weighted = _mm256_set1_ps(horizontal_sum(acc));
      float* row = ds + i * ld;
      for (int64_t j = 0; j < ld; j += 8) {  // scale · dS_ij = scale · P_ij (dP_ij − Σ_j' P_ij' dP_ij')
        const __m256 pj = _mm256_loadu_ps(p_i + j);
        _mm256_store_ps(row + j, _mm256_mul_ps(scale, _mm256_mul_ps(pj, _mm256_sub_ps(_mm256_load_ps(dp + j), weighted))));
      }
      weighted_rows(dq + i * stride, row, 1, k, stride, n, head_dim);  // dQ_i = Σ_j scale·dS_ij k_j
    }
    for (int64_t j = 0; j < len; ++j) {
      const int64_t from = causal ? j : 0;  // rows i < j never attend to key j
      weighted_rows(dk + j * stride, ds + from * ld + j, ld, q + from * stride, stride, len - from, head_dim);  // dK_j = Σ_i scale·dS_ij q_i
      weighted_rows(dv + j * stride, p + from * ld + j, ld, d_o + from * width, width, len - from, head_dim);  // dV_j = Σ_i P_ij dO_i
    }
  }
}
