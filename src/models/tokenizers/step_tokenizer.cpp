#include "models/tokenizers/step_tokenizer.h"

#include <sentencepiece_processor.h>

#include "core/error.h"

namespace sv::tok {

StepTokenizer::StepTokenizer(const std::filesystem::path& model_file)
    : path_(model_file), sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
  std::error_code ec;
  SV_CHECK_AS(CheckpointError, std::filesystem::is_regular_file(model_file, ec),
              "{}: no such tokenizer model file", model_file.string());
  const auto status = sp_->Load(model_file.string());
  SV_CHECK_AS(CheckpointError, status.ok(), "{}: not a SentencePiece model: {}",
              model_file.string(), status.ToString());
  for (const char* token : {"<|BOT|>", "<|EOT|>", "<|CALL_START|>", "<|CALL_END|>",
                            "<|THINK_START|>", "<|THINK_END|>"}) {
    const int id = sp_->PieceToId(token);
    SV_CHECK_AS(CheckpointError, sp_->IdToPiece(id) == token,
                "{}: token '{}' not found in the tokenizer", model_file.string(), token);
    SV_CHECK_AS(CheckpointError, sp_->IsControl(id) || sp_->IsUnknown(id),
                "{}: token '{}' is not a special (control) token", model_file.string(), token);
  }
  for (const char* token : {"<|MASK_1e69f|>", "<|UNMASK_1e69f|>"}) {
    SV_CHECK_AS(CheckpointError, sp_->IdToPiece(sp_->PieceToId(token)) == token,
                "{}: token '{}' not found in the tokenizer", model_file.string(), token);
  }
  SV_CHECK_AS(CheckpointError, sp_->GetPieceSize() > kEos,
              "{}: vocabulary of {} pieces has no room for BOS={} and EOS={}",
              model_file.string(), sp_->GetPieceSize(), kBos, kEos);
}

StepTokenizer::~StepTokenizer() = default;
StepTokenizer::StepTokenizer(StepTokenizer&&) noexcept = default;
StepTokenizer& StepTokenizer::operator=(StepTokenizer&&) noexcept = default;

std::vector<int64_t> StepTokenizer::encode(const std::string& text) const {
  std::vector<int> ids;
  const auto status = sp_->Encode(text, &ids);
  SV_CHECK_AS(InputError, status.ok(), "{}: cannot encode the text: {}", path_.string(),
              status.ToString());
  return {ids.begin(), ids.end()};
}

std::string StepTokenizer::piece(int64_t id) const {
  SV_CHECK_AS(InputError, id >= 0 && id < sp_->GetPieceSize(), "token id {} outside [0, {})", id,
              sp_->GetPieceSize());
  return sp_->IdToPiece(static_cast<int>(id));
}

int64_t StepTokenizer::vocab_size() const { return sp_->GetPieceSize(); }

TokenBatch StepTokenizer::operator()(const std::vector<std::string>& texts,
                                     int64_t max_length) const {
  SV_CHECK_AS(ConfigError, max_length >= 2,
              "Step tokenizer: max_length {} leaves no room for BOS and EOS", max_length);
  const std::vector<std::string> one_empty{std::string()};
  const std::vector<std::string>& batch = texts.empty() ? one_empty : texts;
  std::vector<std::vector<int64_t>> rows;
  std::vector<bool> truncated;
  for (const std::string& text : batch) {
    std::vector<int64_t> ids = encode(text);
    const auto keep = static_cast<size_t>(max_length - 2);
    truncated.push_back(ids.size() > keep);
    if (ids.size() > keep) ids.resize(keep);
    std::vector<int64_t> row;
    row.reserve(ids.size() + 2);
    row.push_back(kBos);
    row.insert(row.end(), ids.begin(), ids.end());
    row.push_back(kEos);
    rows.push_back(std::move(row));
  }
  return pack_rows(rows, truncated, max_length, kPad);
}

}  // namespace sv::tok
