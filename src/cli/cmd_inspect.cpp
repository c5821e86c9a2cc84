// stepvideo inspect PATH: what is in a weight file, sharded index or model
// directory. Opening validates every header, so this doubles as a quick
// integrity check of a download (without reading the tensor data).
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/exit_codes.h"
#include "io/checkpoint.h"

namespace sv::cli {

namespace {

namespace fs = std::filesystem;
namespace po = boost::program_options;

struct Totals {
  size_t tensors = 0;
  uint64_t parameters = 0;
  uint64_t bytes = 0;
  size_t files = 0;

  Totals& operator+=(const Totals& o) {
    tensors += o.tensors;
    parameters += o.parameters;
    bytes += o.bytes;
    files += o.files;
    return *this;
  }
};

std::string human_count(uint64_t n) {
  if (n >= 1'000'000'000) return fmt::format("{:.2f} B", static_cast<double>(n) / 1e9);
  if (n >= 1'000'000) return fmt::format("{:.2f} M", static_cast<double>(n) / 1e6);
  if (n >= 1'000) return fmt::format("{:.2f} K", static_cast<double>(n) / 1e3);
  return std::to_string(n);
}

std::string human_bytes(uint64_t n) {
  const double d = static_cast<double>(n);
  if (n >= (uint64_t{1} << 30)) return fmt::format("{:.2f} GiB", d / (1 << 30));
  if (n >= (uint64_t{1} << 20)) return fmt::format("{:.2f} MiB", d / (1 << 20));
  if (n >= (uint64_t{1} << 10)) return fmt::format("{:.2f} KiB", d / (1 << 10));
  return fmt::format("{} B", n);
}

std::string totals_line(std::string_view label, const Totals& t) {
  return fmt::format("{}: {} tensors, {} parameters ({}), {} bytes ({}), {} file{}", label,
                     t.tensors, t.parameters, human_count(t.parameters), t.bytes,
                     human_bytes(t.bytes), t.files, t.files == 1 ? "" : "s");
}

Totals print_checkpoint(const io::Checkpoint& ckpt) {
  struct Row {
    const std::string* name;
    std::string dtype, shape, bytes;
  };
  std::vector<Row> rows;
  rows.reserve(ckpt.size());
  Totals t;
  for (const std::string& name : ckpt.names()) {
    const io::TensorInfo& info = *ckpt.find(name);
    rows.push_back({&name, std::string(dtype_safetensors_name(info.dtype)), info.shape.str(),
                    std::to_string(info.nbytes())});
    t.tensors += 1;
    t.parameters += static_cast<uint64_t>(info.shape.numel());
    t.bytes += info.nbytes();
  }
  t.files = ckpt.num_files();

  size_t wn = 0, wd = 0, ws = 0, wb = 0;
  for (const Row& r : rows) {
    wn = std::max(wn, r.name->size());
    wd = std::max(wd, r.dtype.size());
    ws = std::max(ws, r.shape.size());
    wb = std::max(wb, r.bytes.size());
  }
  std::string out;
  for (const Row& r : rows) {
    out += fmt::format("{:<{}}  {:<{}}  {:<{}}  {:>{}}\n", *r.name, wn, r.dtype, wd, r.shape, ws,
                       r.bytes, wb);
  }
  out += totals_line("total", t) + "\n";
  std::cout << out;
  return t;
}

// A model directory (transformer/, vae/, step_llm/ ...) holds weights only in
// its subfolders; a directory with weights of its own is one checkpoint.
std::vector<fs::path> weight_subfolders(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec) || io::has_checkpoint_files(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (io::has_checkpoint_files(e.path())) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

int cmd_inspect(const Args& args, const Context&) {
  po::options_description visible(
      "usage: stepvideo inspect [options] PATH\n\n"
      "Lists the tensors (name, dtype, shape, bytes) of a .safetensors file, a PyTorch\n"
      "pytorch_model.bin (read without executing its pickle), a sharded *.index.json,\n"
      "a directory of weights, or a model directory (each subfolder holding weights,\n"
      "e.g. transformer/ and vae/). Every header is validated; the tensor data is not\n"
      "read.\n\noptions");
  po::options_description hidden;
  hidden.add_options()("path", po::value<std::string>(), "what to inspect");
  po::positional_options_description positional;
  positional.add("path", 1);
  const ParsedOptions parsed = parse_options(args, visible, hidden, positional);
  if (parsed.help) return kExitOk;
  const po::variables_map& vm = parsed.vm;
  if (!vm.count("path")) {
    throw po::error("missing PATH (a .safetensors file, an *.index.json or a directory)");
  }
  const fs::path path = vm["path"].as<std::string>();

  const std::vector<fs::path> parts = weight_subfolders(path);
  if (parts.empty()) {
    print_checkpoint(io::Checkpoint::open(path));
    return kExitOk;
  }
  // Open everything first: a broken subfolder fails before any output.
  std::vector<io::Checkpoint> ckpts;
  for (const auto& p : parts) ckpts.push_back(io::Checkpoint::open(p));
  Totals all_totals;
  for (const auto& c : ckpts) {
    std::cout << "# " << c.describe() << "\n";
    all_totals += print_checkpoint(c);
    std::cout << "\n";
  }
  std::cout << totals_line("all", all_totals) << "\n";
  return kExitOk;
}

}  // namespace sv::cli
