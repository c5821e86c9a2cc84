// Latent files: HDF5 and safetensors round trips through the same reader.
#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

#include "core/random.h"
#include "io/hdf5_tensors.h"
#include "io/safetensors.h"
#include "io/tensor_file.h"

namespace sv {
namespace {

namespace fs = std::filesystem;

TEST(Hdf5Tensors, RoundTripAndLatentsReader) {
  const fs::path dir = fs::temp_directory_path() / ("stepvideo_h5_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const Tensor a = gaussian_noise(Shape{1, 3, 4, 2, 5}, 1), b = gaussian_noise(Shape{7}, 2);
  io::write_hdf5(dir / "x.h5", {{"latents", a}, {"other", b}});
  EXPECT_EQ(io::hdf5_dataset_names(dir / "x.h5"), (std::vector<std::string>{"latents", "other"}));
  const Tensor back = io::read_latents_file(dir / "x.h5");
  ASSERT_EQ(back.shape(), a.shape());
  for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(back.data<float>()[i], a.data<float>()[i]);
  io::write_safetensors(dir / "one.safetensors", {{"whatever", b}});
  EXPECT_EQ(io::read_latents_file(dir / "one.safetensors").shape(), b.shape());
  EXPECT_THROW(io::read_hdf5(dir / "x.h5", "missing"), InputError);
  EXPECT_THROW(io::read_latents_file(dir / "absent.h5"), InputError);
  EXPECT_THROW(io::read_latents_file(dir / "x.txt"), InputError);
  // Only the finished files exist: no temporaries left behind.
  int n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  EXPECT_EQ(n, 2);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace sv
