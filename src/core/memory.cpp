#include "core/memory.h"

#include <malloc.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace sv {

namespace {

constexpr size_t kHugePage = size_t{2} << 20;

std::atomic<size_t> live_bytes{0};

// AddressSanitizer checks heap blocks only: under it every tensor comes from
// the heap, so an overrun of a large one is caught too.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kOwnMappings = false;
#else
constexpr bool kOwnMappings = true;
#endif

// A 2 MiB-aligned anonymous mapping (so every huge page of it can be one),
// trimmed of the slack needed to align it.
void* map_huge(size_t bytes) {
  const size_t length = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  void* raw = mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePage - 1) / kHugePage * kHugePage;
  if (aligned > start) munmap(raw, aligned - start);
  const uintptr_t end = start + length + kHugePage;
  if (end > aligned + length) munmap(reinterpret_cast<void*>(aligned + length), end - aligned - length);
  void* p = reinterpret_cast<void*>(aligned);
  // Advice only: without transparent huge pages the mapping still works.
  madvise(p, length, MADV_HUGEPAGE);
  return p;
}

}  // namespace

std::shared_ptr<void> allocate_host(size_t bytes) {
  if (bytes == 0) return nullptr;
  if (kOwnMappings && bytes >= kHugeBlockBytes) {
    const size_t length = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    void* p = map_huge(bytes);
    live_bytes += length;
    return std::shared_ptr<void>(p, [length](void* q) {
      munmap(q, length);
      live_bytes -= length;
    });
  }
  const size_t alignment = 64;
  const size_t rounded = (bytes + alignment - 1) / alignment * alignment;
  void* p = std::aligned_alloc(alignment, rounded);
  if (!p) throw std::bad_alloc();
  live_bytes += rounded;
  return std::shared_ptr<void>(p, [rounded](void* q) {
    std::free(q);
    live_bytes -= rounded;
  });
}

size_t live_host_bytes() { return live_bytes.load(); }

void keep_freed_memory_mapped() {
  constexpr int kOneGiB = 1 << 30;
  mallopt(M_MMAP_THRESHOLD, kOneGiB);
  mallopt(M_TRIM_THRESHOLD, kOneGiB);
}

}  // namespace sv
