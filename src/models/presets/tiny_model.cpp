#include "models/presets/tiny_model.h"

#include <cstdlib>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "io/safetensors.h"
#include "io/sharded_safetensors.h"
#include "layers/weight_loader.h"
#include "models/dit/dit_model.h"
#include "models/presets/tiny_corpus.h"
#include "shapes/shapes_world.h"
#include "models/presets/tiny_tokenizers.h"
#include "models/text/bert.h"
#include "models/tokenizers/step_tokenizer.h"
#include "models/vae/vae_model.h"

namespace sv::presets {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

TinyModelSpec tiny_model_spec() {
  TinyModelSpec s;
  s.llm.hidden_size = 256;
  s.llm.num_attention_heads = 4;
  s.llm.num_attention_groups = 2;
  s.llm.num_layers = 2;
  s.llm.ffn_hidden_size = 512;
  s.llm.padded_vocab_size = 4096;

  s.bert.hidden_size = 128;
  s.bert.num_hidden_layers = 2;
  s.bert.num_attention_heads = 4;
  s.bert.intermediate_size = 512;
  s.bert.max_position_embeddings = 128;  // covers the 77-token CLIP length

  // Widths 16 / 32 / 64 / 64 from full to 1/8 resolution: training the VAE
  // on CPU costs about a quarter of 32 / 64 / 64 / 64 (the full- and
  // half-resolution convolutions dominate, and scale with width squared);
  // the deepest width 64 is what z = 16 needs (8 x 64 = 32 z patch channels).
  s.vae.z_channels = 16;
  s.vae.norm_groups = 8;
  s.vae.encoder.ch = 16;
  s.vae.encoder.ch_mult = {1, 2, 4, 4};
  s.vae.decoder.ch = 16;
  s.vae.decoder.ch_mult = {1, 2, 4, 4};
  s.vae.validate("tiny preset (vae)");

  // 4 heads (every tp/sp layout up to 4 ranks divides them) of 64, not
  // upstream's 128: 2.8 M parameters against 10.8 M at 4 x 128, so the trained
  // default fits the repository (bf16 DiT + VAE under 40 MB) and its cascade
  // trains 2.5x faster per step; RoPE keeps upstream's 1/2, 1/4, 1/4 split.
  s.dit.num_attention_heads = 4;
  s.dit.attention_head_dim = 64;
  s.dit.in_channels = s.vae.z_channels;
  s.dit.out_channels = s.vae.z_channels;
  s.dit.num_layers = 2;
  s.dit.caption_channels = s.llm.hidden_size;
  s.dit.clip_channels = s.bert.hidden_size;
  s.dit.validate("tiny preset (transformer)");
  return s;
}

namespace {

// SplitMix64: independent seeds for the four models from the one --seed.
uint64_t component_seed(uint64_t seed, uint64_t component) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (component + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void write_text(const fs::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  SV_CHECK_AS(InputError, out.good(), "{}: cannot create the file", path.string());
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  SV_CHECK_AS(InputError, !out.fail(), "{}: write failed", path.string());
}

void write_json(const fs::path& path, const ojson& j) { write_text(path, j.dump(2) + "\n"); }

// A float config value as its shortest decimal (1e-06, not 9.99999997e-07).
double decimal(float v) {
  const std::string text = fmt::format("{}", v);
  double d = 0.0;
  std::from_chars(text.data(), text.data() + text.size(), d);  // locale-free, unlike stod
  return d;
}

// Every parameter in declaration (upstream state_dict) order, rounded to BF16.
NamedTensors bf16_weights(ParameterRegistry& registry, uint64_t seed) {
  init_parameters_random(registry, seed);
  NamedTensors out;
  for (const auto& p : registry.parameters()) out.emplace_back(p->name, p->value.to(DType::BF16));
  return out;
}

ojson dit_json(const DitConfig& c) {
  return ojson{{"_class_name", "StepVideoModel"},
               {"num_attention_heads", c.num_attention_heads},
               {"attention_head_dim", c.attention_head_dim},
               {"in_channels", c.in_channels},
               {"out_channels", c.out_channels},
               {"num_layers", c.num_layers},
               {"dropout", 0.0},
               {"patch_size", c.patch_size},
               {"norm_type", "ada_norm_single"},
               {"norm_elementwise_affine", c.norm_elementwise_affine},
               {"norm_eps", decimal(c.norm_eps)},
               {"use_additional_conditions", false},
               {"caption_channels", {c.caption_channels, c.clip_channels}},
               {"attention_type", "parallel"}};
}

ojson vae_json(const VaeConfig& c) {
  return ojson{{"version", c.version},
               {"in_channels", c.in_channels},
               {"out_channels", c.out_channels},
               {"z_channels", c.z_channels},
               {"num_res_blocks", c.num_res_blocks},
               {"frame_len", c.frame_len},
               {"latent_len", c.latent_len},
               {"encoder",
                {{"ch", c.encoder.ch},
                 {"ch_mult", c.encoder.ch_mult},
                 {"down_sampling_layer", c.encoder.down_sampling_layer},
                 {"double_z", c.encoder.double_z},
                 {"resamp_with_conv", true}}},
               {"decoder",
                {{"ch", c.decoder.ch},
                 {"ch_mult", c.decoder.ch_mult},
                 {"temporal_up_layers", c.decoder.temporal_up_layers},
                 {"temporal_downsample", c.decoder.temporal_downsample},
                 {"resamp_with_conv", true}}},
               {"group_norm", {{"num_groups", c.norm_groups}, {"eps", decimal(c.norm_eps)}}}};
}

ojson llm_json(const StepLlmConfig& c) {
  return ojson{{"hidden_size", c.hidden_size},
               {"num_attention_heads", c.num_attention_heads},
               {"num_attention_groups", c.num_attention_groups},
               {"num_layers", c.num_layers},
               {"ffn_hidden_size", c.ffn_hidden_size},
               {"padded_vocab_size", c.padded_vocab_size},
               {"layernorm_epsilon", decimal(c.layernorm_epsilon)},
               {"seq_length", 320},
               {"use_flash_attn", true},
               {"attention_dropout", 0.0},
               {"hidden_dropout", 0.0},
               {"params_dtype", "bfloat16"},
               {"fp32_residual_connection", false},
               {"embedding_weights_in_fp32", false}};
}

ojson bert_json(const BertConfig& c) {
  return ojson{{"architectures", {"BertModel"}},
               {"model_type", "bert"},
               {"vocab_size", c.vocab_size},
               {"hidden_size", c.hidden_size},
               {"num_hidden_layers", c.num_hidden_layers},
               {"num_attention_heads", c.num_attention_heads},
               {"intermediate_size", c.intermediate_size},
               {"hidden_act", "gelu"},
               {"hidden_dropout_prob", 0.1},
               {"attention_probs_dropout_prob", 0.1},
               {"max_position_embeddings", c.max_position_embeddings},
               {"type_vocab_size", c.type_vocab_size},
               {"initializer_range", 0.02},
               {"layer_norm_eps", decimal(c.layer_norm_eps)},
               {"pad_token_id", 0},
               {"position_embedding_type", "absolute"}};
}

ojson special_tokens() {
  return ojson{{"cls_token", "[CLS]"}, {"mask_token", "[MASK]"}, {"pad_token", "[PAD]"},
               {"sep_token", "[SEP]"}, {"unk_token", "[UNK]"}};
}

std::string readme(const TinyModelSpec& s, uint64_t seed) {
  return fmt::format(
      "Tiny Step-Video-T2V model written by `stepvideo init-model --preset tiny-random --seed {}`.\n"
      "\n"
      "The weights are UNTRAINED: random values from the seed, stored as BF16. The\n"
      "directory has the layout and file formats of the released model, so every part\n"
      "of the pipeline (tokenizers, Step-LLM, HunyuanCLIP, DiT, Video-VAE) runs on it in\n"
      "seconds, but a generated video shows the machinery, not a picture.\n"
      "\n"
      "  transformer/   StepVideoModel: {} layers, {} heads x {}, {} latent channels\n"
      "  vae/           Video-VAE v2: z_channels {}, decoder widths {} x [{}]\n"
      "  step_llm/      Step-LLM: hidden {}, {} layers; SentencePiece BPE tokenizer\n"
      "  hunyuan_clip/  BERT: hidden {}, {} layers; WordPiece vocabulary\n"
      "\n"
      "Both tokenizers were built by stepvideo from its bilingual corpus\n"
      "(configs/tiny/corpus.txt). The same seed gives byte-identical files.\n",
      seed, s.dit.num_layers, s.dit.num_attention_heads, s.dit.attention_head_dim,
      s.dit.in_channels, s.vae.z_channels, s.vae.decoder.ch,
      fmt::join(s.vae.decoder.ch_mult, ", "), s.llm.hidden_size, s.llm.num_layers,
      s.bert.hidden_size, s.bert.num_hidden_layers);
}

}  // namespace

std::vector<std::string> tiny_tokenizer_corpus() {
  std::vector<std::string> corpus = tiny_corpus_lines();
  const std::vector<std::string> world = shapes::grammar_sentences();
  corpus.insert(corpus.end(), world.begin(), world.end());
  return corpus;
}

void write_tiny_model(const fs::path& dir, uint64_t seed) {
  TinyModelSpec spec = tiny_model_spec();
  const std::vector<std::string> corpus = tiny_tokenizer_corpus();

  // Step-LLM: tokenizer first, so the embedding table is known to cover it.
  const fs::path llm_dir = dir / "step_llm";
  fs::create_directories(llm_dir);
  const std::string sp_model = train_step_tokenizer(corpus, spec.llm_tokenizer_pieces);
  write_text(llm_dir / "step1_chat_tokenizer.model", sp_model);
  {
    // What TextEncodeStage will check: the wrapper's special pieces, and ids
    // that stay inside the embedding table.
    const tok::StepTokenizer check(llm_dir / "step1_chat_tokenizer.model");
    SV_CHECK(check.vocab_size() <= spec.llm.padded_vocab_size,
             "tiny preset: {} tokenizer pieces exceed the {}-row embedding table",
             check.vocab_size(), spec.llm.padded_vocab_size);
  }
  write_json(llm_dir / "config.json", llm_json(spec.llm));
  {
    StepLlmModel llm(spec.llm);
    io::write_safetensors(llm_dir / "model.safetensors",
                          bf16_weights(llm.registry(), component_seed(seed, 0)),
                          {{"format", "pt"}});
  }

  // HunyuanCLIP: the BERT's vocabulary is exactly the built vocab.txt.
  const fs::path clip_dir = dir / "hunyuan_clip";
  const fs::path tok_dir = clip_dir / "tokenizer", enc_dir = clip_dir / "clip_text_encoder";
  fs::create_directories(tok_dir);
  fs::create_directories(enc_dir);
  const std::string vocab = build_wordpiece_vocab(corpus);
  write_text(tok_dir / "vocab.txt", vocab);
  ojson tok_config = special_tokens();
  tok_config.update(ojson{{"do_basic_tokenize", true},
                          {"do_lower_case", true},
                          {"never_split", nullptr},
                          {"strip_accents", nullptr},
                          {"tokenize_chinese_chars", true},
                          {"tokenizer_class", "BertTokenizer"},
                          {"model_max_length", 77}});
  write_json(tok_dir / "tokenizer_config.json", tok_config);
  write_json(tok_dir / "special_tokens_map.json", special_tokens());
  spec.bert.vocab_size = static_cast<int64_t>(std::count(vocab.begin(), vocab.end(), '\n'));
  write_json(enc_dir / "config.json", bert_json(spec.bert));
  {
    BertModel bert(spec.bert);
    io::write_safetensors(enc_dir / "model.safetensors",
                          bf16_weights(bert.registry(), component_seed(seed, 1)),
                          {{"format", "pt"}});
  }

  const fs::path dit_dir = dir / "transformer";
  fs::create_directories(dit_dir);
  write_json(dit_dir / "config.json", dit_json(spec.dit));
  {
    DitModel dit(spec.dit, ParallelGroups::single());
    io::write_sharded_safetensors(dit_dir, "diffusion_pytorch_model",
                  bf16_weights(dit.registry(), component_seed(seed, 2)), 2);
  }

  const fs::path vae_dir = dir / "vae";
  fs::create_directories(vae_dir);
  write_json(vae_dir / "config.json", vae_json(spec.vae));
  {
    VaeModel vae(spec.vae, VaeParts::Both);
    io::write_safetensors(vae_dir / "vae_v2.safetensors",
                          bf16_weights(vae.registry(), component_seed(seed, 3)),
                          {{"format", "pt"}});
  }

  write_text(dir / "README.txt", readme(spec, seed));
}

fs::path bundled_tiny_dir() {
  const char* env = std::getenv("STEPVIDEO_BUNDLED_MODELS");
  return fs::path(env != nullptr && *env != '\0' ? env : STEPVIDEO_BUNDLED_MODELS_DIR) / "tiny";
}

bool have_bundled_tiny() {
  const fs::path b = bundled_tiny_dir();
  std::error_code ec;
  bool transformer_weights = false;
  for (const auto& e : fs::directory_iterator(b / "transformer", ec)) {
    transformer_weights |= e.path().extension() == ".safetensors";
  }
  return transformer_weights && fs::is_regular_file(b / "transformer" / "config.json", ec) &&
         fs::is_regular_file(b / "vae" / "vae_v2.safetensors", ec) && fs::is_regular_file(b / "vae" / "config.json", ec) &&
         fs::is_regular_file(b / "sampling.json", ec);
}

void write_trained_tiny_model(const fs::path& dir, uint64_t seed) {
  SV_CHECK_AS(InputError, seed == 0,
              "--preset tiny: the bundled weights were trained with the text encoders of seed 0; leave out --seed "
              "(or use --preset tiny-random --seed {})",
              seed);
  write_tiny_model(dir, 0);
  if (!have_bundled_tiny()) {
    log_warn("{}: no trained weights bundled yet (scripts/train-default-model.sh --install makes them): the model "
             "has tiny-random's weights, so its videos show the machinery, not a picture",
             bundled_tiny_dir().string());
    return;
  }
  const fs::path b = bundled_tiny_dir();
  // The random DiT's shards and index give way to the bundled DiT's files.
  for (const auto& e : fs::directory_iterator(dir / "transformer")) fs::remove(e.path());
  for (const auto& e : fs::directory_iterator(b / "transformer")) {
    if (e.is_regular_file()) fs::copy_file(e.path(), dir / "transformer" / e.path().filename());
  }
  for (const char* f : {"config.json", "vae_v2.safetensors"}) {
    fs::copy_file(b / "vae" / f, dir / "vae" / f, fs::copy_options::overwrite_existing);
  }
  fs::copy_file(b / "sampling.json", dir / "sampling.json");
  write_text(dir / "README.txt",
             "Tiny Step-Video-T2V model written by `stepvideo init-model --preset tiny`.\n"
             "\n"
             "The DiT and the Video-VAE were trained by stepvideo itself on the shapes world\n"
             "(scripts/train-default-model.sh: text-to-image, text-to-video, SFT, Video-DPO);\n"
             "the text encoders are seed 0's random ones, which the DiT learned to read. It\n"
             "draws prompts of the shapes world's caption grammar (README, \"The shapes\n"
             "world\"), e.g. \"a red circle moves to the right\" or \"一个红色的圆向右移动\";\n"
             "other prompts give shapes, not what they ask for. sampling.json holds the\n"
             "sampling defaults it was judged with (models/tiny/scores.md).\n");
  log_info("the trained DiT, Video-VAE and sampling defaults from {}", b.string());
}

}  // namespace sv::presets
