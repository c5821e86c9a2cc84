#include "io/torch_file.h"

#include <cstring>

#include "core/error.h"

namespace sv::io {

namespace {

// Copies a strided tensor out of its storage into row-major order.
void gather(const char* base, const TorchTensorRecord& r, size_t elem, char* dst) {
  const size_t rank = r.sizes.size();
  std::vector<int64_t> index(rank, 0);
  int64_t numel = 1;
  for (int64_t s : r.sizes) numel *= s;
  for (int64_t n = 0; n < numel; ++n) {
    int64_t off = r.storage_offset;
    for (size_t d = 0; d < rank; ++d) off += index[d] * r.strides[d];
    std::memcpy(dst + static_cast<size_t>(n) * elem, base + static_cast<size_t>(off) * elem, elem);
    for (size_t d = rank; d-- > 0;) {
      if (++index[d] < r.sizes[d]) break;
      index[d] = 0;
    }
  }
}

bool row_major(const TorchTensorRecord& r) {
  int64_t expect = 1;
  for (size_t d = r.sizes.size(); d-- > 0;) {
    if (r.sizes[d] != 1 && r.strides[d] != expect) return false;
    expect *= r.sizes[d];
  }
  return true;
}

}  // namespace

bool is_torch_checkpoint_name(const std::filesystem::path& path) {
  const auto ext = path.extension();
  return ext == ".bin" || ext == ".pt" || ext == ".pth";
}

std::shared_ptr<const TorchFile> TorchFile::open(const std::filesystem::path& path) {
  const std::string p = path.string();
  std::error_code ec;
  SV_CHECK_AS(CheckpointError, std::filesystem::exists(path, ec), "{}: no such file", p);
  SV_CHECK_AS(CheckpointError, looks_like_zip(path),
              "{}: not a zip-format PyTorch checkpoint (the legacy pre-1.6 torch.save format "
              "is not supported; re-save it with a current torch.save)",
              p);
  std::shared_ptr<TorchFile> f(new TorchFile());
  f->zip_ = ZipArchive::open(path);
  const ZipArchive& zip = *f->zip_;

  // Every entry lives under one top-level folder whose name torch chose
  // ("archive", or the file's stem).
  const ZipArchive::Entry* pkl = nullptr;
  for (const auto& e : zip.entries()) {
    if (e.name.ends_with("/data.pkl") && e.name.find('/') == e.name.size() - 9) {
      SV_CHECK_AS(CheckpointError, pkl == nullptr, "{}: more than one data.pkl", p);
      pkl = &e;
    }
  }
  SV_CHECK_AS(CheckpointError, pkl != nullptr, "{}: zip archive without <archive>/data.pkl: not "
              "a torch.save checkpoint", p);
  const std::string prefix = pkl->name.substr(0, pkl->name.size() - 8);  // "<archive>/"
  if (const auto* bo = zip.find(prefix + "byteorder")) {
    const std::string_view order = zip.data(*bo);
    SV_CHECK_AS(CheckpointError, order == "little",
                "{}: storages are '{}'-endian; only little-endian checkpoints are supported", p,
                order);
  }

  for (auto& [name, rec] : unpickle_state_dict(zip.data(*pkl), p)) {
    const auto* entry = zip.find(prefix + "data/" + rec.storage_key);
    SV_CHECK_AS(CheckpointError, entry != nullptr,
                "{}: tensor '{}' refers to storage '{}', which the archive lacks", p, name,
                rec.storage_key);
    const std::string_view bytes = zip.data(*entry);
    const size_t elem = dtype_size(rec.dtype);
    SV_CHECK_AS(CheckpointError,
                static_cast<uint64_t>(rec.storage_numel) * elem <= bytes.size(),
                "{}: storage '{}' holds {} bytes, less than the {} elements of {} the pickle "
                "promises (truncated file?)",
                p, rec.storage_key, bytes.size(), rec.storage_numel, dtype_name(rec.dtype));
    // Hostile sizes must not overflow the bounds check.
    int64_t numel = 1, last = rec.storage_offset;
    bool ok = rec.storage_offset >= 0;
    for (size_t d = 0; ok && d < rec.sizes.size(); ++d) {
      int64_t span = 0;
      ok = rec.sizes[d] >= 0 && rec.strides[d] >= 0 &&
           !__builtin_mul_overflow(numel, rec.sizes[d], &numel) &&
           !__builtin_mul_overflow(rec.sizes[d] > 0 ? rec.sizes[d] - 1 : 0, rec.strides[d], &span) &&
           !__builtin_add_overflow(last, span, &last);
    }
    SV_CHECK_AS(CheckpointError, ok && (numel == 0 || last < rec.storage_numel),
                "{}: tensor '{}' lies outside its storage '{}'", p, name, rec.storage_key);
    TensorInfo info;
    info.name = name;
    info.dtype = rec.dtype;
    info.shape = Shape(rec.sizes);
    info.data_begin = entry->data_offset + static_cast<size_t>(rec.storage_offset) * elem;
    info.data_end = info.data_begin + static_cast<size_t>(numel) * elem;
    const auto [it, inserted] = f->by_name_.emplace(name, f->infos_.size());
    SV_CHECK_AS(CheckpointError, inserted, "{}: tensor '{}' appears twice", p, name);
    f->infos_.push_back(std::move(info));
    f->records_.push_back(std::move(rec));
    f->storage_data_.push_back(bytes.data());
  }
  return f;
}

const TensorInfo* TorchFile::find(std::string_view name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &infos_[it->second];
}

Tensor TorchFile::tensor(std::string_view name) const {
  const TensorInfo* info = find(name);
  SV_CHECK_AS(CheckpointError, info != nullptr, "{}: no tensor named '{}'", path().string(), name);
  return tensor(*info);
}

Tensor TorchFile::tensor(const TensorInfo& info) const {
  const std::less<const TensorInfo*> before;
  SV_CHECK(!before(&info, infos_.data()) && before(&info, infos_.data() + infos_.size()),
           "{}: tensor('{}') called with a TensorInfo of another file", path().string(), info.name);
  const auto i = static_cast<size_t>(&info - infos_.data());
  const TorchTensorRecord& r = records_[i];
  const size_t elem = dtype_size(r.dtype);
  const char* base = storage_data_[i];
  const char* src = base + static_cast<size_t>(r.storage_offset) * elem;
  if (row_major(r) && reinterpret_cast<uintptr_t>(src) % elem == 0) {
    // Read-only mapping; as with safetensors views, callers copy before writing.
    return Tensor::wrap(const_cast<char*>(src), info.shape, info.dtype, zip_->owner());
  }
  Tensor copy = Tensor::empty(info.shape, info.dtype);
  if (info.shape.numel() > 0) gather(base, r, elem, static_cast<char*>(copy.raw_data()));
  return copy;
}

}  // namespace sv::io
