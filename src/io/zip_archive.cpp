#include "io/zip_archive.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/error.h"

namespace sv::io {

namespace {

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kEnd64Sig = 0x06064b50;
constexpr uint32_t kEnd64LocatorSig = 0x07064b50;

uint64_t le(const unsigned char* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

struct ZipArchive::Mapping {
  void* addr = nullptr;
  size_t size = 0;
  Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    if (addr) ::munmap(addr, size);
  }
};

bool looks_like_zip(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char sig[4] = {};
  in.read(reinterpret_cast<char*>(sig), 4);
  return in.gcount() == 4 && le(sig, 4) == kLocalSig;
}

std::shared_ptr<const ZipArchive> ZipArchive::open(const std::filesystem::path& path) {
  const std::string p = path.string();
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    SV_CHECK_AS(CheckpointError, err != ENOENT, "{}: no such file", p);
    throw CheckpointError(fmt::format("{}: cannot open: {}", p, std::strerror(err)));
  }
  struct stat st {};
  const bool stat_ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  auto mapping = std::make_shared<Mapping>();
  if (stat_ok && st.st_size > 0) {
    void* addr = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr != MAP_FAILED) {
      mapping->addr = addr;
      mapping->size = static_cast<size_t>(st.st_size);
    }
  }
  ::close(fd);
  SV_CHECK_AS(CheckpointError, stat_ok, "{}: not a regular file", p);
  SV_CHECK_AS(CheckpointError, mapping->addr != nullptr || st.st_size == 0, "{}: cannot map: {}",
              p, std::strerror(errno));

  std::shared_ptr<ZipArchive> zip(new ZipArchive());
  zip->path_ = path;
  zip->size_ = mapping->size;
  zip->bytes_ = static_cast<const unsigned char*>(mapping->addr);
  zip->mapping_ = std::move(mapping);
  zip->parse();
  return zip;
}

void ZipArchive::parse() {
  const std::string p = path_.string();
  // The end record sits in the last 22 + 65535 (comment) bytes.
  SV_CHECK_AS(CheckpointError, size_ >= 22, "{}: {} bytes, too short for a zip archive", p, size_);
  size_t end = size_;
  const size_t lowest = size_ > 22 + 65535 ? size_ - 22 - 65535 : 0;
  for (size_t i = size_ - 22 + 1; i-- > lowest;) {
    if (le(bytes_ + i, 4) == kEndSig) {
      end = i;
      break;
    }
  }
  SV_CHECK_AS(CheckpointError, end != size_,
              "{}: not a zip archive (no end-of-central-directory record; truncated file?)", p);
  uint64_t count = le(bytes_ + end + 10, 2);
  uint64_t cd_size = le(bytes_ + end + 12, 4);
  uint64_t cd_offset = le(bytes_ + end + 16, 4);
  if ((count == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF) && end >= 20 &&
      le(bytes_ + end - 20, 4) == kEnd64LocatorSig) {
    const uint64_t e64 = le(bytes_ + end - 20 + 8, 8);
    SV_CHECK_AS(CheckpointError, e64 + 56 <= size_ && le(bytes_ + e64, 4) == kEnd64Sig,
                "{}: damaged zip64 end record", p);
    count = le(bytes_ + e64 + 32, 8);
    cd_size = le(bytes_ + e64 + 40, 8);
    cd_offset = le(bytes_ + e64 + 48, 8);
  }
  SV_CHECK_AS(CheckpointError, cd_offset <= size_ && cd_size <= size_ - cd_offset,
              "{}: central directory outside the file (truncated file?)", p);

  size_t pos = cd_offset;
  for (uint64_t n = 0; n < count; ++n) {
    SV_CHECK_AS(CheckpointError, pos + 46 <= size_ && le(bytes_ + pos, 4) == kCentralSig,
                "{}: damaged central directory (entry {})", p, n);
    const unsigned char* h = bytes_ + pos;
    Entry e;
    e.method = static_cast<uint16_t>(le(h + 10, 2));
    e.compressed_size = le(h + 20, 4);
    e.size = le(h + 24, 4);
    const size_t name_len = le(h + 28, 2), extra_len = le(h + 30, 2), comment_len = le(h + 32, 2);
    uint64_t local = le(h + 42, 4);
    SV_CHECK_AS(CheckpointError, pos + 46 + name_len + extra_len + comment_len <= size_,
                "{}: damaged central directory (entry {})", p, n);
    e.name.assign(reinterpret_cast<const char*>(h + 46), name_len);
    // zip64 extra field: the 64-bit values of whichever fields were saturated.
    const unsigned char* x = h + 46 + name_len;
    for (size_t off = 0; off + 4 <= extra_len;) {
      const uint64_t id = le(x + off, 2), len = le(x + off + 2, 2);
      if (off + 4 + len > extra_len) break;
      if (id == 0x0001) {
        size_t q = off + 4;
        auto next = [&](uint64_t& field) {
          if (field == 0xFFFFFFFF && q + 8 <= off + 4 + len) field = le(x + q, 8), q += 8;
        };
        next(e.size);
        next(e.compressed_size);
        next(local);
      }
      off += 4 + len;
    }
    SV_CHECK_AS(CheckpointError, local + 30 <= size_ && le(bytes_ + local, 4) == kLocalSig,
                "{}: entry '{}' has no local header at offset {}", p, e.name, local);
    e.data_offset = local + 30 + le(bytes_ + local + 26, 2) + le(bytes_ + local + 28, 2);
    SV_CHECK_AS(CheckpointError,
                e.data_offset <= size_ && e.compressed_size <= size_ - e.data_offset,
                "{}: entry '{}' extends past the end of the file (truncated file?)", p, e.name);
    by_name_.emplace(e.name, entries_.size());
    entries_.push_back(std::move(e));
    pos += 46 + name_len + extra_len + comment_len;
  }
}

const ZipArchive::Entry* ZipArchive::find(std::string_view name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

std::string_view ZipArchive::data(const Entry& entry) const {
  SV_CHECK_AS(CheckpointError, entry.method == 0,
              "{}: entry '{}' is compressed (zip method {}); only stored entries are read, as "
              "torch.save writes them: re-save the checkpoint with torch.save",
              path_.string(), entry.name, entry.method);
  SV_CHECK_AS(CheckpointError, entry.size == entry.compressed_size,
              "{}: entry '{}' is stored but its sizes differ ({} vs {})", path_.string(),
              entry.name, entry.size, entry.compressed_size);
  return {reinterpret_cast<const char*>(bytes_ + entry.data_offset),
          static_cast<size_t>(entry.size)};
}

}  // namespace sv::io
