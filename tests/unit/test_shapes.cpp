// The shapes world (src/shapes/): scenes stay in the frame and travel far
// enough, held-out combinations never drawn, the canonical captions exactly
// as the README writes them, and the programmatic judge reading back what
// was rendered: exactly from the renderer, and through H.264 and back.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "io/video_reader.h"
#include "io/video_writer.h"
#include "shapes/shapes_judge.h"
#include "shapes/shapes_world.h"
#include "temp_dir_test.h"

namespace sv::shapes {
namespace {

namespace fs = std::filesystem;

class ShapesTest : public test::TempDirTest {};

TEST_F(ShapesTest, CanonicalCaptionsInBothLanguages) {
  Scene s;
  s.colour = Colour::Red;
  s.form = Form::Circle;
  s.motion = Motion::Right;
  EXPECT_EQ(caption(s, Language::English, 0), "a red circle moves to the right");
  EXPECT_EQ(caption(s, Language::Chinese, 0), "一个红色的圆向右移动");
  s = Scene{Colour::Purple, Form::Triangle, Motion::Up};
  EXPECT_EQ(caption(s, Language::English, 0), "a purple triangle moves up");
  EXPECT_EQ(caption(s, Language::Chinese, 0), "一个紫色的三角形向上移动");
  s = Scene{Colour::Yellow, Form::Square, Motion::Down};
  EXPECT_EQ(caption(s, Language::Chinese, 0), "一个黄色的正方形向下移动");
  s = Scene{Colour::Green, Form::Square, Motion::Left};
  EXPECT_EQ(caption(s, Language::English, 0), "a green square moves to the left");
  for (Language l : {Language::English, Language::Chinese}) {
    for (int t = 0; t < kMovingTemplates; ++t) {
      const std::string c = caption(s, l, t);
      EXPECT_EQ(c.find('{'), std::string::npos) << c;
    }
  }
  EXPECT_EQ(templates(Language::English).size(), static_cast<size_t>(kMovingTemplates + kStillTemplates));
}

TEST_F(ShapesTest, HeldOutCombinationsLeaveEveryWordInTraining) {
  std::set<int> colours, forms, motions;
  int held = 0;
  for (Colour c : kColours) {
    for (Form f : kForms) {
      for (Motion m : kMotions) {
        if (held_out(c, f, m)) {
          ++held;
          EXPECT_NE(m, Motion::Still);
        } else {
          colours.insert(static_cast<int>(c));
          forms.insert(static_cast<int>(f));
          motions.insert(static_cast<int>(m));
        }
      }
    }
  }
  EXPECT_GE(held, 8);
  EXPECT_LE(held, 14);
  EXPECT_EQ(colours.size(), 6u);
  EXPECT_EQ(forms.size(), 3u);
  EXPECT_EQ(motions.size(), 5u);
}

TEST_F(ShapesTest, TheJudgeReadsBackEveryRenderedScene) {
  std::map<int, int> seen_motion;
  for (int64_t i = 0; i < 400; ++i) {
    const bool still = i % 5 == 4;
    const Scene s = draw_scene(11, i, 64, still);
    ASSERT_FALSE(held_out(s.colour, s.form, s.motion)) << i;
    if (!still) {
      EXPECT_GE(s.travel, 64 * 0.25);
    }
    const Tensor clip = render(s, 17, 64);
    // The whole path stays inside the frame: the border is background in every frame.
    const uint8_t* p = clip.data<uint8_t>();
    for (int64_t f = 0; f < 17; ++f) {
      for (int64_t k = 0; k < 64; ++k) {
        for (const int64_t at : {k, 63 * 64 + k, k * 64, k * 64 + 63}) {
          ASSERT_EQ(p[(f * 64 * 64 + at) * 3], kBackground.r) << "clip " << i << " touches the border";
        }
      }
    }
    const JudgedClip j = judge(clip);
    ASSERT_TRUE(j.found) << i;
    EXPECT_EQ(j.colour, s.colour) << "clip " << i;
    EXPECT_EQ(j.form, s.form) << "clip " << i << " fill " << j.fill;
    EXPECT_EQ(j.motion, s.motion) << "clip " << i << " dx " << j.dx << " dy " << j.dy;
    ++seen_motion[static_cast<int>(s.motion)];
  }
  EXPECT_EQ(seen_motion.size(), 5u);
}

TEST_F(ShapesTest, TheJudgeSurvivesH264) {
  for (int64_t i = 0; i < 60; ++i) {
    const Scene s = draw_scene(5, i, 64, i % 5 == 4);
    const fs::path file = dir_ / fmt::format("{}.mp4", i);
    io::write_video(file, render(s, 17, 64), io::VideoWriteOptions{8, io::VideoCodec::H264, 18});
    const JudgedClip j = judge(io::read_video(file));
    EXPECT_EQ(j.colour, s.colour) << "clip " << i;
    EXPECT_EQ(j.form, s.form) << "clip " << i << " fill " << j.fill;
    EXPECT_EQ(j.motion, s.motion) << "clip " << i;
  }
  // An empty frame has no blob.
  Tensor dark = render(Scene{Colour::Red, Form::Circle, Motion::Still, -100, -100, 5, 0}, 3, 64);
  EXPECT_FALSE(judge(dark).found);
}

}  // namespace
}  // namespace sv::shapes
