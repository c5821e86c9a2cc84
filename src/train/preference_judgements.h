// The lines `stepvideo label` appends to a pairs file: one JSON object per
// decision about one pair of candidate videos, never rewritten. A pair can
// be decided again (after an undo), so the file is a log: the last line of a
// pair id is in force, and "undo" returns the pair to undecided.
//   {"id": P, "label": "preferred", "prompt": ..., "chosen": V, "rejected": W,
//    "videos": [LEFT, RIGHT], "time": T}
//   {"id": P, "label": "tie" | "skip", "prompt": ..., "videos": [LEFT, RIGHT], "time": T}
//   {"id": P, "label": "undo", "time": T}
// "videos" is the screen order, kept for studying position bias. A preferred
// line is also a pairs-manifest line for encode-dataset (the "label",
// "videos" and "time" fields mark it as a judgement).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sv::train {

enum class Verdict { Preferred, Tie, Skip, Undo };

const char* verdict_name(Verdict verdict);

struct Judgement {
  std::string pair_id;
  Verdict verdict = Verdict::Skip;
  std::string prompt;
  std::string chosen, rejected;  // Preferred only
  std::string left, right;       // the screen order; empty for Undo
  std::string time;
};

// Whether a pairs-manifest line is a judgement (it has "label").
bool is_judgement_line(const nlohmann::json& line);

// InputError naming the field when the line is not a well-formed judgement.
Judgement parse_judgement(const nlohmann::json& line);
nlohmann::json judgement_record(const Judgement& judgement);

// The decisions in force after the log: pair id -> the index in `log` of
// its last judgement, with undone pairs left out.
std::map<std::string, size_t> judgements_in_force(const std::vector<Judgement>& log);

}  // namespace sv::train
