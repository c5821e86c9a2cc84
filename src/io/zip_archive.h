// A read-only view of a zip archive's *stored* (uncompressed) entries through
// a memory map: what torch.save writes (its writer never compresses and aligns
// each entry's data to 64 bytes, so tensors can be viewed in place). Entries
// are found through the central directory (torch's local headers leave sizes
// to a trailing data descriptor); zip64 records are understood.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sv::io {

class ZipArchive {
 public:
  struct Entry {
    std::string name;
    uint16_t method = 0;  // 0 = stored; anything else is refused on access
    uint64_t size = 0;    // uncompressed
    uint64_t compressed_size = 0;
    uint64_t data_offset = 0;  // absolute offset of the entry's bytes in the file
  };

  // CheckpointError naming the file for a missing file or a damaged archive
  // (no end-of-central-directory record, entries outside the file).
  static std::shared_ptr<const ZipArchive> open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  const std::vector<Entry>& entries() const { return entries_; }  // archive order
  const Entry* find(std::string_view name) const;
  // The bytes of a stored entry (CheckpointError for a compressed one).
  std::string_view data(const Entry& entry) const;
  // Keeps the mapping alive for views into data().
  std::shared_ptr<void> owner() const { return mapping_; }
  size_t file_size() const { return size_; }

 private:
  struct Mapping;
  ZipArchive() = default;
  void parse();

  std::filesystem::path path_;
  std::shared_ptr<Mapping> mapping_;
  const unsigned char* bytes_ = nullptr;
  size_t size_ = 0;
  std::vector<Entry> entries_;
  std::map<std::string, size_t, std::less<>> by_name_;
};

// True if the file starts with a zip local-file-header signature.
bool looks_like_zip(const std::filesystem::path& path);

}  // namespace sv::io
