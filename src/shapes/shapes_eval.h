// Prompt adherence in the shapes world: the cases `eval shapes` asks for
// (every held-out colour x shape x motion, in both languages, in the
// canonical caption form, with several seeds) and the scores of what the
// judge saw (shapes_judge.h), per language.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "shapes/shapes_judge.h"
#include "shapes/shapes_world.h"

namespace sv::shapes {

struct EvalCase {
  std::string id;  // "red-triangle-left-en-s0"
  Colour colour = Colour::Red;
  Form form = Form::Circle;
  Motion motion = Motion::Right;
  Language language = Language::English;
  std::string prompt;
  int64_t seed = 0;
};

// Every held-out combination x {English, Chinese} x `seeds` seeds.
std::vector<EvalCase> held_out_cases(int64_t seeds);

struct Accuracy {
  int64_t clips = 0;
  double colour = 0, shape = 0, motion = 0, all = 0;  // fractions of the clips
};

struct EvalScores {
  Accuracy english, chinese, overall;
  nlohmann::json to_json() const;
};

// cases[i] was judged as judged[i].
EvalScores score(const std::vector<EvalCase>& cases, const std::vector<JudgedClip>& judged);

// The parse of names() output ("red", "circle", "right"); InputError otherwise.
Colour parse_colour(const std::string& text);
Form parse_form(const std::string& text);
Motion parse_motion(const std::string& text);

}  // namespace sv::shapes
