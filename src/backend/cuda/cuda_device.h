// Which CUDA devices this process can use. Any failure to ask (no driver, a
// driver older than the runtime, no device) counts as "no GPU", so binaries
// built with CUDA still run, and skip GPU work, on machines without one.
#pragma once

#include <string>

namespace sv {

int cuda_device_count() noexcept;  // 0 on any error
bool cuda_available() noexcept;
std::string cuda_device_name(int device);  // throws CudaError for a bad index

}  // namespace sv
