// Host memory for tensors, and process-level tuning of the CPU heap.
#pragma once

#include <cstddef>
#include <memory>

namespace sv {

// Blocks of at least this size get their own transparent-huge-page mapping.
inline constexpr size_t kHugeBlockBytes = size_t{8} << 20;

// Tensor storage: 64-byte aligned, freed by the returned owner.
//
// Large blocks are mapped on their own with MADV_HUGEPAGE and unmapped on
// free. Under this hypervisor a fresh 4 KiB-page mapping costs ~14 us per
// page fault (276 MB: 966 ms to touch, against 118 ms to rewrite memory
// already mapped), which is why the heap used to keep everything; with huge
// pages the same fresh block costs 75 ms. Returning large blocks matters for
// the streamed Video-VAE decode: kept in the heap, its ever-changing mix of
// 17-550 MB frame buffers fragmented the heap to roughly twice the live size.
// Smaller blocks come from the heap.
std::shared_ptr<void> allocate_host(size_t bytes);

// While one lives, large blocks (kHugeBlockBytes and more) that are freed are
// kept, still mapped, and handed to the next allocation of the same length
// instead of being unmapped. A training step allocates the same activations
// every step: re-faulting them (the kernel zeroing every page) took ~20 % of
// a `bench train` step. Scoped, so inference keeps returning its blocks (the
// VAE decode's ever-changing sizes would only pile up). Destroying the last
// one unmaps what it kept. Process-wide, like the allocator itself.
class LargeBlockReuse {
 public:
  LargeBlockReuse();
  ~LargeBlockReuse();
  LargeBlockReuse(const LargeBlockReuse&) = delete;
  LargeBlockReuse& operator=(const LargeBlockReuse&) = delete;
};

// Bytes of tensor storage allocated by allocate_host and not yet freed, for
// memory traces (heap blocks counted at their requested size).
size_t live_host_bytes();

// By default glibc serves every block above 32 MiB with a fresh mmap and
// returns it on free, so each large activation is page-faulted in again on
// every layer (4 KiB pages). Under a hypervisor those faults cost more than
// the GEMM writing the block (measured: bench dit went from ~200 to ~290
// GFLOP/s on 2 cores). Raising the thresholds makes freed heap blocks reused;
// tensors of kHugeBlockBytes and more bypass the heap (allocate_host).
// Call once at start-up, before large allocations.
void keep_freed_memory_mapped();

}  // namespace sv
