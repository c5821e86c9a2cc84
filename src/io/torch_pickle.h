// A restricted unpickler for the data.pkl of a torch.save'd state dict
// (pytorch_model.bin). It understands only what such a pickle contains:
// containers, numbers, strings, persistent ids naming storages, and the
// globals collections.OrderedDict, torch._utils._rebuild_tensor_v2,
// torch._utils._rebuild_parameter and the torch.*Storage types. Every other
// global or opcode (os.system, eval, object construction, extensions ...) is
// refused with a CheckpointError before anything could run: this code calls no
// Python and never executes anything a file names.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/dtype.h"

namespace sv::io {

struct TorchTensorRecord {
  std::string storage_key;  // the zip entry <archive>/data/<storage_key>
  DType dtype = DType::F32;
  int64_t storage_numel = 0;  // elements the storage holds, as the pickle says
  int64_t storage_offset = 0;  // in elements
  std::vector<int64_t> sizes, strides;
};

// The (name, tensor) pairs of the top-level dict, in pickle order. `what`
// names the file in errors.
std::vector<std::pair<std::string, TorchTensorRecord>> unpickle_state_dict(
    std::string_view pickle, const std::string& what);

}  // namespace sv::io
