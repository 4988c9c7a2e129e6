// libtorch autograd function around the short-sequence attention kernels, behind a C ABI
// for plugins/nn/src/cpu_kernels/attention.rs.
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include "ffi.h"
#include "short_attention_kernels.h"

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// (batch, head) pairs per task of the intra-op pool: each pair is a few microseconds.
constexpr int64_t kGrain = 16;

struct ShortAttention : public torch::autograd::Function<ShortAttention> {
  // qkv [B, L, 3W] → [B, L, W] (see short_attention_kernels.cpp for the layouts).
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& qkv, int64_t heads, bool causal) {
    const at::Tensor x = qkv.contiguous();
    const int64_t batch = x.size(0), len = x.size(1), width = x.size(2) / 3, head_dim = width / heads;
    at::Tensor out = at::empty({batch, len, width}, x.options());
    at::Tensor probs = at::empty({batch, heads, len, plexus_short_attention_padded_len(len)}, x.options());
    const float* src = x.const_data_ptr<float>();
    float* o = out.mutable_data_ptr<float>();
    float* p = probs.mutable_data_ptr<float>();
    at::parallel_for(0, batch * heads, kGrain, [&](int64_t first, int64_t last) {
      plexus_short_attention_forward(src, o, p, len, heads, head_dim, causal, first, last);
    });
    ctx->save_for_backward({x, probs});
    ctx->saved_data["heads"] = heads;
    ctx->saved_data["causal"] = causal;
    return out;
  }

  // d out [B, L, W] → d qkv [B, L, 3W].
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    // The kernels are not differentiable themselves: refuse rather than give silent wrong
    // second derivatives (the engine enables grad mode only for create_graph backwards).
    TORCH_CHECK(!at::GradMode::is_enabled(), "short attention: double backward (create_graph) is not supported");
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& probs = saved[1];
    const int64_t heads = ctx->saved_data["heads"].toInt();
    const bool causal = ctx->saved_data["causal"].toBool();
    const at::Tensor dout = grads[0].contiguous();
    const int64_t batch = x.size(0), len = x.size(1), head_dim = x.size(2) / 3 / heads;
    at::Tensor dqkv = at::empty_like(x);
    const float* src = x.const_data_ptr<float>();
    const float* p = probs.const_data_ptr<float>();
    const float* d_o = dout.const_data_ptr<float>();
    float* d = dqkv.mutable_data_ptr<float>();
    at::parallel_for(0, batch * heads, kGrain, [&](int64_t first, int64_t last) {
      plexus_short_attention_backward(src, p, d_o, d, len, heads, head_dim, causal, first, last);
    });
    return {dqkv, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

extern "C" {

int plexus_short_attention_max_len() { return PLEXUS_SHORT_ATTENTION_MAX_LEN; }
int plexus_short_attention_max_head_dim() { return PLEXUS_SHORT_ATTENTION_MAX_HEAD_DIM; }

// `qkv` and `*out` are tch's tensor handles (at::Tensor*); errors as in ffi.h.
char* plexus_short_attention(const void* qkv, int64_t heads, int causal, void** out) {
  return plexus_ffi::guarded([&] {
    const at::Tensor& x = *static_cast<const at::Tensor*>(qkv);
    TORCH_CHECK(x.dim() == 3, "short attention: qkv must be [B, L, 3W], got ", x.sizes());
    TORCH_CHECK(x.device().is_cpu() && x.scalar_type() == at::kFloat, "short attention: qkv must be a float32 CPU tensor");
    TORCH_CHECK(heads > 0 && x.size(2) % (3 * heads) == 0, "short attention: width ", x.size(2), " is not 3 × heads (", heads, ") × head width");
    const int64_t head_dim = x.size(2) / 3 / heads;
    TORCH_CHECK(x.size(1) >= 1 && x.size(1) <= PLEXUS_SHORT_ATTENTION_MAX_LEN, "short attention: sequence length ", x.size(1), " outside 1..",
                PLEXUS_SHORT_ATTENTION_MAX_LEN);
    TORCH_CHECK(head_dim % 8 == 0 && head_dim <= PLEXUS_SHORT_ATTENTION_MAX_HEAD_DIM, "short attention: head width ", head_dim,
                " is not a multiple of 8 up to ", PLEXUS_SHORT_ATTENTION_MAX_HEAD_DIM);
    TORCH_CHECK(plexus_kernels_cpu_supported(), "short attention: this CPU lacks AVX2/FMA");
    *out = new at::Tensor(ShortAttention::apply(x, heads, causal != 0));
  });
}

}  // extern "C"
