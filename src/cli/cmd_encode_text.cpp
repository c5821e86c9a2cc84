// stepvideo encode-text --model DIR --prompt "...": runs TextEncodeStage on one
// prompt (plus its negative, as a generation would), prints the token ids of
// both tokenizers and optionally writes the conditioning as safetensors. A
// debugging aid for the text side of the pipeline.
#include <iostream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/options.h"
#include "io/tensor_file.h"
#include "stages/text_encode_stage.h"

namespace sv::cli {

namespace po = boost::program_options;

namespace {

std::vector<int64_t> valid_ids(const tok::TokenBatch& b, int64_t row) {
  const int64_t len = b.input_ids.dim(1);
  const int64_t* p = b.input_ids.data<int64_t>() + row * len;
  return {p, p + b.valid_lengths[static_cast<size_t>(row)]};
}

}  // namespace

int cmd_encode_text(const Args& args, const Context&) {
  po::options_description visible(
      "usage: stepvideo encode-text --model DIR --prompt TEXT [options]\n\n"
      "Encodes [prompt + positive suffix, negative prompt] with Step-LLM and HunyuanCLIP\n"
      "from the released model folders (DIR/step_llm, DIR/hunyuan_clip), prints the token\n"
      "ids of both tokenizers and writes y, y_mask and clip_embedding with --out.\n\noptions");
  visible.add_options()("model", po::value<std::string>(), "model directory (release layout)")(
      "prompt", po::value<std::string>(), "the prompt")(
      "positive-suffix", po::value<std::string>(),
      "appended to the prompt (default: upstream's positive magic string)")(
      "negative-prompt", po::value<std::string>(),
      "the negative prompt (default: upstream's negative magic string)")(
      "out", po::value<std::string>(), "write the embeddings to this file (.safetensors, or .h5 for HDF5)")(
      "tokens-only", po::bool_switch(), "only tokenize (no model weights are read)");
  const ParsedOptions parsed = parse_options(args, visible);
  if (parsed.help) return kExitOk;
  const po::variables_map& vm = parsed.vm;
  if (!vm.count("model")) throw po::error("missing --model DIR");
  if (!vm.count("prompt")) throw po::error("missing --prompt TEXT");
  const std::filesystem::path model = vm["model"].as<std::string>();
  // Refused before any model is read: the format is the one the name asks for.
  if (vm.count("out")) as_usage_error([&] { return io::tensor_file_format(vm["out"].as<std::string>()); });

  TextEncodeOptions options;
  if (vm.count("positive-suffix")) options.positive_suffix = vm["positive-suffix"].as<std::string>();
  if (vm.count("negative-prompt")) options.negative_prompt = vm["negative-prompt"].as<std::string>();
  const std::vector<std::string> texts = {vm["prompt"].as<std::string>() + options.positive_suffix,
                                          options.negative_prompt};

  auto print_tokens = [&](const tok::TokenBatch& llm, const tok::TokenBatch& clip) {
    for (size_t r = 0; r < texts.size(); ++r) {
      const auto row = static_cast<int64_t>(r);
      fmt::print("{} text: {}\n", r == 0 ? "prompt" : "negative", texts[r]);
      fmt::print("  step_llm ids ({}{}): {}\n", llm.valid_lengths[r],
                 llm.truncated[r] ? ", truncated" : "", fmt::join(valid_ids(llm, row), " "));
      fmt::print("  clip ids ({}{}): {}\n", clip.valid_lengths[r],
                 clip.truncated[r] ? ", truncated" : "", fmt::join(valid_ids(clip, row), " "));
    }
  };

  if (vm["tokens-only"].as<bool>()) {
    const tok::StepTokenizer llm_tok(model / "step_llm" / "step1_chat_tokenizer.model");
    const auto clip_tok = tok::BertTokenizer::from_dir(model / "hunyuan_clip" / "tokenizer");
    print_tokens(llm_tok(texts, options.llm_max_length), clip_tok(texts, options.clip_max_length));
    return kExitOk;
  }

  const TextEncodeStage stage = TextEncodeStage::open(model, options);
  const TextConditioning c = stage.encode({PromptItem{vm["prompt"].as<std::string>(), {}, {}}});
  print_tokens(c.llm_tokens, c.clip_tokens);
  fmt::print("y {}  y_mask {}  clip_embedding {}\n", c.y.describe(), c.y_mask.describe(),
             c.clip_embedding.describe());
  if (vm.count("out")) {
    const std::string out = vm["out"].as<std::string>();
    io::write_tensor_file(out, {{"y", c.y},
                               {"y_mask", c.y_mask},
                               {"clip_embedding", c.clip_embedding},
                               {"llm_input_ids", c.llm_tokens.input_ids},
                               {"clip_input_ids", c.clip_tokens.input_ids}});
    fmt::print("wrote {}\n", out);
  }
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace sv::cli
