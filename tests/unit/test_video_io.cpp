// Real video files: written through libav, decoded back and compared.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <unistd.h>

#include "io/video_frames.h"
#include "io/video_reader.h"
#include "io/video_writer.h"

namespace sv {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() /
                       ("stepvideo_video_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Smooth moving colour gradients: content a codec should keep well.
Tensor test_frames(int64_t t, int64_t h, int64_t w) {
  Tensor out = Tensor::empty(Shape{t, h, w, 3}, DType::U8);
  uint8_t* p = out.data<uint8_t>();
  for (int64_t i = 0; i < t; ++i) {
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t x = 0; x < w; ++x) {
        for (int64_t c = 0; c < 3; ++c) {
          const double v = 127.5 + 100.0 * std::sin(0.07 * double(x + 3 * i) + 0.05 * double(y) * double(c + 1) + double(c));
          p[((i * h + y) * w + x) * 3 + c] = static_cast<uint8_t>(v);
        }
      }
    }
  }
  return out;
}

double psnr(const Tensor& a, const Tensor& b) {
  double se = 0.0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double d = double(a.data<uint8_t>()[i]) - double(b.data<uint8_t>()[i]);
    se += d * d;
  }
  const double mse = se / static_cast<double>(a.numel());
  return mse == 0.0 ? INFINITY : 10.0 * std::log10(255.0 * 255.0 / mse);
}

TEST(VideoIO, H264RoundTripKeepsFramesSizeAndContent) {
  const fs::path dir = temp_dir("h264");
  const Tensor frames = test_frames(17, 64, 96);
  io::write_video(dir / "v.mp4", frames, {.fps = 25});
  io::VideoInfo info;
  const Tensor back = io::read_video(dir / "v.mp4", &info);
  EXPECT_EQ(info.frames, 17);  // the last frame is not dropped by the muxer
  EXPECT_EQ(back.shape(), frames.shape());
  EXPECT_NEAR(info.fps, 25.0, 1e-6);
  // crf 18 on smooth content; chroma subsampling bounds it below ~45 dB.
  EXPECT_GT(psnr(frames, back), 35.0);
  // No temporary left behind.
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 1);
  fs::remove_all(dir);
}

TEST(VideoIO, Ffv1IsLossless) {
  const fs::path dir = temp_dir("ffv1");
  const Tensor frames = test_frames(5, 30, 42);
  io::write_video(dir / "v.mkv", frames, {.fps = 12, .codec = io::VideoCodec::FFV1});
  const Tensor back = io::read_video(dir / "v.mkv");
  ASSERT_EQ(back.shape(), frames.shape());
  for (int64_t i = 0; i < frames.numel(); ++i) {
    ASSERT_EQ(back.data<uint8_t>()[i], frames.data<uint8_t>()[i]) << "byte " << i;
  }
  fs::remove_all(dir);
}

TEST(VideoIO, FailedWritesLeaveNoFile) {
  const fs::path dir = temp_dir("fail");
  EXPECT_THROW(io::write_video(dir / "missing" / "v.mp4", test_frames(2, 16, 16)), InputError);
  EXPECT_THROW(io::write_video(dir / "odd.mp4", test_frames(2, 15, 16)), InputError);
  EXPECT_FALSE(fs::exists(dir / "odd.mp4"));
  EXPECT_TRUE(fs::is_empty(dir));
  EXPECT_THROW(io::read_video(dir / "absent.mp4"), InputError);
  fs::path junk = dir / "junk.mp4";
  { FILE* f = std::fopen(junk.c_str(), "wb"); std::fputs("not a video", f); std::fclose(f); }
  EXPECT_THROW(io::read_video(junk), InputError);
  fs::remove_all(dir);
}

TEST(VideoIO, PostprocessMatchesUpstream) {
  const Tensor f = Tensor::from_vector<float>({-2.0f, -1.0f, 0.0f, 0.999f, 1.0f, 3.0f}, Shape{1, 3, 1, 2});
  const Tensor rgb = io::frames_to_rgb8(f);
  ASSERT_EQ(rgb.shape(), (Shape{1, 1, 2, 3}));
  // (clamp(x,-1,1)+1)*127.5 truncated: -2->0, -1->0, 0->127, 0.999->254, 1->255, 3->255,
  // laid out pixel-major: pixel 0 = (c0, c1, c2) = (-2, 0, 1), pixel 1 = (-1, 0.999, 3).
  const uint8_t expect[6] = {0, 127, 255, 0, 254, 255};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(rgb.data<uint8_t>()[i], expect[i]) << i;
}

}  // namespace
}  // namespace sv
