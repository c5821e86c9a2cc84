// Where a tensor's bytes live. Passed explicitly; there is no "current device".
#pragma once

#include <string>

namespace sv {

enum class DeviceKind { CPU, CUDA };

struct Device {
  DeviceKind kind = DeviceKind::CPU;
  int index = 0;

  static Device cpu() { return {}; }
  static Device cuda(int index) { return {DeviceKind::CUDA, index}; }
  bool is_cpu() const { return kind == DeviceKind::CPU; }
  std::string str() const {
    return kind == DeviceKind::CPU ? std::string("cpu") : "cuda:" + std::to_string(index);
  }
  bool operator==(const Device&) const = default;
};

}  // namespace sv
