#include "jobs/run_outputs.h"

#include <fstream>
#include <random>

#include "core/error.h"
#include "core/sha256.h"

namespace sv::jobs {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string file_sha256(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  SV_CHECK_AS(InputError, in.good(), "{}: cannot read", path.string());
  Sha256 h;
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    h.update(buffer.data(), static_cast<size_t>(in.gcount()));
  }
  const auto digest = h.finish();
  std::string hex;
  for (const uint8_t b : digest) hex += fmt::format("{:02x}", b);
  return hex;
}

}  // namespace

std::vector<std::string> item_output_names(const std::string& id, io::VideoCodec codec) {
  return {id + (codec == io::VideoCodec::FFV1 ? ".mkv" : ".mp4"), id + ".json", id + ".latents.h5"};
}

json item_params(const JobItem& item, io::VideoCodec codec, const std::string& model_sha256) {
  json p{{"prompt_sha256", Sha256::hex(item.prompt)},
         {"seed", item.seed},
         {"frames", item.frames},
         {"height", item.height},
         {"width", item.width},
         {"steps", item.steps},
         {"cfg_scale", item.cfg_scale},
         {"time_shift", item.time_shift},
         {"fps", item.fps},
         {"codec", codec == io::VideoCodec::FFV1 ? "ffv1" : "h264"},
         {"model_sha256", model_sha256}};
  if (item.negative_prompt) p["negative_prompt_sha256"] = Sha256::hex(*item.negative_prompt);
  if (item.positive_suffix) p["positive_suffix_sha256"] = Sha256::hex(*item.positive_suffix);
  return p;
}

json describe_files(const fs::path& out, const std::vector<std::string>& names) {
  json files = json::array();
  for (const std::string& name : names) {
    std::error_code ec;
    if (!fs::is_regular_file(out / name, ec)) continue;
    files.push_back({{"name", name}, {"bytes", fs::file_size(out / name)}, {"sha256", file_sha256(out / name)}});
  }
  return files;
}

std::string describe_differences(const json& before, const json& now) {
  std::string text;
  for (const auto& [key, value] : now.items()) {
    const json old = before.contains(key) ? before[key] : json();
    if (old == value) continue;
    if (!text.empty()) text += ", ";
    if (key.ends_with("_sha256")) {
      text += key.substr(0, key.size() - 7) + " changed";
    } else {
      text += fmt::format("{} {} -> {}", key, old.is_null() ? "(unset)" : old.dump(), value.dump());
    }
  }
  for (const auto& [key, value] : before.items()) {
    if (!now.contains(key)) text += (text.empty() ? "" : ", ") + key + " no longer set";
  }
  return text;
}

std::optional<std::string> recheck_finished(const fs::path& out, const json& done, const json& params_now,
                                            bool verify_hashes) {
  if (done.contains("params") && done["params"] != params_now) {
    return "its parameters changed (" + describe_differences(done["params"], params_now) + ")";
  }
  if (!done.contains("files")) {
    // A record from before files were recorded: the video must at least exist.
    const std::string video = done.value("video", "");
    if (!video.empty() && !fs::exists(out / video)) return video + " is missing";
    return std::nullopt;
  }
  for (const json& f : done["files"]) {
    const std::string name = f.value("name", "");
    std::error_code ec;
    if (!fs::is_regular_file(out / name, ec)) return name + " is missing";
    const auto bytes = fs::file_size(out / name, ec);
    if (ec || bytes != f.value("bytes", uintmax_t{0})) return name + " changed size";
    if (verify_hashes && file_sha256(out / name) != f.value("sha256", "")) return name + " changed (SHA-256)";
  }
  return std::nullopt;
}

bool owned_by(const fs::path& out, const std::string& id, const std::set<std::string>& run_ids) {
  std::ifstream in(out / (id + ".json"));
  if (!in) return false;
  const json sidecar = json::parse(in, nullptr, false);
  return sidecar.is_object() && sidecar.value("id", "") == id && run_ids.count(sidecar.value("run_id", ""));
}

std::string new_run_id() {
  std::random_device rd;
  const uint64_t v = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  return fmt::format("{:016x}", v);
}

}  // namespace sv::jobs
