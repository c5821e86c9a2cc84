#include "jobs/coordinator.h"

#include "core/elapsed.h"
#include "core/log.h"

namespace sv::jobs {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Failed writes in a row, for lack of space, after which the run stops
// starting items: one may be a large video, several mean the disk is full.
constexpr int kNoSpaceLimit = 3;

std::string hms(double seconds) {
  const auto s = static_cast<int64_t>(seconds + 0.5);
  return fmt::format("{}:{:02d}:{:02d}", s / 3600, s / 60 % 60, s % 60);
}

}  // namespace

Coordinator::Coordinator(Journal& journal, fs::path out_dir, std::vector<Batch> plan, RunStats stats)
    : journal_(journal), out_dir_(std::move(out_dir)), queue_(plan.begin(), plan.end()), stats_(std::move(stats)) {}

std::optional<Batch> Coordinator::next_batch(int replica) {
  std::lock_guard lock(mutex_);
  (void)replica;
  if (stopping_ || storage_full_ || queue_.empty()) return std::nullopt;
  Batch b = std::move(queue_.front());
  queue_.pop_front();
  if (!b.state.empty()) {
    for (const JobItem& item : b.items) {
      states_outstanding_[b.state].insert(item.id);
      state_of_item_[item.id] = b.state;
    }
    stats_.continued += static_cast<int64_t>(b.items.size());
  }
  return b;
}

void Coordinator::retire_state(const std::string& id) {
  const auto it = state_of_item_.find(id);
  if (it == state_of_item_.end()) return;
  auto& ids = states_outstanding_[it->second];
  ids.erase(id);
  if (ids.empty()) {
    // Every item of the continued batch is recorded: its saved state is spent.
    std::error_code ec;
    const fs::path state = out_dir_ / it->second;
    fs::remove(state, ec);
    fs::remove(state.parent_path(), ec);  // .partial/ goes when it is empty
    states_outstanding_.erase(it->second);
  }
  state_of_item_.erase(it);
}

void Coordinator::item_finished(json record) {
  std::lock_guard lock(mutex_);
  record["time"] = utc_now();
  journal_.append(record);
  const std::string id = record.value("id", "");
  const bool ok = record.value("event", "") == "done";
  (ok ? stats_.done : stats_.failed) += 1;
  if (ok) {
    const int replica = record.value("replica", 0);
    stats_.done_by_replica[replica] += 1;
    stats_.seconds_by_replica[replica] += record.value("seconds", 0.0);
    if (record.contains("timings")) {
      for (const auto& [stage, s] : record["timings"].items()) {
        if (s.is_number()) stats_.stage_seconds[stage] += s.get<double>();
      }
    }
  }
  stats_.items[id] = record;
  retire_state(id);
  const std::string reason = record.value("reason", "");
  const bool no_space = reason.find("No space left on device") != std::string::npos ||
                        reason.find("Disk quota exceeded") != std::string::npos;
  consecutive_no_space_ = no_space ? consecutive_no_space_ + 1 : 0;
  if (consecutive_no_space_ >= kNoSpaceLimit && !storage_full_) {
    storage_full_ = true;
    log_line(LogLevel::Error, fmt::format("{} writes in a row failed for lack of space on {}: no more items are "
                                          "started; free space and run again (--retry-failed re-runs the failed ones)",
                                          consecutive_no_space_, out_dir_.string()));
  }
  progress_line(record);
}

void Coordinator::batch_suspended(json record) {
  std::lock_guard lock(mutex_);
  record["time"] = utc_now();
  journal_.append(record);
  const auto n = static_cast<int64_t>(record["batch"]["items"].size());
  stats_.suspended += n;
  // The new state replaces the one this batch was continued from, if any.
  for (const json& item : record["batch"]["items"]) {
    const std::string id = item.at("id").get<std::string>();
    const auto it = state_of_item_.find(id);
    if (it != state_of_item_.end() && it->second != record.value("state", "")) {
      std::error_code ec;
      fs::remove(out_dir_ / it->second, ec);
      states_outstanding_.erase(it->second);
    }
    state_of_item_.erase(id);
  }
  log_info("saved {} item(s) at step {}/{} to {} for the next run", n, record.value("step", 0),
           record.value("steps", 0), record.value("state", ""));
  if (!stopping_) {
    stopping_ = true;
    log_info("stopping: a replica was preempted");
  }
}

void Coordinator::request_stop(const std::string& why) {
  std::lock_guard lock(mutex_);
  if (stopping_) return;
  stopping_ = true;
  log_info("stopping: {}; replicas finish their current step and save", why);
}

bool Coordinator::has_work() const {
  std::lock_guard lock(mutex_);
  return !queue_.empty();
}

bool Coordinator::storage_full() const {
  std::lock_guard lock(mutex_);
  return storage_full_;
}

bool Coordinator::stopping() const {
  std::lock_guard lock(mutex_);
  return stopping_;
}

void Coordinator::set_fatal(std::exception_ptr error) {
  std::lock_guard lock(mutex_);
  fatal_ = std::move(error);
  stopping_ = true;
}

std::exception_ptr Coordinator::fatal() const {
  std::lock_guard lock(mutex_);
  return fatal_;
}

RunStats Coordinator::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

double Coordinator::elapsed_seconds() const {
  return seconds_since(start_);
}

void Coordinator::progress_line(const json& record) {
  const int64_t finished = stats_.resumed_done + stats_.done;
  const int64_t accounted = finished + stats_.failed + stats_.bad_lines + stats_.earlier_failed;
  const double elapsed = elapsed_seconds();
  const double per_hour = elapsed > 0 ? static_cast<double>(stats_.done + stats_.failed) / elapsed * 3600.0 : 0.0;
  const int64_t left = stats_.total - accounted;
  const std::string eta = per_hour > 0 ? hms(static_cast<double>(left) / per_hour * 3600.0) : "?";
  const std::string id = record.value("id", "");
  if (record.value("event", "") == "done") {
    log_info("[{}/{}] done {} (replica {}, {:.1f} s) | failed {} | {:.1f} items/h | ETA {}", finished,
             stats_.total, id, record.value("replica", 0), record.value("seconds", 0.0),
             stats_.failed + stats_.bad_lines + stats_.earlier_failed, per_hour, eta);
  } else {
    log_warn("[{}/{}] FAILED {} (line {}): {} | failed {} | {:.1f} items/h | ETA {}", finished, stats_.total,
             id, record.value("line", 0), record.value("reason", ""),
             stats_.failed + stats_.bad_lines + stats_.earlier_failed, per_hour, eta);
  }
}

}  // namespace sv::jobs
