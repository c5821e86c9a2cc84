// Fixture kinds "step_tokenizer" and "bert_tokenizer": tokenize the prompts of
// prompts.json as one batch and compare ids and masks exactly.
#include <string>
#include <vector>

#include "core/error.h"
#include "io/json_file.h"
#include "models/tokenizers/bert_tokenizer.h"
#include "models/tokenizers/step_tokenizer.h"
#include "verify/case_runner.h"

namespace sv::verify {

namespace {

std::vector<std::string> read_prompts(const FixtureCase& fixture) {
  const auto path = fixture.dir() / "prompts.json";
  const nlohmann::json j = io::read_json_file(path);
  const auto list = io::json_require<nlohmann::json>(j, "prompts", path);
  SV_CHECK_AS(InputError, list.is_array(), "{}: \"prompts\" should be a list", path.string());
  std::vector<std::string> texts;
  for (const auto& p : list) texts.push_back(io::json_require<std::string>(p, "text", path));
  return texts;
}

}  // namespace

void run_step_tokenizer_case(const FixtureCase& fixture, const VerifyOptions&,
                             ReportBuilder& report) {
  const nlohmann::json config = io::read_json_file(fixture.config_path());
  const auto model = io::json_require<std::string>(config, "model_file", fixture.config_path());
  const auto max_length = io::json_require<int64_t>(config, "max_length", fixture.config_path());
  const tok::StepTokenizer tokenizer(fixture.dir() / model);
  const tok::TokenBatch batch = tokenizer(read_prompts(fixture), max_length);
  report.check("out.input_ids", batch.input_ids);
  report.check("out.attention_mask", batch.attention_mask);
}

void run_bert_tokenizer_case(const FixtureCase& fixture, const VerifyOptions&,
                             ReportBuilder& report) {
  const auto config_path = fixture.config_path();
  const nlohmann::json config = io::read_json_file(config_path);
  const auto vocab = io::json_require<std::string>(config, "vocab_file", config_path);
  const auto options = tok::BertTokenizerOptions::from_json(
      io::json_require<nlohmann::json>(config, "tokenizer_config", config_path), config_path);
  const auto call = io::json_require<nlohmann::json>(config, "call", config_path);
  const auto max_length = io::json_require<int64_t>(call, "max_length", config_path);
  const tok::BertTokenizer tokenizer(fixture.dir() / vocab, options);
  const tok::TokenBatch batch = tokenizer(read_prompts(fixture), max_length);
  report.check("out.input_ids", batch.input_ids);
  report.check("out.attention_mask", batch.attention_mask);
}

}  // namespace sv::verify
