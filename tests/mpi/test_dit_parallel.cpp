// Run under mpirun: the DiT forward pass and the denoising loop under the
// layout given by STEPVIDEO_TEST_LAYOUT equal the single-rank result within
// f32 reordering tolerance. Every rank also computes the single-rank result
// itself (same seeded weights), so no rank needs another's reference.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <unistd.h>

#include "core/random.h"
#include "layers/gradients.h"
#include "layers/parallel_linear.h"
#include "layers/weight_loader.h"
#include "models/dit/dit_model.h"
#include "parallel/mpi_groups.h"
#include "io/video_frames.h"
#include "models/model_directory.h"
#include "models/presets/tiny_model.h"
#include "stages/decode_stage.h"
#include "stages/denoise_stage.h"
#include "train/dit_step.h"
#include "train/pipeline_step.h"

namespace sv {
namespace {

MpiRuntime* g_runtime = nullptr;  // test harness only: set once in main

Layout test_layout() {
  const char* env = std::getenv("STEPVIDEO_TEST_LAYOUT");
  return Layout::parse(env ? env : "");
}

double rel_l2(const Tensor& a, const Tensor& b) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double d = double(a.data<float>()[i]) - double(b.data<float>()[i]);
    num += d * d;
    den += double(b.data<float>()[i]) * b.data<float>()[i];
  }
  return std::sqrt(num / den);
}

// The DiT of `init-model --preset tiny` (4 heads, so every test layout divides
// them) with one more layer, so pp=2 splits unevenly; 3 x 3 x 5 = 45 video
// tokens, so sp=2 and sp=4 split unevenly.
DitConfig test_config() {
  DitConfig c = presets::tiny_model_spec().dit;
  c.num_layers = 3;
  return c;
}

DitConditioning test_text(int64_t rows) {
  DitConditioning t;
  const DitConfig c = test_config();
  t.y = gaussian_noise(Shape{rows, 7, c.caption_channels}, 11);
  t.clip = gaussian_noise(Shape{rows, 3, c.clip_channels}, 12);
  t.mask = Tensor::zeros(Shape{rows, 10}, DType::F32);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < 10 - 2 * (r % 3); ++j) t.mask.data<float>()[r * 10 + j] = 1.0f;
  }
  return t;
}

// The tensor-parallel linear pair (column then row, as an MLP) under this
// layout's tp group: forward, input gradient and every parameter gradient
// equal one unsplit Linear pair's (the gradients as this rank's slice).
TEST(DitParallel, ParallelLinearsTrainLikeUnsplitOnes) {
  const ParallelGroups groups = make_parallel_groups(*g_runtime, test_layout(), 4, 3);
  const int64_t d = 8, hidden = 16;
  ParameterRegistry full_registry, split_registry;
  const Linear a(Scope(full_registry, "a"), d, hidden, true), b(Scope(full_registry, "b"), hidden, d, true);
  init_parameters_random(full_registry, 7);
  const ColumnParallelLinear col(Scope(split_registry, "a"), d, hidden, true, *groups.tp);
  const RowParallelLinear row(Scope(split_registry, "b"), hidden, d, true, *groups.tp);
  const int64_t tp = groups.tp_size(), r = groups.tp_rank();
  // This rank's slice of a full tensor, by the parameter's shard rule.
  auto slice_of = [&](const Parameter& p) {
    const Tensor& whole = full_registry.find(p.name)->value;
    if (p.shard.is_replicated()) return whole.clone();
    const int64_t n = whole.dim(p.shard.dim) / tp;
    return whole.slice(p.shard.dim, r * n, (r + 1) * n).contiguous();
  };
  for (const auto& p : split_registry.parameters()) p->value = slice_of(*p);

  const Tensor x = gaussian_noise(Shape{2, 3, d}, 21), dy = gaussian_noise(Shape{2, 3, d}, 22);
  Linear::Saved sa, sb, sc, sr;
  const Tensor y_full = b.forward(a.forward(x, sa), sb);
  const Tensor y_split = row.forward(col.forward(x, sc), sr);
  EXPECT_LT(rel_l2(y_split, y_full), 1e-6);
  Gradients g_full, g_split;
  const Tensor dx_full = a.backward(b.backward(dy, sb, g_full), sa, g_full);
  const Tensor dx_split = col.backward(row.backward(dy, sr, g_split), sc, g_split);
  EXPECT_LT(rel_l2(dx_split, dx_full), 1e-6);
  for (const auto& p : split_registry.parameters()) {
    const Parameter& whole = *full_registry.find(p->name);
    Tensor expected = *g_full.find(whole);
    if (!p->shard.is_replicated()) {
      const int64_t n = expected.dim(p->shard.dim) / tp;
      expected = expected.slice(p->shard.dim, r * n, (r + 1) * n).contiguous();
    }
    ASSERT_NE(g_split.find(*p), nullptr) << p->name;
    EXPECT_LT(rel_l2(*g_split.find(*p), expected), 1e-6) << p->name;
  }
}

TEST(DitParallel, ForwardEqualsSingleRank) {
  const DitConfig config = test_config();
  DitModel single(config, ParallelGroups::single());
  init_parameters_random(single.registry(), 5);
  DitModel parallel(config, make_parallel_groups(*g_runtime, test_layout(), 4, 3));
  init_parameters_random(parallel.registry(), 5);

  const DitConditioning text = test_text(2);
  DitInputs in;
  in.hidden_states = gaussian_noise(Shape{2, 3, config.in_channels, 3, 5}, 13);
  in.timestep = Tensor::from_vector<float>({0.3f, 0.8f}, Shape{2});
  in.encoder_hidden_states = text.y;
  in.encoder_hidden_states_2 = text.clip;
  in.encoder_attention_mask = text.mask;
  const Tensor ref = single.forward(in);
  const Tensor out = parallel.forward(in);
  ASSERT_EQ(out.shape(), ref.shape());
  EXPECT_LT(rel_l2(out, ref), 1e-5) << test_layout().str();
}

// One training step's loss and gradients under this layout (the 1F1B
// pipeline over 4 micro-batches of one sample under pp, 3 layers split 2 + 1;
// the sp ranks' partial gradients summed as the trainer's reduction does)
// equal one rank's on the whole batch.
TEST(DitParallel, TrainingStepGradientsEqualSingleRank) {
  const Layout layout = test_layout();
  if (layout.cfg != 1) GTEST_SKIP() << "cfg has no meaning in training (train refuses it)";
  const DitConfig config = test_config();
  DitModel single(config, ParallelGroups::single());
  init_parameters_random(single.registry(), 5);
  const ParallelGroups groups = make_parallel_groups(*g_runtime, layout, 4, 3);
  DitModel parallel(config, groups);
  init_parameters_random(parallel.registry(), 5);

  constexpr int64_t kBatch = 4;
  const DitConditioning text = test_text(kBatch);
  train::DitBatch whole;
  whole.x0 = gaussian_noise(Shape{kBatch, 3, config.in_channels, 3, 5}, 21);
  whole.noise = gaussian_noise(whole.x0.shape(), 22);
  whole.t = Tensor::from_vector<float>({0.2f, 0.5f, 0.7f, 0.9f}, Shape{kBatch});
  whole.encoder_hidden_states = text.y;
  whole.encoder_hidden_states_2 = text.clip;
  whole.encoder_attention_mask = text.mask;
  Gradients reference;
  const double reference_loss = train::dit_flow_matching_step(single, whole, {}, reference).loss;

  std::vector<train::DitBatch> micro;
  for (int64_t j = 0; j < kBatch; ++j) {
    auto row = [&](const Tensor& t) { return t.slice(0, j, j + 1).contiguous(); };
    micro.push_back(train::DitBatch{row(whole.x0), row(whole.noise), row(whole.t), row(whole.encoder_hidden_states),
                                    row(whole.encoder_hidden_states_2), row(whole.encoder_attention_mask)});
  }
  Gradients grads;
  const double loss =
      sum_across(*groups.pp, train::pipeline_step(parallel, micro, 1.0 / kBatch, {}, grads, *groups.pp));
  EXPECT_NEAR(loss, reference_loss, 1e-6 * reference_loss);

  const int tp = groups.layout.tp, r = groups.tp_rank();
  int compared = 0;
  for (const auto& p : parallel.registry().parameters()) {
    if (!p->local) continue;
    Tensor& g = grads.of(*p);
    groups.sp->all_reduce_sum(g.data<float>(), g.numel());  // each sp rank's tokens' share
    Tensor expected = reference.of(*single.registry().find(p->name));
    if (!p->shard.is_replicated()) {
      const int64_t n = expected.dim(p->shard.dim) / tp;
      expected = expected.slice(p->shard.dim, r * n, (r + 1) * n).contiguous();
    }
    EXPECT_LT(rel_l2(g, expected), 1e-5) << p->name << " under " << layout.str();
    ++compared;
  }
  EXPECT_GT(compared, 10);
}

// The DiT that `stepvideo init-model --preset tiny` writes, loaded from its
// files (bf16, sharded) by every rank: several denoising steps with guidance.
TEST(DitParallel, TinyPresetDenoisedLatentsEqualSingleRank) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("stepvideo_mpi_tiny_" + std::to_string(::getpid()));  // one per rank
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  presets::write_tiny_model(dir, 0);
  const DitConfig config = DitConfig::from_file(dir / "transformer" / "config.json");
  const std::unique_ptr<DitModel> single = load_dit(dir, ParallelGroups::single());
  const std::unique_ptr<DitModel> parallel = load_dit(
      dir, make_parallel_groups(*g_runtime, test_layout(), config.num_attention_heads,
                                config.num_layers));
  std::filesystem::remove_all(dir);

  const Tensor noise = gaussian_noise(Shape{2, 3, config.in_channels, 3, 5}, 99);
  const DitConditioning text = test_text(4);  // 2 prompts + 2 negatives
  DenoiseOptions options;
  options.steps = 3;
  options.cfg_scale = 5.0f;
  const Tensor ref = DenoiseStage(*single).run(noise, text, options);
  const Tensor out = DenoiseStage(*parallel).run(noise, text, options);
  EXPECT_LT(rel_l2(out, ref), 1e-5) << test_layout().str();
}

// Latent chunks dealt over the replica's ranks, gathered and blended on the
// leader: the same frames as one rank decoding everything. 7 latent frames =
// 3 chunks (3, 3, 1), so ranks get unequal work and a short last chunk.
TEST(VaeParallel, DistributedDecodeEqualsSingleRank) {
  VaeConfig config = presets::tiny_model_spec().vae;
  VaeModel vae(config, VaeParts::Decoder);
  init_parameters_random(vae.registry(), 8);
  const Tensor latents = gaussian_noise(Shape{1, 7, config.z_channels, 2, 3}, 21);
  const ParallelGroups groups = make_parallel_groups(*g_runtime, test_layout(), 4, 3);
  const Tensor ref = io::frames_to_rgb8(vae.decode(latents).select(0, 0));
  const Tensor out = DecodeStage(vae).run_distributed(latents, *groups.replica);
  if (groups.replica->rank() != 0) {
    EXPECT_FALSE(out.defined());
    return;
  }
  ASSERT_EQ(out.shape(), ref.shape());
  int64_t differing = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    differing += out.data<uint8_t>()[i] != ref.data<uint8_t>()[i];
  }
  EXPECT_EQ(differing, 0) << "frames differ from the one-rank decode";
}

}  // namespace
}  // namespace sv

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  sv::MpiRuntime runtime(&argc, &argv);
  sv::g_runtime = &runtime;
  // Only rank 0 prints gtest's report; every rank's result decides the exit code.
  if (runtime.world_rank() != 0) {
    delete ::testing::UnitTest::GetInstance()->listeners().Release(
        ::testing::UnitTest::GetInstance()->listeners().default_result_printer());
  }
  const int failed = RUN_ALL_TESTS();
  int any = failed;
  if (runtime.active()) MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return any;
}
