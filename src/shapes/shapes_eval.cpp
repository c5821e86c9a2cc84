#include "shapes/shapes_eval.h"

#include <fmt/format.h>

#include "core/error.h"

namespace sv::shapes {

using nlohmann::json;

std::vector<EvalCase> held_out_cases(int64_t seeds) {
  std::vector<EvalCase> cases;
  for (Colour c : kColours) {
    for (Form f : kForms) {
      for (Motion m : kMotions) {
        if (!held_out(c, f, m)) continue;
        for (Language l : {Language::English, Language::Chinese}) {
          for (int64_t s = 0; s < seeds; ++s) {
            EvalCase e{fmt::format("{}-{}-{}-{}-s{}", name(c), name(f), name(m),
                                   l == Language::English ? "en" : "zh", s),
                       c, f, m, l, caption(Scene{c, f, m}, l, 0), s};
            cases.push_back(std::move(e));
          }
        }
      }
    }
  }
  return cases;
}

namespace {

void add(Accuracy& a, const EvalCase& c, const JudgedClip& j) {
  const bool colour = j.found && j.colour == c.colour, shape = j.found && j.form == c.form,
             motion = j.found && j.motion == c.motion;
  ++a.clips;
  a.colour += colour;
  a.shape += shape;
  a.motion += motion;
  a.all += colour && shape && motion;
}

void normalise(Accuracy& a) {
  if (a.clips == 0) return;
  const auto n = static_cast<double>(a.clips);
  a.colour /= n, a.shape /= n, a.motion /= n, a.all /= n;
}

json accuracy_json(const Accuracy& a) {
  return json{{"clips", a.clips}, {"colour", a.colour}, {"shape", a.shape}, {"motion", a.motion}, {"all", a.all}};
}

template <typename T, size_t N>
T parse_name(const std::array<T, N>& options, const std::string& text, const char* what) {
  for (T option : options) {
    if (text == name(option)) return option;
  }
  throw InputError(fmt::format("'{}' is not a {} of the shapes world", text, what));
}

}  // namespace

EvalScores score(const std::vector<EvalCase>& cases, const std::vector<JudgedClip>& judged) {
  SV_CHECK(cases.size() == judged.size(), "eval: {} cases, {} judged clips", cases.size(), judged.size());
  EvalScores s;
  for (size_t i = 0; i < cases.size(); ++i) {
    add(cases[i].language == Language::English ? s.english : s.chinese, cases[i], judged[i]);
    add(s.overall, cases[i], judged[i]);
  }
  normalise(s.english);
  normalise(s.chinese);
  normalise(s.overall);
  return s;
}

json EvalScores::to_json() const {
  return json{{"en", accuracy_json(english)}, {"zh", accuracy_json(chinese)}, {"overall", accuracy_json(overall)}};
}

Colour parse_colour(const std::string& text) { return parse_name(kColours, text, "colour"); }
Form parse_form(const std::string& text) { return parse_name(kForms, text, "shape"); }
Motion parse_motion(const std::string& text) { return parse_name(kMotions, text, "motion"); }

}  // namespace sv::shapes
