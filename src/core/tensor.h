// A strided n-dimensional array over shared storage. Views (reshape of a
// contiguous tensor, slice, select) share the storage; nothing is copied
// unless a method says so.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/shape.h"

namespace sv {

template <typename T>
constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::F32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::I64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::I32; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::U8; }

// Raw bytes plus whatever keeps them alive (heap block, memory map, device
// allocation). Storage never interprets its bytes.
struct Storage {
  void* data = nullptr;
  size_t bytes = 0;
  Device device;
  std::shared_ptr<void> owner;
};

class Tensor {
 public:
  Tensor() = default;

  // Uninitialised CPU memory, 64-byte aligned.
  static Tensor empty(const Shape& shape, DType dtype);
  static Tensor zeros(const Shape& shape, DType dtype);
  static Tensor full(const Shape& shape, float value);  // f32
  // Wraps memory owned elsewhere (e.g. a memory-mapped file); `owner` is kept
  // alive as long as any view exists.
  static Tensor wrap(void* data, const Shape& shape, DType dtype, std::shared_ptr<void> owner,
                     Device device = Device::cpu());
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int64_t dim(int axis) const { return shape_[axis]; }
  int rank() const { return shape_.rank(); }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device : Device::cpu(); }
  const std::vector<int64_t>& strides() const { return strides_; }
  int64_t numel() const { return shape_.numel(); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  bool is_contiguous() const;

  void* raw_data() const;
  template <typename T>
  T* data() const {
    SV_CHECK(dtype_ == dtype_of<T>(), "tensor is {}, accessed as {}", dtype_name(dtype_),
             dtype_name(dtype_of<T>()));
    return static_cast<T*>(raw_data());
  }
  // bf16/f16 payloads are accessed as their bit patterns.
  uint16_t* data_u16() const;

  // Views.
  Tensor reshape(const Shape& shape) const;  // view if contiguous, else a copy
  Tensor slice(int axis, int64_t begin, int64_t end) const;
  Tensor select(int axis, int64_t index) const;  // drops the axis

  // Copies.
  Tensor contiguous() const;  // itself when already contiguous
  Tensor clone() const;
  Tensor to(DType dtype) const;  // float conversions round to nearest even
  void copy_from(const Tensor& src);  // same shape and dtype; strided allowed

  std::string describe() const;  // "f32[2, 3]"

 private:
  std::shared_ptr<Storage> storage_;
  size_t offset_ = 0;  // in elements
  Shape shape_;
  std::vector<int64_t> strides_;
  DType dtype_ = DType::F32;
};

// No NaN or infinity among a floating-point tensor's values (other dtypes: true).
bool all_finite(const Tensor& t);

template <typename T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape) {
  SV_CHECK(static_cast<int64_t>(values.size()) == shape.numel(),
           "from_vector: {} values for shape {}", values.size(), shape.str());
  Tensor t = empty(shape, dtype_of<T>());
  std::copy(values.begin(), values.end(), t.data<T>());
  return t;
}

}  // namespace sv
