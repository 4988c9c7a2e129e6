// libtorch autograd function around the LayerNorm kernels, behind a C ABI for
// plugins/nn/src/cpu_kernels/layer_norm.rs.
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include "ffi.h"
#include "layer_norm_kernels.h"

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Rows per task of the intra-op pool in the forward.
constexpr int64_t kGrain = 256;

struct LayerNorm : public torch::autograd::Function<LayerNorm> {
  // x [.., W], γ [W], β [W] → [.., W]
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias, double eps) {
    const at::Tensor x = input.contiguous(), gamma = weight.contiguous(), beta = bias.contiguous();
    const int64_t width = x.size(-1), rows = x.numel() / width;
    at::Tensor y = at::empty_like(x);
    at::Tensor mean = at::empty({rows}, x.options()), rstd = at::empty({rows}, x.options());
    const float *src = x.const_data_ptr<float>(), *g = gamma.const_data_ptr<float>(), *b = beta.const_data_ptr<float>();
    float *dst = y.mutable_data_ptr<float>(), *mu = mean.mutable_data_ptr<float>(), *r = rstd.mutable_data_ptr<float>();
    at::parallel_for(0, rows, kGrain, [&](int64_t first, int64_t last) {
      plexus_layer_norm_forward(src, g, b, static_cast<float>(eps), dst, mu, r, width, first, last);
    });
    ctx->save_for_backward({x, gamma, mean, rstd});
    return y;
  }

  // dy [.., W] → dx [.., W], dγ [W], dβ [W]
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    // The kernels are not differentiable themselves: refuse rather than give silent wrong
    // second derivatives (the engine enables grad mode only for create_graph backwards).
    TORCH_CHECK(!at::GradMode::is_enabled(), "layer norm: double backward (create_graph) is not supported");
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &gamma = saved[1], &mean = saved[2], &rstd = saved[3];
    const at::Tensor dy = grads[0].contiguous();
    const int64_t width = x.size(-1), rows = x.numel() / width;
    const int64_t blocks = (rows + PLEXUS_LAYER_NORM_BLOCK - 1) / PLEXUS_LAYER_NORM_BLOCK;
    at::Tensor dx = at::empty_like(x);
    at::Tensor partial = at::empty({blocks, 2, width}, x.options());
    const float *src = x.const_data_ptr<float>(), *g = gamma.const_data_ptr<float>(), *mu = mean.const_data_ptr<float>(),
                *r = rstd.const_data_ptr<float>(), *d_y = dy.const_data_ptr<float>();
    float *d_x = dx.mutable_data_ptr<float>(), *part = partial.mutable_data_ptr<float>();
    at::parallel_for(0, blocks, 1, [&](int64_t first, int64_t last) {
      plexus_layer_norm_backward(src, g, mu, r, d_y, d_x, part, rows, width, first, last);
    });
    // Blocks summed in order: the same bits at any thread count.
    const at::Tensor sums = partial.sum(0);  // [2, W]
    return {dx, sums[0], sums[1], at::Tensor()};
  }
};

}  // namespace

extern "C" {

// `x`, `weight`, `bias` and `*out` are tch's tensor handles (at::Tensor*); errors as in ffi.h.
char* plexus_layer_norm(const void* x, const void* weight, const void* bias, double eps, void** out) {
  return plexus_ffi::guarded([&] {
    const at::Tensor& input = *static_cast<const at::Tensor*>(x);
    const at::Tensor& gamma = *static_cast<const at::Tensor*>(weight);
    const at::Tensor& beta = *static_cast<const at::Tensor*>(bias);
    TORCH_CHECK(input.dim() >= 1 && input.numel() > 0, "layer norm: empty input");
    const int64_t width = input.size(-1);
    for (const at::Tensor* t : {&input, &gamma, &beta})
      TORCH_CHECK(t->device().is_cpu() && t->scalar_type() == at::kFloat, "layer norm: tensors must be float32 on the CPU");
    TORCH_CHECK(width % 8 == 0, "layer norm: width ", width, " is not a multiple of 8");
    TORCH_CHECK(gamma.dim() == 1 && gamma.size(0) == width && beta.dim() == 1 && beta.size(0) == width, "layer norm: weight and bias must be [",
                width, "]");
    TORCH_CHECK(plexus_kernels_cpu_supported(), "layer norm: this CPU lacks AVX2/FMA");
    *out = new at::Tensor(LayerNorm::apply(input, gamma, beta, eps));
  });
}

}  // extern "C"
