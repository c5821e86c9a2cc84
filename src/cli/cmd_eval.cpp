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
#include "io/durable_file.h"
#include "io/json_file.h"
#include "jobs/journal.h"
#include "label/candidates.h"
#include "io/video_reader.h"
#include "io/video_writer.h"
#include "models/dit/dit_model.h"
#include "models/model_directory.h"
#include "models/model_sampling.h"
#include "parallel/mpi_groups.h"
#include "shapes/shapes_eval.h"
#include "stages/decode_stage.h"
#include "stages/generation_pipeline.h"
#include "stages/write_stage.h"
#include "train/clip_preprocess.h"
#include "train/preference_judgements.h"

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

// A clip through the VAE and back: its latents' mean decoded.
Tensor round_trip(const VaeModel& vae, const Tensor& rgb) {
  const train::ClipGeometry geometry{rgb.dim(1), rgb.dim(2), rgb.dim(0), 1};
  const Tensor video = rgb.dim(0) == 1 ? train::prepare_still(rgb, geometry, 1)
                                       : train::prepare_clip(rgb, geometry, "a truth clip");
  const DiagonalGaussian posterior = DiagonalGaussian::from_parameters(vae.encode_parameters(video));
  return DecodeStage(vae, VaeDecodeOptions{}).run(posterior.mean);
}

// The cases of a make-dataset directory's truth.jsonl, and its clips judged
// (through the VAE and back when one is given).
std::vector<shapes::JudgedClip> judge_truth(const fs::path& truth, const VaeModel* vae, const std::string& out,
                                            std::vector<shapes::EvalCase>& cases) {
  if (!out.empty()) fs::create_directories(out);
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
      const Tensor rgb = io::read_video(truth.parent_path() / row.at("file").get<std::string>());
      const Tensor seen = vae ? round_trip(*vae, rgb) : rgb;
      judged.push_back(shapes::judge(seen));
      if (!out.empty()) io::write_video(fs::path(out) / (c.id + ".mp4"), seen, {.fps = 8});
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

// How many of colour, shape and motion a judged clip shows as asked (0 when
// no shape was found at all).
int attributes_right(const shapes::ParsedCaption& asked, const shapes::JudgedClip& j) {
  if (!j.found) return 0;
  return int(j.colour == asked.colour) + int(j.form == asked.form) + int(j.motion == asked.motion);
}

// Video-DPO pairs without people: every candidate of a `run
// --samples-per-prompt` directory judged, and every pair of one prompt's
// candidates decided by the judge (more attributes right: preferred; as
// many: a tie), written as `label`'s judgement log so encode-dataset takes it.
void judge_candidates(const fs::path& run_dir, const fs::path& pairs_out) {
  refuse_existing_outputs({pairs_out}, false);
  const label::CandidateSet set = label::read_candidates(run_dir);
  std::vector<int> right(set.candidates.size());
  double total = 0;
  for (size_t i = 0; i < set.candidates.size(); ++i) {
    const label::Candidate& c = set.candidates[i];
    const std::optional<shapes::ParsedCaption> asked = shapes::parse_caption(c.prompt);
    SV_CHECK_AS(InputError, asked.has_value(), "{}: \"{}\" is not a caption of the shapes world (README)",
                c.video.string(), c.prompt);
    right[i] = attributes_right(*asked, shapes::judge(io::read_video(c.video)));
    total += right[i];
  }
  std::string lines;
  int64_t preferred = 0, ties = 0;
  for (const label::CandidatePair& p : set.pairs) {
    const label::Candidate& a = set.candidates[p.left];
    const label::Candidate& b = set.candidates[p.right];
    train::Judgement g;
    g.pair_id = p.id;
    g.prompt = a.prompt;
    g.left = a.video.string();
    g.right = b.video.string();
    g.time = jobs::utc_now();
    const int ra = right[p.left], rb = right[p.right];
    g.verdict = ra == rb ? train::Verdict::Tie : train::Verdict::Preferred;
    if (ra != rb) {
      g.chosen = ra > rb ? g.left : g.right;
      g.rejected = ra > rb ? g.right : g.left;
    }
    ++(ra == rb ? ties : preferred);
    lines += train::judgement_record(g).dump() + "\n";
  }
  io::write_text_atomic(pairs_out, lines);
  log_info("judged {} candidates of {} prompts: {:.2f} of 3 attributes right on average; {} pairs preferred, {} ties "
           "-> {}",
           set.candidates.size(), set.prompts, total / static_cast<double>(set.candidates.size()), preferred, ties,
           pairs_out.string());
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
      "stepvideo eval shapes --truth DATASET/truth.jsonl [--model DIR] [--report FILE.json]\n"
      "stepvideo eval shapes --candidates RUN_DIR --pairs PAIRS.jsonl\n\n"
      "Prompt adherence in the shapes world (README \"The shapes world\"): a clip for every held-out\n"
      "colour x shape x motion combination (never in make-dataset's output) in English and Chinese, in\n"
      "the canonical caption form, per seed; a programmatic judge reads colour, shape and motion back;\n"
      "prints the accuracy per language. A model's sampling.json sets the defaults of the sampling options.\n"
      "--truth judges a dataset's own clips against their truth; with --model, each clip after a round\n"
      "trip through the model's Video-VAE (its latents' mean decoded): how much the VAE keeps.\n"
      "--candidates judges the videos of `run --samples-per-prompt` (prompts from the grammar) and writes\n"
      "every pair of one prompt's candidates to --pairs as `label` would (more of colour, shape and motion\n"
      "right: preferred; as many: a tie): Video-DPO pairs for encode-dataset without people");
  opts.add_options()("model", po::value(&r.model), "model directory to evaluate")(
      "truth", po::value(&r.truth), "judge make-dataset's clips listed in this truth.jsonl instead")(
      "candidates", po::value<std::string>(), "judge a `run --samples-per-prompt` directory's candidates")(
      "pairs", po::value<std::string>(), "with --candidates: the judgement log to write (label's format)")(
      "seeds", po::value(&r.seeds)->default_value(r.seeds), "clips per caption (seeds 0..N-1)")(
      "out", po::value(&r.out), "also write every clip here (<case>.mp4; with --truth and --model, the round trips)")(
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
  if (parsed.vm.count("candidates") || parsed.vm.count("pairs")) {
    if (!parsed.vm.count("candidates") || !parsed.vm.count("pairs") || !r.model.empty() || !r.truth.empty()) {
      throw po::error("--candidates and --pairs go together, without --model or --truth");
    }
    judge_candidates(parsed.vm["candidates"].as<std::string>(), parsed.vm["pairs"].as<std::string>());
    return kExitOk;
  }
  if (r.model.empty() && r.truth.empty()) throw po::error("give --model, --truth, or both (a VAE round trip)");
  if (!r.model.empty() && r.truth.empty()) {
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
    std::unique_ptr<VaeModel> vae;
    if (!r.model.empty()) {
      check_vae_files(r.model);
      vae = load_vae(r.model, VaeParts::Both);
    }
    judged = judge_truth(r.truth, vae.get(), r.out, cases);
  } else {
    cases = shapes::held_out_cases(r.seeds);
    judged = judge_model(r, cases, context);
  }
  const shapes::EvalScores scores = shapes::score(cases, judged);
  if (context.mpi.world_rank() != 0) return kExitOk;
  print_scores(scores);
  if (!r.report.empty()) {
    json report{{"source", r.truth.empty() ? r.model : r.truth}, {"scores", scores.to_json()}, {"clips", json::array()}};
    if (!r.truth.empty() && !r.model.empty()) report["through_vae"] = r.model;
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
