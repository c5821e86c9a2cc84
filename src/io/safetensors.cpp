#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/durable_file.h"
#include "io/json_file.h"

namespace sv::io {

namespace {

// A real header is a few hundred bytes per tensor; anything near this limit is
// a different kind of file whose first 8 bytes happen to look like a length.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

std::string errno_text(int err) { return std::strerror(err); }

// Closes a descriptor on every path out of a function, errors included.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { close(); }
  int get() const { return fd_; }
  int close() {
    const int rc = fd_ >= 0 ? ::close(fd_) : 0;
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

std::string shorten(const nlohmann::json& value) {
  std::string s = value.dump();
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

// Reads a JSON number that must be a non-negative integer fitting in `limit`.
bool as_count(const nlohmann::json& v, uint64_t limit, uint64_t& out) {
  if (!v.is_number_unsigned()) return false;
  out = v.get<uint64_t>();
  return out <= limit;
}

}  // namespace

struct SafetensorsFile::Mapping {
  void* addr = nullptr;
  size_t size = 0;
  Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    if (addr) ::munmap(addr, size);
  }
  const char* bytes() const { return static_cast<const char*>(addr); }
};

std::shared_ptr<const SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path) {
  const std::string p = path.string();
  Fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    const int err = errno;
    SV_CHECK_AS(CheckpointError, err != ENOENT, "{}: no such file", p);
    throw CheckpointError(fmt::format("{}: cannot open: {}", p, errno_text(err)));
  }
  struct stat st {};
  SV_CHECK_AS(CheckpointError, ::fstat(fd.get(), &st) == 0, "{}: cannot stat: {}", p,
              errno_text(errno));
  SV_CHECK_AS(CheckpointError, S_ISREG(st.st_mode), "{}: not a regular file", p);
  const auto size = static_cast<size_t>(st.st_size);
  SV_CHECK_AS(CheckpointError, size >= 8,
              "{}: file is {} bytes, too short for a safetensors header (truncated file?)", p,
              size);

  auto mapping = std::make_shared<Mapping>();
  void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  SV_CHECK_AS(CheckpointError, addr != MAP_FAILED, "{}: cannot map the file: {}", p,
              errno_text(errno));
  mapping->addr = addr;
  mapping->size = size;

  std::shared_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  file->mapping_ = std::move(mapping);
  file->file_size_ = size;
  file->parse_header();
  return file;
}

void SafetensorsFile::parse_header() {
  const std::string p = path_.string();
  const unsigned char* b = reinterpret_cast<const unsigned char*>(mapping_->bytes());
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | b[i];  // little-endian
  SV_CHECK_AS(CheckpointError, header_len <= kMaxHeaderBytes,
              "{}: header length {} bytes is implausible (limit {}); not a safetensors file?", p,
              header_len, kMaxHeaderBytes);
  SV_CHECK_AS(CheckpointError, header_len <= file_size_ - 8,
              "{}: header length {} bytes exceeds the file size of {} bytes (truncated file?)", p,
              header_len, file_size_);
  data_start_ = 8 + static_cast<size_t>(header_len);
  header_ = std::string_view(mapping_->bytes() + 8, static_cast<size_t>(header_len));
  const size_t data_size = file_size_ - data_start_;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_.begin(), header_.end());
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(
        fmt::format("{}: header is not valid JSON: {}; not a safetensors file?", p,
                    json_error_text(e)));
  }
  SV_CHECK_AS(CheckpointError, header.is_object(),
              "{}: header is {}, expected a JSON object; not a safetensors file?", p,
              header.type_name());

  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      SV_CHECK_AS(CheckpointError, entry.is_object(),
                  "{}: \"__metadata__\" should be an object of strings, got {}", p,
                  shorten(entry));
      for (const auto& [k, v] : entry.items()) {
        metadata_[k] = v.is_string() ? v.get<std::string>() : v.dump();
      }
      continue;
    }
    SV_CHECK_AS(CheckpointError, entry.is_object(),
                "{}: tensor '{}' has header entry {}, expected an object with dtype, shape "
                "and data_offsets",
                p, name, shorten(entry));
    TensorInfo info;
    info.name = name;

    const auto dt = entry.find("dtype");
    SV_CHECK_AS(CheckpointError, dt != entry.end() && dt->is_string(),
                "{}: tensor '{}' has no \"dtype\" string", p, name);
    const auto dtype = dtype_from_safetensors(dt->get_ref<const std::string&>());
    SV_CHECK_AS(CheckpointError, dtype.has_value(),
                "{}: tensor '{}' has unknown dtype {} (supported: F32, BF16, F16, I64, I32, "
                "U8, BOOL)",
                p, name, dt->dump());
    info.dtype = *dtype;

    const auto sh = entry.find("shape");
    SV_CHECK_AS(CheckpointError, sh != entry.end() && sh->is_array(),
                "{}: tensor '{}' has no \"shape\" list", p, name);
    std::vector<int64_t> dims;
    uint64_t bytes = dtype_size(info.dtype);
    bool overflow = false;
    for (const auto& d : *sh) {
      uint64_t n = 0;
      SV_CHECK_AS(CheckpointError,
                  as_count(d, static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), n),
                  "{}: tensor '{}' has shape {}; expected a list of non-negative integers", p,
                  name, shorten(*sh));
      overflow = overflow || __builtin_mul_overflow(bytes, n, &bytes);
      dims.push_back(static_cast<int64_t>(n));
    }
    SV_CHECK_AS(CheckpointError, !overflow, "{}: tensor '{}' has an impossibly large shape {}",
                p, name, shorten(*sh));
    info.shape = Shape(std::move(dims));

    const auto off = entry.find("data_offsets");
    uint64_t begin = 0, end = 0;
    const uint64_t max = std::numeric_limits<size_t>::max();
    SV_CHECK_AS(CheckpointError,
                off != entry.end() && off->is_array() && off->size() == 2 &&
                    as_count((*off)[0], max, begin) && as_count((*off)[1], max, end),
                "{}: tensor '{}' has data_offsets {}; expected [begin, end] with non-negative "
                "integers",
                p, name, off == entry.end() ? std::string("missing") : shorten(*off));
    SV_CHECK_AS(CheckpointError, begin <= end,
                "{}: tensor '{}' has data_offsets [{}, {}] with begin after end", p, name, begin,
                end);
    SV_CHECK_AS(CheckpointError, end <= data_size,
                "{}: tensor '{}' has data_offsets [{}, {}] but the file's data region is {} "
                "bytes (truncated file?)",
                p, name, begin, end, data_size);
    SV_CHECK_AS(CheckpointError, end - begin == bytes,
                "{}: tensor '{}' is {}{} = {} bytes but its data_offsets [{}, {}] span {} bytes",
                p, name, dtype_safetensors_name(info.dtype), info.shape.str(), bytes, begin, end,
                end - begin);
    info.data_begin = static_cast<size_t>(begin);
    info.data_end = static_cast<size_t>(end);
    tensors_.push_back(std::move(info));
  }

  std::sort(tensors_.begin(), tensors_.end(), [](const TensorInfo& a, const TensorInfo& c) {
    return std::tie(a.data_begin, a.data_end, a.name) < std::tie(c.data_begin, c.data_end, c.name);
  });
  // Empty tensors occupy no bytes, so only non-empty ranges can collide.
  const TensorInfo* furthest = nullptr;  // non-empty range reaching furthest so far
  for (const TensorInfo& t : tensors_) {
    if (t.nbytes() == 0) continue;
    SV_CHECK_AS(CheckpointError, !furthest || t.data_begin >= furthest->data_end,
                "{}: tensors '{}' [{}, {}] and '{}' [{}, {}] have overlapping data_offsets", p,
                furthest ? furthest->name : "", furthest ? furthest->data_begin : 0,
                furthest ? furthest->data_end : 0, t.name, t.data_begin, t.data_end);
    furthest = &t;
  }
  for (size_t i = 0; i < tensors_.size(); ++i) by_name_.emplace(tensors_[i].name, i);
}

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

Tensor SafetensorsFile::tensor(std::string_view name) const {
  const TensorInfo* info = find(name);
  SV_CHECK_AS(CheckpointError, info != nullptr, "{}: no tensor named '{}'", path_.string(), name);
  return tensor(*info);
}

Tensor SafetensorsFile::tensor(const TensorInfo& info) const {
  const std::less<const TensorInfo*> before;
  SV_CHECK(!before(&info, tensors_.data()) && before(&info, tensors_.data() + tensors_.size()),
           "{}: tensor('{}') called with a TensorInfo of another file", path_.string(), info.name);
  const char* src = mapping_->bytes() + data_start_ + info.data_begin;
  if (reinterpret_cast<uintptr_t>(src) % dtype_size(info.dtype) != 0) {
    Tensor copy = Tensor::empty(info.shape, info.dtype);
    if (info.nbytes()) std::memcpy(copy.raw_data(), src, info.nbytes());
    return copy;
  }
  // The mapping is PROT_READ; Tensor has no const flavour, hence the cast
  // (documented in the header: views must not be written).
  return Tensor::wrap(const_cast<char*>(src), info.shape, info.dtype, mapping_);
}

namespace {

void write_all(int fd, const void* data, size_t n, const std::string& what) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, std::min<size_t>(n, size_t{1} << 30));
    if (w < 0 && errno == EINTR) continue;
    SV_CHECK_AS(InputError, w > 0, "{}: write failed: {}", what, errno_text(errno));
    p += w;
    n -= static_cast<size_t>(w);
  }
}

}  // namespace

void write_safetensors(const std::filesystem::path& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::string p = path.string();
  std::vector<Tensor> data;
  data.reserve(tensors.size());
  nlohmann::json header = nlohmann::json::object();
  std::set<std::string_view> seen;
  size_t offset = 0;
  for (const auto& [name, t] : tensors) {
    SV_CHECK_AS(InputError, name != "__metadata__" && !name.empty(),
                "{}: '{}' cannot be a tensor name", p, name);
    SV_CHECK_AS(InputError, seen.insert(name).second, "{}: tensor '{}' given twice", p, name);
    SV_CHECK_AS(InputError, t.defined(), "{}: tensor '{}' is undefined", p, name);
    SV_CHECK_AS(InputError, t.device().is_cpu(), "{}: tensor '{}' is on {}, not the CPU", p,
                name, t.device().str());
    data.push_back(t.contiguous());
    const size_t n = t.nbytes();
    header[name] = {{"dtype", std::string(dtype_safetensors_name(t.dtype()))},
                    {"shape", t.shape().dims()},
                    {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text = header.dump();
  // Padding keeps the data region 8-byte aligned, so mapped views are aligned.
  text.append((8 - text.size() % 8) % 8, ' ');
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>((text.size() >> (8 * i)) & 0xff);

  const std::string t = temporary_path_for(path).string();
  Fd fd(::open(t.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  SV_CHECK_AS(InputError, fd.get() >= 0, "{}: cannot create {}: {}", p, t, errno_text(errno));
  try {
    const std::string what = p + " (writing " + t + ")";
    write_all(fd.get(), len, sizeof len, what);
    write_all(fd.get(), text.data(), text.size(), what);
    for (const Tensor& d : data) {
      if (d.nbytes()) write_all(fd.get(), d.raw_data(), d.nbytes(), what);
    }
    SV_CHECK_AS(InputError, ::fsync(fd.get()) == 0, "{}: fsync failed: {}", what,
                errno_text(errno));
    SV_CHECK_AS(InputError, fd.close() == 0, "{}: close failed: {}", what, errno_text(errno));
    SV_CHECK_AS(InputError, ::rename(t.c_str(), p.c_str()) == 0, "{}: cannot rename {} to it: {}",
                p, t, errno_text(errno));
  } catch (...) {
    fd.close();
    ::unlink(t.c_str());
    throw;
  }
  // Make the rename itself durable; failing here loses nothing already written.
  fsync_directory(path.has_parent_path() ? path.parent_path() : ".");
}

}  // namespace sv::io
