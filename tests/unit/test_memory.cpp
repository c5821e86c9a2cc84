// Tensor storage: small blocks from the heap, large ones on their own
// huge-page mappings; both usable, aligned, counted while alive and
// returned when the last view goes.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "core/memory.h"
#include "core/tensor.h"

namespace sv {
namespace {

TEST(HostMemory, BlocksAreAlignedWritableAndCountedWhileAlive) {
  for (const size_t bytes : {size_t{100}, size_t{1} << 20, kHugeBlockBytes, kHugeBlockBytes * 3 + 5}) {
    const size_t before = live_host_bytes();
    {
      const std::shared_ptr<void> block = allocate_host(bytes);
      ASSERT_NE(block, nullptr);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(block.get()) % 64, 0u) << bytes;
      std::memset(block.get(), 0x5a, bytes);
      EXPECT_EQ(static_cast<unsigned char*>(block.get())[bytes - 1], 0x5a);
      EXPECT_GE(live_host_bytes(), before + bytes) << bytes;
    }
    EXPECT_EQ(live_host_bytes(), before) << bytes;
  }
  EXPECT_EQ(allocate_host(0), nullptr);
}

TEST(HostMemory, LargeTensorStorageIsReturnedWithItsLastView) {
  const size_t before = live_host_bytes();
  Tensor view;
  {
    Tensor t = Tensor::zeros(Shape{4, int64_t{1} << 20}, DType::F32);  // 16 MiB
    view = t.slice(0, 1, 2);
  }
  EXPECT_GE(live_host_bytes(), before + (size_t{16} << 20));  // the view keeps it
  EXPECT_EQ(view.data<float>()[0], 0.0f);
  view = Tensor();
  EXPECT_EQ(live_host_bytes(), before);
}

}  // namespace
}  // namespace sv
