// The writing side of a dataset (train/dataset.h): samples are buffered and
// written as one HDF5 shard (temporary name, fsync, rename), then indexed in
// this rank's index-r<R>.jsonl, so an indexed sample is always on disk. A
// crash loses at most the samples of the shard being filled; a resumed
// encode-dataset encodes them again.
#pragma once

#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "jobs/journal.h"
#include "train/dataset.h"

namespace sv::train {

struct EncodedSample {
  std::string id, caption;
  TrainingSample data;
};

class DatasetWriter {
 public:
  DatasetWriter(std::filesystem::path dir, int rank, int64_t shard_size);
  ~DatasetWriter();  // does not flush: an exception's half-filled shard is redone on resume

  void add(EncodedSample sample);             // flushes when the shard is full
  void add_bad(const std::string& id, const std::string& reason);
  void flush();                               // writes the shard being filled, if any

  // Ids that every rank's index already records (good or bad): skipped on resume.
  static std::set<std::string> finished_ids(const std::filesystem::path& dir);

 private:
  std::filesystem::path dir_;
  int rank_;
  int64_t shard_size_;
  int64_t next_shard_ = 0;
  std::vector<EncodedSample> pending_;
  std::unique_ptr<jobs::Journal> index_;
};

}  // namespace sv::train
