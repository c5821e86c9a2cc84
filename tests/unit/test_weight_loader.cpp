// Weights bind by checkpoint name: a round trip through a safetensors file
// reproduces the model exactly, and every mismatch is reported at once with
// the tensor names and the file.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "io/safetensors.h"
#include "layers/weight_loader.h"
#include "models/dit/dit_model.h"
#include "test_util.h"

namespace sv {
namespace {

namespace fs = std::filesystem;

DitConfig small_config() {
  DitConfig c;
  c.num_attention_heads = 2;
  c.num_layers = 2;
  c.in_channels = c.out_channels = 4;
  c.caption_channels = 8;
  c.clip_channels = 6;
  return c;
}

fs::path temp_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() /
                       ("stepvideo_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::vector<std::pair<std::string, Tensor>> named_values(const DitModel& model) {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& p : model.registry().parameters()) out.emplace_back(p->name, p->value);
  return out;
}

DitInputs small_inputs() {
  DitInputs in;
  in.hidden_states = test::random_tensor(Shape{2, 2, 4, 2, 3}, 1);
  in.timestep = Tensor::from_vector<float>({0.3f, 0.8f}, Shape{2});
  in.encoder_hidden_states = test::random_tensor(Shape{2, 5, 8}, 2);
  in.encoder_hidden_states_2 = test::random_tensor(Shape{2, 3, 6}, 3);
  in.encoder_attention_mask =
      Tensor::from_vector<float>({1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1}, Shape{2, 8});
  return in;
}

TEST(WeightLoader, RoundTripReproducesTheModel) {
  const fs::path dir = temp_dir("roundtrip");
  DitModel a(small_config(), ParallelGroups::single());
  init_parameters_random(a.registry(), 42);
  io::write_safetensors(dir / "model.safetensors", named_values(a));
  DitModel b(small_config(), ParallelGroups::single());
  load_parameters(b.registry(), io::Checkpoint::open(dir / "model.safetensors"));
  const Tensor ya = a.forward(small_inputs()), yb = b.forward(small_inputs());
  ASSERT_EQ(ya.shape(), (Shape{2, 2, 4, 2, 3}));
  for (int64_t i = 0; i < ya.numel(); ++i) ASSERT_EQ(ya.data<float>()[i], yb.data<float>()[i]);
  // BF16-stored weights load as their exact f32 widening.
  auto bf16 = named_values(a);
  for (auto& [name, t] : bf16) t = t.to(DType::BF16);
  io::write_safetensors(dir / "bf16.safetensors", bf16);
  DitModel c(small_config(), ParallelGroups::single());
  load_parameters(c.registry(), io::Checkpoint::open(dir / "bf16.safetensors"));
  const Parameter* w = c.registry().find("transformer_blocks.1.attn1.wqkv.weight");
  ASSERT_NE(w, nullptr);
  const Tensor expect = a.registry().find(w->name)->value.to(DType::BF16).to(DType::F32);
  for (int64_t i = 0; i < expect.numel(); ++i) ASSERT_EQ(w->value.data<float>()[i], expect.data<float>()[i]);
  fs::remove_all(dir);
}

TEST(WeightLoader, ReportsEveryMismatchWithNamesAndFile) {
  const fs::path dir = temp_dir("mismatch");
  DitModel a(small_config(), ParallelGroups::single());
  init_parameters_random(a.registry(), 7);
  auto values = named_values(a);
  std::vector<std::pair<std::string, Tensor>> broken;
  for (auto& [name, t] : values) {
    if (name == "transformer_blocks.0.attn2.wkv.weight") continue;  // missing
    if (name == "proj_out.weight") {  // mis-shaped
      broken.emplace_back(name, Tensor::zeros(Shape{3, 3}, DType::F32));
      continue;
    }
    broken.emplace_back(name, t);
  }
  broken.emplace_back("transformer_blocks.9.extra.weight", Tensor::zeros(Shape{2}, DType::F32));
  io::write_safetensors(dir / "broken.safetensors", broken);
  DitModel b(small_config(), ParallelGroups::single());
  try {
    load_parameters(b.registry(), io::Checkpoint::open(dir / "broken.safetensors"));
    FAIL() << "loading a broken checkpoint must throw";
  } catch (const CheckpointError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("broken.safetensors"), std::string::npos) << m;
    EXPECT_NE(m.find("1 missing tensor(s): transformer_blocks.0.attn2.wkv.weight [512, 256]"),
              std::string::npos) << m;
    EXPECT_NE(m.find("proj_out.weight is [3, 3] in the file, the model expects [4, 256]"),
              std::string::npos) << m;
    EXPECT_NE(m.find("unexpected tensor(s): transformer_blocks.9.extra.weight"), std::string::npos)
        << m;
  }
  // Nothing was read: the model's parameters are still unallocated.
  for (const auto& p : b.registry().parameters()) EXPECT_FALSE(p->value.defined()) << p->name;
  fs::remove_all(dir);
}

TEST(DitConfigFile, MissingKeyNamesFileAndKey) {
  const fs::path dir = temp_dir("config");
  std::ofstream(dir / "config.json") << R"({"num_attention_heads": 2, "attention_head_dim": 128,
    "in_channels": 16, "caption_channels": [64, 32]})";
  try {
    DitConfig::from_file(dir / "config.json");
    FAIL() << "a config without num_layers must be rejected";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("config.json: missing key 'num_layers'"),
              std::string::npos) << e.what();
  }
  // RoPE splits a head into a half and two quarters, each of even size.
  std::ofstream(dir / "bad.json") << R"({"num_attention_heads": 2, "attention_head_dim": 60,
    "in_channels": 16, "num_layers": 1, "caption_channels": [64, 32]})";
  try {
    DitConfig::from_file(dir / "bad.json");
    FAIL() << "a head of 60 cannot be split for RoPE";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.json: attention_head_dim must be a multiple of 8"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(DitConfig::from_file(dir / "absent.json"), ConfigError);
  fs::remove_all(dir);
}

TEST(DitModel, RejectsWrongInputShapes) {
  DitModel m(small_config(), ParallelGroups::single());
  init_parameters_random(m.registry(), 3);
  DitInputs in = small_inputs();
  in.hidden_states = test::random_tensor(Shape{2, 2, 5, 2, 3}, 1);  // 5 channels, model has 4
  EXPECT_THROW(m.forward(in), InputError);
  in = small_inputs();
  in.encoder_attention_mask = Tensor::full(Shape{2, 7}, 1.0f);  // clip + llm = 8 tokens
  EXPECT_THROW(m.forward(in), InputError);
}

}  // namespace
}  // namespace sv
