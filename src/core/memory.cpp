#include "core/memory.h"

#include <malloc.h>

namespace sv {

void keep_freed_memory_mapped() {
  constexpr int kOneGiB = 1 << 30;
  mallopt(M_MMAP_THRESHOLD, kOneGiB);
  mallopt(M_TRIM_THRESHOLD, kOneGiB);
}

}  // namespace sv
