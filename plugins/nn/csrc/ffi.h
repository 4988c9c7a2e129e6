// The C ABI's error convention for the kernels' entry points: null on success, else a
// malloc'd message the Rust side frees with plexus_kernels_free_message. No C++ exception
// crosses into Rust.
#pragma once
#include <c10/util/Exception.h>

#include <cstdlib>
#include <cstring>
#include <exception>

extern "C" {
// Whether this CPU has what the kernels are compiled for (AVX2 + FMA): 1 or 0.
int plexus_kernels_cpu_supported();
void plexus_kernels_free_message(char* message);
}

namespace plexus_ffi {

inline char* copy_message(const char* what) {
  char* message = static_cast<char*>(std::malloc(std::strlen(what) + 1));
  if (message != nullptr) std::strcpy(message, what);
  return message;
}

// Runs `body`, turning any exception into a message.
template <class Body>
char* guarded(Body&& body) {
  try {
    body();
    return nullptr;
  } catch (const c10::Error& e) {  // TORCH_CHECK: the message, not libtorch's C++ backtrace
    return copy_message(e.what_without_backtrace());
  } catch (const std::exception& e) {
    return copy_message(e.what());
  } catch (...) {
    return copy_message("unknown C++ exception");
  }
}

}  // namespace plexus_ffi
