#include "label/candidates.h"

#include <algorithm>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "core/sha256.h"

namespace sv::label {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A finished candidate's sidecar, or nothing for any other JSON file.
std::optional<Candidate> read_sidecar(const fs::path& sidecar) {
  std::ifstream in(sidecar);
  const json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("candidate") || !j["candidate"].is_object()) return std::nullopt;
  const json& c = j["candidate"];
  if (!c.contains("of") || !c["of"].is_string() || !c.contains("sample") || !c["sample"].is_number_integer()) {
    return std::nullopt;
  }
  Candidate k;
  k.id = j.value("id", "");
  k.of = c["of"].get<std::string>();
  k.sample = c["sample"].get<int64_t>();
  k.prompt = j.value("prompt", "");
  const std::string video = j.value("video", "");
  if (k.id.empty() || video.empty() || video.find('/') != std::string::npos) return std::nullopt;
  k.video = sidecar.parent_path() / video;
  if (!fs::is_regular_file(k.video)) return std::nullopt;
  return k;
}

}  // namespace

CandidateSet read_candidates(const fs::path& run_dir) {
  std::error_code ec;
  SV_CHECK_AS(InputError, fs::is_directory(run_dir, ec), "{}: not a directory (give the --out of a `run` with "
              "--samples-per-prompt 2 or more)", run_dir.string());
  const fs::path dir = fs::absolute(run_dir).lexically_normal();
  CandidateSet set;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".json") continue;
    std::optional<Candidate> k = read_sidecar(e.path());
    if (!k) continue;
    SV_CHECK_AS(NotSupported, k->video.extension() == ".mp4",
                "{}: browsers cannot play {} videos: make the candidates with --codec h264 (the default)",
                k->video.string(), k->video.extension().string());
    set.candidates.push_back(std::move(*k));
  }
  std::sort(set.candidates.begin(), set.candidates.end(), [](const Candidate& a, const Candidate& b) {
    return a.of != b.of ? a.of < b.of : a.sample < b.sample;
  });
  for (size_t first = 0; first < set.candidates.size();) {
    size_t end = first;
    while (end < set.candidates.size() && set.candidates[end].of == set.candidates[first].of) ++end;
    if (end - first >= 2) ++set.prompts;
    for (size_t a = first; a < end; ++a) {
      for (size_t b = a + 1; b < end; ++b) {
        CandidatePair p;
        p.id = fmt::format("{}-s{}-vs-s{}", set.candidates[a].of, set.candidates[a].sample, set.candidates[b].sample);
        const bool swap = Sha256::hex(p.id)[0] >= '8';
        p.left = swap ? b : a;
        p.right = swap ? a : b;
        set.pairs.push_back(std::move(p));
      }
    }
    first = end;
  }
  SV_CHECK_AS(InputError, !set.pairs.empty(),
              "{}: no prompt has two finished candidates ({} candidate video(s) found): make them with `stepvideo "
              "run --samples-per-prompt 2` (or more) into this directory",
              run_dir.string(), set.candidates.size());
  return set;
}

}  // namespace sv::label
