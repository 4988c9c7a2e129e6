// libtorch autograd function around the exact-GELU kernels, behind a C ABI for
// plugins/nn/src/cpu_kernels/gelu.rs.
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include "ffi.h"
#include "gelu_kernels.h"

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Elements per task of the intra-op pool.
constexpr int64_t kGrain = 1 << 15;

struct Gelu : public torch::autograd::Function<Gelu> {
  // x [...] → gelu(x) [...]
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input) {
    const at::Tensor x = input.contiguous();
    at::Tensor y = at::empty_like(x);
    const float* src = x.const_data_ptr<float>();
    float* dst = y.mutable_data_ptr<float>();
    at::parallel_for(0, x.numel(), kGrain, [&](int64_t first, int64_t last) { plexus_gelu_forward(src, dst, first, last); });
    ctx->save_for_backward({x});
    return y;
  }

  // d gelu(x) [...] → d x [...]
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    // The kernels are not differentiable themselves: refuse rather than give silent wrong
    // second derivatives (the engine enables grad mode only for create_graph backwards).
    TORCH_CHECK(!at::GradMode::is_enabled(), "gelu: double backward (create_graph) is not supported");
    const at::Tensor x = ctx->get_saved_variables()[0];
    const at::Tensor dy = grads[0].contiguous();
    at::Tensor dx = at::empty_like(x);
    const float* src = x.const_data_ptr<float>();
    const float* d_y = dy.const_data_ptr<float>();
    float* d_x = dx.mutable_data_ptr<float>();
    at::parallel_for(0, x.numel(), kGrain, [&](int64_t first, int64_t last) { plexus_gelu_backward(src, d_y, d_x, first, last); });
    return {dx};
  }
};

}  // namespace

extern "C" {

// `x` and `*out` are tch's tensor handles (at::Tensor*); errors as in ffi.h.
char* plexus_gelu(const void* x, void** out) {
  return plexus_ffi::guarded([&] {
    const at::Tensor& input = *static_cast<const at::Tensor*>(x);
    TORCH_CHECK(input.device().is_cpu() && input.scalar_type() == at::kFloat, "gelu: input must be a float32 CPU tensor");
    TORCH_CHECK(plexus_kernels_cpu_supported(), "gelu: this CPU lacks AVX2/FMA");
    *out = new at::Tensor(Gelu::apply(input));
  });
}

}  // extern "C"
