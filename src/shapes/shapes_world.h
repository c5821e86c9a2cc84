// The synthetic bilingual world of the bundled default model: one shape
// (circle, square, triangle) in one of six colours on a dark background,
// moving right, left, up or down across a good part of the frame, or staying
// still, with English and Chinese captions from fixed templates (README
// "The shapes world" lists every template and word). Rendering is exact
// (no anti-aliasing) so a programmatic judge (shapes_judge.h) can read a
// clip back; some colour x shape x motion combinations are held out of
// training so that evaluation asks for what the model never saw.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace sv::shapes {

enum class Colour { Red, Green, Blue, Yellow, White, Purple };
enum class Form { Circle, Square, Triangle };
enum class Motion { Right, Left, Up, Down, Still };
enum class Language { English, Chinese };

inline constexpr std::array kColours{Colour::Red, Colour::Green, Colour::Blue,
                                     Colour::Yellow, Colour::White, Colour::Purple};
inline constexpr std::array kForms{Form::Circle, Form::Square, Form::Triangle};
inline constexpr std::array kMotions{Motion::Right, Motion::Left, Motion::Up, Motion::Down, Motion::Still};

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};
inline constexpr Rgb kBackground{18, 18, 26};
Rgb rgb_of(Colour colour);

const char* name(Colour colour);  // "red"
const char* name(Form form);      // "circle"
const char* name(Motion motion);  // "right", "left", "up", "down", "still"

// One clip: what it shows and where. Positions are in pixels of a size x size
// frame: the shape's centre at the first frame, its half-extent, and the
// distance it travels over the clip (0 when still).
struct Scene {
  Colour colour = Colour::Red;
  Form form = Form::Circle;
  Motion motion = Motion::Still;
  double x = 0, y = 0, radius = 0, travel = 0;
};

// The scene of clip `index` of a dataset drawn with `seed`: a combination
// that is not held out, a size of 20-28 % of the frame, a travel of 35-45 %
// of it, a start that keeps the whole path inside the frame.
Scene draw_scene(uint64_t seed, int64_t index, int64_t size, bool still);

// u8 [frames, size, size, 3]; the shape's centre moves linearly over the clip.
Tensor render(const Scene& scene, int64_t frames, int64_t size);

// Caption templates: moving clips have kMovingTemplates per language, still
// ones kStillTemplates; template 0 of a moving clip is the canonical form
// "a red circle moves to the right" / "一个红色的圆向右移动".
inline constexpr int kMovingTemplates = 3, kStillTemplates = 2;
std::string caption(const Scene& scene, Language language, int template_index);
// Every template of both languages with its placeholders ({colour}, {shape},
// {motion}), and every word that fills them, for the README and the tokenizer check.
std::vector<std::string> templates(Language language);

// Every caption the templates can make (every colour, shape and motion, both
// languages): what the tiny preset's tokenizers are built to cover.
std::vector<std::string> grammar_sentences();

// The scene a caption of the grammar describes (its colour, shape, motion
// and language); nullopt for any other text. Exact match, as the templates
// write them.
struct ParsedCaption {
  Colour colour = Colour::Red;
  Form form = Form::Circle;
  Motion motion = Motion::Still;
  Language language = Language::English;
};
std::optional<ParsedCaption> parse_caption(const std::string& text);

// Combinations kept out of training for evaluation (moving ones only; every
// colour, shape and motion still appears in training on its own).
bool held_out(Colour colour, Form form, Motion motion);

}  // namespace sv::shapes
