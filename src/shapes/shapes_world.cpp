#include "shapes/shapes_world.h"

#include <map>

#include <cmath>

#include "core/error.h"
#include "core/random.h"

namespace sv::shapes {

namespace {

// A uniform draw in [0, 1) for (seed, index, k): counter-based, so clip i
// of a dataset is the same whichever clips are drawn before it.
double uniform(uint64_t seed, int64_t index, uint32_t k) {
  const auto bits = philox4x32_10({static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32), k, 0x73686170},
                                  {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
  return (static_cast<double>(bits[0]) + 0.5) / 4294967296.0;
}

template <typename T, size_t N>
T pick(const std::array<T, N>& options, double u) {
  return options[std::min(N - 1, static_cast<size_t>(u * static_cast<double>(N)))];
}

const char* chinese(Colour c) {
  switch (c) {
    case Colour::Red: return "红色";
    case Colour::Green: return "绿色";
    case Colour::Blue: return "蓝色";
    case Colour::Yellow: return "黄色";
    case Colour::White: return "白色";
    case Colour::Purple: return "紫色";
  }
  return "?";
}

const char* chinese(Form f) {
  switch (f) {
    case Form::Circle: return "圆";
    case Form::Square: return "正方形";
    case Form::Triangle: return "三角形";
  }
  return "?";
}

const char* chinese(Motion m) {
  switch (m) {
    case Motion::Right: return "右";
    case Motion::Left: return "左";
    case Motion::Up: return "上";
    case Motion::Down: return "下";
    case Motion::Still: break;
  }
  return "";
}

const char* english_motion(Motion m) {
  switch (m) {
    case Motion::Right: return "to the right";
    case Motion::Left: return "to the left";
    case Motion::Up: return "up";
    case Motion::Down: return "down";
    case Motion::Still: break;
  }
  return "";
}

const std::vector<std::string> kEnglishMoving{"a {colour} {shape} moves {motion}", "a {colour} {shape} is moving {motion}",
                                              "the {shape} is {colour} and it moves {motion}"};
const std::vector<std::string> kEnglishStill{"a {colour} {shape} stays still", "a {colour} {shape} on a dark background"};
const std::vector<std::string> kChineseMoving{"一个{colour}的{shape}向{motion}移动", "{colour}的{shape}正在向{motion}移动",
                                              "一个{colour}的{shape}慢慢地向{motion}移动"};
const std::vector<std::string> kChineseStill{"一个{colour}的{shape}静止不动", "黑色背景上有一个{colour}的{shape}"};

void replace(std::string& text, const std::string& key, const std::string& value) {
  const size_t at = text.find(key);
  if (at != std::string::npos) text.replace(at, key.size(), value);
}

bool inside(Form form, double dx, double dy, double r) {
  switch (form) {
    case Form::Circle: return dx * dx + dy * dy <= r * r;
    case Form::Square: return std::fabs(dx) <= r && std::fabs(dy) <= r;
    case Form::Triangle:  // apex up, base 2r wide at dy = r: half the bounding box
      return dy >= -r && dy <= r && std::fabs(dx) <= (dy + r) / 2.0;
  }
  return false;
}

}  // namespace

Rgb rgb_of(Colour colour) {
  switch (colour) {
    case Colour::Red: return {230, 40, 40};
    case Colour::Green: return {40, 200, 70};
    case Colour::Blue: return {50, 100, 240};
    case Colour::Yellow: return {240, 220, 40};
    case Colour::White: return {235, 235, 235};
    case Colour::Purple: return {160, 60, 210};
  }
  return {};
}

const char* name(Colour colour) {
  static const char* const kNames[] = {"red", "green", "blue", "yellow", "white", "purple"};
  return kNames[static_cast<int>(colour)];
}

const char* name(Form form) {
  static const char* const kNames[] = {"circle", "square", "triangle"};
  return kNames[static_cast<int>(form)];
}

const char* name(Motion motion) {
  static const char* const kNames[] = {"right", "left", "up", "down", "still"};
  return kNames[static_cast<int>(motion)];
}

bool held_out(Colour colour, Form form, Motion motion) {
  if (motion == Motion::Still) return false;
  return (static_cast<int>(colour) + 2 * static_cast<int>(form) + 3 * static_cast<int>(motion)) % 7 == 3;
}

Scene draw_scene(uint64_t seed, int64_t index, int64_t size, bool still) {
  Scene s;
  for (uint32_t attempt = 0;; attempt += 3) {
    s.colour = pick(kColours, uniform(seed, index, attempt));
    s.form = pick(kForms, uniform(seed, index, attempt + 1));
    s.motion = still ? Motion::Still
                     : pick(std::array{Motion::Right, Motion::Left, Motion::Up, Motion::Down},
                            uniform(seed, index, attempt + 2));
    if (!held_out(s.colour, s.form, s.motion)) break;
  }
  const auto n = static_cast<double>(size);
  s.radius = n * (0.15 + 0.05 * uniform(seed, index, 100));
  s.travel = still ? 0.0 : n * (0.35 + 0.10 * uniform(seed, index, 101));
  const double lo = s.radius + 1.0, hi = n - s.radius - 1.0;
  const bool horizontal = s.motion == Motion::Right || s.motion == Motion::Left;
  const double span_x = hi - lo - (horizontal ? s.travel : 0.0), span_y = hi - lo - (horizontal ? 0.0 : s.travel);
  SV_CHECK(span_x >= 0 && span_y >= 0, "shapes: a {}-pixel frame is too small for the motion", size);
  s.x = lo + span_x * uniform(seed, index, 102) + (s.motion == Motion::Left ? s.travel : 0.0);
  s.y = lo + span_y * uniform(seed, index, 103) + (s.motion == Motion::Up ? s.travel : 0.0);
  return s;
}

Tensor render(const Scene& s, int64_t frames, int64_t size) {
  SV_CHECK(frames >= 1 && size >= 16, "shapes: {} frames of {} pixels", frames, size);
  Tensor out = Tensor::empty(Shape{frames, size, size, 3}, DType::U8);
  uint8_t* p = out.data<uint8_t>();
  const Rgb fg = rgb_of(s.colour);
  double ux = 0, uy = 0;
  switch (s.motion) {
    case Motion::Right: ux = 1; break;
    case Motion::Left: ux = -1; break;
    case Motion::Up: uy = -1; break;
    case Motion::Down: uy = 1; break;
    case Motion::Still: break;
  }
  for (int64_t f = 0; f < frames; ++f) {
    const double t = frames > 1 ? static_cast<double>(f) / static_cast<double>(frames - 1) : 0.0;
    const double cx = s.x + ux * s.travel * t, cy = s.y + uy * s.travel * t;
    for (int64_t y = 0; y < size; ++y) {
      for (int64_t x = 0; x < size; ++x) {
        const bool on = inside(s.form, static_cast<double>(x) + 0.5 - cx, static_cast<double>(y) + 0.5 - cy, s.radius);
        const Rgb c = on ? fg : kBackground;
        *p++ = c.r;
        *p++ = c.g;
        *p++ = c.b;
      }
    }
  }
  return out;
}

std::string caption(const Scene& s, Language language, int template_index) {
  const bool still = s.motion == Motion::Still;
  const bool en = language == Language::English;
  const std::vector<std::string>& list = en ? (still ? kEnglishStill : kEnglishMoving)
                                            : (still ? kChineseStill : kChineseMoving);
  SV_CHECK(template_index >= 0 && template_index < static_cast<int>(list.size()), "shapes: template {} of {}",
           template_index, list.size());
  std::string text = list[static_cast<size_t>(template_index)];
  replace(text, "{colour}", en ? name(s.colour) : chinese(s.colour));
  replace(text, "{shape}", en ? name(s.form) : chinese(s.form));
  replace(text, "{motion}", en ? english_motion(s.motion) : chinese(s.motion));
  return text;
}

std::vector<std::string> grammar_sentences() {
  std::vector<std::string> out;
  for (Language l : {Language::English, Language::Chinese}) {
    for (Colour c : kColours) {
      for (Form f : kForms) {
        for (Motion m : kMotions) {
          const int n = m == Motion::Still ? kStillTemplates : kMovingTemplates;
          for (int t = 0; t < n; ++t) out.push_back(caption(Scene{c, f, m}, l, t));
        }
      }
    }
  }
  return out;
}

std::optional<ParsedCaption> parse_caption(const std::string& text) {
  static const std::map<std::string, ParsedCaption> kAll = [] {
    std::map<std::string, ParsedCaption> all;
    for (Language l : {Language::English, Language::Chinese}) {
      for (Colour c : kColours) {
        for (Form f : kForms) {
          for (Motion m : kMotions) {
            const int n = m == Motion::Still ? kStillTemplates : kMovingTemplates;
            for (int t = 0; t < n; ++t) all.emplace(caption(Scene{c, f, m}, l, t), ParsedCaption{c, f, m, l});
          }
        }
      }
    }
    return all;
  }();
  const auto it = kAll.find(text);
  if (it == kAll.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> templates(Language language) {
  std::vector<std::string> all = language == Language::English ? kEnglishMoving : kChineseMoving;
  const std::vector<std::string>& still = language == Language::English ? kEnglishStill : kChineseStill;
  all.insert(all.end(), still.begin(), still.end());
  return all;
}

}  // namespace sv::shapes
