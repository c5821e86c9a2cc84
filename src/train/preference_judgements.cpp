#include "train/preference_judgements.h"

#include <set>

#include "core/error.h"

namespace sv::train {

using nlohmann::json;

namespace {

std::string text(const json& j, const char* key) {
  SV_CHECK_AS(InputError, j.contains(key) && j[key].is_string() && !j[key].get<std::string>().empty(),
              "'{}' must be a non-empty string", key);
  return j[key].get<std::string>();
}

Verdict parse_verdict(const json& j) {
  const std::string name = text(j, "label");
  for (Verdict v : {Verdict::Preferred, Verdict::Tie, Verdict::Skip, Verdict::Undo}) {
    if (name == verdict_name(v)) return v;
  }
  throw InputError(fmt::format("'label' is '{}'; expected preferred, tie, skip or undo", name));
}

}  // namespace

const char* verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::Preferred: return "preferred";
    case Verdict::Tie: return "tie";
    case Verdict::Skip: return "skip";
    case Verdict::Undo: return "undo";
  }
  return "?";
}

bool is_judgement_line(const json& line) { return line.is_object() && line.contains("label"); }

Judgement parse_judgement(const json& j) {
  static const std::set<std::string> kKnown{"id", "label", "prompt", "chosen", "rejected", "videos", "time"};
  for (const auto& [key, value] : j.items()) {
    SV_CHECK_AS(InputError, kKnown.count(key), "unknown field '{}' in a judgement (fields: id, label, prompt, "
                "chosen, rejected, videos, time)", key);
  }
  Judgement g;
  g.pair_id = text(j, "id");
  g.verdict = parse_verdict(j);
  g.time = j.contains("time") ? text(j, "time") : "";
  if (g.verdict == Verdict::Undo) return g;
  g.prompt = text(j, "prompt");
  const json& videos = j.contains("videos") ? j["videos"] : json();
  SV_CHECK_AS(InputError, videos.is_array() && videos.size() == 2 && videos[0].is_string() && videos[1].is_string(),
              "'videos' must list the two videos shown, left then right");
  g.left = videos[0].get<std::string>();
  g.right = videos[1].get<std::string>();
  SV_CHECK_AS(InputError, g.left != g.right, "'videos' names the same file twice");
  if (g.verdict == Verdict::Preferred) {
    g.chosen = text(j, "chosen");
    g.rejected = text(j, "rejected");
    const std::set<std::string> shown{g.left, g.right}, judged{g.chosen, g.rejected};
    SV_CHECK_AS(InputError, shown == judged, "'chosen' and 'rejected' must be the two 'videos'");
  } else {
    SV_CHECK_AS(InputError, !j.contains("chosen") && !j.contains("rejected"),
                "a '{}' judgement has no 'chosen' or 'rejected'", verdict_name(g.verdict));
  }
  return g;
}

json judgement_record(const Judgement& g) {
  json j{{"id", g.pair_id}, {"label", verdict_name(g.verdict)}};
  if (g.verdict != Verdict::Undo) {
    j["prompt"] = g.prompt;
    if (g.verdict == Verdict::Preferred) {
      j["chosen"] = g.chosen;
      j["rejected"] = g.rejected;
    }
    j["videos"] = json::array({g.left, g.right});
  }
  if (!g.time.empty()) j["time"] = g.time;
  return j;
}

std::map<std::string, size_t> judgements_in_force(const std::vector<Judgement>& log) {
  std::map<std::string, size_t> in_force;
  for (size_t i = 0; i < log.size(); ++i) {
    if (log[i].verdict == Verdict::Undo) {
      in_force.erase(log[i].pair_id);
    } else {
      in_force[log[i].pair_id] = i;
    }
  }
  return in_force;
}

}  // namespace sv::train
