// Exact GELU kernels (see gelu_kernels.cpp); each call covers elements [first, last).
#pragma once
#include <cstdint>

void plexus_gelu_forward(const float* x, float* y, int64_t first, int64_t last);
void plexus_gelu_backward(const float* x, const float* dy, float* dx, int64_t first, int64_t last);
