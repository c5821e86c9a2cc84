#include "backend/cuda/cuda_device.h"

#include <cuda_runtime_api.h>

#include "backend/cuda/cuda_check.h"
#include "core/error.h"

namespace sv {

int cuda_device_count() noexcept {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    // Not sticky, but left in place it would be reported by the next
    // cudaGetLastError() as if a later call had failed.
    (void)cudaGetLastError();
    return 0;
  }
  return count;
}

bool cuda_available() noexcept { return cuda_device_count() > 0; }

std::string cuda_device_name(int device) {
  const int count = cuda_device_count();
  SV_CHECK_AS(CudaError, device >= 0 && device < count,
              "CUDA device {} does not exist ({} visible)", device, count);
  cudaDeviceProp prop{};
  SV_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  return prop.name;
}

}  // namespace sv
