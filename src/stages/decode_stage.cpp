#include "stages/decode_stage.h"

#include <algorithm>
#include <chrono>

#include "core/elapsed.h"
#include "core/log.h"
#include "io/video_frames.h"

namespace sv {

namespace {

void check_latents(const Tensor& latents) {
  SV_CHECK_AS(InputError, latents.rank() == 5 && latents.dim(0) == 1,
              "latents are {}, expected [1, T, C, h, w]", latents.describe());
}

}  // namespace

Tensor DecodeStage::run(const Tensor& latents) const {
  const auto self = make_self_communicator("decode");
  return run_distributed(latents, *self);
}

Tensor DecodeStage::run_distributed(const Tensor& latents, Communicator& group) const {
  check_latents(latents);
  const Tensor z = latents.to(DType::F32).contiguous();
  const int64_t latent_len = vae_.config().latent_len, frame_len = vae_.config().frame_len;
  const int64_t t = z.dim(1), chunks = (t + latent_len - 1) / latent_len;
  const int ranks = group.size(), me = group.rank();
  // Frames of chunk c: a full chunk gives frame_len, a short last one 8 n - 7.
  auto chunk_frames = [&](int64_t c) {
    const int64_t n = std::min(latent_len, t - c * latent_len);
    return n == latent_len ? frame_len : 8 * n - 7;
  };
  const int64_t h = z.dim(3) * 16, w = z.dim(4) * 16, channels = 3;
  int64_t frames = 0;
  for (int64_t c = 0; c < chunks; ++c) frames += chunk_frames(c);
  Tensor video;  // [1, frames, 3, H, W] on the leader
  if (me == 0) video = Tensor::empty(Shape{1, frames, channels, h, w}, DType::F32);
  int64_t first_frame = 0;
  for (int64_t c = 0; c < chunks; ++c) {
    const int owner = static_cast<int>(c % ranks);
    const int64_t n = chunk_frames(c);
    const int64_t count = n * channels * h * w;
    if (owner == me) {
      const auto start = std::chrono::steady_clock::now();
      const Tensor part = z.slice(1, c * latent_len, std::min(t, (c + 1) * latent_len)).contiguous();
      const Tensor decoded = vae_.decode_unmixed(part, options_).contiguous();
      SV_CHECK(decoded.dim(1) == n, "chunk {} decoded to {} frames, expected {}", c, decoded.dim(1), n);
      const double s = seconds_since(start);
      // Chunks owned by this rank: c, c + ranks, ...; the remaining ones take about as long.
      const int64_t left = (chunks - 1 - c) / ranks;
      log_info("decoded chunk {}/{} ({} frames) in {:.1f} s, ETA {:.1f} s", c + 1, chunks, n, s,
               s * static_cast<double>(left));
      if (me == 0) {
        video.slice(1, first_frame, first_frame + n).copy_from(decoded);
      } else {
        group.send(decoded.data<float>(), count, 0, static_cast<int>(c));
      }
    } else if (me == 0) {
      Tensor received = Tensor::empty(Shape{1, n, channels, h, w}, DType::F32);
      group.recv(received.data<float>(), count, owner, static_cast<int>(c));
      video.slice(1, first_frame, first_frame + n).copy_from(received);
    }
    first_frame += n;
  }
  if (me != 0) return Tensor();
  VaeModel::mix(video, frame_len);  // the blend needs both sides of each border
  SV_CHECK_AS(NonFiniteFrames, all_finite(video),
              "VAE decode produced NaN or infinite frames (from non-finite latents?): no video is written");
  return io::frames_to_rgb8(video.select(0, 0));
}

}  // namespace sv
