// DecodeStage: denoised latents -> 8-bit RGB frames (Video-VAE decode and
// upstream's post-processing), optionally spread over a replica's ranks.
#pragma once

#include "models/vae/vae_model.h"
#include "parallel/communicator.h"

namespace sv {

// The decoded frames hold NaN or infinity: nothing may be written (an 8-bit
// conversion would turn them into a black video). Thrown by the leader after
// every rank's part of the decode has arrived, so it fails the item alone.
class NonFiniteFrames : public InputError {
 public:
  using InputError::InputError;
};

class DecodeStage {
 public:
  explicit DecodeStage(const VaeModel& vae, const VaeDecodeOptions& options = {})
      : vae_(vae), options_(options) {}
  // latents: f32 [1, T, z, h, w] -> u8 [frames, 16 h, 16 w, 3].
  Tensor run(const Tensor& latents) const;
  // The same, with the latent chunks (latent_len frames each) dealt round-robin
  // to the ranks of `group`; each decodes its chunks independently (a chunk is
  // always decoded from scratch), the leader (rank 0) gathers the frames,
  // blends the chunk borders and returns the video; other ranks return an
  // undefined tensor. Equal to run() on one rank. NonFiniteFrames on the
  // leader when the frames are not finite.
  Tensor run_distributed(const Tensor& latents, Communicator& group) const;

 private:
  const VaeModel& vae_;
  VaeDecodeOptions options_;
};

}  // namespace sv
