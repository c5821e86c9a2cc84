#include "core/memory.h"

#include <malloc.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
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

// Freed large mappings kept for reuse while a LargeBlockReuse lives, by length.
struct ReusePool {
  std::mutex mutex;
  int scopes = 0;
  std::multimap<size_t, void*> kept;
};

ReusePool& reuse_pool() {
  static ReusePool pool;
  return pool;
}

void* take_kept(size_t length) {
  ReusePool& pool = reuse_pool();
  std::lock_guard lock(pool.mutex);
  const auto it = pool.kept.find(length);
  if (it == pool.kept.end()) return nullptr;
  void* p = it->second;
  pool.kept.erase(it);
  return p;
}

void release_large(void* p, size_t length) {
  ReusePool& pool = reuse_pool();
  {
    std::lock_guard lock(pool.mutex);
    if (pool.scopes > 0) {
      pool.kept.emplace(length, p);
      return;
    }
  }
  munmap(p, length);
}

}  // namespace

LargeBlockReuse::LargeBlockReuse() {
  ReusePool& pool = reuse_pool();
  std::lock_guard lock(pool.mutex);
  ++pool.scopes;
}

LargeBlockReuse::~LargeBlockReuse() {
  ReusePool& pool = reuse_pool();
  std::lock_guard lock(pool.mutex);
  if (--pool.scopes > 0) return;
  for (const auto& [length, p] : pool.kept) munmap(p, length);
  pool.kept.clear();
}

std::shared_ptr<void> allocate_host(size_t bytes) {
  if (bytes == 0) return nullptr;
  if (kOwnMappings && bytes >= kHugeBlockBytes) {
    const size_t length = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    void* p = take_kept(length);
    if (p == nullptr) p = map_huge(bytes);
    live_bytes += length;
    return std::shared_ptr<void>(p, [length](void* q) {
      release_large(q, length);
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
