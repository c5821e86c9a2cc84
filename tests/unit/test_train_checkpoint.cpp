// Training checkpoints: everything written is read back exactly, and weights
// of another model are refused by name.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "layers/weight_loader.h"
#include "models/dit/dit_model.h"
#include "train/dit_step.h"
#include "train/train_checkpoint.h"

namespace sv {
namespace {

namespace fs = std::filesystem;

DitConfig config_with(int64_t heads) {
  DitConfig c;
  c.num_attention_heads = heads;
  c.attention_head_dim = 128;
  c.in_channels = 4;
  c.out_channels = 4;
  c.num_layers = 1;
  c.caption_channels = 8;
  c.clip_channels = 0;
  return c;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data<float>(), b.data<float>(), a.nbytes()) == 0;
}

TEST(TrainCheckpoint, RoundTripsWeightsMomentsEmaAndState) {
  const fs::path dir = fs::temp_directory_path() / ("sv_ckpt_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  DitModel model(config_with(1), ParallelGroups::single());
  init_parameters_random(model.registry(), 3);
  train::AdamW adamw({});
  Gradients grads;
  for (const auto& p : model.registry().parameters()) {
    Tensor& g = grads.of(*p);
    for (int64_t i = 0; i < g.numel(); ++i) g.data<float>()[i] = 0.001f * static_cast<float>(i % 7);
  }
  adamw.step(train::parameter_gradients(model.registry(), grads), 1e-3f);
  std::map<std::string, Tensor> ema;
  for (const auto& p : model.registry().parameters()) ema[p->name] = p->value.clone();
  train::TrainProgress progress{7, 1, 0, 2};
  train::TrainConfig config;
  config.model = "/models/base";
  config.data = "/data";
  config.seed = 42;
  const fs::path path = train::checkpoint_path(dir, 7);
  fs::create_directories(path.parent_path());
  train::write_train_checkpoint(path, model.registry(), adamw, ema, progress, config);

  const train::CheckpointContents c = train::read_train_checkpoint(path);
  EXPECT_EQ(c.progress.step, 7);
  EXPECT_EQ(c.progress.skipped_steps, 1);
  EXPECT_EQ(c.progress.epoch, 2);
  EXPECT_EQ(c.adamw_steps, 1);
  EXPECT_TRUE(c.config.computation_differences(config).empty());
  for (const auto& p : model.registry().parameters()) {
    EXPECT_TRUE(same_bytes(c.weights.at(p->name), p->value)) << p->name;
    EXPECT_TRUE(same_bytes(c.ema.at(p->name), ema.at(p->name))) << p->name;
    EXPECT_TRUE(same_bytes(c.moments.at(p->name).exp_avg_sq, adamw.moments(p->name)->exp_avg_sq)) << p->name;
  }
  ASSERT_EQ(train::list_checkpoints(dir).size(), 1u);

  // Into a model with two heads (twice as wide): refused, naming the tensor.
  DitModel other(config_with(2), ParallelGroups::single());
  init_parameters_random(other.registry(), 4);
  try {
    train::load_checkpoint_weights(other.registry(), c, path);
    FAIL() << "a checkpoint of another model was loaded";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("another model"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("scale_shift_table"), std::string::npos) << e.what();
  }
  // A truncated file is an InputError naming it.
  fs::resize_file(path, fs::file_size(path) / 2);
  EXPECT_THROW(train::read_train_checkpoint(path), InputError);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace sv
