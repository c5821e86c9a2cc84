// The pairs file `stepvideo label` appends to (train/preference_judgements.h).
// Opening it reads back every judgement, so labelling resumes where it
// stopped. A file that holds anything else is refused, never changed; the
// only repair is cutting a last line torn by a crash mid-append (never
// acknowledged to the page, so that pair is simply shown again).
#pragma once

#include <filesystem>
#include <vector>

#include "train/preference_judgements.h"

namespace sv::label {

class JudgementLog {
 public:
  // InputError naming file and line for a line that is not a judgement.
  explicit JudgementLog(std::filesystem::path path);
  ~JudgementLog();
  JudgementLog(const JudgementLog&) = delete;
  JudgementLog& operator=(const JudgementLog&) = delete;

  const std::vector<train::Judgement>& judgements() const { return judgements_; }
  // Writes one line and fsyncs before returning; InputError when it cannot.
  void append(const train::Judgement& judgement);
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::vector<train::Judgement> judgements_;
  int fd_ = -1;
};

}  // namespace sv::label
