// What a training run changes, and how it is restored and saved (DESIGN.md
// 6b): the model, the optimizer (AdamW, or ZeRO-1's share), the EMA weights,
// Video-DPO's reference and the progress; started fresh or from the newest
// complete checkpoint of the run directory, on any layout, and gathered into
// full tensors for the checkpoint writer.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "models/dit/dit_model.h"
#include "parallel/parallel_groups.h"
#include "train/adamw.h"
#include "train/sharded_adamw.h"
#include "train/train_checkpoint.h"
#include "train/train_config.h"
#include "train/trainer.h"

namespace sv::train {

struct RunState {
  std::unique_ptr<DitModel> model;
  // One of the two: every moment here, or (--zero 1) this rank's share.
  std::unique_ptr<AdamW> adamw;
  std::unique_ptr<ShardedAdamW> sharded;
  std::unique_ptr<DitModel> reference;  // Video-DPO's frozen reference, laid out as the policy
  std::map<std::string, Tensor> ema;
  TrainProgress progress;
  TrainConfig config;
};

// --grad-bucket-mb in bytes.
int64_t grad_bucket_bytes(const TrainConfig& config);

// Fresh from --model, or resumed from the newest complete checkpoint (world
// rank 0 chooses it for every rank); ConfigError when the run was started
// with other computation-defining settings.
RunState start_or_resume(const TrainerOptions& options);

// The run's state as full tensors: parameters split over tp are gathered
// (every rank takes part), other pipeline stages' blocks are brought to the
// first stage; only world rank 0, which then holds everything, writes it.
CheckpointContents full_state(const RunState& state, const ParallelGroups& groups);

// After an optimizer step: the EMA weights follow the weights.
void update_ema(RunState& state);
// Video-DPO: the reference takes the policy's weights (the same layout holds both).
void refresh_reference(RunState& state);

}  // namespace sv::train
