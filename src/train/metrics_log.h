// RUN_DIR/metrics.jsonl (one JSON object per optimizer step, each line one
// write, so the file never holds a torn line) and RUN_DIR/loss.svg (loss and
// learning rate against step, for people without TensorBoard at hand).
#pragma once

#include <filesystem>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace sv::train {

struct MetricPoint {
  int64_t step;
  double loss, lr;
};

class MetricsLog {
 public:
  // Opens for appending after cutting the file back to the records of steps
  // below `next_step` (a resumed run redoes the steps after its checkpoint).
  MetricsLog(std::filesystem::path path, int64_t next_step);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  // record must hold "step", "loss" and "lr".
  void append(const nlohmann::json& record);
  const std::vector<MetricPoint>& points() const { return points_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  std::vector<MetricPoint> points_;
};

// Written atomically; a plain SVG line chart (loss on a log axis when it
// spans more than a decade, learning rate on its own axis).
void write_loss_svg(const std::filesystem::path& path, const std::vector<MetricPoint>& points);

}  // namespace sv::train
