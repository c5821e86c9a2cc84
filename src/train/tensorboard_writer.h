// Training metrics as a TensorBoard event file, so a run can be watched with
// `tensorboard --logdir DIR` without Python in the training job. The format:
// TFRecord framing (each record: uint64 little-endian length, masked CRC-32C
// of those 8 bytes, the data, masked CRC-32C of the data) around serialized
// `Event` messages (train/tensorboard.proto).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace sv::train {

// Not thread-safe: one writer per process (rank 0 writes the metrics).
class TensorBoardWriter {
 public:
  // Creates `dir` if needed and a new file
  // dir/events.out.tfevents.<unix seconds>.<hostname>.<pid>, a new one per
  // start because TensorBoard reads each file once, front to back, and merges
  // the files of a directory. A second writer of the same process in the same
  // second gets ".1", ".2", ... appended, which sorts after the first. The
  // first record is the version event "brain.Event:2" readers check.
  // InputError naming the path when the directory or file cannot be made.
  explicit TensorBoardWriter(const std::filesystem::path& dir);
  // Closes without fsync (destructors cannot report errors); call flush()
  // where the metrics must survive a crash of the node.
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // One event with one scalar. TensorBoard stores scalars as float32, so
  // `value` is rounded to float. Each record goes to the file in one write,
  // so a killed process leaves at most a torn last record, which readers
  // skip. InputError naming the file when the write fails.
  void add_scalar(const std::string& tag, double value, int64_t step, double wall_time_s);

  // Records are written unbuffered; this fsyncs them (InputError on failure).
  void flush();

  const std::filesystem::path& path() const { return path_; }

 private:
  void write_record(const std::string& data);

  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace sv::train
