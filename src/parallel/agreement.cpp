#include "parallel/agreement.h"

#include <vector>

namespace sv {

std::string broadcast_string(Communicator& group, std::string text, int root) {
  if (group.size() == 1) return text;
  int64_t size = static_cast<int64_t>(text.size());
  group.broadcast_bytes(&size, sizeof size, root);
  text.resize(static_cast<size_t>(size));
  if (size > 0) group.broadcast_bytes(text.data(), size, root);
  return text;
}

std::optional<std::string> agree_on_error(Communicator& group, const std::optional<std::string>& local_error) {
  if (group.size() == 1) return local_error;
  std::vector<float> flags(static_cast<size_t>(group.size()));
  const float mine = local_error ? 1.0f : 0.0f;
  const std::vector<int64_t> counts(static_cast<size_t>(group.size()), 1);
  group.all_gatherv(&mine, flags.data(), counts);
  for (int r = 0; r < group.size(); ++r) {
    if (flags[static_cast<size_t>(r)] == 0.0f) continue;
    return broadcast_string(group, local_error.value_or(""), r);
  }
  return std::nullopt;
}

}  // namespace sv
