#include "core/shape.h"

#include "core/error.h"

namespace sv {

Shape::Shape(std::initializer_list<int64_t> dims) : dims_(dims) {
  for (int64_t d : dims_) SV_CHECK(d >= 0, "negative dimension in shape {}", str());
}

Shape::Shape(std::vector<int64_t> dims) : dims_(std::move(dims)) {
  for (int64_t d : dims_) SV_CHECK(d >= 0, "negative dimension in shape {}", str());
}

int64_t Shape::operator[](int axis) const {
  const int r = rank();
  const int a = axis < 0 ? axis + r : axis;
  SV_CHECK(a >= 0 && a < r, "axis {} out of range for shape {}", axis, str());
  return dims_[static_cast<size_t>(a)];
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int64_t d : dims_) n *= d;
  return n;
}

std::string Shape::str() const {
  std::string s = "[";
  for (size_t i = 0; i < dims_.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(dims_[i]);
  }
  return s + "]";
}

std::vector<int64_t> contiguous_strides(const Shape& shape) {
  std::vector<int64_t> strides(static_cast<size_t>(shape.rank()));
  int64_t s = 1;
  for (int i = shape.rank() - 1; i >= 0; --i) {
    strides[static_cast<size_t>(i)] = s;
    s *= shape.dims()[static_cast<size_t>(i)];
  }
  return strides;
}

}  // namespace sv
