// The `tiny` model preset: a complete Step-Video-T2V model directory in the
// upstream release layout with untrained weights, small enough that the whole
// pipeline (both text encoders, the DiT's denoising loop, the VAE decode)
// runs in seconds on two CPU cores. It shows the machinery, not a picture.
//
//   transformer/   config.json, diffusion_pytorch_model-0000{1,2}-of-00002.safetensors,
//                  diffusion_pytorch_model.safetensors.index.json
//   vae/           config.json, vae_v2.safetensors
//   step_llm/      config.json, step1_chat_tokenizer.model, model.safetensors
//   hunyuan_clip/  clip_text_encoder/{config.json, model.safetensors},
//                  tokenizer/{vocab.txt, tokenizer_config.json, special_tokens_map.json}
//   README.txt
//
// Weights are BF16 (as released), drawn by init_parameters_random from seeds
// derived from one seed; the tokenizers are built from the shipped corpus
// (configs/tiny/corpus.txt) and do not depend on the seed. The same seed
// gives byte-identical files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "models/dit/dit_config.h"
#include "models/text/bert_config.h"
#include "models/text/step_llm.h"
#include "models/vae/vae_config.h"

namespace sv::presets {

struct TinyModelSpec {
  DitConfig dit;        // 4 heads x 128 (tp, sp = 2 or 4 divide it), 2 layers
  VaeConfig vae;        // z_channels = the DiT's in/out channels
  StepLlmConfig llm;    // hidden 256
  BertConfig bert;      // vocab_size is set from the built vocab.txt
  int64_t llm_tokenizer_pieces = 3000;  // upper bound for SentencePiece training
};

TinyModelSpec tiny_model_spec();

// What the tiny preset's tokenizers are built from: configs/tiny/corpus.txt
// and every caption of the shapes world (src/shapes/), so that no word of the
// world falls to an unknown or byte-fallback piece.
std::vector<std::string> tiny_tokenizer_corpus();

// Writes the tiny model into `dir`, an existing empty directory (the caller
// makes the result appear atomically; see init_model_directory).
void write_tiny_model(const std::filesystem::path& dir, uint64_t seed);

// The directory of bundled trained weights: $STEPVIDEO_BUNDLED_MODELS/tiny,
// else the source tree's models/tiny. It holds transformer/ (config.json and
// safetensors), vae/ (config.json, vae_v2.safetensors) and sampling.json, as
// scripts/train-default-model.sh --install writes them.
std::filesystem::path bundled_tiny_dir();
// Whether that directory holds a complete set.
bool have_bundled_tiny();

// The default model: the tiny model (its text encoders and tokenizers from
// seed 0, which the bundled DiT was trained with) with the bundled trained
// DiT, VAE and sampling defaults. Until they are bundled it writes the
// random weights and says so (a warning). InputError for a seed other than 0.
void write_trained_tiny_model(const std::filesystem::path& dir, uint64_t seed);

}  // namespace sv::presets
