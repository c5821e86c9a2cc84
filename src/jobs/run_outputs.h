// What a run may trust and touch in its output directory (issue 13):
//   - ownership: an item's files belong to a run when the item's sidecar
//     (<id>.json, written before the video) carries one of the run's ids;
//     a run never replaces or deletes a file it cannot show is its own;
//   - what a finished item was: its resolved parameters and its files' sizes
//     and SHA-256, recorded in the journal's "done" record, so a resumed run
//     redoes an item whose output went missing or changed, or whose
//     parameters differ from those it was made with.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/video_writer.h"
#include "jobs/manifest.h"

namespace sv::jobs {

// The files of one item, by name in the output directory.
std::vector<std::string> item_output_names(const std::string& id, io::VideoCodec codec);

// The resolved parameters that define an item's video.
nlohmann::json item_params(const JobItem& item, io::VideoCodec codec, const std::string& model_sha256);

// Name, size and SHA-256 of each file that exists (for a "done" record).
nlohmann::json describe_files(const std::filesystem::path& out, const std::vector<std::string>& names);

// Why a finished item must be made again, or nothing when its record still
// holds: a file missing or of another size (or, with verify_hashes, another
// SHA-256), or parameters that differ ("steps 2 -> 3").
std::optional<std::string> recheck_finished(const std::filesystem::path& out, const nlohmann::json& done_record,
                                            const nlohmann::json& params_now, bool verify_hashes);

// True when <id>.json in `out` is a sidecar of item `id` written by one of
// `run_ids`: then the item's files are that run's.
bool owned_by(const std::filesystem::path& out, const std::string& id, const std::set<std::string>& run_ids);

// The fields in which two parameter objects differ, as "steps 2 -> 3, height 64 -> 128".
std::string describe_differences(const nlohmann::json& before, const nlohmann::json& now);

// A fresh random run id (16 hex digits).
std::string new_run_id();

}  // namespace sv::jobs
