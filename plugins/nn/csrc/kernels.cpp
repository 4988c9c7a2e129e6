// Entry points shared by all of csrc/'s kernels (declared in ffi.h).
#include "ffi.h"

extern "C" {

int plexus_kernels_cpu_supported() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1 : 0; }

void plexus_kernels_free_message(char* message) { std::free(message); }

}  // extern "C"
