#include "jobs/planner.h"

#include <fmt/format.h>

#include "core/error.h"

namespace sv::jobs {

void to_json(nlohmann::json& j, const Batch& batch) {
  j = nlohmann::json{{"index", batch.index}, {"items", batch.items}, {"first_step", batch.first_step},
                     {"state", batch.state}};
}

void from_json(const nlohmann::json& j, Batch& batch) {
  batch.index = j.at("index").get<int64_t>();
  batch.items = j.at("items").get<std::vector<JobItem>>();
  batch.first_step = j.at("first_step").get<int64_t>();
  batch.state = j.at("state").get<std::string>();
}

std::string computation_key(const JobItem& i) {
  // {} prints the shortest form that reads back as the same float, so equal
  // keys mean equal values.
  return fmt::format("{}x{}x{} s{} g{} t{}", i.frames, i.height, i.width, i.steps, i.cfg_scale,
                     i.time_shift);
}

bool same_computation(const JobItem& a, const JobItem& b) {
  return computation_key(a) == computation_key(b);
}

std::vector<Batch> plan_batches(const std::vector<JobItem>& items, int64_t batch_size,
                                int64_t first_index) {
  SV_CHECK_AS(ConfigError, batch_size >= 1, "batch size must be at least 1, got {}", batch_size);
  std::vector<Batch> batches;
  std::vector<size_t> open;  // batches that still have room, one per computation at most
  for (const JobItem& item : items) {
    bool placed = false;
    for (size_t k = 0; k < open.size() && !placed; ++k) {
      Batch& b = batches[open[k]];
      if (!same_computation(b.items.front(), item)) continue;
      b.items.push_back(item);
      if (static_cast<int64_t>(b.items.size()) == batch_size) open.erase(open.begin() + static_cast<long>(k));
      placed = true;
    }
    if (placed) continue;
    Batch b;
    b.index = first_index + static_cast<int64_t>(batches.size());
    b.items.push_back(item);
    batches.push_back(std::move(b));
    if (batch_size > 1) open.push_back(batches.size() - 1);
  }
  return batches;
}

}  // namespace sv::jobs
