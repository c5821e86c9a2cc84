// Tensor shapes: a small value type with the checks every op needs.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace sv {

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  explicit Shape(std::vector<int64_t> dims);

  int rank() const { return static_cast<int>(dims_.size()); }
  // Negative indices count from the end, as in PyTorch.
  int64_t operator[](int axis) const;
  int64_t numel() const;
  const std::vector<int64_t>& dims() const { return dims_; }
  std::string str() const;  // "[2, 3, 4]"

  bool operator==(const Shape& other) const = default;

 private:
  std::vector<int64_t> dims_;
};

// Row-major strides (in elements) of a contiguous tensor of this shape.
std::vector<int64_t> contiguous_strides(const Shape& shape);

}  // namespace sv
