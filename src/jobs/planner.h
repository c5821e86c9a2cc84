// Planning: items that share every parameter of the computation (frames,
// height, width, steps, guidance, shift) go into one batch, up to the batch
// size, in manifest order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jobs/manifest.h"

namespace sv::jobs {

// A batch continued from a preempted run starts at `first_step` from the
// latents saved in `state` (a file under the output directory); the items are
// exactly those that were suspended together, so the computation is the same.
struct Batch {
  int64_t index = 0;  // unique within one run, for messages
  std::vector<JobItem> items;
  int64_t first_step = 0;
  std::string state;  // relative to the output directory; empty: start from noise
};

void to_json(nlohmann::json& j, const Batch& batch);
void from_json(const nlohmann::json& j, Batch& batch);

// What decides an item's denoising computation (frames, size, steps, guidance,
// shift) as a string: items with equal keys can share a batch, and one
// batch's time per item predicts another's of the same key.
std::string computation_key(const JobItem& item);
// True when a and b can share a batch (equal computation keys).
bool same_computation(const JobItem& a, const JobItem& b);

// Groups `items` (kept in order within a group; groups ordered by their first
// item) into batches of at most `batch_size`. Indices start at `first_index`.
std::vector<Batch> plan_batches(const std::vector<JobItem>& items, int64_t batch_size,
                                int64_t first_index = 0);

}  // namespace sv::jobs
