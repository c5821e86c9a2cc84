#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/dtype.h"
#include "core/tensor.h"

namespace sv {
namespace {

TEST(DType, Bf16RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  // 1 + 2^-8 is exactly halfway between bf16 1.0 and 1.0078125: ties to even (1.0).
  EXPECT_EQ(f32_to_bf16(1.00390625f), 0x3f80);
  // 1 + 3 * 2^-8 is halfway between 1.0078125 (odd) and 1.015625 (even): rounds up.
  EXPECT_EQ(f32_to_bf16(1.01171875f), 0x3f82);
  EXPECT_EQ(f32_to_bf16(std::nextafter(1.00390625f, 2.0f)), 0x3f81);  // just above halfway: up
  EXPECT_EQ(bf16_to_f32(0xc040), -3.0f);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::infinity()), 0x7f80);
}

TEST(DType, F16RoundTripAndRounding) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xc000);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);  // rounds to infinity
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // halfway to the smallest: even (0)
  EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 ulp: ties to even (2)
  // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even.
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  for (uint32_t h = 0; h < 0x7c00; ++h) {  // every finite positive f16 survives a round trip
    ASSERT_EQ(f32_to_f16(f16_to_f32(static_cast<uint16_t>(h))), h);
  }
}

TEST(Tensor, AllFiniteFindsNanAndInfinityInEveryFloatDtype) {
  for (DType dtype : {DType::F32, DType::BF16, DType::F16}) {
    Tensor t = Tensor::full(Shape{3, 4}, 1.5f).to(dtype);
    EXPECT_TRUE(all_finite(t));
    for (float bad : {std::nanf(""), INFINITY, -INFINITY}) {
      Tensor f = Tensor::full(Shape{3, 4}, 1.5f);
      f.data<float>()[7] = bad;
      EXPECT_FALSE(all_finite(f.to(dtype))) << dtype_name(dtype) << " " << bad;
      EXPECT_TRUE(all_finite(f.to(dtype).slice(0, 0, 1))) << "row 0 holds no bad value";
    }
  }
  EXPECT_TRUE(all_finite(Tensor::zeros(Shape{2}, DType::I64)));
}

TEST(Tensor, ViewsShareStorage) {
  Tensor t = Tensor::empty(Shape{2, 3, 4}, DType::F32);
  for (int i = 0; i < 24; ++i) t.data<float>()[i] = static_cast<float>(i);
  Tensor r = t.reshape(Shape{6, 4});
  EXPECT_EQ(r.data<float>(), t.data<float>());
  Tensor s = t.slice(2, 1, 3);  // [2, 3, 2], strided
  EXPECT_FALSE(s.is_contiguous());
  EXPECT_EQ(s.shape(), (Shape{2, 3, 2}));
  Tensor c = s.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(c.data<float>()[0], 1.0f);
  EXPECT_EQ(c.data<float>()[1], 2.0f);
  EXPECT_EQ(c.data<float>()[2], 5.0f);
  Tensor sel = t.select(1, 2);  // [2, 4]
  EXPECT_EQ(sel.data<float>()[0], 8.0f);
  EXPECT_EQ(sel.contiguous().data<float>()[4], 20.0f);
  Tensor slice0 = t.slice(0, 1, 2);
  EXPECT_TRUE(slice0.is_contiguous());
  EXPECT_EQ(slice0.data<float>(), t.data<float>() + 12);
}

TEST(Tensor, ConversionsRoundTrip) {
  Tensor t = Tensor::from_vector<float>({1.0f, -2.5f, 3.140625f, 0.0f}, Shape{4});
  Tensor b = t.to(DType::BF16);
  EXPECT_EQ(b.dtype(), DType::BF16);
  Tensor back = b.to(DType::F32);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(back.data<float>()[i], t.data<float>()[i]);
  Tensor h = t.to(DType::F16).to(DType::F32);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(h.data<float>()[i], t.data<float>()[i]);
}

TEST(Tensor, ChecksDtypeOnAccess) {
  Tensor t = Tensor::zeros(Shape{2}, DType::I64);
  EXPECT_THROW(t.data<float>(), InternalError);
  EXPECT_THROW(t.reshape(Shape{3}), InternalError);
  EXPECT_THROW(t.slice(0, 1, 3), InternalError);
}

}  // namespace
}  // namespace sv
