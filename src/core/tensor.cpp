#include "core/tensor.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/memory.h"

namespace sv {

namespace {

std::shared_ptr<Storage> allocate_cpu(size_t bytes) {
  auto storage = std::make_shared<Storage>();
  storage->owner = allocate_host(bytes);
  storage->data = storage->owner.get();
  storage->bytes = bytes;
  return storage;
}

// Copies a strided source into a strided destination of the same shape,
// element size `es`. The innermost contiguous run is copied with memcpy.
void strided_copy(const char* src, const std::vector<int64_t>& src_strides, char* dst,
                  const std::vector<int64_t>& dst_strides, const std::vector<int64_t>& dims,
                  size_t es, int axis) {
  const int last = static_cast<int>(dims.size()) - 1;
  const auto a = static_cast<size_t>(axis);
  if (axis == last) {
    if (src_strides[a] == 1 && dst_strides[a] == 1) {
      std::memcpy(dst, src, static_cast<size_t>(dims[a]) * es);
      return;
    }
    for (int64_t i = 0; i < dims[a]; ++i) {
      std::memcpy(dst + i * dst_strides[a] * static_cast<int64_t>(es),
                  src + i * src_strides[a] * static_cast<int64_t>(es), es);
    }
    return;
  }
  for (int64_t i = 0; i < dims[a]; ++i) {
    strided_copy(src + i * src_strides[a] * static_cast<int64_t>(es), src_strides,
                 dst + i * dst_strides[a] * static_cast<int64_t>(es), dst_strides, dims, es,
                 axis + 1);
  }
}

}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  Tensor t;
  t.storage_ = allocate_cpu(static_cast<size_t>(shape.numel()) * dtype_size(dtype));
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  if (t.nbytes()) std::memset(t.raw_data(), 0, t.nbytes());
  return t;
}

Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t = empty(shape, DType::F32);
  std::fill_n(t.data<float>(), t.numel(), value);
  return t;
}

Tensor Tensor::wrap(void* data, const Shape& shape, DType dtype, std::shared_ptr<void> owner,
                    Device device) {
  Tensor t;
  t.storage_ = std::make_shared<Storage>();
  t.storage_->data = data;
  t.storage_->bytes = static_cast<size_t>(shape.numel()) * dtype_size(dtype);
  t.storage_->device = device;
  t.storage_->owner = std::move(owner);
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  return t;
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int i = rank() - 1; i >= 0; --i) {
    const auto a = static_cast<size_t>(i);
    if (shape_.dims()[a] != 1 && strides_[a] != expected) return false;
    expected *= shape_.dims()[a];
  }
  return true;
}

void* Tensor::raw_data() const {
  SV_CHECK(storage_, "access to an undefined tensor");
  return static_cast<char*>(storage_->data) + offset_ * dtype_size(dtype_);
}

uint16_t* Tensor::data_u16() const {
  SV_CHECK(dtype_size(dtype_) == 2, "tensor is {}, accessed as 16-bit", dtype_name(dtype_));
  return static_cast<uint16_t*>(raw_data());
}

Tensor Tensor::reshape(const Shape& shape) const {
  SV_CHECK(shape.numel() == numel(), "cannot reshape {} to {}", describe(), shape.str());
  Tensor t = is_contiguous() ? *this : contiguous();
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  return t;
}

Tensor Tensor::slice(int axis, int64_t begin, int64_t end) const {
  const int a = axis < 0 ? axis + rank() : axis;
  const int64_t n = shape_[a];
  SV_CHECK(0 <= begin && begin <= end && end <= n, "slice [{}, {}) out of range for axis {} of {}",
           begin, end, axis, describe());
  Tensor t = *this;
  std::vector<int64_t> dims = shape_.dims();
  dims[static_cast<size_t>(a)] = end - begin;
  t.shape_ = Shape(dims);
  t.offset_ = offset_ + static_cast<size_t>(begin * strides_[static_cast<size_t>(a)]);
  return t;
}

Tensor Tensor::select(int axis, int64_t index) const {
  const int a = axis < 0 ? axis + rank() : axis;
  SV_CHECK(0 <= index && index < shape_[a], "index {} out of range for axis {} of {}", index,
           axis, describe());
  Tensor t = *this;
  std::vector<int64_t> dims = shape_.dims();
  t.offset_ = offset_ + static_cast<size_t>(index * strides_[static_cast<size_t>(a)]);
  dims.erase(dims.begin() + a);
  t.strides_.erase(t.strides_.begin() + a);
  t.shape_ = Shape(dims);
  return t;
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  SV_CHECK(device().is_cpu(), "clone of a {} tensor on the CPU path", device().str());
  Tensor t = empty(shape_, dtype_);
  t.copy_from(*this);
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  SV_CHECK(src.shape_ == shape_ && src.dtype_ == dtype_, "copy_from: {} into {}", src.describe(),
           describe());
  if (numel() == 0) return;
  if (is_contiguous() && src.is_contiguous()) {
    std::memcpy(raw_data(), src.raw_data(), nbytes());
    return;
  }
  if (rank() == 0) {
    std::memcpy(raw_data(), src.raw_data(), dtype_size(dtype_));
    return;
  }
  strided_copy(static_cast<const char*>(src.raw_data()), src.strides_,
               static_cast<char*>(raw_data()), strides_, shape_.dims(), dtype_size(dtype_), 0);
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return *this;
  const Tensor src = contiguous();
  Tensor out = empty(shape_, dtype);
  const auto n = static_cast<size_t>(numel());
  auto as_f32 = [&](float* dst) {
    switch (dtype_) {
      case DType::F32: std::memcpy(dst, src.raw_data(), n * 4); break;
      case DType::BF16: convert_bf16_to_f32(src.data_u16(), dst, n); break;
      case DType::F16: convert_f16_to_f32(src.data_u16(), dst, n); break;
      case DType::I64: {
        const auto* s = static_cast<const int64_t*>(src.raw_data());
        for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(s[i]);
        break;
      }
      case DType::I32: {
        const auto* s = static_cast<const int32_t*>(src.raw_data());
        for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(s[i]);
        break;
      }
      case DType::U8:
      case DType::Bool: {
        const auto* s = static_cast<const uint8_t*>(src.raw_data());
        for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(s[i]);
        break;
      }
    }
  };
  if (dtype == DType::F32) {
    as_f32(out.data<float>());
    return out;
  }
  Tensor f = dtype_ == DType::F32 ? src : src.to(DType::F32);
  const float* fs = f.data<float>();
  switch (dtype) {
    case DType::BF16: convert_f32_to_bf16(fs, out.data_u16(), n); break;
    case DType::F16: convert_f32_to_f16(fs, out.data_u16(), n); break;
    case DType::I64:
      for (size_t i = 0; i < n; ++i) out.data<int64_t>()[i] = static_cast<int64_t>(fs[i]);
      break;
    case DType::I32:
      for (size_t i = 0; i < n; ++i) out.data<int32_t>()[i] = static_cast<int32_t>(fs[i]);
      break;
    case DType::U8:
    case DType::Bool:
      for (size_t i = 0; i < n; ++i) {
        static_cast<uint8_t*>(out.raw_data())[i] =
            dtype == DType::Bool ? uint8_t{fs[i] != 0.0f} : static_cast<uint8_t>(fs[i]);
      }
      break;
    case DType::F32: break;
  }
  return out;
}

std::string Tensor::describe() const {
  return std::string(dtype_name(dtype_)) + shape_.str();
}

bool all_finite(const Tensor& t) {
  if (t.dtype() != DType::F32 && t.dtype() != DType::BF16 && t.dtype() != DType::F16) return true;
  const Tensor c = t.to(DType::F32).contiguous();
  const float* p = c.data<float>();
  for (int64_t k = 0; k < c.numel(); ++k) {
    if (!std::isfinite(p[k])) return false;
  }
  return true;
}

}  // namespace sv
