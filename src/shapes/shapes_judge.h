// A programmatic judge of a shapes-world clip (shapes_world.h): what the
// dominant non-background blob is. Colour: the palette colour nearest to the
// blob's mean; shape: from its fill ratio (pixels over bounding box: a
// square fills it, a circle pi/4 of it, the triangle half); motion: from the
// track of its centroid between the first and the last frames.
#pragma once

#include "core/tensor.h"
#include "shapes/shapes_world.h"

namespace sv::shapes {

struct JudgedClip {
  bool found = false;  // some frame had a blob at all
  Colour colour = Colour::Red;
  Form form = Form::Circle;
  Motion motion = Motion::Still;
  double fill = 0.0;           // median fill ratio over the frames with a blob
  double dx = 0.0, dy = 0.0;   // centroid displacement, in frame widths
};

// rgb: u8 [T, H, W, 3].
JudgedClip judge(const Tensor& rgb);

}  // namespace sv::shapes
