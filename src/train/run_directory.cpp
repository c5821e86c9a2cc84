#include "train/run_directory.h"

#include <algorithm>

#include "core/log.h"
#include "io/durable_file.h"
#include "train/train_checkpoint.h"

namespace sv::train {

namespace fs = std::filesystem;

void remove_temporaries(const fs::path& run_dir) {
  for (const fs::path& dir : {run_dir, run_dir / "checkpoints"}) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.path().filename().string().starts_with(io::kTemporaryPrefix)) {
        log_info("removing {}, left by an interrupted write", entry.path().string());
        fs::remove(entry.path(), ec);
      }
    }
  }
}

void prune_checkpoints(const fs::path& run_dir, int64_t keep) {
  const auto all = list_checkpoints(run_dir);
  for (size_t i = static_cast<size_t>(std::max<int64_t>(keep, 1)); i < all.size(); ++i) {
    std::error_code ec;
    fs::remove(all[i].second, ec);
  }
}

}  // namespace sv::train
