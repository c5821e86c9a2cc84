// stepvideo eval shapes: prompt adherence of a model of the shapes world
// (src/shapes/): clips for held-out colour x shape x motion captions in both
// languages, read back by the programmatic judge, scored per language. With
// --truth it judges a make-dataset directory's own clips instead (what the
// judge gets right on ground truth).
#include <filesystem>
#include <fstream>
#include <iostream>

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/options.h"
#include "core/log.h"
#include "io/json_file.h"
#include "io/video_reader.h"
#include "io/video_writer.h"
#include "models/dit/dit_model.h"
#include "models/model_directory.h"
#include "models/model_sampling.h"
#include "parallel/mpi_groups.h"
#include "shapes/shapes_eval.h"
#include "stages/generation_pipeline.h"
#include "stages/write_stage.h"

namespace sv::cli {

namespace po = boost::program_options;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct EvalRequest {
  std::string model, truth, out, report;
  int64_t seeds = 2, frames = 17, height = 64, width = 64;
  DenoiseOptions denoise;
};

// The cases of a make-dataset directory's truth.jsonl, and its clips judged.
std::vector<shapes::JudgedClip> judge_truth(const fs::path& truth, std::vector<shapes::EvalCase>& cases) {
  std::ifstream in(truth);
  SV_CHECK_AS(InputError, in.good(), "{}: cannot read (give make-dataset's truth.jsonl)", truth.string());
  std::vector<shapes::JudgedClip> judged;
  int64_t line = 0;
  for (std::string text; std::getline(in, text);) {
    ++line;
    try {
      const json row = json::parse(text);
      shapes::EvalCase c{row.at("id").get<std::string>(), shapes::parse_colour(row.at("colour")),
                         shapes::parse_form(row.at("shape")), shapes::parse_motion(row.at("motion")),
                         row.at("language") == "zh" ? shapes::Language::Chinese : shapes::Language::English,
                         row.at("caption").get<std::string>(), 0};
      judged.push_back(shapes::judge(io::read_video(truth.parent_path() / row.at("file").get<std::string>())));
      cases.push_back(std::move(c));
    } catch (const json::exception& e) {
      throw InputError(fmt::format("{}:{}: not a truth line: {}", truth.string(), line, e.what()));
    } catch (const InputError& e) {
      throw InputError(fmt::format("{}:{}: {}", truth.string(), line, e.what()));
    }
  }
  return judged;
}

// Generates every case's clip with the model and judges it.
std::vector<shapes::JudgedClip> judge_model(const EvalRequest& r, const std::vector<shapes::EvalCase>& cases,
                                            const Context& context) {
  check_model_directory(r.model);
  const DitConfig dit = DitConfig::from_file(fs::path(r.model) / "transformer" / "config.json");
  const ParallelGroups groups = make_parallel_groups(context.mpi, Layout{}, dit.num_attention_heads, dit.num_layers);
  PipelineOptions options;
  options.model_dir = r.model;
  options.residency = ModelResidency::KeepAll;
  GenerationPipeline pipeline(options, groups);
  const VideoSize size = rounded_size(SamplingRequest{.frames = r.frames, .height = r.height, .width = r.width,
                                                      .steps = r.denoise.steps, .cfg_scale = r.denoise.cfg_scale,
                                                      .time_shift = r.denoise.time_shift});
  if (!r.out.empty()) fs::create_directories(r.out);
  std::vector<shapes::JudgedClip> judged;
  for (const shapes::EvalCase& c : cases) {
    // The world's captions have no suffix and no negative prompt.
    const PromptItem prompt{c.prompt, std::string(), std::string()};
    const DitConditioning cond = batch_conditioning({pipeline.encode_text(prompt)}, r.denoise.cfg_scale > 1.0f);
    const Tensor denoised = pipeline.denoise(pipeline.noise(size, {c.seed}), cond, r.denoise);
    check_denoised_latents(denoised);
    const Tensor rgb = pipeline.decode(denoised);
    judged.push_back(shapes::judge(rgb));
    const shapes::JudgedClip& j = judged.back();
    log_info("eval: {} \"{}\": judged {} {} {}", c.id, c.prompt, j.found ? shapes::name(j.colour) : "-",
             j.found ? shapes::name(j.form) : "-", j.found ? shapes::name(j.motion) : "-");
    if (!r.out.empty()) io::write_video(fs::path(r.out) / (c.id + ".mp4"), rgb, {.fps = 8});
  }
  return judged;
}

void print_scores(const shapes::EvalScores& s) {
  std::cout << fmt::format("{:<9} {:>6} {:>7} {:>7} {:>7} {:>7}\n", "language", "clips", "colour", "shape", "motion",
                           "all");
  for (const auto& [name, a] : {std::pair{"en", &s.english}, {"zh", &s.chinese}, {"overall", &s.overall}}) {
    std::cout << fmt::format("{:<9} {:>6} {:>6.1f}% {:>6.1f}% {:>6.1f}% {:>6.1f}%\n", name, a->clips,
                             100 * a->colour, 100 * a->shape, 100 * a->motion, 100 * a->all);
  }
}

}  // namespace

int cmd_eval(const Args& args, const Context& context) {
  EvalRequest r;
  std::string world;
  r.denoise.steps = 30;
  r.denoise.cfg_scale = 5.0f;
  r.denoise.time_shift = 3.0f;
  po::options_description opts(
      "stepvideo eval shapes --model DIR [--seeds 2] [--out DIR] [--report FILE.json]\n"
      "stepvideo eval shapes --truth DATASET/truth.jsonl [--report FILE.json]\n\n"
      "Prompt adherence in the shapes world (README \"The shapes world\"): a clip for every held-out\n"
      "colour x shape x motion combination (never in make-dataset's output) in English and Chinese, in\n"
      "the canonical caption form, per seed; a programmatic judge reads colour, shape and motion back;\n"
      "prints the accuracy per language. A model's sampling.json sets the defaults of the sampling options.\n"
      "--truth judges a dataset's own clips against their truth");
  opts.add_options()("model", po::value(&r.model), "model directory to evaluate")(
      "truth", po::value(&r.truth), "judge make-dataset's clips listed in this truth.jsonl instead")(
      "seeds", po::value(&r.seeds)->default_value(r.seeds), "clips per caption (seeds 0..N-1)")(
      "out", po::value(&r.out), "also write every clip here (<case>.mp4)")(
      "report", po::value(&r.report), "write the cases, judgements and scores as JSON")(
      "frames", po::value(&r.frames)->default_value(r.frames), "frames per clip")(
      "height", po::value(&r.height)->default_value(r.height), "clip height")(
      "width", po::value(&r.width)->default_value(r.width), "clip width")(
      "steps", po::value(&r.denoise.steps)->default_value(r.denoise.steps), "denoising steps")(
      "cfg-scale", po::value(&r.denoise.cfg_scale)->default_value(r.denoise.cfg_scale), "guidance scale")(
      "time-shift", po::value(&r.denoise.time_shift)->default_value(r.denoise.time_shift), "schedule time shift");
  po::options_description hidden;
  hidden.add_options()("world", po::value(&world), "the world");
  po::positional_options_description positional;
  positional.add("world", 1);
  const ParsedOptions parsed = parse_options(args, opts, hidden, positional);
  if (parsed.help) return kExitOk;
  if (world != "shapes") throw po::error("eval: the only world is 'shapes' (eval shapes --model DIR)");
  if (r.model.empty() == r.truth.empty()) throw po::error("give exactly one of --model and --truth");
  if (!r.model.empty()) {
    // A model judged with its own sampling defaults unless told otherwise.
    const ModelSampling own = ModelSampling::read(r.model);
    const po::variables_map& vm = parsed.vm;
    const auto use = [&](const char* option, auto& value, const auto& from_model) {
      if (vm[option].defaulted() && from_model) value = static_cast<std::decay_t<decltype(value)>>(*from_model);
    };
    use("steps", r.denoise.steps, own.steps);
    use("cfg-scale", r.denoise.cfg_scale, own.cfg_scale);
    use("time-shift", r.denoise.time_shift, own.time_shift);
    use("frames", r.frames, own.frames);
    use("height", r.height, own.height);
    use("width", r.width, own.width);
  }
  if (r.seeds < 1) throw po::error("--seeds must be at least 1");
  validate_request_options(SamplingRequest{.frames = r.frames, .height = r.height, .width = r.width,
                                           .steps = r.denoise.steps, .cfg_scale = r.denoise.cfg_scale,
                                           .time_shift = r.denoise.time_shift});
  if (!r.report.empty()) refuse_existing_outputs({r.report}, false);

  std::vector<shapes::EvalCase> cases;
  std::vector<shapes::JudgedClip> judged;
  if (!r.truth.empty()) {
    judged = judge_truth(r.truth, cases);
  } else {
    cases = shapes::held_out_cases(r.seeds);
    judged = judge_model(r, cases, context);
  }
  const shapes::EvalScores scores = shapes::score(cases, judged);
  if (context.mpi.world_rank() != 0) return kExitOk;
  print_scores(scores);
  if (!r.report.empty()) {
    json report{{"source", r.truth.empty() ? r.model : r.truth}, {"scores", scores.to_json()}, {"clips", json::array()}};
    if (r.truth.empty()) {
      report["sampling"] = {{"steps", r.denoise.steps}, {"cfg_scale", r.denoise.cfg_scale},
                            {"time_shift", r.denoise.time_shift}, {"frames", r.frames}, {"height", r.height},
                            {"width", r.width}, {"seeds", r.seeds}};
    }
    for (size_t i = 0; i < cases.size(); ++i) {
      const shapes::EvalCase& c = cases[i];
      const shapes::JudgedClip& j = judged[i];
      report["clips"].push_back(
          {{"id", c.id}, {"prompt", c.prompt}, {"seed", c.seed},
           {"asked", {shapes::name(c.colour), shapes::name(c.form), shapes::name(c.motion)}},
           {"judged", j.found ? json{shapes::name(j.colour), shapes::name(j.form), shapes::name(j.motion)} : json()},
           {"fill", j.fill}, {"dx", j.dx}, {"dy", j.dy}});
    }
    write_json_atomic(r.report, report);
  }
  return kExitOk;
}

}  // namespace sv::cli
