// stepvideo make-dataset shapes: the synthetic bilingual world of the
// default model (src/shapes/) as real video files and an encode-dataset
// manifest, plus the truth of every clip for judging.
#include <filesystem>
#include <fstream>

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/options.h"
#include "core/log.h"
#include "io/durable_file.h"
#include "io/video_writer.h"
#include "shapes/shapes_world.h"

namespace sv::cli {

namespace po = boost::program_options;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct ShapesRequest {
  fs::path out;
  int64_t count = 400, stills = 200, frames = 17, size = 64;
  uint64_t seed = 0;
  io::VideoCodec codec = io::VideoCodec::FFV1;
};

// Clip i: every fifth stands still; even ones get an English caption, odd
// ones a Chinese one; the template is drawn from the scene's seed.
json write_clip(const ShapesRequest& r, int64_t i, bool image, std::string& manifest, std::string& truth) {
  const std::string id = fmt::format("{}-{:05}", image ? "still" : "clip", i);
  const bool still = image || i % 5 == 4;
  const shapes::Scene scene = shapes::draw_scene(r.seed + (image ? 0x5717ULL : 0), i, r.size, still);
  const auto language = i % 2 == 0 ? shapes::Language::English : shapes::Language::Chinese;
  const int templates = still ? shapes::kStillTemplates : shapes::kMovingTemplates;
  const int t = static_cast<int>((static_cast<uint64_t>(i) * 2654435761ULL + r.seed) % static_cast<uint64_t>(templates));
  const std::string ext = r.codec == io::VideoCodec::FFV1 ? ".mkv" : ".mp4";
  const std::string file = fmt::format("{}/{}{}", image ? "stills" : "clips", id, ext);
  io::write_video(r.out / file, shapes::render(scene, image ? 1 : r.frames, r.size),
                  io::VideoWriteOptions{8, r.codec, 18});
  const std::string text = shapes::caption(scene, language, t);
  manifest += json{{"id", id}, {image ? "image" : "video", file}, {"caption", text}}.dump() + "\n";
  const json row{{"id", id},
                 {"file", file},
                 {"colour", shapes::name(scene.colour)},
                 {"shape", shapes::name(scene.form)},
                 {"motion", shapes::name(scene.motion)},
                 {"language", language == shapes::Language::English ? "en" : "zh"},
                 {"template", t},
                 {"caption", text}};
  truth += row.dump() + "\n";
  return row;
}

int make_shapes(const ShapesRequest& r) {
  fs::create_directories(r.out / "clips");
  fs::create_directories(r.out / "stills");
  std::string manifest, truth;
  for (int64_t i = 0; i < r.count; ++i) {
    write_clip(r, i, /*image=*/false, manifest, truth);
    if ((i + 1) % 100 == 0 || i + 1 == r.count) log_info("make-dataset shapes: {} / {} clips", i + 1, r.count);
  }
  for (int64_t i = 0; i < r.stills; ++i) write_clip(r, i, /*image=*/true, manifest, truth);
  // The manifest last: a directory with a manifest is complete.
  io::write_text_atomic(r.out / "truth.jsonl", truth);
  io::write_text_atomic(r.out / "manifest.jsonl", manifest);
  log_info("make-dataset shapes: {} clips ({} frames) and {} stills of {}x{} in {}; manifest.jsonl for "
           "encode-dataset, truth.jsonl for judging",
           r.count, r.frames, r.stills, r.size, r.size, r.out.string());
  return kExitOk;
}

}  // namespace

int cmd_make_dataset(const Args& args, const Context&) {
  ShapesRequest r;
  std::string world, out, codec = "ffv1";
  bool overwrite = false;
  po::options_description opts(
      "stepvideo make-dataset shapes --out DIR [--count 400] [--stills 200] [--seed 0] [--frames 17] [--size 64]\n\n"
      "Writes the synthetic bilingual world of the default model: clips of one shape (circle, square,\n"
      "triangle) in one of six colours on a dark background, moving right, left, up or down (every fifth\n"
      "stays still), captioned in English (even clips) or Chinese (odd ones) from the README's templates,\n"
      "and still images of the same world. DIR/manifest.jsonl is encode-dataset's input; DIR/truth.jsonl\n"
      "says what each clip shows. Held-out colour x shape x motion combinations never appear");
  opts.add_options()("out", po::value(&out)->required(), "output directory")(
      "count", po::value(&r.count)->default_value(r.count), "moving and still clips")(
      "stills", po::value(&r.stills)->default_value(r.stills), "1-frame images (for text-to-image)")(
      "seed", po::value(&r.seed)->default_value(r.seed), "seed of the scenes and captions")(
      "frames", po::value(&r.frames)->default_value(r.frames), "frames per clip")(
      "size", po::value(&r.size)->default_value(r.size), "frame width and height in pixels")(
      "codec", po::value(&codec)->default_value(codec), "ffv1 (lossless MKV) or h264 (MP4)")(
      "overwrite", po::bool_switch(&overwrite), "write into a directory that already holds a manifest");
  po::options_description hidden;
  hidden.add_options()("world", po::value(&world), "the world to draw");
  po::positional_options_description positional;
  positional.add("world", 1);
  const ParsedOptions parsed = parse_options(args, opts, hidden, positional);
  if (parsed.help) return kExitOk;
  if (world != "shapes") throw po::error("make-dataset: the only world is 'shapes' (make-dataset shapes --out DIR)");
  if (r.count < 0 || r.stills < 0 || r.count + r.stills == 0) throw po::error("--count and --stills: at least one item");
  if (r.frames < 2) throw po::error("--frames must be at least 2 (a clip moves)");
  if (r.size < 32 || r.size % 16 != 0) throw po::error("--size must be a multiple of 16, at least 32");
  if (codec != "ffv1" && codec != "h264") throw po::error("--codec must be ffv1 or h264");
  r.codec = codec == "ffv1" ? io::VideoCodec::FFV1 : io::VideoCodec::H264;
  r.out = out;
  refuse_existing_outputs({r.out / "manifest.jsonl"}, overwrite);
  return make_shapes(r);
}

}  // namespace sv::cli
