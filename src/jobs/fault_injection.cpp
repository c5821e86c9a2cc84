#include "jobs/fault_injection.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/log.h"
#include "core/stop_signal.h"

namespace sv::jobs {

FaultInjector::FaultInjector(int world_rank) : rank_(world_rank) {
  const char* env = std::getenv("STEPVIDEO_INJECT_FAULTS");
  if (!env || !*env) return;
  std::stringstream list(env);
  for (std::string entry; std::getline(list, entry, ',');) {
    Fault f;
    std::vector<std::string> parts;
    std::stringstream e(entry);
    for (std::string p; std::getline(e, p, '@');) parts.push_back(p);
    const auto colon = parts.empty() ? std::string::npos : parts[0].find(':');
    SV_CHECK_AS(ConfigError, colon != std::string::npos && parts.size() <= 3,
                "STEPVIDEO_INJECT_FAULTS: '{}' is not POINT:ITEM[@RANK[@STEP]]", entry);
    f.point = parts[0].substr(0, colon);
    f.item = parts[0].substr(colon + 1);
    try {
      if (parts.size() > 1 && !parts[1].empty()) f.rank = std::stoi(parts[1]);
      if (parts.size() > 2) f.step = std::stoll(parts[2]);
    } catch (const std::exception&) {
      throw ConfigError("STEPVIDEO_INJECT_FAULTS: bad rank or step in '" + entry + "'");
    }
    faults_.push_back(f);
  }
  if (!faults_.empty()) log_warn("test fault injection active: {}", env);
}

const Fault* FaultInjector::find(std::string_view point, std::string_view item) const {
  for (const Fault& f : faults_) {
    if (f.point == point && f.item == item && (f.rank < 0 || f.rank == rank_)) return &f;
  }
  return nullptr;
}

void FaultInjector::maybe_throw(std::string_view point, std::string_view item) const {
  if (!find(point, item)) return;
  if (point == "write") {
    throw InputError(fmt::format("{}: injected write failure (No space left on device)", item));
  }
  throw InputError(fmt::format("injected {} failure for item {}", point, item));
}

void FaultInjector::at_step(std::string_view item, int64_t step) const {
  for (const Fault& f : faults_) {
    if (f.item != item || (f.rank >= 0 && f.rank != rank_)) continue;
    if (f.point == "slow") std::this_thread::sleep_for(std::chrono::seconds(1));
    if (f.step != step) continue;
    if (f.point == "collective") {
      throw CommError(fmt::format("injected failure inside a collective (item {}, step {})", item, step));
    }
    if (f.point == "die") {
      log_warn("injected fault: rank dies now (item {}, step {})", item, step);
      ::_exit(137);
    }
    if (f.point == "hang") {
      log_warn("injected fault: rank hangs now (item {}, step {})", item, step);
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(60));
    }
    if (f.point == "preempt") request_stop_for_test();
  }
}

}  // namespace sv::jobs
