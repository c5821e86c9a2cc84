// The candidate videos of a `run --samples-per-prompt N` output directory
// and the pairs a person is asked to judge: every two finished candidates of
// one prompt. A candidate is finished when its sidecar (written last, with
// "candidate": {"of", "sample", "samples"}) and its video are both there.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace sv::label {

struct Candidate {
  std::string id, of, prompt;  // "<of>-s<sample>", the manifest line's id, the prompt
  int64_t sample = 0;
  std::filesystem::path video;  // absolute
};

// Two candidates of one prompt, in the order they are shown. Which one is on
// the left is fixed per pair (a hash of its id), so neither side is always
// the lower sample and a restart shows a pair the same way.
struct CandidatePair {
  std::string id;  // "<of>-s<a>-vs-s<b>", a < b
  size_t left = 0, right = 0;  // indices into CandidateSet::candidates
};

struct CandidateSet {
  std::vector<Candidate> candidates;  // by (of, sample)
  std::vector<CandidatePair> pairs;   // by prompt, then (a, b)
  int64_t prompts = 0;                // with at least two finished candidates
};

// InputError when the directory cannot be read or holds no pair to judge;
// NotSupported when a candidate is not an MP4 (browsers cannot play FFV1).
CandidateSet read_candidates(const std::filesystem::path& run_dir);

}  // namespace sv::label
