// stepvideo encode-dataset: a manifest of videos/images and captions ->
// a training dataset (train/dataset.h): Video-VAE latents and both text
// encoders' outputs in HDF5 shards, indexed per rank. Resumable (what the
// index holds is skipped), spread over ranks under mpirun (item i on rank
// i % world), preemptible (SIGTERM/SIGUSR1: the shard being filled is
// written, exit 75).
#include <algorithm>
#include <filesystem>
#include <sstream>

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/options.h"
#include "core/log.h"
#include "core/random.h"
#include "core/sha256.h"
#include "core/stop_signal.h"
#include "io/durable_file.h"
#include "io/hdf5_tensors.h"
#include "io/json_file.h"
#include "io/video_reader.h"
#include "models/model_directory.h"
#include "parallel/mpi_communicator.h"
#include "stages/text_encode_stage.h"
#include "train/clip_preprocess.h"
#include "train/dataset_manifest.h"
#include "train/dataset_writer.h"

namespace sv::cli {

namespace po = boost::program_options;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Encoders {
  std::unique_ptr<VaeModel> vae;
  TextEncodeStage text;
};

// Both text encoders' outputs for one caption: [L, caption], [Lc, clip], mask [Lc + L].
train::TrainingSample encode_caption(const TextEncodeStage& text, const std::string& caption) {
  const TextConditioning c = text.encode_texts({caption});
  train::TrainingSample s;
  s.y = c.y.select(0, 0).to(DType::F32).contiguous();
  s.clip = c.clip_embedding.select(0, 0).to(DType::F32).contiguous();
  s.mask = c.y_mask.select(0, 0).to(DType::F32).contiguous();
  return s;
}

// The noise of a "sample" item's latents: from --seed and the item's id, so
// it does not depend on which rank encodes the item or in which order.
uint64_t latent_seed(uint64_t seed, const std::string& id) {
  return seed ^ std::stoull(Sha256::hex(id).substr(0, 16), nullptr, 16);
}

// The longest of the clip lengths (ascending) that a video of `available`
// frames holds at `stride`; InputError naming the shortest's need otherwise.
int64_t clip_length(const std::vector<int64_t>& lengths, int64_t available, int64_t stride, const std::string& what) {
  for (auto it = lengths.rbegin(); it != lengths.rend(); ++it) {
    if ((*it - 1) * stride + 1 <= available) return *it;
  }
  throw InputError(fmt::format("{}: {} frames, too short: --frames {} (stride {}) needs {}", what, available,
                               lengths.front(), stride, (lengths.front() - 1) * stride + 1));
}

// "17" or "68,136,204": ascending, distinct, each a positive multiple of the VAE's chunk.
std::vector<int64_t> parse_clip_lengths(const std::string& text, int64_t chunk) {
  std::vector<int64_t> lengths;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) {
    size_t used = 0;
    int64_t n = 0;
    try {
      n = std::stoll(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != part.size() || n <= 0 || n % chunk != 0) {
      throw po::error(fmt::format("--frames '{}': expected frame counts that are multiples of the VAE's chunk of {} "
                                  "frames, e.g. {} or {},{}", text, chunk, chunk, 4 * chunk, 8 * chunk));
    }
    lengths.push_back(n);
  }
  if (lengths.empty() || text.back() == ',') throw po::error(fmt::format("--frames '{}': a count is missing", text));
  std::sort(lengths.begin(), lengths.end());
  if (std::adjacent_find(lengths.begin(), lengths.end()) != lengths.end()) {
    throw po::error(fmt::format("--frames '{}' names a length twice", text));
  }
  return lengths;
}

// One clip's latents [F, C, h, w]; seed_key picks the draw of "sample" latents.
Tensor encode_media(const Encoders& enc, const train::DatasetItem& item, const fs::path& media,
                    train::ClipGeometry geometry, const train::DatasetHeader& header, const std::string& seed_key) {
  const std::string what = fmt::format("{} ({})", item.id, media.string());
  io::VideoInfo info;
  const Tensor rgb = io::read_video(media, &info);
  Tensor video;
  if (item.image) {
    SV_CHECK_AS(InputError, info.frames == 1, "{}: an image item must be one picture, the file has {} frames", what,
                info.frames);
    video = train::prepare_still(rgb, geometry, enc.vae->config().frame_len);
  } else {
    SV_CHECK_AS(InputError, info.frames > 1, "{}: not a video (one frame; give it as \"image\")", what);
    if (!header.frame_buckets.empty()) {
      geometry.frames = clip_length(header.frame_buckets, rgb.dim(0), geometry.stride, what);
    }
    video = train::prepare_clip(rgb, geometry, what);
  }
  const DiagonalGaussian posterior = DiagonalGaussian::from_parameters(enc.vae->encode_parameters(video));
  Tensor latents = header.latents == "mean"
                       ? posterior.mean
                       : posterior.sample(gaussian_noise(posterior.mean.shape(), latent_seed(header.latent_seed, seed_key)));
  latents = latents.select(0, 0);  // [F, C, h, w]
  if (item.image) latents = latents.slice(0, 0, 1);
  return latents.contiguous();
}

// A sample, or a preference pair: one text encoding, both clips' latents.
train::EncodedSample encode_item(const Encoders& enc, const train::DatasetItem& item,
                                 const train::ClipGeometry& geometry, const train::DatasetHeader& header) {
  train::EncodedSample s{item.id, item.caption, encode_caption(enc.text, item.caption)};
  s.data.latents = encode_media(enc, item, item.media, geometry, header, item.id);
  if (item.pair()) s.data.latents_rejected = encode_media(enc, item, item.rejected, geometry, header, item.id + "/rejected");
  return s;
}

// dataset.json: written by rank 0 on the first start; a later start must
// describe the same dataset.
void check_or_write_header(const fs::path& out, const train::DatasetHeader& header, int rank) {
  const fs::path path = train::Dataset::header_path(out);
  if (fs::exists(path)) {
    const train::DatasetHeader old = train::DatasetHeader::from_json(io::read_json_file(path), path);
    SV_CHECK_AS(ConfigError, old.to_json() == header.to_json(),
                "{}: this dataset was encoded with other settings ({}); now {}. Use another --out", path.string(),
                old.to_json().dump(), header.to_json().dump());
    return;
  }
  if (rank == 0) io::write_text_atomic(path, header.to_json().dump(2) + "\n");
}

}  // namespace

int cmd_encode_dataset(const Args& args, const Context& context) {
  std::string model, manifest, out, latents = "mean", frames = "17";
  train::ClipGeometry geometry;
  uint64_t seed = 0;
  int64_t shard_size = 64;
  po::options_description opts(
      "stepvideo encode-dataset --model DIR --manifest FILE --out DATA_DIR [options]\n\n"
      "Encodes a JSONL manifest ({\"id\", \"video\" or \"image\", \"caption\"} per line) into a training\n"
      "dataset for `stepvideo train`: Video-VAE latents and both text encoders' outputs in HDF5 shards.\n"
      "A manifest of preference pairs ({\"prompt\", \"chosen\", \"rejected\"[, \"id\"]}, video paths) gives\n"
      "a pairs dataset for `train --objective dpo`: one text encoding and both clips' latents per pair.\n"
      "A file written by `stepvideo label` is such a manifest: its preferred pairs in force are encoded.\n"
      "Videos: the first --frames frames (every --frame-stride-th), scaled to cover --height x --width\n"
      "keeping the aspect ratio, centre-cropped. Images: 1-frame samples. Resumable; under mpirun the\n"
      "ranks share the items. Exit: 0 all encoded, 9 some items or lines bad (recorded, skipped),\n"
      "75 stopped by SIGTERM/SIGUSR1 (run again to continue)");
  opts.add_options()("model", po::value(&model)->required(), "model directory (its VAE and text encoders)")(
      "manifest", po::value(&manifest)->required(), "JSONL manifest")(
      "out", po::value(&out)->required(), "dataset directory (created; resumed when it holds an index)")(
      "height", po::value(&geometry.height)->default_value(geometry.height), "pixel height (multiple of 16)")(
      "width", po::value(&geometry.width)->default_value(geometry.width), "pixel width (multiple of 16)")(
      "frames", po::value(&frames)->default_value(frames),
      "frames per video (a multiple of the VAE's 17-frame chunk); several, e.g. 68,136,204: each video\n"
      "becomes the longest clip it holds (frame buckets; shorter videos are not dropped)")(
      "frame-stride", po::value(&geometry.stride)->default_value(geometry.stride), "take every N-th frame")(
      "latents", po::value(&latents)->default_value(latents),
      "mean: the encoder's mean; sample: a draw keyed by --seed and the item id")(
      "seed", po::value(&seed)->default_value(seed), "seed of --latents sample")(
      "shard-size", po::value(&shard_size)->default_value(shard_size), "samples per HDF5 shard");
  const ParsedOptions parsed = parse_options(args, opts);
  if (parsed.help) return kExitOk;
  SV_CHECK_AS(InputError, latents == "mean" || latents == "sample", "--latents must be mean or sample, got '{}'",
              latents);
  SV_CHECK_AS(InputError, geometry.height % 16 == 0 && geometry.width % 16 == 0 && geometry.height > 0 && geometry.width > 0,
              "--height {} and --width {} must be positive multiples of 16 (the VAE's compression)", geometry.height,
              geometry.width);
  const int rank = context.mpi.world_rank(), world = context.mpi.world_size();
  const fs::path out_dir(out);
  const train::DatasetManifest m = train::read_dataset_manifest(manifest);

  Encoders enc{load_vae(model, VaeParts::Encoder), TextEncodeStage::open(model)};
  const std::vector<int64_t> lengths = parse_clip_lengths(frames, enc.vae->config().frame_len);
  geometry.frames = lengths.back();
  const train::TrainingSample empty = encode_caption(enc.text, "");
  train::DatasetHeader header;
  header.latent_channels = enc.vae->config().z_channels;
  header.caption_channels = empty.y.dim(1);
  header.clip_channels = empty.clip.dim(1);
  header.height = geometry.height;
  header.width = geometry.width;
  header.frames = geometry.frames;
  if (lengths.size() > 1) header.frame_buckets = lengths;
  header.latents = latents;
  header.latent_seed = latents == "sample" ? seed : 0;
  header.model = fs::absolute(model).lexically_normal();
  header.pairs = m.pairs;
  fs::create_directories(out_dir);
  check_or_write_header(out_dir, header, rank);
  if (rank == 0 && !fs::exists(train::Dataset::empty_text_path(out_dir))) {
    io::write_hdf5(train::Dataset::empty_text_path(out_dir), {{"y", empty.y}, {"clip", empty.clip}, {"mask", empty.mask}});
  }

  const std::set<std::string> done = train::DatasetWriter::finished_ids(out_dir);
  train::DatasetWriter writer(out_dir, rank, shard_size);
  if (rank == 0) {
    for (const train::DatasetManifestLine& b : m.bad_lines) {
      const std::string id = fmt::format("{}:{}", manifest, b.line);
      log_warn("{}: bad line: {}", id, b.reason);
      if (!done.count(id)) writer.add_bad(id, b.reason);
    }
    if (m.undecided_pairs > 0) {
      log_info("{}: {} pair(s) judged a tie or skipped: not in the dataset", manifest, m.undecided_pairs);
    }
  }
  int64_t encoded = 0, bad = 0, skipped = 0;
  for (size_t i = static_cast<size_t>(rank); i < m.items.size(); i += static_cast<size_t>(world)) {
    const train::DatasetItem& item = m.items[i];
    if (done.count(item.id)) {
      ++skipped;
      continue;
    }
    if (stop_requested()) {
      writer.flush();
      log_info("stopping (signal {}): {} items encoded this run; run the same command to continue",
               stop_signal_number(), encoded);
      return kExitPreempted;
    }
    try {
      writer.add(encode_item(enc, item, geometry, header));
      ++encoded;
      log_info("encoded {} ({}/{})", item.id, i + 1, m.items.size());
    } catch (const InputError& e) {
      ++bad;
      log_warn("{}:{}: {}: skipped: {}", manifest, item.line, item.id, e.what());
      writer.add_bad(item.id, e.what());
    }
  }
  writer.flush();
  if (world > 1) make_mpi_communicator(MPI_COMM_WORLD, "world")->barrier();
  if (rank != 0) return kExitOk;
  int64_t good = 0, bad_all = 0;
  for (const json& r : train::Dataset::index_records(out_dir)) (r.value("status", "") == "ok" ? good : bad_all)++;
  log_info("{}: {} samples ({} encoded now, {} already there), {} bad items or lines (reasons in index-r*.jsonl)",
           out_dir.string(), good, encoded, skipped, bad_all);
  return bad_all > 0 ? kExitItemsFailed : kExitOk;
}

}  // namespace sv::cli
