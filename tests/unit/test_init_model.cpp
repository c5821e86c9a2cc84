// The tiny model preset (`stepvideo init-model --preset tiny`): every part of
// the written directory loads through the same code a generation uses, runs,
// and the files are a pure function of the seed.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <map>

#include "core/error.h"
#include "io/checkpoint.h"
#include "layers/weight_loader.h"
#include "models/dit/dit_model.h"
#include "models/presets/model_presets.h"
#include "models/presets/tiny_corpus.h"
#include "models/tokenizers/bert_tokenizer.h"
#include "models/tokenizers/step_tokenizer.h"
#include "shapes/shapes_world.h"
#include "models/vae/vae_model.h"
#include "stages/text_encode_stage.h"
#include "test_util.h"

namespace sv {
namespace {

namespace fs = std::filesystem;

fs::path scratch(const std::string& name) {
  return fs::temp_directory_path() /
         ("stepvideo_init_model_" + std::to_string(::getpid())) / name;
}

fs::path write_tiny(const std::string& name, uint64_t seed) {
  const fs::path dir = scratch(name);
  presets::init_model_directory(*presets::find_model_preset("tiny-random"), dir,
                                presets::InitModelOptions{.seed = seed, .force = true});
  return dir;
}

// One tiny model per test process (gtest_discover_tests runs each test alone).
const fs::path& tiny_dir() {
  static const fs::path dir = write_tiny("seed0", 0);
  return dir;
}

std::map<std::string, std::string> read_tree(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    files[fs::relative(e.path(), dir).string()] =
        std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return files;
}

class InitModelEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(scratch("").parent_path(), ec);
  }
};
const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new InitModelEnvironment);

TEST(InitModel, ReleaseLayout) {
  const fs::path& dir = tiny_dir();
  for (const char* f :
       {"README.txt", "transformer/config.json",
        "transformer/diffusion_pytorch_model-00001-of-00002.safetensors",
        "transformer/diffusion_pytorch_model-00002-of-00002.safetensors",
        "transformer/diffusion_pytorch_model.safetensors.index.json", "vae/config.json",
        "vae/vae_v2.safetensors", "step_llm/config.json", "step_llm/step1_chat_tokenizer.model",
        "hunyuan_clip/clip_text_encoder/config.json",
        "hunyuan_clip/clip_text_encoder/model.safetensors", "hunyuan_clip/tokenizer/vocab.txt",
        "hunyuan_clip/tokenizer/tokenizer_config.json"}) {
    EXPECT_TRUE(fs::is_regular_file(dir / f)) << f;
  }
  // Nothing but the model itself: no temporary directories left beside it.
  for (const auto& e : fs::directory_iterator(dir.parent_path())) {
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
  }
  const io::Checkpoint dit = io::Checkpoint::open(dir / "transformer");
  EXPECT_EQ(dit.num_files(), 2u);
  for (const auto& f : dit.files()) {
    for (const io::TensorInfo& t : f->tensors()) EXPECT_EQ(t.dtype, DType::BF16) << t.name;
  }
}

TEST(InitModel, TextEncodersEncodeEnglishAndChinese) {
  const TextEncodeStage stage = TextEncodeStage::open(tiny_dir());
  const std::vector<std::string> texts = {"A red kite climbs slowly over the windy hill.",
                                          "一只红色的风筝在山坡上慢慢升起。"};
  const TextConditioning c = stage.encode_texts(texts);
  const DitConfig dit = DitConfig::from_file(tiny_dir() / "transformer" / "config.json");
  const int64_t ll = stage.options().llm_max_length, lc = stage.options().clip_max_length;
  EXPECT_EQ(c.y.shape(), (Shape{2, ll, dit.caption_channels}));
  EXPECT_EQ(c.clip_embedding.shape(), (Shape{2, lc, dit.clip_channels}));
  EXPECT_EQ(c.y_mask.shape(), (Shape{2, lc + ll}));
  EXPECT_TRUE(all_finite(c.y));
  EXPECT_TRUE(all_finite(c.clip_embedding));
  for (int64_t r = 0; r < 2; ++r) {
    const size_t row = static_cast<size_t>(r);
    const int64_t llm_len = c.llm_tokens.valid_lengths[row];
    const int64_t clip_len = c.clip_tokens.valid_lengths[row];
    // More than BOS/EOS and CLS/SEP, far less than the padded lengths.
    EXPECT_GT(llm_len, 4) << texts[row];
    EXPECT_LT(llm_len, 40) << texts[row];
    EXPECT_GT(clip_len, 4) << texts[row];
    EXPECT_LT(clip_len, 40) << texts[row];
    int64_t mask_sum = 0;
    for (int64_t j = 0; j < lc + ll; ++j) mask_sum += c.y_mask.data<int64_t>()[r * (lc + ll) + j];
    EXPECT_EQ(mask_sum, lc + llm_len);
    // Corpus words and characters are all in the WordPiece vocabulary.
    const int64_t unk = stage.clip_tokenizer().token_id("[UNK]");
    for (int64_t j = 0; j < clip_len; ++j) {
      EXPECT_NE(c.clip_tokens.input_ids.data<int64_t>()[r * lc + j], unk) << texts[row];
    }
    for (int64_t j = 1; j + 1 < llm_len; ++j) {
      EXPECT_NE(c.llm_tokens.input_ids.data<int64_t>()[r * ll + j], 0) << texts[row];
    }
  }
  // A generation's batch: prompt + the upstream suffix, and the default negative.
  const TextConditioning g = stage.encode({PromptItem{"a cat on a snowy window", {}, {}}});
  EXPECT_EQ(g.y.dim(0), 2);
  EXPECT_FALSE(g.llm_tokens.truncated[0]);
}

TEST(InitModel, TransformerLoadsFromShardsAndRuns) {
  const fs::path dir = tiny_dir() / "transformer";
  const DitConfig config = DitConfig::from_file(dir / "config.json");
  const VaeConfig vae = VaeConfig::from_file(tiny_dir() / "vae" / "config.json");
  EXPECT_EQ(config.num_attention_heads, 4);
  EXPECT_EQ(config.in_channels, vae.z_channels);
  DitModel model(config, ParallelGroups::single());
  load_parameters(model.registry(), io::Checkpoint::open(dir));  // throws on any mismatch

  const int64_t b = 2, f = 3, h = 4, w = 4, l = 8, lc = 4;
  DitInputs in;
  in.hidden_states = test::random_tensor(Shape{b, f, config.in_channels, h, w}, 1);
  in.timestep = Tensor::from_vector(std::vector<float>{0.9f, 0.3f}, Shape{b});
  in.encoder_hidden_states = test::random_tensor(Shape{b, l, config.caption_channels}, 2);
  in.encoder_hidden_states_2 = test::random_tensor(Shape{b, lc, config.clip_channels}, 3);
  std::vector<int64_t> mask(static_cast<size_t>(b * (lc + l)), 1);
  for (int64_t j = lc + 5; j < lc + l; ++j) mask[static_cast<size_t>(lc + l + j)] = 0;
  in.encoder_attention_mask = Tensor::from_vector(mask, Shape{b, lc + l});
  const Tensor v = model.forward(in);
  EXPECT_EQ(v.shape(), (Shape{b, f, config.out_channels, h, w}));
  EXPECT_TRUE(all_finite(v));
}

TEST(InitModel, VaeDecodesOneChunk) {
  const fs::path dir = tiny_dir() / "vae";
  const VaeConfig config = VaeConfig::from_file(dir / "config.json");
  VaeModel model(config, VaeParts::Both);
  load_parameters(model.registry(), io::Checkpoint::open(dir / "vae_v2.safetensors"));
  const Tensor latents = test::random_tensor(Shape{1, config.latent_len, config.z_channels, 2, 3}, 4);
  const Tensor video = model.decode(latents);
  EXPECT_EQ(video.shape(), (Shape{1, config.frame_len, 3, 32, 48}));
  EXPECT_TRUE(all_finite(video));
}

TEST(InitModel, SameSeedSameBytesOtherSeedOtherWeights) {
  const auto first = read_tree(tiny_dir());
  const auto again = read_tree(write_tiny("seed0_again", 0));
  const auto other = read_tree(write_tiny("seed1", 1));
  ASSERT_EQ(first.size(), again.size());
  ASSERT_EQ(first.size(), other.size());
  for (const auto& [name, bytes] : first) {
    EXPECT_TRUE(again.at(name) == bytes) << name << " differs between two runs with seed 0";
    const bool weights = name.ends_with(".safetensors");
    const bool readme = name == "README.txt" || name == presets::kInitModelMarker;  // name the seed
    if (weights || readme) {
      EXPECT_FALSE(other.at(name) == bytes) << name << " is the same for seeds 0 and 1";
    } else {
      EXPECT_TRUE(other.at(name) == bytes) << name << " should not depend on the seed";
    }
  }
}

TEST(InitModel, ForceReplacesOnlyAModelItWroteAndNothingElse) {
  EXPECT_EQ(presets::find_model_preset("nope"), nullptr);
  EXPECT_EQ(presets::model_preset_names(), "tiny, tiny-random");
  const fs::path dir = scratch("occupied");
  fs::create_directories(dir);
  std::ofstream(dir / "keep.txt") << "mine";
  const presets::ModelPreset& tiny = *presets::find_model_preset("tiny-random");
  EXPECT_THROW(presets::init_model_directory(tiny, dir, {}), InputError);
  // Not a model init-model wrote: --force must not empty it either.
  EXPECT_THROW(presets::init_model_directory(tiny, dir, presets::InitModelOptions{.seed = 0, .force = true}),
               InputError);
  EXPECT_TRUE(fs::exists(dir / "keep.txt"));
  fs::remove(dir / "keep.txt");
  presets::init_model_directory(tiny, dir, presets::InitModelOptions{.seed = 0});
  EXPECT_TRUE(fs::exists(dir / presets::kInitModelMarker));
  presets::init_model_directory(tiny, dir, presets::InitModelOptions{.seed = 1, .force = true});
  EXPECT_TRUE(fs::exists(dir / "transformer" / "config.json"));
  std::ofstream(dir / "vae" / "notes.txt") << "mine";  // a user's file inside the model
  EXPECT_THROW(presets::init_model_directory(tiny, dir, presets::InitModelOptions{.seed = 2, .force = true}),
               InputError);
  EXPECT_TRUE(fs::exists(dir / "vae" / "notes.txt"));
  std::vector<std::string> leftovers;
  for (const auto& e : fs::directory_iterator(dir.parent_path())) {
    const std::string n = e.path().filename().string();
    if (n.starts_with(".")) leftovers.push_back(n);
  }
  EXPECT_TRUE(leftovers.empty()) << leftovers.size() << " hidden entries left, e.g. "
                                 << (leftovers.empty() ? "" : leftovers.front());
  // An empty directory is simply replaced.
  const fs::path empty = scratch("empty");
  fs::create_directories(empty);
  presets::init_model_directory(tiny, empty, {});
  EXPECT_TRUE(fs::exists(empty / "README.txt"));
}

// Issue 17: both tokenizers of the tiny preset know every word of the shapes
// world: no [UNK] from WordPiece, no unknown or byte-fallback piece from
// SentencePiece, for every caption of every template in both languages.
TEST(InitModel, TokenizersCoverTheShapesWorld) {
  const fs::path& dir = tiny_dir();
  const tok::StepTokenizer step(dir / "step_llm" / "step1_chat_tokenizer.model");
  const tok::BertTokenizer bert = tok::BertTokenizer::from_dir(dir / "hunyuan_clip" / "tokenizer");
  const int64_t unk = bert.token_id("[UNK]");
  const std::vector<std::string> sentences = shapes::grammar_sentences();
  ASSERT_GE(sentences.size(), 400u);
  for (const std::string& s : sentences) {
    for (const int64_t id : step.encode(s)) {
      const std::string piece = step.piece(id);
      EXPECT_TRUE(id != 0 && !piece.starts_with("<0x")) << "'" << s << "': piece " << id << " '" << piece << "'";
    }
    for (const int64_t id : bert.encode(s)) EXPECT_NE(id, unk) << "'" << s << "': [UNK]";
  }
  // The check can fail: a word outside the world is not covered.
  std::vector<int64_t> ids = bert.encode("一个靛色的圆");  // 靛 (indigo) is in no caption nor the corpus
  EXPECT_NE(std::find(ids.begin(), ids.end(), unk), ids.end());
}

TEST(InitModel, CorpusIsBilingual) {
  const auto lines = presets::tiny_corpus_lines();
  EXPECT_GE(lines.size(), 300u);
  size_t chinese = 0;
  for (const auto& l : lines) chinese += l.find("\xe7\x9a\x84") != std::string::npos;  // 的
  EXPECT_GT(chinese, 100u);
}

}  // namespace
}  // namespace sv
